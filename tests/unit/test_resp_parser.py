"""Tests for redisrepl.resp.parser: Redis 7.0's request framing, both paths."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redisrepl.ctext import split_args
from redisrepl.resp.parser import (
    ProtocolError,
    QueryBufferLimitExceeded,
    RespParser,
)

PATHS = [True, False]  # use_hiredis: fast path, exact parser only


def run(chunks, use_hiredis=True, **attrs):
    """Feed chunks one by one, draining after each; ('ERR', message) ends the list."""
    p = RespParser(use_hiredis=use_hiredis)
    for k, v in attrs.items():
        setattr(p, k, v)
    out = []
    try:
        for chunk in chunks:
            p.feed(chunk)
            for _ in range(len(chunk) + 2):  # each command eats >= 1 byte
                cmd = p.get_command()
                if cmd is None:
                    break
                out.append(cmd)
            else:
                raise AssertionError("get_command never returned None")
    except ProtocolError as e:
        out.append(("ERR", type(e).__name__, e.message))
    return out


def error(message):
    return ("ERR", "ProtocolError", message)


def mbulk(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


SET = mbulk(b"SET", b"key:000000012345", b"xxx")


@pytest.mark.parametrize("fast", PATHS)
def test_pipeline_in_one_chunk(fast):
    """A pipeline in one read gives every command, in order."""
    cmds = [[b"SET", b"k%d" % i, b"v" * i] for i in range(50)]
    assert run([b"".join(mbulk(*c) for c in cmds)], fast) == cmds


@pytest.mark.parametrize("fast", PATHS)
def test_pipeline_byte_by_byte(fast):
    """Feeding one byte at a time gives the same commands as one big feed."""
    data = SET + b"PING\r\n" + mbulk(b"GET", b"a\r\nb") + SET
    chunks = [data[i:i + 1] for i in range(len(data))]
    expected = [[b"SET", b"key:000000012345", b"xxx"], [b"PING"], [b"GET", b"a\r\nb"],
                [b"SET", b"key:000000012345", b"xxx"]]
    assert run(chunks, fast) == expected
    assert run([data], fast) == expected


@pytest.mark.parametrize("fast", PATHS)
def test_empty_commands_are_skipped(fast):
    """*0, *-1, *-10 and empty or blank inline lines produce no command, as in Redis."""
    data = b"*0\r\n*-1\r\n\r\n\n   \r\n*-10\r\n" + mbulk(b"PING") + b"*0\r\n"
    assert run([data], fast) == [[b"PING"]]


def test_well_formed_pipelines_stay_on_hiredis():
    """Canonical multibulk traffic, even split mid-command, ends back on the hiredis path."""
    p = RespParser()
    data = SET * 10
    p.feed(data[:77])
    p.feed(data[77:])
    got = []
    while (cmd := p.get_command()) is not None:
        got.append(cmd)
    assert len(got) == 10 and not p._py


def test_type_bytes_in_values_keep_the_fast_path():
    """Values holding + = ( | ~ % > are checked header by header, not re-parsed."""
    cmds = [[b"SET", b"k%d" % i, b"a+b=c(d|e~f%g>h" * i] for i in range(30)]
    data = b"".join(mbulk(*c) for c in cmds)
    p = RespParser()
    got = []
    for i in range(0, len(data), 100):
        p.feed(data[i:i + 100])
        while (cmd := p.get_command()) is not None:
            got.append(cmd)
    assert got == cmds and not p._py


@pytest.mark.parametrize("fast", PATHS)
def test_feed_accepts_bytes_like(fast):
    """bytearray and memoryview chunks work, and later changes to them do not leak in."""
    chunk = bytearray(SET)
    p = RespParser(use_hiredis=fast)
    p.feed(chunk)
    p.feed(memoryview(SET))
    chunk[:] = b"x" * len(chunk)
    assert p.get_command() == p.get_command() == [b"SET", b"key:000000012345", b"xxx"]


@pytest.mark.parametrize("fast", PATHS)
def test_error_after_good_commands(fast):
    """An error is raised only after the commands before it, then again on every call."""
    p = RespParser(use_hiredis=fast)
    p.feed(SET + SET + b"*1\r\n$x\r\n" + SET)
    assert p.get_command() == [b"SET", b"key:000000012345", b"xxx"]
    assert p.get_command() == [b"SET", b"key:000000012345", b"xxx"]
    for _ in range(2):
        with pytest.raises(ProtocolError) as e:
            p.get_command()
        assert e.value.message == "Protocol error: invalid bulk length"


@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize(("data", "message"), [
    (b"*abc\r\n", "invalid multibulk length"),
    (b"*01\r\n", "invalid multibulk length"),
    (b"*+1\r\n", "invalid multibulk length"),
    (b"* 1\r\n", "invalid multibulk length"),
    (b"*1 \r\n", "invalid multibulk length"),
    (b"*-0\r\n", "invalid multibulk length"),
    (b"*\r\n", "invalid multibulk length"),
    (b"*2147483648\r\n", "invalid multibulk length"),
    (b"*3000000000\r\n", "invalid multibulk length"),
    (b"*99999999999999999999\r\n", "invalid multibulk length"),
    (b"*1\r\n$-1\r\n", "invalid bulk length"),
    (b"*1\r\n$abc\r\n", "invalid bulk length"),
    (b"*1\r\n$01\r\n", "invalid bulk length"),
    (b"*1\r\n$\r\n", "invalid bulk length"),
    (b"*1\r\n$9223372036854775808\r\n", "invalid bulk length"),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "expected '$', got 'f'"),
    (b"*1\r\n+OK\r\n", "expected '$', got '+'"),
    (b"*1\r\n:5\r\n", "expected '$', got ':'"),
    (b"*1\r\n*1\r\n$1\r\na\r\n", "expected '$', got '*'"),
    (b"*1\r\n\r\n", "expected '$', got ' '"),  # \r and \n become spaces
    (b"*1\r\n\n\r\n", "expected '$', got ' '"),
    (b'SET "a\r\n', "unbalanced quotes in request"),
    (b"SET 'a\r\n", "unbalanced quotes in request"),
    (b'SET "a"b\r\n', "unbalanced quotes in request"),
    (b"SET 'a'b\r\n", "unbalanced quotes in request"),
    (b'SET "a\\"\r\n', "unbalanced quotes in request"),
])
def test_error_texts(fast, data, message):
    """Each malformed request fails with Redis 7.0's exact error text."""
    assert run([data], fast) == [error("Protocol error: " + message)]


@pytest.mark.parametrize("fast", PATHS)
def test_error_byte_is_echoed_raw(fast):
    """The unexpected type byte is reported as is (latin-1 in the str)."""
    assert run([b"*1\r\n\xff\r\n"], fast) == [error("Protocol error: expected '$', got '\xff'")]


@pytest.mark.parametrize("fast", PATHS)
def test_too_big_inline_request(fast):
    """More than 64 KiB without a newline is 'too big inline request'; 64 KiB waits."""
    assert run([b"A" * 65536], fast) == []
    assert run([b"A" * 65537], fast) == [error("Protocol error: too big inline request")]
    assert run([b"A" * 40000, b"A" * 40000], fast) == [
        error("Protocol error: too big inline request")]


@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize("cut", [None, 1000, 65536, 65537])
def test_too_big_is_measured_from_the_line_start(fast, cut):
    """A terminator more than 65536 bytes into the line is too late, however it is cut."""
    for size, ok in [(65536, True), (65537, False)]:
        data = SET + b"A" * size + b"\n"
        chunks = [data] if cut is None else [data[:cut], data[cut:]]
        want = [b"A" * size] if ok else error("Protocol error: too big inline request")
        assert run(chunks, fast) == [[b"SET", b"key:000000012345", b"xxx"], want]


@pytest.mark.parametrize("fast", PATHS)
def test_too_big_count_strings(fast):
    """A '*' or '$' header with no '\\r' within 64 KiB is 'too big (m)bulk count string'."""
    assert run([b"*" + b"1" * 65536], fast) == [
        error("Protocol error: too big mbulk count string")]
    assert run([b"*1\r\n$" + b"1" * 65536], fast) == [
        error("Protocol error: too big bulk count string")]
    assert run([b"*" + b"1" * 65534], fast) == []


@pytest.mark.parametrize("fast", PATHS)
def test_huge_bulk_header_fails_at_once(fast):
    """$600000000 fails as soon as the header is in, without waiting for the body."""
    assert run([b"*1\r\n$600000000\r\n"], fast) == [error("Protocol error: invalid bulk length")]
    assert run([SET + b"*1\r\n$600000000\r\nabc"], fast) == [
        [b"SET", b"key:000000012345", b"xxx"], error("Protocol error: invalid bulk length")]


@pytest.mark.parametrize("fast", PATHS)
def test_bulk_length_limit_is_live(fast):
    """max_bulk_len bounds bulk headers, and lowering it applies to commands not yet taken."""
    assert run([mbulk(b"x" * 100)], fast, max_bulk_len=99) == [
        error("Protocol error: invalid bulk length")]
    assert run([mbulk(b"x" * 99)], fast, max_bulk_len=99) == [[b"x" * 99]]
    p = RespParser(use_hiredis=fast)
    p.feed(mbulk(b"CONFIG") + mbulk(b"x" * 100) + mbulk(b"PING"))
    assert p.get_command() == [b"CONFIG"]
    p.max_bulk_len = 50  # as CONFIG SET proto-max-bulk-len would
    with pytest.raises(ProtocolError, match="invalid bulk length"):
        p.get_command()


@pytest.mark.parametrize("fast", PATHS)
def test_multibulk_count_limit_is_int_max(fast):
    """Redis 7.0 accepts a count up to INT_MAX (it waits for the arguments)."""
    p = RespParser(use_hiredis=fast)
    p.feed(b"*2147483647\r\n$4\r\nPING\r\n")
    assert p.get_command() is None


@pytest.mark.parametrize("fast", PATHS)
def test_unauthenticated_limits(fast):
    """Before AUTH a command may have at most 10 args of at most 16384 bytes."""
    auth = {"authenticated": False}
    assert run([b"*11\r\n"], fast, **auth) == [
        error("Protocol error: unauthenticated multibulk length")]
    assert run([b"*1\r\n$16385\r\n"], fast, **auth) == [
        error("Protocol error: unauthenticated bulk length")]
    assert run([b"*1\r\n$100000000\r\n"], fast, **auth) == [
        error("Protocol error: unauthenticated bulk length")]
    ten = [b"a" * 16384] * 10
    assert run([mbulk(*ten)], fast, **auth) == [ten]
    assert run([b"*11\r\n"], fast) == []  # authenticated: just waits
    assert run([b"x " * 20 + b"\r\n"], fast, **auth) == [[b"x"] * 20]  # inline: no limit


@pytest.mark.parametrize("fast", PATHS)
def test_limits_follow_authenticated_flag(fast):
    """Commands after AUTH use the normal limits; after RESET the tight ones again."""
    big = mbulk(*[b"a"] * 11)
    p = RespParser(use_hiredis=fast)
    p.authenticated = False
    p.feed(mbulk(b"AUTH", b"pw") + big)
    assert p.get_command() == [b"AUTH", b"pw"]
    p.authenticated = True
    assert p.get_command() == [b"a"] * 11
    p.feed(mbulk(b"RESET") + big)
    assert p.get_command() == [b"RESET"]
    p.authenticated = False
    with pytest.raises(ProtocolError, match="unauthenticated multibulk length"):
        p.get_command()


@pytest.mark.parametrize("fast", PATHS)
def test_query_buffer_limit(fast):
    """Unprocessed input over max_query_buffer closes the client (no reply, own class)."""
    p = RespParser(max_query_buffer=1000, use_hiredis=fast)
    p.feed(b"*1\r\n$5000\r\n")
    assert p.get_command() is None
    p.feed(b"x" * 600)
    assert p.get_command() is None
    p.feed(b"x" * 600)
    with pytest.raises(QueryBufferLimitExceeded) as e:
        p.get_command()
    assert isinstance(e.value, ProtocolError)


@pytest.mark.parametrize("fast", PATHS)
def test_query_buffer_limit_drops_queued_commands(fast):
    """Like Redis, a read that overflows the limit closes the client before running anything."""
    p = RespParser(max_query_buffer=1000, use_hiredis=fast)
    p.feed(SET * 30)
    with pytest.raises(QueryBufferLimitExceeded):
        p.get_command()


@pytest.mark.parametrize("fast", PATHS)
def test_pending_grows_with_a_partial_argument(fast):
    """pending counts the unreturned bytes, including a big argument still arriving."""
    p = RespParser(use_hiredis=fast)
    p.feed(b"*2\r\n$3\r\nSET\r\n$100000\r\n")
    assert p.get_command() is None
    sizes = []
    for _ in range(5):
        p.feed(b"v" * 10000)
        assert p.get_command() is None
        sizes.append(p.pending)
    assert sizes == sorted(sizes) and sizes[-1] >= 50000
    p.feed(b"v" * 50000 + b"\r\n")
    assert p.get_command() == [b"SET", b"v" * 100000]
    assert p.pending == 0


@pytest.mark.parametrize("fast", PATHS)
def test_bulk_trailer_and_header_cr_not_checked(fast):
    """Like Redis: the 2 bytes after a body and the byte after a header's '\\r' are skipped."""
    assert run([b"*1\r\n$1\r\naXY" + mbulk(b"PING")], fast) == [[b"a"], [b"PING"]]
    assert run([b"*1\rX$1\rXa\r\n"], fast) == [[b"a"]]


@pytest.mark.parametrize("fast", PATHS)
def test_non_star_first_byte_is_inline(fast):
    """Reply-type bytes other than '*' at a command start are inline text in Redis."""
    data = b"+PING\r\n:1\r\n$3\r\nfoo\r\n-ERR x\r\n" + mbulk(b"GET", b"k")
    assert run([data], fast) == [[b"+PING"], [b":1"], [b"$3"], [b"foo"], [b"-ERR", b"x"],
                                 [b"GET", b"k"]]


@pytest.mark.parametrize("fast", PATHS)
def test_resp3_aggregates_at_command_start_are_inline(fast):
    """'|', '~', '%' and '>' lines are inline commands, not parsed as RESP3."""
    data = b"|1\r\n$1\r\na\r\n~1\r\n>1\r\n%1\r\n"
    assert run([data], fast) == [[b"|1"], [b"$1"], [b"a"], [b"~1"], [b">1"], [b"%1"]]
    # after a good command, where hiredis would read them as RESP3 replies
    for resp3 in [b"|1\r\n$1\r\na\r\n$1\r\nb\r\n", b"~1\r\n$1\r\nb\r\n",
                  b">1\r\n$1\r\nb\r\n", b"%1\r\n$1\r\na\r\n$1\r\nb\r\n"]:
        lines = [[line] for line in resp3.split(b"\r\n")[:-1]]
        assert run([mbulk(b"PING") + resp3], fast) == [[b"PING"], *lines]


@pytest.mark.parametrize("fast", PATHS)
def test_nul_byte_stalls_like_strchr(fast):
    """A NUL before the newline hides it (Redis uses strchr) until 64 KiB pile up."""
    assert run([b"PI\x00NG\r\n"], fast) == []
    assert run([b"PI\x00NG\r\n" + b"x" * 65536], fast) == [
        error("Protocol error: too big inline request")]
    assert run([b"*1\r\n$\x001\r\n" + b"x" * 65536], fast) == [
        error("Protocol error: too big bulk count string")]
    assert run([mbulk(b"a\x00b")], fast) == [[b"a\x00b"]]  # binary-safe bodies


@pytest.mark.parametrize(("line", "args"), [
    (b"set a b", [b"set", b"a", b"b"]),
    (b"  set   a\tb  ", [b"set", b"a", b"b"]),
    (b'set "a b" c', [b"set", b"a b", b"c"]),
    (b'"\\n\\r\\t\\b\\a\\\\\\"\\q"', [b"\n\r\t\b\a\\\"q"]),
    (b'"\\x41\\x4a\\x4B\\xzz\\x4"', [b"AJKxzzx4"]),
    (b"'it\\'s' 'a\\nb'", [b"it's", b"a\\nb"]),
    (b'"" \'\'', [b"", b""]),
    (b'ab"c d"', [b"abc d"]),
    (b"a'b c'", [b"ab c"]),
    (b"a\vb \fc", [b"a\vb", b"c"]),  # \v \f separate nothing but are skipped as blanks
    (b'"a"\v"b"', [b"a", b"b"]),
    (b"a\rb", [b"a", b"b"]),
    (b"", []),
    (b'"a"b', None),
    (b'"a', None),
    (b"'a", None),
    (b'"a\\', None),
])
def test_split_args(line, args):
    """split_args follows sdssplitargs: quotes, escapes, separators, errors (None)."""
    assert split_args(line) == args


@pytest.mark.parametrize("fast", PATHS)
def test_inline_line_endings(fast):
    """An inline line ends at \\n; only a '\\r' right before it is dropped."""
    assert run([b'SET k "v"\r\nGET k\nECHO "a\\r"\r\r\n'], fast) == [
        [b"SET", b"k", b"v"], [b"GET", b"k"], [b"ECHO", b"a\r"]]


# -- properties ---------------------------------------------------------------

def inline_encode(args):
    def esc(a):
        return b'"' + b"".join(
            bytes([c]) if 32 < c < 127 and c not in b'"\\' else b"\\x%02x" % c for c in a) + b'"'
    return b" ".join(map(esc, args)) + b"\r\n"


arg = st.binary(max_size=40) | st.sampled_from([b"\r\n", b"*1\r\n", b"$3\r\n", b"\r", b"+OK"])
command = st.tuples(st.booleans(), st.lists(arg, min_size=1, max_size=6))


def split(data, cuts):
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[i:j] for i, j in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(command, min_size=1, max_size=12), st.lists(st.integers(0, 10**6), max_size=12),
       st.sampled_from(PATHS))
