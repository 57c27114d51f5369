"""twistd plugin options and service maker: `twistd -n redisrepl --config FILE`.

Like redis-server, any directive may follow as an override:

    twistd -n redisrepl --config etc/redis.conf --port 6380 --save ""
"""

import sys

from twisted.python import usage

from redisrepl.config import Config, ConfigError
from redisrepl.service import RedisService


class Options(usage.Options):
    synopsis = "[--config FILE] [--<directive> <value> ...]"
    longdesc = ("Run a Redis-compatible server. Directives given after the "
                "options override the configuration file, as redis-server's "
                "command line does.")
    optParameters = [
        ["config", "c", None, "Path to a redis.conf file."],
    ]

    def __init__(self):
        usage.Options.__init__(self)
        self.overrides = []

    def parseOptions(self, options=None):
        if options is None:
            options = sys.argv[1:]
        # usage.Options only knows --config; every other --name starts a
        # directive override and takes the words up to the next --name.
        known, overrides = [], []
        i = 0
        while i < len(options):
            arg = options[i]
            if arg in ("--config", "-c") and i + 1 < len(options):
                known += [arg, options[i + 1]]
                i += 2
            elif arg.startswith("--config="):
                known.append(arg)
                i += 1
            elif arg in ("--help", "--version"):
                known.append(arg)
                i += 1
            else:
                overrides.append(arg)
                i += 1
        self.overrides = overrides
        usage.Options.parseOptions(self, known)

    def postOptions(self):
        config = Config()
        try:
            if self["config"]:
                config.load_file(self["config"])
            if self.overrides:
                config.apply_arguments(self.overrides)
        except ConfigError as error:
            # Includes "Fatal error, can't open config file ...", as Redis.
            raise usage.UsageError(error.message) from None
        self.redis_config = config


def makeService(options):
    from twisted.internet import reactor
    return RedisService(options.redis_config, reactor)
