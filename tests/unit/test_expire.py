"""The EXPIRE and TTL families and PERSIST: replies, errors, propagation."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redisrepl.resp.values import ReplyError
from tests.unit.harness import EPOCH, Harness

NOW_MS = int(EPOCH * 1000)
LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)
NX_XX = ReplyError(
    "ERR NX and XX, GT or LT options at the same time are not compatible")
GT_LT = ReplyError("ERR GT and LT options at the same time are not compatible")


def ops_after(srv, *command):
    """Run ``command``; return what it propagated."""
    before = len(srv.propagated)
    srv(*command)
    return srv.propagated[before:]


@pytest.mark.parametrize("command,arg,expected_ms", [
    ("EXPIRE", "100", NOW_MS + 100_000),
    ("PEXPIRE", "1500", NOW_MS + 1500),
    ("EXPIREAT", str(NOW_MS // 1000 + 50), NOW_MS + 50_000),
    ("PEXPIREAT", str(NOW_MS + 777), NOW_MS + 777),
])
def test_expire_family_sets_absolute_time(srv, command, arg, expected_ms):
    """Each form stores the same absolute ms and replies 1."""
    srv("SET", "k", "v")
    assert srv(command, "k", arg) == 1
    assert srv.db.get_expire(b"k") == expected_ms
    assert srv("PEXPIRETIME", "k") == expected_ms


@pytest.mark.parametrize("command,arg", [
    ("EXPIRE", "100"), ("PEXPIRE", "100000"),
    ("EXPIREAT", str(NOW_MS // 1000 + 100)),
])
def test_expire_propagates_as_pexpireat(srv, command, arg):
    """Relative and second forms become PEXPIREAT <abs ms>, options kept."""
    srv("SET", "k", "v")
    assert ops_after(srv, command, "k", arg, "NX") == [
        [b"PEXPIREAT", b"k", b"%d" % (NOW_MS + 100_000), b"NX"]]


def test_pexpireat_propagates_verbatim(srv):
    """PEXPIREAT is already absolute: propagated exactly as sent."""
    srv("SET", "k", "v")
    when = b"%d" % (NOW_MS + 5000)
    assert ops_after(srv, "PexpireAt", "k", when, "gt") == []  # no TTL: GT fails
    assert ops_after(srv, "PexpireAt", "k", when) == [
        [b"PexpireAt", b"k", when]]


@pytest.mark.parametrize("command,arg", [
    ("EXPIRE", "-1"), ("EXPIRE", "0"), ("PEXPIRE", "0"),
    ("EXPIREAT", "1"), ("PEXPIREAT", str(NOW_MS)),
])
def test_expire_in_the_past_deletes_and_propagates_del(srv, command, arg):
    """A time already past deletes the key at once and propagates DEL."""
    srv("SET", "k", "v")
    dirty = srv.server.dirty
    assert ops_after(srv, command, "k", arg) == [[b"DEL", b"k"]]
    assert srv.server.dirty == dirty + 1
    assert srv.db.data == {}
    assert srv.server.keyspace.expired_keys == 0


def test_expire_in_the_past_propagates_unlink_with_lazyfree():
    """With lazyfree-lazy-expire the deletion goes out as UNLINK."""
    srv = Harness("lazyfree-lazy-expire yes\n")
    srv("SET", "k", "v")
    assert ops_after(srv, "PEXPIREAT", "k", "1") == [[b"UNLINK", b"k"]]


def test_expire_in_the_past_on_replica_keeps_the_key():
    """A replica (or a load) sets a past TTL and waits for the master's DEL."""
    srv = Harness()
    srv("SET", "k", "v")
    ks = srv.server.keyspace
    ks.is_replica = ks.applying_master_stream = True
    assert srv("PEXPIREAT", "k", "1") == 1
    assert srv.db.get_expire(b"k") == 1
    assert b"k" in srv.db.data
    ks.applying_master_stream = False
    assert srv("EXISTS", "k") == 0
    assert b"k" in srv.db.data


