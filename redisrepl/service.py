"""The MultiService tree: listeners and the cron around one Instance.

    RedisService (MultiService)
      ├── ListenerService   every bind address + unixsocket
      └── CronService       Instance.cron() hz times a second
"""

import os
import signal
import sys

from twisted.application.service import MultiService, Service
from twisted.internet.task import Cooperator, LoopingCall
from twisted.logger import ILogObserver, Logger

from redisrepl import REDIS_VERSION, __version__
from redisrepl.commands.server import prepare_for_shutdown
from redisrepl.instance import Instance
from redisrepl.logs import RedisLogObserver
from redisrepl.persistence.aof_loader import AofLoadError
from redisrepl.persistence.loading import load_at_startup
from redisrepl.server.factory import RedisServerFactory
from redisrepl.server.listeners import ListenError, ListenerService
from redisrepl.server.sdnotify import sd_notify

log = Logger()


def exit_now(status):
    """Leave the process with ``status`` at once (Redis's exit() on a fatal
    load error), the log written out first."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(status)


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
        if config["replicaof"] is not None:
            # A replica from the start (its log lines say S; its load keeps
            # the expired keys of its dump); it dials once the data is loaded.
            self.server.replica.become_replica(*config["replicaof"])
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
        # The start-up load runs a chunk per reactor turn (tests inject their own).
        self.cooperator = Cooperator(scheduler=lambda step: reactor.callLater(0, step))
        self.exit = exit_now
        self.handle_signals = False   # the daemon's SIGTERM/SIGINT are ours
        self._shutdown_prepared = False

    def setServiceParent(self, parent):
        # Under twistd the parent is the Application: offer it our observer so
        # the daemon logs in Redis's format, honouring logfile and loglevel.
        MultiService.setServiceParent(self, parent)
        if hasattr(parent, "setComponent"):
            server = self.server
            self.log_observer = RedisLogObserver(
                self.config, os.getpid(),
                role_mark=lambda: "S" if server.replica.active else "M")
            parent.setComponent(ILogObserver, self.log_observer)
            self.handle_signals = True

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
        # Redis loads the dump with its ports open (answering -LOADING), and
        # is ready only after that.
        self.reactor.callWhenRunning(self._load_dataset)

    def _load_dataset(self):
        d = load_at_startup(self.server, self.cooperator)
        d.addCallbacks(self._loaded, self._load_failed)

    def _loaded(self, _loaded):
        replica = self.server.replica
        replica.loaded_at_startup(self.server.rdb_loaded_repl)
        self.server.aof.open_at_startup()   # aofOpenIfNeededOnServerStart
        self._announce_ready()
        replica.start()

    def _load_failed(self, failure):
        # The reason and offset are logged; as Redis, give up at once.
        if not failure.check(AofLoadError):
            log.warn("Terminating server after rdb file reading failure.")  # noqa: G010
        self.exit(1)

    def _announce_ready(self):
        if self.handle_signals:
            self._install_signal_handlers()
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
        if not self._shutdown_prepared:
            log.warn("User requested shutdown...")  # noqa: G010
        self.server.replica.stop()
        d = MultiService.stopService(self)
        self._remove_pidfile()
        log.info("redisrepl is now ready to exit, bye bye...")
        return d

    def shutdown(self):
        """SHUTDOWN: stop the reactor once the current batch is written."""
        self._shutdown_prepared = True
        self.reactor.callLater(0, self.reactor.stop)

    # -- SIGTERM / SIGINT, as Redis's sigShutdownHandler ------------------------

    def _install_signal_handlers(self):
        # Replaces the reactor's own (installed by now): Redis saves on these
        # signals when save points are set, and stays up if that save fails.
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum, frame):
        # Nothing but scheduling here: the shutdown runs from the reactor.
        self.reactor.callFromThread(self.signal_shutdown, signum)

    def signal_shutdown(self, signum):
        """What the daemon does on SIGTERM/SIGINT: shut down as SHUTDOWN
        with the flags of shutdown-on-sigterm / shutdown-on-sigint."""
        if signum == signal.SIGINT:
            log.warn("Received SIGINT scheduling shutdown...")  # noqa: G010
            flags = self.config["shutdown-on-sigint"]
        else:
            log.warn("Received SIGTERM scheduling shutdown...")  # noqa: G010
            flags = self.config["shutdown-on-sigterm"]
        if prepare_for_shutdown(self.server, flags):
            self.shutdown()

    def _write_pidfile(self):
        path = self.config["pidfile"]
        if path:
            with open(path, "w") as f:
                f.write("%d\n" % self.server.pid)

    def _remove_pidfile(self):
        path = self.config["pidfile"]
        if path and os.path.exists(path):
            os.unlink(path)
