"""Generic key commands: replies, errors and propagation as Redis 7.0."""

import pytest

from redisrepl.keyspace import register_type
from redisrepl.resp.values import OK, ReplyError, Status
from tests.unit.harness import Harness

SAME = ReplyError("ERR source and destination objects are the same")
RANGE = ReplyError("ERR DB index is out of range")
NOT_INT = ReplyError("ERR value is not an integer or out of range")
SYNTAX = ReplyError("ERR syntax error")


def expire_soon(srv, *keys):
    """Give keys a 10 ms TTL and let it pass without reclaiming them."""
    for key in keys:
        srv("PEXPIRE", key, "10")
    srv.advance(1)


def ops_after(srv, command):
    """Run ``command``; return what it propagated."""
    before = len(srv.propagated)
    srv(*command)
    return srv.propagated[before:]


class Box:
    """A stand-in for another family's value type, for COPY and OBJECT."""

    def __init__(self, items):
        self.items = items


register_type(Box, b"box", copier=lambda box: Box(list(box.items)),
              encoding=lambda box: b"boxed")


# -- DEL / UNLINK -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["DEL", "UNLINK"])
def test_del_counts_removed_keys_and_dirty(srv, name):
    """Each removed key counts once in reply and dirty; repeats/missing don't."""
    srv("MSET", "a", "1", "b", "2", "c", "3")
    dirty = srv.server.dirty
    assert srv(name, "a", "b", "c", "d", "a") == 3
    assert srv.server.dirty == dirty + 3
    assert srv.propagated[-1] == [name.encode(), b"a", b"b", b"c", b"d", b"a"]
    assert srv.db.data == {}


@pytest.mark.parametrize("name", ["DEL", "UNLINK"])
def test_del_of_nothing_is_not_propagated(srv, name):
    """A DEL that removes nothing leaves dirty alone and propagates nothing."""
    assert ops_after(srv, (name, "nokey")) == []


def test_del_of_expired_key_propagates_only_the_expiry(srv):
    """An expired key is reclaimed as an expiry (DEL), not counted by DEL."""
    srv("SET", "k", "v")
    expire_soon(srv, "k")
    assert ops_after(srv, ("DEL", "k")) == [[b"DEL", b"k"]]
    assert srv("DEL", "k") == 0


def test_del_on_replica_removes_logically_expired_key():
    """A replica applying its master's DEL removes an expired key it keeps."""
    srv = Harness()
    srv("SET", "k", "v", "PX", "10")
    srv.advance(1)
    ks = srv.server.keyspace
    ks.is_replica = True
    assert srv("EXISTS", "k") == 0
    ks.applying_master_stream = True
    assert srv("DEL", "k") == 1
    assert srv.db.data == {}


# -- EXISTS / TYPE / TOUCH / DBSIZE ----------------------------------------------


def test_exists_counts_every_argument(srv):
    """EXISTS counts repeated keys each time, missing ones not at all."""
    srv("SET", "a", "1")
    assert srv("EXISTS", "a", "a", "nokey") == 2
    assert srv("EXISTS", "nokey") == 0


def test_type_names(srv):
    """TYPE answers a status: string for strings, none for missing keys."""
    srv("SET", "s", "v")
    srv("APPEND", "grown", "v")
    srv("APPEND", "grown", "w")
    assert srv("TYPE", "s") == Status(b"string")
    assert isinstance(srv("TYPE", "s"), Status)
    assert srv("TYPE", "grown") == Status(b"string")
    assert srv("TYPE", "nokey") == Status(b"none")


