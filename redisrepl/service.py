"""The MultiService tree: listeners and the cron around one Instance.

    RedisService (MultiService)
      ├── ListenerService   every bind address + unixsocket
      └── CronService       Instance.cron() hz times a second
"""

import os

from twisted.application.service import MultiService, Service
from twisted.internet.task import LoopingCall
from twisted.logger import ILogObserver, Logger

from redisrepl import REDIS_VERSION, __version__
from redisrepl.instance import Instance
from redisrepl.logs import RedisLogObserver
from redisrepl.server.factory import RedisServerFactory
from redisrepl.server.listeners import ListenError, ListenerService
from redisrepl.server.sdnotify import sd_notify

log = Logger()


class CronService(Service):
    """Runs the instance's cron at `hz`, restarted when CONFIG SET hz changes it."""

    def __init__(self, server, clock):
        self.server = server
        self.clock = clock
        self.loop = None

    def startService(self):
        Service.startService(self)
        self._start(self.server.config["hz"])
        self.server.config.watch("hz", lambda old, new: self._restart(new))

    def _start(self, hz):
        self.loop = LoopingCall(self.server.cron)
        self.loop.clock = self.clock
        self.loop.start(1.0 / hz, now=False).addErrback(
            lambda failure: log.failure("cron failed", failure))

    def _restart(self, hz):
        if self.loop is not None and self.loop.running:
            self.loop.stop()
            self._start(hz)

    def stopService(self):
        Service.stopService(self)
        if self.loop is not None and self.loop.running:
            self.loop.stop()


class RedisService(MultiService):
    def __init__(self, config, reactor):
        MultiService.__init__(self)
        self.config = config
        self.reactor = reactor
        self.server = Instance(config, reactor)
        self.server.shutdown_hook = self.shutdown
        self.factory = RedisServerFactory(self.server)
        self.listeners = ListenerService(self.server, self.factory, reactor)
        self.listeners.setServiceParent(self)
        CronService(self.server, reactor).setServiceParent(self)
        for limit in ("proto-max-bulk-len", "client-query-buffer-limit"):
            config.watch(limit, self.factory.apply_parser_limits)
        config.watch("port", lambda old, new: self.listeners.rebind_tcp(
            config["bind"], new))
        config.watch("bind", lambda old, new: self.listeners.rebind_tcp(
            new, config["port"]))
        self.log_observer = None

    def setServiceParent(self, parent):
        # Under twistd the parent is the Application: offer it our observer so
        # the daemon logs in Redis's format, honouring logfile and loglevel.
        MultiService.setServiceParent(self, parent)
        if hasattr(parent, "setComponent"):
            self.log_observer = RedisLogObserver(self.config, os.getpid())
            parent.setComponent(ILogObserver, self.log_observer)

    def startService(self):
        self.server.pid = os.getpid()
        log.info("oO0OoO0OoO0Oo redisrepl is starting oO0OoO0OoO0Oo")
        log.info("redisrepl version={version} (Redis {redis_version} "
                 "compatible), bits=64, pid={pid}, just started",
                 version=__version__, redis_version=REDIS_VERSION,
                 pid=self.server.pid)
        if self.config.path:
            log.info("Configuration loaded from {path}", path=self.config.path)
        for warning in self.config.warnings:
            log.warn("{warning}", warning=warning)
        try:
            MultiService.startService(self)
        except ListenError as error:
            # Redis aborts when it cannot listen; so does the daemon.
            log.critical("{error}", error=error)
            raise SystemExit(1) from None
        log.info("Server initialized")
        # Ready only once the reactor runs: twistd installs its SIGTERM
        # handler then, so whoever acts on "ready" can stop us cleanly.
        self.reactor.callWhenRunning(self._announce_ready)

    def _announce_ready(self):
        self._write_pidfile()
        kinds = []
        if self.listeners.ports:
            kinds.append("tcp")
        if self.listeners.unix_port is not None:
            kinds.append("unix")
        log.info("Ready to accept connections {kinds}", kinds=" ".join(kinds))
        if self.config["supervised"] in ("systemd", "auto"):
            sd_notify("STATUS=Ready to accept connections\nREADY=1\n")

    def stopService(self):
        log.info("User requested shutdown...")
        d = MultiService.stopService(self)
        self._remove_pidfile()
        log.info("redisrepl is now ready to exit, bye bye...")
        return d

    def shutdown(self):
        """SHUTDOWN: stop the reactor once the current batch is written."""
        self.reactor.callLater(0, self.reactor.stop)

    def _write_pidfile(self):
        path = self.config["pidfile"]
        if path:
            with open(path, "w") as f:
                f.write("%d\n" % self.server.pid)

    def _remove_pidfile(self):
        path = self.config["pidfile"]
        if path and os.path.exists(path):
            os.unlink(path)
