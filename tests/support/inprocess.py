"""redisrepl's RedisService on the test's own reactor, on a free port.

In-process, so a test can look at the Instance (its clients, keyspace,
stats) while talking to it over real loopback sockets. The service stops,
and every server-side connection is closed and gone, when the test ends.
"""

from twisted.internet import defer

from redisrepl.config import Config
from redisrepl.server.listeners import ListenError
from redisrepl.service import RedisService
from tests.support.ports import free_port
from tests.support.waiting import wait_until


class InProcessServer:
    """What a test needs from a running in-process redisrepl."""

    def __init__(self, service, port):
        self.service = service
        self.port = port
        self.shutdown_requests = 0

    @property
    def instance(self):
        """The Instance: config, keyspace, clients, stats."""
        return self.service.server

    @property
    def config(self):
        return self.service.config

    def _shutdown_hook(self, *args, **kwargs):
        # SHUTDOWN must not stop the test's reactor: record it instead.
        self.shutdown_requests += 1

    @defer.inlineCallbacks
    def stop(self):
        """Stop listening, drop every client, wait until they are gone."""
        if self.service.running:
            yield self.service.stopService()
        for client in list(self.instance.clients.values()):
            transport = getattr(client.conn, "transport", None)
            if transport is not None:
                transport.abortConnection()
        yield wait_until(lambda: not self.instance.clients, timeout=10,
                         what="server-side connections to close")


def make_config(text):
    """A Config from redis.conf text, never changing the test's cwd."""
    config = Config(chdir=lambda path: None)
    if text:
        config.load_text(text)
    return config


def start_server(testcase, config_text="", bind="127.0.0.1", reactor=None):
    """Start redisrepl with ``config_text`` on a free port of ``bind``.

    Returns an InProcessServer, stopped by a cleanup of ``testcase``.
    """
    if reactor is None:
        from twisted.internet import reactor
    last_error = None
    for _attempt in range(5):
        port = free_port(bind.split()[0].lstrip("-"))
        text = f"bind {bind}\nport {port}\n{config_text}\n"
        config = make_config(text)
        service = RedisService(config, reactor)
        try:
            service.startService()
        except ListenError as error:   # someone took the port meanwhile
            last_error = error
            continue
        except BaseException:
            # Half started (TCP open, unix socket failed...): close what opened.
            service.stopService()
            raise
        server = InProcessServer(service, port)
        service.server.shutdown_hook = server._shutdown_hook
        testcase.addCleanup(server.stop)
        return server
    raise last_error
