"""String commands: replies, errors, TTL handling and propagated forms.

Expected replies marked "(redis 7.0.15)" were checked against a real
redis-server 7.0.15, propagated forms against its AOF.
"""

import pytest

from redisrepl import errors
from redisrepl.keyspace import register_type
from redisrepl.resp.values import OK, Map, ReplyError
from tests.unit.harness import EPOCH, Harness

NOW_MS = int(EPOCH * 1000)


class ListStandIn:
    """A value of another type, so WRONGTYPE paths can be exercised."""


register_type(ListStandIn, b"list")


@pytest.fixture
def lst(srv):
    """A key holding a non-string value."""
    srv.db.set(b"L", ListStandIn())
    return b"L"


def ttl_ms(srv, key):
    when = srv.db.get_expire(key)
    return None if when is None else when - NOW_MS


def error(text):
    return ReplyError(text)


# -- GET / SET -----------------------------------------------------------------

def test_set_then_get(srv):
    """SET stores the value, GET returns it and the write is propagated."""
    assert srv("SET", "k", "v") == OK
    assert srv("GET", "k") == b"v"
    assert srv.propagated == [[b"SET", b"k", b"v"]]


def test_get_missing_is_null_and_counts_a_miss(srv):
    """GET of a missing key is a null bulk; hits and misses are counted."""
    srv("SET", "k", "v")
    assert srv("GET", "nokey") is None
    srv("GET", "k")
    assert (srv.server.keyspace.hits, srv.server.keyspace.misses) == (1, 1)


def test_get_wrongtype(srv, lst):
    """GET of a non-string is WRONGTYPE."""
    assert srv("GET", lst) == errors.WRONGTYPE


def test_set_drops_ttl(srv):
    """A plain SET removes the key's TTL, as Redis does."""
    srv("SET", "k", "v", "EX", "100")
    srv("SET", "k", "w")
    assert srv.db.get_expire(b"k") is None


def test_set_keepttl_keeps_ttl(srv):
    """SET ... KEEPTTL keeps the TTL and propagates as sent."""
    srv("SET", "k", "v", "EX", "100")
    assert srv("SET", "k", "w", "KEEPTTL") == OK
    assert ttl_ms(srv, b"k") == 100_000
    assert srv.propagated[-1] == [b"SET", b"k", b"w", b"KEEPTTL"]


@pytest.mark.parametrize("option, arg, when", [
    ("EX", "10", NOW_MS + 10_000),
    ("PX", "1500", NOW_MS + 1500),
    ("EXAT", "1800000000", 1_800_000_000_000),
    ("PXAT", "1800000000123", 1_800_000_000_123),
])
def test_set_expiry_propagates_as_pxat(srv, option, arg, when):
    """Every SET expiry option propagates as SET key value PXAT <abs ms>."""
    assert srv("SET", "k", "v", option, arg) == OK
    assert srv.db.get_expire(b"k") == when
    assert srv.propagated == [[b"SET", b"k", b"v", b"PXAT", b"%d" % when]]


def test_set_nx_on_existing_key_changes_and_propagates_nothing(srv):
    """SET NX on an existing key replies null and propagates nothing."""
    srv("SET", "k", "v")
    assert srv("SET", "k", "w", "NX", "EX", "10") is None
    assert srv("GET", "k") == b"v"
    assert srv.propagated == [[b"SET", b"k", b"v"]]


def test_set_xx(srv):
    """SET XX only overwrites an existing key."""
    assert srv("SET", "k", "v", "XX") is None
    assert srv("GET", "k") is None
    srv("SET", "k", "v")
    assert srv("SET", "k", "w", "xx") == OK
    assert srv("GET", "k") == b"w"


def test_set_get_replies_old_value_and_propagates_without_get(srv):
    """SET ... GET replies the old value; GET is dropped from the propagated
    command (redis 7.0.15: 'set k v get xx' -> 'set k v xx')."""
    srv("SET", "k", "old")
    assert srv("set", "k", "new", "get", "xx") == b"old"
    assert srv("GET", "k") == b"new"
    assert srv.propagated[-1] == [b"set", b"k", b"new", b"xx"]