def test_reads_count_keyspace_hits_like_redis(srv):
    """Hits/misses are counted by exactly the lookups Redis counts."""
    srv("SET", "y", "1")
    ks = srv.server.keyspace
    counted = [("EXISTS", "y", "nokey"), ("TYPE", "y"), ("TOUCH", "y", "n"),
               ("OBJECT", "ENCODING", "y"), ("TTL", "y"), ("COPY", "y", "z")]
    for command in counted:
        before = ks.hits + ks.misses
        srv(*command)
        assert ks.hits + ks.misses > before, command
    uncounted = [("KEYS", "*"), ("SCAN", "0"), ("RANDOMKEY",), ("DBSIZE",),
                 ("PERSIST", "y"), ("EXPIRE", "y", "100"), ("RENAME", "y", "w"),
                 ("MOVE", "w", "1"), ("DEL", "z")]
    for command in uncounted:
        before = ks.hits + ks.misses
        srv(*command)
        assert ks.hits + ks.misses == before, command


def test_touch_counts_existing_keys_and_is_not_propagated(srv):
    """TOUCH answers how many keys exist and changes nothing."""
    srv("MSET", "a", "1", "b", "2")
    assert ops_after(srv, ("TOUCH", "a", "b", "c")) == []
    assert srv("TOUCH", "a", "b", "c") == 2


def test_expired_keys_are_missing_everywhere_but_dbsize(srv):
    """Expired keys are missing everywhere; DBSIZE counts them until reclaimed."""
    srv("SET", "k", "v")
    srv("SET", "live", "v")
    srv.server.keyspace.active_expire_enabled = False
    expire_soon(srv, "k")
    assert srv("DBSIZE") == 2
    assert srv("KEYS", "*") == [b"live"]
    assert srv("DBSIZE") == 2
    assert srv("EXISTS", "k") == 0
    assert srv("DBSIZE") == 1
    srv("SET", "k", "v", "PX", "1")
    srv.advance(1)
    assert srv("TYPE", "k") == Status(b"none")
    srv("SET", "k", "v", "PX", "1")
    srv.advance(1)
    assert srv("TTL", "k") == -2
    srv("SET", "k", "v", "PX", "1")
    srv.advance(1)
    assert srv("SCAN", "0") == [b"0", [b"live"]]
    assert srv("DBSIZE") == 1


# -- KEYS ---------------------------------------------------------------------------


def test_keys_matches_glob(srv):
    """KEYS filters with Redis globs; "*" also returns the empty key."""
    for key in ("hello", "hallo", "hxllo", "world", ""):
        srv("SET", key, "v")
    assert sorted(srv("KEYS", "h?llo")) == [b"hallo", b"hello", b"hxllo"]
    assert sorted(srv("KEYS", "h[ae]llo")) == [b"hallo", b"hello"]
    assert srv("KEYS", "w*") == [b"world"]
    assert sorted(srv("KEYS", "*")) == [b"", b"hallo", b"hello", b"hxllo",
                                       b"world"]
    assert srv("KEYS", "nomatch*") == []


# -- RANDOMKEY ----------------------------------------------------------------------


def test_randomkey(srv):
    """RANDOMKEY returns some existing key, nil when empty."""
    assert srv("RANDOMKEY") is None
    srv("MSET", "a", "1", "b", "2")
    assert {srv("RANDOMKEY") for _ in range(50)} == {b"a", b"b"}
    srv("DEL", "a")
    assert srv("RANDOMKEY") == b"b"


def test_randomkey_reclaims_expired_keys(srv):
    """Expired keys met by RANDOMKEY are deleted (and propagated)."""
    for i in range(20):
        srv("SET", f"e{i}", "v", "PX", "10")
    srv("SET", "live", "v")
    srv.advance(1)
    assert srv("RANDOMKEY") == b"live"
    srv("DEL", "live")
    assert srv("RANDOMKEY") is None
    assert srv.db.data == {}
    assert [b"DEL", b"e0"] in srv.propagated


def test_randomkey_on_replica_with_only_expired_keys_gives_up():
    """A replica whose keys are all logically expired still answers."""
    srv = Harness()
    srv("SET", "k", "v", "PX", "10")
    srv.advance(1)
    srv.server.keyspace.is_replica = True
    assert srv("RANDOMKEY") == b"k"