def test_any_split_of_valid_stream_gives_same_commands(cmds, cuts, fast):
    """However a valid inline/multibulk stream is cut, the same commands come out."""
    data = b"".join(inline_encode(a) if inline else mbulk(*a) for inline, a in cmds)
    assert run(split(data, cuts), fast) == [a for _, a in cmds]


TOKENS = [b"*", b"$", b"\r\n", b"\r", b"\n", b"0", b"1", b"2", b"3", b"-1", b"10", b"17",
          b"SET", b"a", b"+", b":", b"~", b"|", b"%", b">", b"=", b"(", b"_", b"#", b",", b"!",
          b"-", b" ", b'"', b"'", b"\\", b"\x00", b"*1\r\n$1\r\na\r\n", b"*2\r\n", b"$1\r\n",
          b"=5\r\ntxt:a\r\n", b"*100000\r\n", b"*2147483647\r\n"]
soup = st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join) | st.binary(max_size=200)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(soup, st.lists(st.integers(0, 10**6), max_size=8), st.booleans(),
       st.sampled_from([512 * 1024 * 1024, 5]))
def test_arbitrary_bytes(data, cuts, authenticated, max_bulk_len):
    """Any input ends in commands, None or ProtocolError, and both paths agree exactly."""
    chunks = split(data, cuts)
    attrs = {"authenticated": authenticated, "max_bulk_len": max_bulk_len}
    fast = run(chunks, True, **attrs)  # raises on anything but ProtocolError, or a hang
    assert fast == run(chunks, False, **attrs)