def test_set_get_with_nx_keeps_old_value(srv):
    """Redis 7.0 accepts NX with GET: replies the old value, writes nothing."""
    srv("SET", "k", "old")
    assert srv("SET", "k", "new", "NX", "GET") == b"old"
    assert srv("GET", "k") == b"old"
    assert srv("SET", "k2", "new", "NX", "GET") is None
    assert srv("GET", "k2") == b"new"


def test_set_get_on_wrong_type_writes_nothing(srv, lst):
    """SET ... GET against a non-string is WRONGTYPE and leaves the key."""
    assert srv("SET", lst, "v", "GET") == errors.WRONGTYPE
    assert isinstance(srv.db.get(lst), ListStandIn)


@pytest.mark.parametrize("options", [
    ["NX", "XX"], ["XX", "NX"], ["KEEPTTL", "EX", "1"], ["EX", "1", "KEEPTTL"],
    ["EX", "1", "PX", "1"], ["PXAT", "1", "EXAT", "1"], ["EX"], ["PERSIST"],
    ["FOO"], ["EX", "1", "PERSIST"],
])
def test_set_option_conflicts_are_syntax_errors(srv, options):
    """Conflicting, unknown or incomplete SET options are a syntax error."""
    assert srv("SET", "k", "v", *options) == errors.SYNTAX
    assert srv.propagated == []


def test_set_repeated_expiry_last_wins(srv):
    """Repeating the same expiry option is allowed; the last one counts."""
    srv("SET", "k", "v", "EX", "10", "EX", "20")
    assert ttl_ms(srv, b"k") == 20_000


@pytest.mark.parametrize("option, arg", [
    ("EX", "0"), ("EX", "-1"), ("PX", "0"), ("EXAT", "0"), ("PXAT", "-5"),
    ("EX", "9223372036854775"),           # seconds * 1000 + now overflows
    ("EXAT", "9223372036854776"),         # seconds * 1000 overflows
    ("PX", "9223372036854775807"),        # + now overflows
])
def test_set_invalid_expire_time(srv, option, arg):
    """Non-positive or overflowing expiry times get Redis's error text."""
    assert srv("SET", "k", "v", option, arg) == \
        error("ERR invalid expire time in 'set' command")
    assert srv("GET", "k") is None


def test_set_expire_not_an_integer(srv):
    """A non-integer expiry is the generic integer error."""
    assert srv("SET", "k", "v", "EX", "1.5") == errors.NOT_INTEGER


def test_set_largest_absolute_expiry_is_accepted(srv):
    """PXAT LLONG_MAX does not overflow: it is already absolute."""
    assert srv("SET", "k", "v", "PXAT", "9223372036854775807") == OK


def test_set_ex_key_expires_and_del_is_propagated(srv):
    """A key set with EX is gone after its time; a DEL is propagated."""
    srv("SET", "k", "v", "EX", "1")
    srv.advance(1.002)
    assert srv("GET", "k") is None
    assert srv.propagated[-1] == [b"DEL", b"k"]


def test_set_over_an_expired_key_expires_it_first(srv):
    """SET looks the key up first (Redis's setKey): a logically expired key
    is counted as expired and its DEL propagated before the new SET."""
    srv("SET", "k", "v", "PX", "100")
    srv.advance(0.2)
    srv("SET", "k", "w")
    assert srv.server.keyspace.expired_keys == 1
    ops = [op for op in srv.propagated if op[0] in (b"DEL", b"SET")]
    assert ops[-2:] == [[b"DEL", b"k"], [b"SET", b"k", b"w"]]


def test_setnx(srv):
    """SETNX replies 1 when it sets, 0 (and no propagation) otherwise."""
    assert srv("SETNX", "k", "v") == 1
    assert srv("SETNX", "k", "w") == 0
    assert srv("GET", "k") == b"v"
    assert srv.propagated == [[b"SETNX", b"k", b"v"]]


def test_setex_and_psetex_propagate_as_set_pxat(srv):
    """SETEX/PSETEX set value and TTL and propagate as SET ... PXAT."""
    assert srv("SETEX", "a", "10", "v") == OK
    assert srv("PSETEX", "b", "2500", "w") == OK
    assert ttl_ms(srv, b"a") == 10_000
    assert ttl_ms(srv, b"b") == 2500
    assert srv.propagated == [
        [b"SET", b"a", b"v", b"PXAT", b"%d" % (NOW_MS + 10_000)],
        [b"SET", b"b", b"w", b"PXAT", b"%d" % (NOW_MS + 2500)],
    ]


