"""A Twisted client that sends raw bytes and hands back raw reply bytes.

Replies are framed by tests.support.wire, never by redisrepl's own code, and
kept verbatim so tests can compare them byte for byte.
"""

from twisted.internet import defer, endpoints
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol

from tests.support import wire
from tests.support.waiting import bounded

DEFAULT_TIMEOUT = 10.0


class RawClient(Protocol):
    """Collects what the server sends; waiters fire once enough arrived."""

    def __init__(self):
        self.buffer = bytearray()
        self.connected_d = defer.Deferred()
        self.closed_d = defer.Deferred()
        self.closed = False
        self._waiters = []   # (count, deferred): count replies wanted

    def connectionMade(self):
        self.connected_d.callback(self)

    def dataReceived(self, data):
        self.buffer += data
        self._fire_waiters()

    def connectionLost(self, reason=None):
        self.closed = True
        waiters, self._waiters = self._waiters, []
        for _count, d in waiters:
            d.errback(ConnectionDone(
                f"connection closed with {bytes(self.buffer)!r} unparsed"))
        self.closed_d.callback(bytes(self.buffer))

    def _fire_waiters(self):
        while self._waiters:
            count, d = self._waiters[0]
            replies, _used = wire.split_replies(self.buffer)
            if len(replies) < count:
                return
            self._waiters.pop(0)
            taken = replies[:count]
            del self.buffer[:sum(len(r) for r in taken)]
            d.callback(taken)

    # -- what tests call ---------------------------------------------------

    def send(self, data):
        self.transport.write(data)

    def read_replies(self, count, timeout=DEFAULT_TIMEOUT):
        """Deferred list of the next ``count`` raw replies."""
        d = defer.Deferred()
        self._waiters.append((count, d))
        self._fire_waiters()
        return bounded(d, timeout, f"{count} replies (have {bytes(self.buffer)!r})")

    @defer.inlineCallbacks
    def request(self, *args, timeout=DEFAULT_TIMEOUT):
        """Send one command; fire with its raw reply bytes."""
        self.send(wire.encode_command(args))
        replies = yield self.read_replies(1, timeout)
        return replies[0]

    @defer.inlineCallbacks
    def call(self, *args, timeout=DEFAULT_TIMEOUT):
        """Send one command; fire with its reply as Python values."""
        raw = yield self.request(*args, timeout=timeout)
        return wire.to_python(wire.parse_reply(raw)[0])

    def wait_closed(self, timeout=DEFAULT_TIMEOUT):
        """Deferred firing with every unparsed byte once the server closes."""
        d = defer.Deferred()
        if self.closed:
            d.callback(bytes(self.buffer))
        else:
            self.closed_d.addBoth(lambda r: (d.callback(r), r)[1])
        return bounded(d, timeout, "the server to close the connection")

    def disconnect(self):
        """Close from our side; fire once the connection is gone."""
        if self.closed:
            return defer.succeed(None)
        d = self.wait_closed()
        self.transport.loseConnection()
        return d


def connect(testcase, port, host="127.0.0.1", unix_path=None, reactor=None):
    """Deferred RawClient connected to host:port (or a unix socket),
    disconnected when the test ends."""
    if reactor is None:
        from twisted.internet import reactor
    if unix_path is not None:
        endpoint = endpoints.UNIXClientEndpoint(reactor, unix_path, timeout=5)
    elif ":" in host:
        endpoint = endpoints.TCP6ClientEndpoint(reactor, host, port, timeout=5)
    else:
        endpoint = endpoints.TCP4ClientEndpoint(reactor, host, port, timeout=5)
    client = RawClient()
    d = endpoints.connectProtocol(endpoint, client)

    def connected(proto):
        testcase.addCleanup(proto.disconnect)
        return proto

    return d.addCallback(connected)