# -- RENAME / RENAMENX ---------------------------------------------------------------


def test_rename_moves_value_and_ttl(srv):
    """RENAME carries the TTL, replaces the target and propagates as sent."""
    srv("SET", "a", "1", "PX", "5000")
    srv("SET", "b", "2")
    assert ops_after(srv, ("RENAME", "a", "b")) == [[b"RENAME", b"a", b"b"]]
    assert srv("GET", "b") == b"1"
    assert srv("PTTL", "b") == 5000
    assert srv("EXISTS", "a") == 0


def test_rename_drops_target_ttl(srv):
    """A target's old TTL does not survive a rename onto it."""
    srv("SET", "a", "1")
    srv("SET", "b", "2", "EX", "100")
    srv("RENAME", "a", "b")
    assert srv("TTL", "b") == -1


def test_rename_errors_and_same_key(srv):
    """A missing source is an error; renaming onto itself does nothing."""
    assert srv("RENAME", "nokey", "x") == ReplyError("ERR no such key")
    assert srv("RENAMENX", "nokey", "x") == ReplyError("ERR no such key")
    srv("SET", "a", "1")
    assert ops_after(srv, ("RENAME", "a", "a")) == []
    assert srv("RENAME", "a", "a") == OK
    assert srv("RENAMENX", "a", "a") == 0


def test_renamenx(srv):
    """RENAMENX refuses an existing target (0, not propagated)."""
    srv("MSET", "a", "1", "b", "2")
    assert ops_after(srv, ("RENAMENX", "a", "b")) == []
    assert srv("GET", "b") == b"2"
    assert srv("RENAMENX", "a", "c") == 1
    assert srv.propagated[-1] == [b"RENAMENX", b"a", b"c"]
    assert srv("GET", "c") == b"1"


def test_rename_of_expired_source_is_no_such_key(srv):
    """An expired source is gone for RENAME."""
    srv("SET", "a", "1")
    expire_soon(srv, "a")
    assert srv("RENAME", "a", "b") == ReplyError("ERR no such key")


def test_rename_onto_expired_target_succeeds_for_renamenx(srv):
    """An expired target does not block RENAMENX."""
    srv("SET", "a", "1")
    srv("SET", "b", "2")
    expire_soon(srv, "b")
    assert srv("RENAMENX", "a", "b") == 1


# -- COPY ----------------------------------------------------------------------------


def test_copy_same_db(srv):
    """COPY duplicates value and TTL; an existing target needs REPLACE."""
    srv("SET", "a", "1", "PX", "5000")
    assert srv("COPY", "a", "b") == 1
    assert srv("GET", "b") == b"1"
    assert srv("PTTL", "b") == 5000
    assert ops_after(srv, ("COPY", "a", "b")) == []
    srv("SET", "a", "2")
    assert srv("COPY", "a", "b", "REPLACE") == 1
    assert srv("GET", "b") == b"2"
    assert srv("TTL", "b") == -1
    assert srv.propagated[-1] == [b"COPY", b"a", b"b", b"REPLACE"]


def test_copy_to_other_db(srv):
    """COPY ... DB n writes into database n, even under the same name."""
    srv("SET", "a", "1")
    assert srv("COPY", "a", "a", "DB", "3") == 1
    assert srv.server.keyspace.dbs[3].get(b"a") == b"1"
    assert srv("COPY", "a", "a", "db", "3") == 0
    assert srv("COPY", "a", "x", "DB", "1", "DB", "2") == 1
    assert srv.server.keyspace.dbs[2].get(b"x") == b"1"
    assert srv.server.keyspace.dbs[1].get(b"x") is None


def test_copy_makes_an_independent_copy(srv):
    """A copy shares nothing mutable with its original (strings and types)."""
    srv("APPEND", "a", "x")
    srv("APPEND", "a", "y")
    srv("COPY", "a", "b")
    srv("APPEND", "b", "z")
    assert srv("GET", "a") == b"xy"
    srv.db.set(b"box", Box([1]))
    srv("COPY", "box", "box2")
    srv.db.get(b"box2").items.append(2)
    assert srv.db.get(b"box").items == [1]