@pytest.mark.parametrize("name", ["setex", "psetex"])
def test_setex_invalid_expire_names_the_command(srv, name):
    """The expire error names the command that was called."""
    assert srv(name, "k", "0", "v") == \
        error(f"ERR invalid expire time in '{name}' command")


def test_getset(srv, lst):
    """GETSET replies the old value, drops the TTL, propagates as SET."""
    srv("SET", "k", "old", "EX", "100")
    assert srv("GETSET", "k", "new") == b"old"
    assert srv.db.get_expire(b"k") is None
    assert srv("GETSET", "k2", "x") is None
    assert srv.propagated[-2:] == [[b"SET", b"k", b"new"], [b"SET", b"k2", b"x"]]
    assert srv("GETSET", lst, "x") == errors.WRONGTYPE


def test_getdel(srv, lst):
    """GETDEL replies the value, deletes the key and propagates DEL."""
    srv("SET", "k", "v")
    assert srv("GETDEL", "k") == b"v"
    assert srv("GET", "k") is None
    assert srv("GETDEL", "k") is None
    assert srv.propagated == [[b"SET", b"k", b"v"], [b"DEL", b"k"]]
    assert srv("GETDEL", lst) == errors.WRONGTYPE


def test_getdel_propagates_unlink_with_lazyfree_user_del():
    """With lazyfree-lazy-user-del yes, GETDEL propagates UNLINK."""
    srv = Harness("lazyfree-lazy-user-del yes\n")
    srv("SET", "k", "v")
    srv("GETDEL", "k")
    assert srv.propagated[-1] == [b"UNLINK", b"k"]


# -- GETEX ---------------------------------------------------------------------

def test_getex_without_options_is_a_read(srv):
    """GETEX with no option replies the value and propagates nothing."""
    srv("SET", "k", "v", "EX", "50")
    assert srv("GETEX", "k") == b"v"
    assert ttl_ms(srv, b"k") == 50_000
    assert len(srv.propagated) == 1


@pytest.mark.parametrize("option, arg, when", [
    ("EX", "10", NOW_MS + 10_000),
    ("PX", "1500", NOW_MS + 1500),
    ("EXAT", "1800000000", 1_800_000_000_000),
    ("PXAT", "1800000000123", 1_800_000_000_123),
])
def test_getex_expiry_propagates_as_pexpireat(srv, option, arg, when):
    """GETEX EX/PX/EXAT/PXAT sets the TTL and propagates PEXPIREAT <abs>."""
    srv("SET", "k", "v")
    assert srv("GETEX", "k", option, arg) == b"v"
    assert srv.db.get_expire(b"k") == when
    assert srv.propagated[-1] == [b"PEXPIREAT", b"k", b"%d" % when]


def test_getex_persist(srv):
    """GETEX PERSIST removes a TTL and propagates PERSIST, only if there was
    one to remove."""
    srv("SET", "k", "v", "EX", "50")
    assert srv("GETEX", "k", "PERSIST") == b"v"
    assert srv.db.get_expire(b"k") is None
    assert srv("GETEX", "k", "persist") == b"v"
    assert srv.propagated[1:] == [[b"PERSIST", b"k"]]


def test_getex_past_absolute_time_deletes_the_key(srv):
    """GETEX EXAT in the past replies the value, deletes the key and
    propagates DEL (redis 7.0.15)."""
    srv("SET", "k", "v")
    assert srv("GETEX", "k", "EXAT", "1") == b"v"
    assert srv.db.get(b"k") is None
    assert srv.propagated[-1] == [b"DEL", b"k"]


def test_getex_past_time_propagates_unlink_with_lazyfree_expire():
    """With lazyfree-lazy-expire yes, that deletion propagates UNLINK."""
    srv = Harness("lazyfree-lazy-expire yes\n")
    srv("SET", "k", "v")
    srv("GETEX", "k", "PXAT", "1")
    assert srv.propagated[-1] == [b"UNLINK", b"k"]


