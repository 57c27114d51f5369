"""The RESP2 encoder turns reply values into Redis's exact bytes."""

from hypothesis import given
from hypothesis import strategies as st

from redisrepl.resp.encoder import encode, encode_command
from redisrepl.resp.values import NULL_ARRAY, OK, Map, ReplyError, Set, Status


def test_scalars():
    """Bulk, integer, null, simple string and error replies use RESP2 framing."""
    assert encode(b"abc") == b"$3\r\nabc\r\n"
    assert encode(bytearray(b"ab")) == b"$2\r\nab\r\n"
    assert encode(b"") == b"$0\r\n\r\n"
    assert encode(-42) == b":-42\r\n"
    assert encode(None) == b"$-1\r\n"
    assert encode(Status(b"PONG")) == b"+PONG\r\n"
    assert encode(OK) == b"+OK\r\n"
    assert encode(ReplyError("ERR boom")) == b"-ERR boom\r\n"
    assert encode(NULL_ARRAY) == b"*-1\r\n"


def test_error_newlines_are_flattened():
    """An error text never carries a raw newline onto the wire."""
    assert encode(ReplyError("ERR a\r\nb")) == b"-ERR a  b\r\n"


def test_nested_arrays_maps_and_sets():
    """Maps flatten to key/value arrays and sets to arrays in RESP2."""
    value = [b"a", [1, None], Map([(b"k", b"v")]), Set([b"x"])]
    assert encode(value) == (
        b"*4\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
        b"*1\r\n$1\r\nx\r\n")


@given(st.lists(st.binary(), min_size=1, max_size=8))
def test_encode_command_is_what_hiredis_reads_back(argv):
    """A propagated command decodes to exactly the argv it was made from."""
    import hiredis
    reader = hiredis.Reader()
    reader.feed(encode_command(argv))
    assert reader.gets() == argv