def test_expire_while_loading_sets_past_ttl():
    """While loading, an expire into the past sets the TTL (no DEL)."""
    srv = Harness()
    srv("SET", "k", "v")
    srv.server.keyspace.loading = True
    assert srv("EXPIRE", "k", "-10") == 1
    assert srv.db.get_expire(b"k") == NOW_MS - 10_000


def test_expire_on_missing_key(srv):
    """A missing (or expired) key replies 0 and propagates nothing."""
    assert ops_after(srv, "EXPIRE", "nokey", "10") == []
    assert srv("EXPIRE", "nokey", "10") == 0
    assert srv("PEXPIREAT", "nokey", "1") == 0


@pytest.mark.parametrize("options,current,new,result", [
    (("NX",), None, 100, 1),
    (("NX",), 50, 100, 0),
    (("XX",), None, 100, 0),
    (("XX",), 50, 100, 1),
    (("GT",), None, 100, 0),     # no TTL counts as infinite
    (("GT",), 50, 100, 1),
    (("GT",), 100, 100, 0),
    (("LT",), None, 100, 1),
    (("LT",), 150, 100, 1),
    (("LT",), 100, 100, 0),
    (("XX", "GT"), 50, 100, 1),
    (("XX", "LT"), None, 100, 0),
    (("gt", "GT"), 50, 100, 1),
])
def test_expire_options(srv, options, current, new, result):
    """NX/XX/GT/LT decide against the current TTL as Redis 7.0 does."""
    srv("SET", "k", "v")
    if current is not None:
        srv("EXPIRE", "k", current)
    before = srv.db.get_expire(b"k")
    assert srv("EXPIRE", "k", new, *options) == result
    expected = NOW_MS + new * 1000 if result else before
    assert srv.db.get_expire(b"k") == expected


@pytest.mark.parametrize("options,error", [
    (("NX", "XX"), NX_XX), (("NX", "GT"), NX_XX), (("NX", "LT"), NX_XX),
    (("XX", "NX"), NX_XX), (("GT", "LT"), GT_LT), (("lt", "gt"), GT_LT),
    (("FOO",), ReplyError("ERR Unsupported option FOO")),
    (("NX", "foo"), ReplyError("ERR Unsupported option foo")),
])
def test_expire_option_errors(srv, options, error):
    """Incompatible or unknown options fail with Redis's texts."""
    srv("SET", "k", "v")
    assert srv("EXPIRE", "k", "10", *options) == error


def test_options_are_checked_before_the_number(srv):
    """Redis parses options first: NX XX with a bad number is the NX error."""
    assert srv("EXPIRE", "k", "abc", "NX", "XX") == NX_XX
    assert srv("EXPIRE", "k", "abc") == ReplyError(
        "ERR value is not an integer or out of range")


@pytest.mark.parametrize("command,arg", [
    ("EXPIRE", str(LLONG_MAX)),
    ("EXPIRE", str(LLONG_MIN)),
    ("EXPIRE", "9223372036854776"),
    ("EXPIRE", "-9223372036854776"),
    ("EXPIRE", "9223372036854775"),      # fits in ms, not once now is added
    ("PEXPIRE", str(LLONG_MAX)),
    ("EXPIREAT", str(LLONG_MAX)),
])
def test_expire_overflow(srv, command, arg):
    """Times that overflow 64-bit ms fail, naming the command."""
    srv("SET", "k", "v")
    assert srv(command, "k", arg) == ReplyError(
        f"ERR invalid expire time in '{command.lower()}' command")


def test_expire_extremes_that_fit(srv):
    """PEXPIREAT LLONG_MAX is fine; PEXPIRE LLONG_MIN deletes the key."""
    srv("SET", "k", "v")
    assert srv("PEXPIREAT", "k", str(LLONG_MAX)) == 1
    assert srv("EXPIREAT", "k", "9223372036854775") == 1
    assert srv("PEXPIRE", "k", str(LLONG_MIN)) == 1
    assert srv("EXISTS", "k") == 0