def test_getex_past_time_on_a_replica_keeps_the_key(srv):
    """A replica never deletes on its own: it stores the past expiry and
    waits for the master's DEL (checkAlreadyExpired)."""
    srv("SET", "k", "v")
    srv.server.keyspace.is_replica = True
    assert srv("GETEX", "k", "EXAT", "1") == b"v"
    assert srv.db.data[b"k"] == b"v"
    assert srv.db.get_expire(b"k") == 1000


@pytest.mark.parametrize("option, arg", [
    ("EX", "0"), ("PX", "-1"), ("EX", "9223372036854775"),
    ("EXAT", "9223372036854775807"),
])
def test_getex_invalid_expire_time(srv, option, arg):
    """An invalid expiry on an existing key is an error naming getex."""
    srv("SET", "k", "v")
    assert srv("GETEX", "k", option, arg) == \
        error("ERR invalid expire time in 'getex' command")
    assert srv.db.get_expire(b"k") is None


def test_getex_missing_key_is_null_before_checking_the_time(srv):
    """GETEX on a missing key is null even with an invalid time (7.0.15)."""
    assert srv("GETEX", "nokey", "EX", "0") is None


@pytest.mark.parametrize("options", [
    ["EX", "1", "PERSIST"], ["PERSIST", "PX", "1"], ["NX"], ["KEEPTTL"],
    ["GET"], ["EX"],
])
def test_getex_bad_options(srv, options):
    """SET-only or conflicting options are a syntax error for GETEX."""
    srv("SET", "k", "v")
    assert srv("GETEX", "k", *options) == errors.SYNTAX


def test_getex_wrongtype(srv, lst):
    """GETEX against a non-string is WRONGTYPE."""
    assert srv("GETEX", lst, "PERSIST") == errors.WRONGTYPE


# -- MGET / MSET ---------------------------------------------------------------

def test_mget(srv, lst):
    """MGET replies null for missing keys and for non-strings."""
    srv("SET", "a", "1")
    srv("APPEND", "b", "x")
    srv("APPEND", "b", "y")
    reply = srv("MGET", "a", "nokey", lst, "b")
    assert reply == [b"1", None, None, b"xy"]
    assert type(reply[3]) is bytes   # a snapshot of the grown string


def test_mset(srv):
    """MSET sets every pair, drops TTLs and counts one change per key."""
    srv("SET", "a", "old", "EX", "100")
    dirty = srv.server.dirty
    assert srv("MSET", "a", "1", "b", "2") == OK
    assert srv("MGET", "a", "b") == [b"1", b"2"]
    assert srv.db.get_expire(b"a") is None
    assert srv.server.dirty == dirty + 2
    assert srv.propagated[-1] == [b"MSET", b"a", b"1", b"b", b"2"]


@pytest.mark.parametrize("name", ["mset", "msetnx"])
def test_mset_odd_arguments(srv, name):
    """A key without a value is Redis's arity error for the command."""
    assert srv(name, "a", "1", "b") == errors.wrong_arity(name)


def test_msetnx(srv):
    """MSETNX sets nothing if any key exists."""
    srv("SET", "b", "old")
    assert srv("MSETNX", "a", "1", "b", "2") == 0
    assert srv("GET", "a") is None
    assert srv("MSETNX", "a", "1", "c", "3") == 1
    assert srv("MGET", "a", "b", "c") == [b"1", b"old", b"3"]
    assert srv.propagated[-1] == [b"MSETNX", b"a", b"1", b"c", b"3"]
    assert len(srv.propagated) == 2


# -- APPEND / SETRANGE / GETRANGE / STRLEN -------------------------------------

def test_append_creates_grows_and_keeps_ttl(srv):
    """APPEND creates the key, appends in place and keeps the TTL."""
    assert srv("APPEND", "k", "ab") == 2
    srv.db.set_expire(b"k", NOW_MS + 5000)
    assert srv("APPEND", "k", "cd") == 4
    assert srv("GET", "k") == b"abcd"
    assert ttl_ms(srv, b"k") == 5000
    assert srv.propagated[-1] == [b"APPEND", b"k", b"cd"]