def test_copy_errors(srv):
    """COPY's error texts, checked before the source is looked up."""
    srv("SET", "c", "1")
    assert srv("COPY", "c", "c") == SAME
    assert srv("COPY", "c", "c", "DB", "0") == SAME
    assert srv("COPY", "c", "x", "DB", "16") == RANGE
    assert srv("COPY", "c", "x", "DB", "-1") == RANGE
    assert srv("COPY", "c", "x", "DB", "abc") == NOT_INT
    assert srv("COPY", "c", "x", "DB", "4294967296") == ReplyError(
        "ERR value is out of range, value must between -2147483648 and "
        "2147483647")
    assert srv("COPY", "c", "x", "FOO") == SYNTAX
    assert srv("COPY", "c", "x", "DB") == SYNTAX
    assert srv("COPY", "nokey", "nokey", "DB", "16") == RANGE
    assert srv("COPY", "nokey", "x") == 0


# -- MOVE -------------------------------------------------------------------------


def test_move(srv):
    """MOVE carries value and TTL to another db; refuses an existing key."""
    srv("SET", "a", "1", "PX", "5000")
    assert srv("MOVE", "a", "1") == 1
    assert srv.propagated[-1] == [b"MOVE", b"a", b"1"]
    assert srv("EXISTS", "a") == 0
    db1 = srv.server.keyspace.dbs[1]
    assert db1.get(b"a") == b"1"
    assert db1.get_expire(b"a") == srv.server.now_ms() + 5000
    srv("SET", "a", "2")
    assert ops_after(srv, ("MOVE", "a", "1")) == []
    assert srv("GET", "a") == b"2"
    assert srv("MOVE", "nokey", "1") == 0


def test_move_errors(srv):
    """MOVE's error texts for a bad or same db."""
    srv("SET", "c", "1")
    assert srv("MOVE", "c", "0") == SAME
    assert srv("MOVE", "nokey", "0") == SAME
    assert srv("MOVE", "c", "16") == RANGE
    assert srv("MOVE", "c", "-1") == RANGE
    assert srv("MOVE", "c", "abc") == NOT_INT
    assert srv("MOVE", "c", "2147483648") == ReplyError(
        "ERR value is out of range, value must between -2147483648 and "
        "2147483647")


# -- FLUSHDB / FLUSHALL / SWAPDB ---------------------------------------------------


def test_flushdb(srv):
    """FLUSHDB empties only the current db and counts each key as dirty."""
    srv("MSET", "a", "1", "b", "2")
    srv.server.keyspace.dbs[1].set(b"other", b"v")
    dirty = srv.server.dirty
    assert srv("FLUSHDB") == OK
    assert srv.server.dirty == dirty + 2
    assert srv.db.data == {}
    assert srv.server.keyspace.dbs[1].get(b"other") == b"v"
    assert srv.propagated[-1] == [b"FLUSHDB"]


def test_flushdb_and_flushall_propagate_even_when_empty(srv):
    """An empty FLUSHDB/FLUSHALL still propagates, options as sent."""
    assert ops_after(srv, ("FLUSHDB",)) == [[b"FLUSHDB"]]
    assert ops_after(srv, ("FLUSHDB", "ASYNC")) == [[b"FLUSHDB", b"ASYNC"]]
    assert ops_after(srv, ("FLUSHALL",)) == [[b"FLUSHALL"]]
    assert ops_after(srv, ("flushall", "sync")) == [[b"flushall", b"sync"]]


def test_flushall():
    """FLUSHALL empties every db; with no save points dirty grows by the keys
    removed (Redis 7.0.15; persistence tests cover the save points case)."""
    srv = Harness('save ""')
    srv("SET", "a", "1", "EX", "100")
    srv.server.keyspace.dbs[5].set(b"b", b"2")
    dirty = srv.server.dirty
    assert srv("FLUSHALL", "ASYNC") == OK
    assert srv.server.dirty == dirty + 2
    assert all(not db.data and not db.expires
               for db in srv.server.keyspace.dbs)


