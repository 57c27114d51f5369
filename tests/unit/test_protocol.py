"""RedisProtocol over StringTransport: batching, errors, limits, pause."""

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from redisrepl.server.factory import RedisServerFactory
from tests.unit.harness import Harness


class FakeSocket:
    def __init__(self):
        self.options = {}

    def fileno(self):
        return 42

    def setsockopt(self, level, name, value):
        self.options[(level, name)] = value


class TCPTransport(StringTransport):
    """StringTransport plus the TCP bits the factory configures."""

    def __init__(self, peer_host="127.0.0.1"):
        StringTransport.__init__(
            self, hostAddress=IPv4Address("TCP", "127.0.0.1", 6379),
            peerAddress=IPv4Address("TCP", peer_host, 50123))
        self.writes = []
        self.socket = FakeSocket()
        self.nodelay = False

    def write(self, data):
        self.writes.append(data)
        StringTransport.write(self, data)

    def getHandle(self):
        return self.socket

    def setTcpNoDelay(self, enabled):
        self.nodelay = enabled


def connect(harness, peer_host="127.0.0.1"):
    factory = RedisServerFactory(harness.server)
    proto = factory.buildProtocol(None)
    transport = TCPTransport(peer_host)
    proto.makeConnection(transport)
    return proto, transport


def test_pipelined_commands_get_one_write():
    """Replies to a pipelined batch go out in one transport.write."""
    srv = Harness()
    proto, transport = connect(srv)
    proto.dataReceived(b"*1\r\n$4\r\nPING\r\n" * 3 + b"*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n")
    assert transport.writes == [b"+PONG\r\n" * 3 + b"$1\r\nx\r\n"]


def test_command_split_across_reads_is_answered_once_complete():
    """A command arriving in pieces is run when its last byte arrives."""
    srv = Harness()
    proto, transport = connect(srv)
    proto.dataReceived(b"*2\r\n$4\r\nEC")
    assert transport.value() == b""
    proto.dataReceived(b"HO\r\n$2\r\nhi\r\n")
    assert transport.value() == b"$2\r\nhi\r\n"


def test_inline_command():
    """A telnet-style inline command is understood."""
    srv = Harness()
    proto, transport = connect(srv)
    proto.dataReceived(b"ECHO hello\r\n")
    assert transport.value() == b"$5\r\nhello\r\n"


