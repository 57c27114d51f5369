"""RESP3 after HELLO 3, over RedisProtocol and StringTransport: the bytes a
RESP3 client reads, as redis-server 7.0.15 sends them."""

from redisrepl import REDIS_VERSION
from redisrepl.resp.encoder import encode_command
from tests.unit.harness import Harness
from tests.unit.test_protocol import connect


def exchange(proto, transport, *commands):
    """Send the commands in one read; the bytes written back."""
    transport.clear()
    proto.dataReceived(b"".join(
        encode_command([a.encode() if isinstance(a, str) else a for a in argv])
        for argv in commands))
    return transport.value()


def hello_map(proto, client_id):
    version = REDIS_VERSION.encode()
    return (
        b"%%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n"
        b"$%d\r\n%s\r\n$5\r\nproto\r\n:%d\r\n$2\r\nid\r\n:%d\r\n"
        b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
        b"$7\r\nmodules\r\n*0\r\n" % (len(version), version, proto, client_id))


def resp3_connection(srv=None):
    srv = srv or Harness()
    proto, transport = connect(srv)
    exchange(proto, transport, ["HELLO", "3"])
    return srv, proto, transport


def test_hello_3_replies_with_a_resp3_map():
    """HELLO 3 switches the connection and answers with a % map, proto 3."""
    srv = Harness()
    proto, transport = connect(srv)
    assert exchange(proto, transport, ["HELLO", "3"]) == \
        hello_map(3, proto.client.id)
    assert proto.client.resp == 3


def test_nulls_are_underscore():
    """A null bulk and a null array are both _ in RESP3."""
    _srv, proto, transport = resp3_connection()
    assert exchange(proto, transport, ["GET", "missing"]) == b"_\r\n"
    assert exchange(proto, transport, ["SET", "k", "v"]) == b"+OK\r\n"
    assert exchange(proto, transport, ["MGET", "k", "missing"]) == \
        b"*2\r\n$1\r\nv\r\n_\r\n"
    assert exchange(proto, transport, ["SET", "k", "w", "NX"]) == b"_\r\n"
    assert exchange(proto, transport, ["CLIENT", "GETNAME"]) == b"_\r\n"
    assert exchange(proto, transport, ["COMMAND", "INFO", "nosuch"]) == \
        b"*1\r\n_\r\n"


def test_info_is_a_verbatim_string():
    """INFO is a txt verbatim string whose length counts the txt: prefix."""
    _srv, proto, transport = resp3_connection()
    raw = exchange(proto, transport, ["INFO", "server"])
    header, _, rest = raw.partition(b"\r\n")
    assert header.startswith(b"=")
    assert rest.startswith(b"txt:# Server\r\n")
    assert int(header[1:]) == len(rest) - 2 and rest.endswith(b"\r\n")


def test_client_info_list_and_latency_doctor_are_verbatim():
    """CLIENT INFO, CLIENT LIST and LATENCY DOCTOR are verbatim strings;
    CLIENT INFO shows resp=3."""
    _srv, proto, transport = resp3_connection()
    info = exchange(proto, transport, ["CLIENT", "INFO"])
    assert info.startswith(b"=") and b"\r\ntxt:id=" in info
    assert info.endswith(b" resp=3\n\r\n")
    listing = exchange(proto, transport, ["CLIENT", "LIST"])
    assert listing.startswith(b"=") and b"\r\ntxt:id=" in listing
    doctor = exchange(proto, transport, ["LATENCY", "DOCTOR"])
    assert doctor.startswith(b"=292\r\ntxt:I'm sorry, Dave")


def test_config_get_is_a_map():
    """CONFIG GET answers a % map of name/value pairs."""
    _srv, proto, transport = resp3_connection()
    assert exchange(proto, transport, ["CONFIG", "GET", "maxmemory"]) == \
        b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"


def test_sets_and_maps_nested_in_replies():
    """CLIENT TRACKINGINFO is a map holding a set, LCS IDX a map, and
    COMMAND GETKEYSANDFLAGS's flags a set, as Redis sends them."""
    _srv, proto, transport = resp3_connection()
    assert exchange(proto, transport, ["CLIENT", "TRACKINGINFO"]) == (
        b"%3\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n"
        b"$8\r\nprefixes\r\n*0\r\n")
    exchange(proto, transport, ["MSET", "a", "abc", "b", "abd"])
    assert exchange(proto, transport, ["LCS", "a", "b", "IDX"]) == (
        b"%2\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:0\r\n:1\r\n*2\r\n:0\r\n:1\r\n"
        b"$3\r\nlen\r\n:2\r\n")
    assert exchange(proto, transport,
                    ["COMMAND", "GETKEYSANDFLAGS", "set", "a", "b"]) == \
        b"*1\r\n*2\r\n$1\r\na\r\n~2\r\n+OW\r\n+update\r\n"


def test_pipelined_commands_after_hello_3_are_resp3():
    """A command pipelined right behind HELLO 3 already gets RESP3, and one
    before it RESP2."""
    srv = Harness()
    proto, transport = connect(srv)
    raw = exchange(proto, transport, ["GET", "x"], ["HELLO", "3"], ["GET", "x"])
    assert raw == b"$-1\r\n" + hello_map(3, proto.client.id) + b"_\r\n"


def test_hello_without_version_keeps_resp3():
    """HELLO with no version answers in, and stays in, the current protocol."""
    _srv, proto, transport = resp3_connection()
    assert exchange(proto, transport, ["HELLO"]) == hello_map(3, proto.client.id)
    assert exchange(proto, transport, ["GET", "x"]) == b"_\r\n"


def test_hello_2_goes_back_to_resp2():
    """HELLO 2 answers with a flat array and the connection speaks RESP2."""
    _srv, proto, transport = resp3_connection()
    raw = exchange(proto, transport, ["HELLO", "2"])
    assert raw.startswith(b"*14\r\n$6\r\nserver\r\n")
    assert exchange(proto, transport, ["GET", "x"]) == b"$-1\r\n"


def test_reset_goes_back_to_resp2():
    """RESET answers +RESET and the connection speaks RESP2 again."""
    _srv, proto, transport = resp3_connection()
    assert exchange(proto, transport, ["RESET"]) == b"+RESET\r\n"
    assert proto.client.resp == 2
    assert exchange(proto, transport, ["GET", "x"]) == b"$-1\r\n"
    assert exchange(proto, transport, ["CONFIG", "GET", "maxmemory"]) == \
        b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"


def test_failed_hello_3_keeps_resp2():
    """A HELLO 3 refused (bad option, NOAUTH) leaves the protocol alone."""
    srv = Harness("requirepass pw")
    proto, transport = connect(srv)
    assert exchange(proto, transport, ["HELLO", "3", "FOO"]) == \
        b"-ERR Syntax error in HELLO option 'FOO'\r\n"
    assert exchange(proto, transport, ["HELLO", "3"]).startswith(b"-NOAUTH ")
    assert exchange(proto, transport, ["HELLO", "4"]) == \
        b"-NOPROTO unsupported protocol version\r\n"
    assert proto.client.resp == 2
    assert exchange(proto, transport, ["HELLO", "3", "AUTH", "default", "pw"]) \
        == hello_map(3, proto.client.id)


def test_each_connection_has_its_own_protocol():
    """HELLO 3 on one connection does not change another's replies."""
    srv, proto, transport = resp3_connection()
    other, other_transport = connect(srv)
    assert exchange(other, other_transport, ["GET", "x"]) == b"$-1\r\n"
    assert exchange(proto, transport, ["GET", "x"]) == b"_\r\n"