@pytest.mark.parametrize("name", ["FLUSHDB", "FLUSHALL"])
def test_flush_options(srv, name):
    """Only ASYNC or SYNC, once."""
    assert srv(name, "FOO") == SYNTAX
    assert srv(name, "SYNC", "ASYNC") == SYNTAX


def test_swapdb(srv):
    """SWAPDB exchanges contents with TTLs; clients stay on their number."""
    srv("SET", "a", "0", "EX", "100")
    srv.server.keyspace.dbs[1].set(b"b", b"1")
    other = srv.new_client()
    srv("SELECT", "1", client=other)
    assert srv("SWAPDB", "0", "1") == OK
    assert srv.propagated[-1] == [b"SWAPDB", b"0", b"1"]
    assert srv("GET", "b") == b"1"
    assert srv("GET", "a", client=other) == b"0"
    assert srv("TTL", "a", client=other) == 100
    assert ops_after(srv, ("SWAPDB", "0", "0")) == [[b"SWAPDB", b"0", b"0"]]


def test_swapdb_keeps_scan_index_with_its_data(srv):
    """After SWAPDB, SCAN sees the swapped contents, and new keys in both."""
    srv("SET", "a", "v")
    srv("SCAN", "0")       # builds db 0's index
    srv("SWAPDB", "0", "1")
    srv("SET", "fresh", "v")
    assert srv("SCAN", "0")[1] == [b"fresh"]
    other = srv.new_client()
    srv("SELECT", "1", client=other)
    srv("SET", "b", "v", client=other)
    assert sorted(srv("SCAN", "0", client=other)[1]) == [b"a", b"b"]


def test_swapdb_errors(srv):
    """SWAPDB's error texts."""
    assert srv("SWAPDB", "a", "0") == ReplyError("ERR invalid first DB index")
    assert srv("SWAPDB", "0", "a") == ReplyError("ERR invalid second DB index")
    assert srv("SWAPDB", "0", "16") == RANGE
    assert srv("SWAPDB", "-1", "0") == RANGE
    assert srv("SWAPDB", "4294967296", "0") == ReplyError(
        "ERR invalid first DB index")


# -- OBJECT -------------------------------------------------------------------------


@pytest.mark.parametrize("value,encoding,refcount", [
    ("123", b"int", 2147483647),
    ("9999", b"int", 2147483647),
    ("12345", b"int", 1),
    ("-5", b"int", 1),
    ("9223372036854775807", b"int", 1),
    ("9223372036854775808", b"embstr", 1),
    ("01", b"embstr", 1),
    (" 1", b"embstr", 1),
    ("-0", b"embstr", 1),
    ("1.0", b"embstr", 1),
    ("abc", b"embstr", 1),
    ("x" * 44, b"embstr", 1),
    ("x" * 45, b"raw", 1),
])
def test_object_encoding_and_refcount_of_strings(srv, value, encoding,
                                                 refcount):
    """Strings report Redis 7.0's encodings and shared-integer refcounts."""
    srv("SET", "k", value)
    assert srv("OBJECT", "ENCODING", "k") == encoding
    assert srv("OBJECT", "REFCOUNT", "k") == refcount


def test_object_encoding_of_grown_strings_is_raw(srv):
    """A string grown in place (APPEND) is raw even if it looks numeric."""
    srv("APPEND", "k", "1")
    srv("APPEND", "k", "2")
    assert srv("OBJECT", "ENCODING", "k") == b"raw"
    assert srv("OBJECT", "REFCOUNT", "k") == 1


def test_object_encoding_of_registered_type(srv):
    """Other types answer through the encoding they registered."""
    srv.db.set(b"box", Box([]))
    assert srv("OBJECT", "ENCODING", "box") == b"boxed"