def test_append_empty_still_creates_and_propagates(srv):
    """APPEND k "" creates an empty string and is propagated (7.0.15)."""
    assert srv("APPEND", "k", "") == 0
    assert srv.db.get(b"k") == b""
    assert srv.propagated == [[b"APPEND", b"k", b""]]


@pytest.mark.parametrize("command", [
    ["GET", "k"], ["GETSET", "k", "x"], ["GETDEL", "k"], ["GETEX", "k"],
    ["SET", "k", "x", "GET"], ["GETRANGE", "k", "0", "-1"],
])
def test_replies_are_snapshots_of_grown_strings(srv, command):
    """A reply taken from a string grown in place is bytes, so a later write
    (e.g. inside MULTI) cannot change it."""
    srv("APPEND", "k", "a")
    srv("APPEND", "k", "b")
    reply = srv(*command)
    srv("APPEND", "k", "c")
    assert type(reply) is bytes and reply == b"ab"


def test_append_wrongtype(srv, lst):
    """APPEND to a non-string is WRONGTYPE."""
    assert srv("APPEND", lst, "x") == errors.WRONGTYPE


def test_append_and_setrange_respect_proto_max_bulk_len():
    """Growing past proto-max-bulk-len is refused with Redis's error."""
    srv = Harness("proto-max-bulk-len 1mb\n")
    limit = 1024 * 1024
    srv("SET", "k", b"x" * (limit - 1))
    assert srv("APPEND", "k", "y") == limit
    assert srv("APPEND", "k", "z") == errors.STRING_TOO_LONG
    assert srv("SETRANGE", "k2", str(limit), "a") == errors.STRING_TOO_LONG
    assert srv("SETRANGE", "k2", str(limit - 1), "a") == limit


def test_setrange_pads_with_zeros_and_keeps_ttl(srv):
    """SETRANGE past the end pads with zero bytes and keeps the TTL."""
    srv("SET", "k", "hello", "EX", "100")
    assert srv("SETRANGE", "k", "7", "xy") == 9
    assert srv("GET", "k") == b"hello\x00\x00xy"
    assert srv("SETRANGE", "k", "1", "E") == 9
    assert srv("GET", "k") == b"hEllo\x00\x00xy"
    assert ttl_ms(srv, b"k") == 100_000
    assert srv("SETRANGE", "new", "2", "a") == 3
    assert srv("GET", "new") == b"\x00\x00a"


def test_setrange_with_empty_value_changes_nothing(srv):
    """An empty SETRANGE replies the length, creates and propagates nothing."""
    srv("SET", "k", "hello")
    assert srv("SETRANGE", "k", "100", "") == 5
    assert srv("SETRANGE", "nokey", "3", "") == 0
    assert srv.db.get(b"nokey") is None
    assert len(srv.propagated) == 1


def test_setrange_errors(srv, lst):
    """Negative or non-integer offsets and wrong types are refused."""
    assert srv("SETRANGE", "k", "-1", "x") == error("ERR offset is out of range")
    assert srv("SETRANGE", "k", "x", "x") == errors.NOT_INTEGER
    assert srv("SETRANGE", lst, "0", "") == errors.WRONGTYPE


@pytest.mark.parametrize("start, end, expected", [
    ("0", "-1", b"hello"), ("1", "3", b"ell"), ("-3", "-1", b"llo"),
    ("0", "-100", b"h"),       # Redis 7.0 clamps end to 0 (7.0.15)
    ("-1", "-5", b""), ("-100", "-200", b""), ("5", "10", b""), ("3", "1", b""),
    ("-100", "100", b"hello"),
])
def test_getrange(srv, start, end, expected):
    """GETRANGE follows Redis 7.0's index clamping, quirks included."""
    srv("SET", "k", "hello")
    assert srv("GETRANGE", "k", start, end) == expected
    assert srv("SUBSTR", "k", start, end) == expected


def test_getrange_missing_and_errors(srv, lst):
    """GETRANGE: empty for a missing key, integer errors before lookup."""
    assert srv("GETRANGE", "nokey", "0", "-1") == b""
    assert srv("GETRANGE", lst, "a", "1") == errors.NOT_INTEGER
    assert srv("GETRANGE", lst, "0", "1") == errors.WRONGTYPE