def test_protocol_error_replies_then_closes():
    """A protocol error is answered with -ERR Protocol error and the link closes."""
    srv = Harness()
    proto, transport = connect(srv)
    proto.dataReceived(b"*1\r\n$4\r\nPING\r\n*1\r\n$600000000\r\n")
    assert transport.value() == (
        b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n")
    assert transport.disconnecting


def test_tcp_options_are_set():
    """New TCP clients get TCP_NODELAY and keepalive as configured."""
    import socket
    srv = Harness("tcp-keepalive 60")
    _, transport = connect(srv)
    assert transport.nodelay
    assert transport.socket.options[(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)] == 60


def test_maxclients_refuses_with_redis_error():
    """Past maxclients a new connection gets Redis's error and is closed."""
    srv = Harness("maxclients 2")   # the harness's own client is one
    connect(srv)
    proto, transport = connect(srv)
    assert transport.value() == b"-ERR max number of clients reached\r\n"
    assert transport.disconnecting
    assert srv.server.rejected_connections == 1
    assert proto.client is None


def test_protected_mode_denies_non_loopback_without_password():
    """Protected mode refuses a remote peer when no password is set."""
    srv = Harness()
    _, transport = connect(srv, peer_host="10.1.2.3")
    assert transport.value().startswith(b"-DENIED Redis is running in protected mode")
    assert transport.disconnecting
    srv_pw = Harness("requirepass x")
    _, transport = connect(srv_pw, peer_host="10.1.2.3")
    assert transport.value() == b""


def test_quit_closes_after_the_reply():
    """QUIT writes +OK and then loses the connection; later input is ignored."""
    srv = Harness()
    proto, transport = connect(srv)
    proto.dataReceived(b"QUIT\r\nPING\r\n")
    assert transport.value() == b"+OK\r\n"
    assert transport.disconnecting


def test_connection_lost_forgets_the_client():
    """A closed connection leaves no client behind."""
    srv = Harness()
    before = len(srv.server.clients)
    proto, _ = connect(srv)
    assert len(srv.server.clients) == before + 1
    proto.connectionLost(None)
    assert len(srv.server.clients) == before


def test_paused_client_is_held_and_resumed():
    """A write held by CLIENT PAUSE stops reading and runs when the pause ends."""
    srv = Harness()
    proto, transport = connect(srv)
    srv.server.pause(srv.server.now_ms() + 500, pause_all=False)
    proto.dataReceived(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nPING\r\n")
    assert transport.value() == b""
    assert transport.producerState == "paused"
    srv.advance(1)
    srv.server.cron()
    assert transport.value() == b"+OK\r\n+PONG\r\n"
    assert transport.producerState == "producing"


def test_client_net_bytes_are_counted():
    """Bytes in and out are counted per client and for the server."""
    srv = Harness()
    proto, transport = connect(srv)
    proto.dataReceived(b"PING\r\n")
    assert proto.client.net_input_bytes == 6
    assert proto.client.net_output_bytes == len(b"+PONG\r\n")


class SocketLikeTransport(TCPTransport):
    """A transport with FileDescriptor's buffer fields and a socket that
    accepts at most ``accept`` bytes per send."""

    def __init__(self, accept):
        TCPTransport.__init__(self)
        self.accept = accept
        self.sent_directly = []
        self._tempDataLen = 0
        self.dataBuffer = b""
        self.offset = 0

    def writeSomeData(self, data):
        taken = bytes(data[:self.accept])
        self.sent_directly.append(taken)
        return len(taken)


def connect_with(harness, transport):
    proto = RedisServerFactory(harness.server).buildProtocol(None)
    proto.makeConnection(transport)
    return proto


def test_replies_go_straight_to_the_socket_when_nothing_is_queued():
    """With an empty buffer a reply is sent at once, not via transport.write."""
    srv = Harness()
    transport = SocketLikeTransport(accept=1 << 20)
    proto = connect_with(srv, transport)
    proto.dataReceived(b"PING\r\n")
    assert transport.sent_directly == [b"+PONG\r\n"]
    assert transport.writes == []


def test_what_the_socket_does_not_take_is_buffered_by_twisted():
    """A partial send leaves the rest, in order, to transport.write."""
    srv = Harness()
    transport = SocketLikeTransport(accept=3)
    proto = connect_with(srv, transport)
    proto.dataReceived(b"ECHO hello\r\n")
    assert transport.sent_directly == [b"$5\r"]
    assert transport.writes == [b"\nhello\r\n"]


def test_config_set_request_limits_reach_connected_clients():
    """CONFIG SET proto-max-bulk-len applies to clients already connected."""
    from twisted.internet.testing import MemoryReactorClock

    from redisrepl.service import RedisService
    srv = Harness()
    service = RedisService(srv.config, MemoryReactorClock())
    factory = service.factory
    proto = factory.buildProtocol(None)
    proto.makeConnection(TCPTransport())
    srv.config.set_many([(b"proto-max-bulk-len", b"1mb"),
                         (b"client-query-buffer-limit", b"2mb")])
    assert proto.parser.max_bulk_len == 1024 * 1024
    assert proto.parser.max_query_buffer == 2 * 1024 * 1024
    proto.dataReceived(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n")
    assert proto.transport.value() == b"-ERR Protocol error: invalid bulk length\r\n"


def test_blocked_command_holds_the_pipeline_until_served():
    """A blocked command's reply comes when served; the rest of the pipeline
    runs after it, on the next reactor turn."""
    from redisrepl.resp.values import NULL_ARRAY

    srv = Harness()
    proto, transport = connect(srv)

    def serve(client, db, key):
        return db.get(key)

    def blocking_echo(client, argv):   # stands in for BLPOP
        return client.server.blocking.block(client, [argv[1]], 0, serve, NULL_ARRAY)

    srv.server.table.lookup(b"echo").handler = blocking_echo
    proto.dataReceived(b"ECHO q\r\nPING\r\n")
    assert transport.value() == b""
    srv.db.set(b"q", b"filled")
    srv.db.signal_ready(b"q")
    srv.server.blocking.serve_ready()
    assert transport.value() == b"$6\r\nfilled\r\n"
    srv.advance(0)
    assert transport.value() == b"$6\r\nfilled\r\n+PONG\r\n"