def test_shared_integers_not_shared_under_lru_with_maxmemory():
    """With maxmemory and an LRU policy Redis shares no integers."""
    srv = Harness("maxmemory 100mb\nmaxmemory-policy allkeys-lru\n")
    srv("SET", "k", "5")
    assert srv("OBJECT", "REFCOUNT", "k") == 1


def test_object_on_missing_key_is_nil(srv):
    """Every OBJECT subcommand answers nil for a missing key."""
    for sub in ("ENCODING", "REFCOUNT", "IDLETIME", "FREQ"):
        assert srv("OBJECT", sub, "nokey") is None


def test_object_idletime(srv):
    """Reads and writes reset IDLETIME; TYPE/EXISTS/TTL/OBJECT do not."""
    srv("SET", "k", "v")
    assert srv("OBJECT", "IDLETIME", "k") == 0
    srv.advance(5)
    assert srv("OBJECT", "IDLETIME", "k") == 5
    srv("TYPE", "k")
    srv("EXISTS", "k")
    srv("TTL", "k")
    assert srv("OBJECT", "IDLETIME", "k") == 5
    srv("GET", "k")
    assert srv("OBJECT", "IDLETIME", "k") == 0
    srv.advance(3)
    srv("SET", "k", "w")
    assert srv("OBJECT", "IDLETIME", "k") == 0


def test_object_idletime_of_keys_older_than_tracking(srv):
    """Keys stored before the first IDLETIME count from the keyspace's start."""
    srv.advance(7)
    srv("SET", "k", "v")
    srv.advance(3)
    assert srv("OBJECT", "IDLETIME", "k") == 10


def test_object_freq_and_idletime_follow_the_policy():
    """FREQ needs an LFU policy and IDLETIME refuses one, with Redis's texts."""
    srv = Harness()
    srv("SET", "k", "v")
    assert srv("OBJECT", "FREQ", "k") == ReplyError(
        "ERR An LFU maxmemory policy is not selected, access frequency not "
        "tracked. Please note that when switching between policies at "
        "runtime LRU and LFU data will take some time to adjust.")
    srv("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    assert srv("OBJECT", "IDLETIME", "k") == ReplyError(
        "ERR An LFU maxmemory policy is selected, idle time not tracked. "
        "Please note that when switching between policies at runtime LRU and "
        "LFU data will take some time to adjust.")
    srv("SET", "new", "v")
    assert srv("OBJECT", "FREQ", "new") == 5
    for _ in range(200):
        srv("GET", "new")
    assert srv("OBJECT", "FREQ", "new") > 5
    srv.advance(60 * 1000)
    assert srv("OBJECT", "FREQ", "new") == 0


def test_object_help_and_errors(srv):
    """OBJECT HELP lists the subcommands; unknown ones and bad arity fail."""
    lines = srv("OBJECT", "HELP")
    assert lines[0] == Status(
        b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    assert Status(b"ENCODING <key>") in lines
    assert lines[-2:] == [Status(b"HELP"), Status(b"    Prints this help.")]
    assert len(lines) == 15
    assert srv("OBJECT", "FOO") == ReplyError(
        "ERR unknown subcommand 'FOO'. Try OBJECT HELP.")
    assert srv("OBJECT", "ENCODING") == ReplyError(
        "ERR wrong number of arguments for 'object|encoding' command")


def test_randomkey_reclaims_expired_keys_as_separate_dels(srv):
    """RANDOMKEY's reclaimed keys are single DELs, not one MULTI/EXEC."""
    for key in ("a", "b", "c"):
        srv("SET", key, "v", "PX", "10")
    srv.advance(1)
    before = len(srv.propagated)
    assert srv("RANDOMKEY") is None
    assert sorted(srv.propagated[before:]) == [
        [b"DEL", b"a"], [b"DEL", b"b"], [b"DEL", b"c"]]