def test_strlen(srv, lst):
    """STRLEN is the byte length, 0 for a missing key."""
    srv("SET", "k", "héllo")
    assert srv("STRLEN", "k") == 6
    assert srv("STRLEN", "nokey") == 0
    assert srv("STRLEN", lst) == errors.WRONGTYPE


# -- counters ------------------------------------------------------------------

def test_incr_family(srv):
    """INCR/DECR/INCRBY/DECRBY reply and store the new value."""
    assert srv("INCR", "n") == 1
    assert srv("INCRBY", "n", "41") == 42
    assert srv("DECR", "n") == 41
    assert srv("DECRBY", "n", "-9") == 50
    assert srv("GET", "n") == b"50"
    assert srv.propagated[-1] == [b"DECRBY", b"n", b"-9"]


def test_incr_keeps_ttl(srv):
    """INCR keeps the key's TTL."""
    srv("SET", "n", "1", "EX", "100")
    srv("INCR", "n")
    assert ttl_ms(srv, b"n") == 100_000


@pytest.mark.parametrize("value", [
    "abc", " 1", "1 ", "01", "+1", "1.0", "", "-0", "9223372036854775808"])
def test_incr_refuses_non_canonical_integers(srv, value):
    """Only Redis's strict integer form counts as an integer value."""
    srv("SET", "n", value)
    assert srv("INCR", "n") == errors.NOT_INTEGER
    assert srv("GET", "n") == value.encode()


def test_incr_overflow(srv):
    """Leaving the int64 range is refused and the value kept."""
    srv("SET", "n", "9223372036854775807")
    assert srv("INCR", "n") == errors.OVERFLOW
    srv("SET", "m", "-9223372036854775808")
    assert srv("DECR", "m") == errors.OVERFLOW
    assert srv("INCRBY", "m", "-1") == errors.OVERFLOW
    assert srv("GET", "n") == b"9223372036854775807"


def test_decrby_most_negative(srv):
    """DECRBY LLONG_MIN is refused before lookup, with its own text."""
    assert srv("DECRBY", "n", "-9223372036854775808") == \
        error("ERR decrement would overflow")


def test_incr_errors(srv, lst):
    """Bad increments and wrong types."""
    assert srv("INCRBY", "n", "1.5") == errors.NOT_INTEGER
    assert srv("INCR", lst) == errors.WRONGTYPE
    assert srv.propagated == []


# Pairs checked against redis-server 7.0.15 (x86-64, 80-bit long double).
@pytest.mark.parametrize("start, incr, expected", [
    ("10.5", "0.1", b"10.6"),
    (None, "3.0e3", b"3000"),
    ("5.0e3", "2.0e2", b"5200"),
    (None, "5.0e-324", b"0"),
    (None, "0.333333333333333333333333", b"0.33333333333333333"),
    (None, "1.23456789012345678901234567890", b"1.23456789012345679"),
    (None, "3.0000000000000000001", b"3"),
    (None, "123456789012345678901234567890",
     b"123456789012345678899921813504"),
    (None, "0.000003814697265625", b"0.00000381469726562"),   # ties to even
    ("1", "0x1p3", b"9"),
    ("1", "-1", b"0"),
    ("-0", "-0", b"0"),
    (None, "-1e-30", b"0"),
    (None, ".5", b"0.5"),
    (None, "5.", b"5"),
    (None, "+1", b"1"),
    (None, "1e-4940", b"0"),
])
def test_incrbyfloat_matches_redis_formatting(srv, start, incr, expected):
    """INCRBYFLOAT adds as an x87 long double and prints %.17Lf trimmed."""
    if start is not None:
        srv("SET", "f", start)
    assert srv("INCRBYFLOAT", "f", incr) == expected
    assert srv("GET", "f") == expected


def test_incrbyfloat_huge_values(srv):
    """Long doubles reach 1e4932: Redis prints every integer digit."""
    result = srv("INCRBYFLOAT", "f", "1e4000")
    assert len(result) == 4000   # 1e4000 rounds just below 10**4000
    assert result.startswith(b"99999999999999999999654638730996237849")
    assert srv("INCRBYFLOAT", "f", "1e4000").endswith(
        b"45459902413296552699802681344")
    big = b"1.7976931348623157e308"
    srv("SET", "g", big)
    assert srv("INCRBYFLOAT", "g", big).startswith(
        b"359538626972463139991842093548208868096772893888658356970628")