@given(st.integers(LLONG_MIN, LLONG_MAX))
def test_pexpire_any_integer_either_sets_or_fails(ms):
    """Any 64-bit PEXPIRE sets now + ms, deletes, or fails on overflow."""
    srv = Harness()
    srv("SET", "k", "v")
    reply = srv("PEXPIRE", "k", str(ms))
    if ms > LLONG_MAX - NOW_MS:
        assert reply == ReplyError("ERR invalid expire time in 'pexpire' command")
    elif ms <= 0:
        assert reply == 1 and srv("EXISTS", "k") == 0
    else:
        assert reply == 1 and srv.db.get_expire(b"k") == NOW_MS + ms


# -- TTL family --------------------------------------------------------------------


def test_ttl_of_missing_and_persistent_keys(srv):
    """-2 for a missing key, -1 for one without TTL, in all four forms."""
    srv("SET", "k", "v")
    for command in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"):
        assert srv(command, "nokey") == -2
        assert srv(command, "k") == -1


def test_ttl_rounds_to_nearest_second(srv):
    """TTL rounds (ms + 500) / 1000; PTTL is exact."""
    srv("SET", "k", "v", "PX", "1500")
    assert srv("PTTL", "k") == 1500
    assert srv("TTL", "k") == 2
    srv.advance(0.007)
    assert srv("PTTL", "k") == 1493
    assert srv("TTL", "k") == 1


def test_expiretime_rounds_too(srv):
    """EXPIRETIME rounds the absolute ms to the nearest second."""
    srv("SET", "k", "v")
    srv("PEXPIREAT", "k", "99999999999500")
    assert srv("EXPIRETIME", "k") == 100000000000
    assert srv("PEXPIRETIME", "k") == 99999999999500
    srv("PEXPIREAT", "k", "99999999999499")
    assert srv("EXPIRETIME", "k") == 99999999999


def test_ttl_of_expired_key_is_minus_two(srv):
    """A key whose time has come is missing, even before it is reclaimed."""
    srv("SET", "k", "v", "PX", "10")
    srv.advance(0.012)
    assert srv("PTTL", "k") == -2


def test_ttl_on_replica_never_negative():
    """Where an expired key lingers (replica applying the stream), TTL is 0."""
    srv = Harness()
    srv("SET", "k", "v", "PX", "10")
    srv.advance(1)
    ks = srv.server.keyspace
    ks.is_replica = ks.applying_master_stream = True
    assert srv("PTTL", "k") == 0
    assert srv("TTL", "k") == 0


def test_ttl_commands_are_not_propagated(srv):
    """Reading a TTL changes nothing."""
    srv("SET", "k", "v", "EX", "10")
    assert ops_after(srv, "TTL", "k") == []


# -- PERSIST -------------------------------------------------------------------------


def test_persist(srv):
    """PERSIST removes a TTL (1, propagated) and otherwise replies 0."""
    srv("SET", "k", "v", "EX", "100")
    assert ops_after(srv, "PERSIST", "k") == [[b"PERSIST", b"k"]]
    assert srv("TTL", "k") == -1
    assert ops_after(srv, "PERSIST", "k") == []
    assert srv("PERSIST", "k") == 0
    assert srv("PERSIST", "nokey") == 0


def test_expire_then_persist_then_expire_cycle_keeps_sampling_list_right(srv):
    """TTLs set and removed repeatedly stay consistent for active expiry."""
    for i in range(50):
        srv("SET", f"k{i}", "v", "PX", "100")
    for i in range(0, 50, 2):
        srv("PERSIST", f"k{i}")
    srv.advance(1)
    for _ in range(20):
        srv.server.cron()
    assert sorted(srv.db.data) == sorted(b"k%d" % i for i in range(0, 50, 2))
    assert srv.db.expires == {}