@pytest.mark.parametrize("incr", ["inf", "-inf", "infinity", "INF"])
def test_incrbyfloat_infinity(srv, incr):
    """An infinite result is refused with Redis's text."""
    assert srv("INCRBYFLOAT", "f", incr) == \
        error("ERR increment would produce NaN or Infinity")
    assert srv.propagated == []


@pytest.mark.parametrize("incr", [
    "nan", "1e5000", "1e-5000", "", ".", "1e", "0x", " 1", "1 ", "1_0",
    "1\x00", "abc"])
def test_incrbyfloat_invalid_increment(srv, incr):
    """What strtold refuses, overflows, underflows to 0 or NaN is invalid."""
    assert srv("INCRBYFLOAT", "f", incr) == errors.NOT_FLOAT


def test_incrbyfloat_invalid_stored_value(srv, lst):
    """A stored value that is not a float is refused; wrong type too."""
    srv("SET", "f", "0x10\x00")
    assert srv("INCRBYFLOAT", "f", "1") == errors.NOT_FLOAT
    assert srv("INCRBYFLOAT", lst, "1") == errors.WRONGTYPE


def test_incrbyfloat_propagates_set_keepttl(srv):
    """INCRBYFLOAT propagates the result as SET key value KEEPTTL and keeps
    the TTL."""
    srv("SET", "f", "1", "EX", "100")
    assert srv("INCRBYFLOAT", "f", "0.5") == b"1.5"
    assert ttl_ms(srv, b"f") == 100_000
    assert srv.propagated[-1] == [b"SET", b"f", b"1.5", b"KEEPTTL"]


# -- LCS -----------------------------------------------------------------------

@pytest.fixture
def texts(srv):
    srv("SET", "s1", "ohmytext")
    srv("SET", "s2", "mynewtext")


def test_lcs_string_and_len(srv, texts):
    """LCS replies the common subsequence, LEN its length."""
    assert srv("LCS", "s1", "s2") == b"mytext"
    assert srv("LCS", "s1", "s2", "LEN") == 6


def test_lcs_idx(srv, texts):
    """LCS IDX replies the matching ranges as Redis 7.0.15 does."""
    assert srv("LCS", "s1", "s2", "IDX") == Map([
        (b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]]), (b"len", 6)])
    assert srv("LCS", "s1", "s2", "idx", "minmatchlen", "4",
               "withmatchlen") == Map([
        (b"matches", [[[4, 7], [5, 8], 4]]), (b"len", 6)])
    assert srv("LCS", "s1", "s2", "IDX", "MINMATCHLEN", "-5",
               "WITHMATCHLEN") == Map([
        (b"matches", [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]]),
        (b"len", 6)])


def test_lcs_missing_keys_are_empty(srv, texts):
    """A missing key is an empty string."""
    assert srv("LCS", "s1", "nokey") == b""
    assert srv("LCS", "nokey", "s1", "LEN") == 0


def test_lcs_errors(srv, texts, lst):
    """LCS's own errors, in Redis's order."""
    wrong = error("ERR The specified keys must contain string values")
    assert srv("LCS", "s1", lst) == wrong
    assert srv("LCS", lst, "s1", "bogus") == wrong
    assert srv("LCS", "s1", "s2", "LEN", "IDX") == error(
        "ERR If you want both the length and indexes, please just use IDX.")
    assert srv("LCS", "s1", "s2", "MINMATCHLEN") == errors.SYNTAX
    assert srv("LCS", "s1", "s2", "MINMATCHLEN", "x") == errors.NOT_INTEGER


def test_lcs_table_limited_by_proto_max_bulk_len():
    """Redis refuses an LCS whose table would exceed proto-max-bulk-len."""
    srv = Harness("proto-max-bulk-len 1mb\n")
    srv("SET", "a", b"a" * 600)
    assert srv("LCS", "a", "a", "LEN") == error(
        "ERR Insufficient memory, transient memory for LCS exceeds "
        "proto-max-bulk-len")
    srv("SET", "b", b"a" * 500)
    assert srv("LCS", "b", "b", "LEN") == 500
