"""DUMP and RESTORE: round trips of every type and encoding, Redis 7.0's
errors in Redis's order, REPLACE/ABSTTL/IDLETIME/FREQ, propagation,
signals, sanitize-dump-payload's counter, and mutated payloads."""

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redisrepl.commands.dump import sanitized_blobs
from redisrepl.rdb import dump_payload, listpack
from redisrepl.rdb.crc64 import crc64
from redisrepl.rdb.primitives import encode_length, encode_string
from redisrepl.resp.values import NULL_ARRAY, OK, ReplyError
from tests.unit.harness import EPOCH, Harness, block, served

NOW_MS = int(EPOCH * 1000)
BUSYKEY = ReplyError("BUSYKEY Target key name already exists.")
PAYLOAD_WRONG = ReplyError("ERR DUMP payload version or checksum are wrong")
BAD_DATA = ReplyError("ERR Bad data format")
SYNTAX = ReplyError("ERR syntax error")
NOT_INTEGER = ReplyError("ERR value is not an integer or out of range")


def payload(rdb_type, body, version=10):
    """A DUMP payload around a hand-made value, with a correct CRC."""
    data = bytes((rdb_type,)) + body + struct.pack("<H", version)
    return data + struct.pack("<Q", crc64(data))


def with_valid_crc(data):
    """``data`` (a payload without its CRC) with a correct CRC appended."""
    return data + struct.pack("<Q", crc64(data))


def contents(srv, key):
    """Everything a client can read of ``key``'s value, by type."""
    kind = srv("TYPE", key)
    read = {
        b"string": lambda: srv("GET", key),
        b"list": lambda: srv("LRANGE", key, 0, -1),
        b"hash": lambda: sorted(srv("HGETALL", key)),
        b"set": lambda: sorted(srv("SMEMBERS", key)),
        b"zset": lambda: srv("ZRANGE", key, 0, -1, "WITHSCORES"),
        b"stream": lambda: _stream_contents(srv, key),
        b"none": lambda: None,
    }[bytes(kind)]
    return bytes(kind), read()


def _stream_contents(srv, key):
    info = dict(srv("XINFO", "STREAM", key))
    groups = [sorted(dict(group).items()) for group in srv("XINFO", "GROUPS", key)]
    pending = [srv("XPENDING", key, dict(group)[b"name"], "-", "+", 100)
               for group in srv("XINFO", "GROUPS", key)]
    return (srv("XRANGE", key, "-", "+"), info[b"last-generated-id"],
            info[b"max-deleted-entry-id"], info[b"entries-added"], groups, pending)


def events(srv):
    """Turn on every keyspace notification; returns the list they land in."""
    srv("CONFIG", "SET", "notify-keyspace-events", "KEA")
    seen = []
    srv.server.pubsub.publish = lambda channel, message: seen.append((channel, message))
    return seen


def keyevents(seen):
    return [(channel.split(b":", 1)[1], key) for channel, key in seen
            if channel.startswith(b"__keyevent@")]


def snapshot(srv):
    """Every key of every db with its value's payload and expiry."""
    return {(db.id, key): (dump_payload(value), db.expires.get(key))
            for db in srv.server.keyspace.dbs for key, value in db.data.items()}


# -- round trips -------------------------------------------------------------------

BIG = 600     # past every default *-max-*-entries limit

BUILDS = {
    "embstr": [("SET", "k", "hello")],
    "int": [("SET", "k", "-12345")],
    "int64": [("SET", "k", "1234567890123")],
    "raw": [("SET", "k", "r" * 45)],
    "lzf": [("SET", "k", "abc" * 100)],
    "grown string": [("SET", "k", "12"), ("APPEND", "k", "34")],
    "empty string": [("SET", "k", "")],
    "binary string": [("SET", "k", bytes(range(256)))],
    "small list": [("RPUSH", "k", "a", "1", "-70000", "x" * 100)],
    "long list": [("RPUSH", "k", *[f"element-{i}" * 3 for i in range(3000)])],
    "list of ints": [("RPUSH", "k", *[str(i * 7919) for i in range(4000)])],
    "lpushed list": [("LPUSH", "k", *[str(i) for i in range(1000)])],
    "listpack hash": [("HSET", "k", "f", "v", "n", "12")],
    "hashtable by count": [("HSET", "k", *[f"f{i // 2}" if i % 2 == 0 else "v"
                                             for i in range(2 * BIG)])],
    "hashtable by length": [("HSET", "k", "f", "v" * 65)],
    "intset": [("SADD", "k", "3", "-1", "70000", "5000000000")],
    "hashtable set": [("SADD", "k", "a", "b", "1")],
    "big intset": [("SADD", "k", *[str(i) for i in range(BIG)])],
    "listpack zset": [("ZADD", "k", "1", "a", "-2.5", "b", "inf", "c", "1e300", "d")],
    "skiplist by count": [("ZADD", "k", *[x for i in range(200)
                                          for x in (str(i / 7), f"m{i}")])],
    "skiplist by length": [("ZADD", "k", "1", "m" * 65)],
}

ENCODINGS = {
    "embstr": b"embstr", "int": b"int", "int64": b"int", "raw": b"raw",
    "lzf": b"raw", "grown string": b"int", "empty string": b"embstr",
    "binary string": b"raw", "small list": b"quicklist", "long list": b"quicklist",
    "list of ints": b"quicklist", "lpushed list": b"quicklist",
    "listpack hash": b"listpack", "hashtable by count": b"hashtable",
    "hashtable by length": b"hashtable", "intset": b"intset",
    "hashtable set": b"hashtable", "big intset": b"hashtable",
    "listpack zset": b"listpack", "skiplist by count": b"skiplist",
    "skiplist by length": b"skiplist",
}


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_dump_restore_round_trip_keeps_value_and_encoding(srv, name):
    """Each type in each encoding comes back from DUMP -> RESTORE with the same
    value, and the encoding Redis's RESTORE gives it; dumped again, the same
    bytes unless hash-ordered."""
    for cmd in BUILDS[name]:
        srv(*cmd)
    data = srv("DUMP", "k")
    assert isinstance(data, bytes)
    assert srv("RESTORE", "copy", 0, data) == OK
    assert contents(srv, "copy") == contents(srv, "k")
    assert srv("OBJECT", "ENCODING", "copy") == ENCODINGS[name]
    if ENCODINGS[name] != b"hashtable":     # hash order is not kept
        assert srv("DUMP", "copy") == data


@pytest.mark.parametrize("compression", ["yes", "no"])
def test_rdbcompression_decides_lzf_in_dump(srv, compression):
    """DUMP compresses long strings with LZF only when rdbcompression is yes."""
    srv("CONFIG", "SET", "rdbcompression", compression)
    srv("SET", "k", "z" * 100)
    data = srv("DUMP", "k")
    assert (len(data) < 50) == (compression == "yes")
    assert srv("RESTORE", "copy", 0, data) == OK
    assert srv("GET", "copy") == b"z" * 100


def test_stream_round_trip(srv):
    """A stream with deleted entries, groups, consumers and pending entries
    comes back whole."""
    for i in range(1, 120):
        srv("XADD", "k", f"{i}-1", "field", i, "other", "x" * (i % 5))
    srv("XDEL", "k", "5-1", "119-1")
    srv("XGROUP", "CREATE", "k", "g1", "0")
    srv("XGROUP", "CREATE", "k", "g2", "$")
    srv("XREADGROUP", "GROUP", "g1", "alice", "COUNT", 3, "STREAMS", "k", ">")
    srv("XREADGROUP", "GROUP", "g1", "bob", "COUNT", 2, "STREAMS", "k", ">")
    srv("XACK", "k", "g1", "1-1")
    data = srv("DUMP", "k")
    assert srv("RESTORE", "copy", 0, data) == OK
    assert contents(srv, "copy") == contents(srv, "k")
    assert srv("OBJECT", "ENCODING", "copy") == b"stream"


def test_dump_of_missing_key_is_nil_and_counts_a_miss(srv):
    """DUMP of a missing key replies nil; DUMP is a read that counts hits and
    misses (lookupKeyRead)."""
    srv("SET", "k", "v")
    assert srv("DUMP", "missing") is None
    assert srv("DUMP", "k") is not None
    keyspace = srv.server.keyspace
    assert (keyspace.hits, keyspace.misses) == (1, 1)


def test_dump_of_expired_key_is_nil(srv):
    """A key past its TTL is not dumped."""
    srv("SET", "k", "v", "PX", 100)
    srv.advance(0.2)
    assert srv("DUMP", "k") is None


def test_dump_of_an_integer_is_redis_bytes(srv):
    """DUMP writes Redis 7.0's exact bytes (known payloads from redis-server)."""
    srv("SET", "s", "hello")
    srv("SET", "n", "7")
    assert srv("DUMP", "s") == b"\x00\x05hello\n\x00cr\xdfve4 \n"
    assert srv("DUMP", "n")[:4] == b"\x00\xc0\x07\n"


# -- TTL -------------------------------------------------------------------------------

def test_ttl_zero_means_no_expiry(srv):
    """RESTORE with TTL 0 creates a key without expiry."""
    srv("SET", "k", "v")
    assert srv("RESTORE", "c", 0, srv("DUMP", "k")) == OK
    assert srv("PTTL", "c") == -1


def test_relative_ttl_sets_expiry_in_ms(srv):
    """A TTL is milliseconds from now."""
    srv("SET", "k", "v")
    assert srv("RESTORE", "c", 1500, srv("DUMP", "k")) == OK
    assert srv("PEXPIRETIME", "c") == NOW_MS + 1500


def test_absttl_is_an_absolute_unix_time_in_ms(srv):
    """With ABSTTL the TTL is the expiry time itself."""
    srv("SET", "k", "v")
    assert srv("RESTORE", "c", NOW_MS + 99000, srv("DUMP", "k"), "ABSTTL") == OK
    assert srv("PEXPIRETIME", "c") == NOW_MS + 99000


def test_restored_key_expires(srv):
    """The expiry RESTORE sets is a real one: the key goes when it passes."""
    srv("SET", "k", "v")
    srv("RESTORE", "c", 1000, srv("DUMP", "k"))
    srv.advance(1.001)
    assert srv("EXISTS", "c") == 0


def test_ttl_already_in_the_past_creates_nothing(srv):
    """An absolute TTL in the past replies OK, creates nothing, changes nothing."""
    srv("SET", "k", "v")
    data = srv("DUMP", "k")
    dirty = srv.server.dirty
    before = list(srv.propagated)
    assert srv("RESTORE", "c", 1, data, "ABSTTL") == OK
    assert srv("EXISTS", "c") == 0
    assert srv.server.dirty == dirty
    assert srv.propagated == before


def test_past_ttl_with_replace_deletes_the_old_key_and_propagates_del(srv):
    """REPLACE with a TTL in the past deletes the existing key: DEL propagated,
    a del event, one change."""
    seen = events(srv)
    srv("SET", "k", "v")
    data = srv("DUMP", "k")
    dirty = srv.server.dirty
    assert srv("RESTORE", "k", NOW_MS, data, "REPLACE", "ABSTTL") == OK
    assert srv("EXISTS", "k") == 0
    assert srv.propagated[-1] == [b"DEL", b"k"]
    assert srv.server.dirty == dirty + 1
    assert keyevents(seen)[-1] == (b"del", b"k")


def test_relative_ttl_overflowing_int64_is_already_expired(srv):
    """ttl + now past 2^63 wraps negative in Redis: the key is not created."""
    srv("SET", "k", "v")
    assert srv("RESTORE", "c", (1 << 63) - 1, srv("DUMP", "k")) == OK
    assert srv("EXISTS", "c") == 0


def test_past_ttl_still_creates_the_key_on_a_replica(srv):
    """A replica keeps the key with its past TTL (checkAlreadyExpired)."""
    srv("SET", "k", "v")
    data = srv("DUMP", "k")
    srv.server.keyspace.is_replica = True
    assert srv("RESTORE", "c", 1, data, "ABSTTL") == OK
    assert b"c" in srv.db.data
    assert srv.db.expires[b"c"] == 1


# -- REPLACE and BUSYKEY --------------------------------------------------------------

def test_existing_key_is_busy_without_replace(srv):
    """Without REPLACE an existing key is refused and kept."""
    srv("SET", "k", "old")
    srv("SET", "src", "new")
    data = srv("DUMP", "src")
    assert srv("RESTORE", "k", 0, data) == BUSYKEY
    assert srv("GET", "k") == b"old"


def test_replace_overwrites_any_type_and_drops_its_ttl(srv):
    """REPLACE swaps the old value (of any type, with a TTL) for the new one."""
    srv("RPUSH", "k", "a")
    srv("PEXPIRE", "k", 5000)
    srv("SET", "src", "new")
    assert srv("RESTORE", "k", 0, srv("DUMP", "src"), "replace") == OK
    assert contents(srv, "k") == (b"string", b"new")
    assert srv("PTTL", "k") == -1


def test_expired_key_is_not_busy(srv):
    """A key past its TTL does not count as existing; its expiry propagates."""
    srv("SET", "k", "old", "PX", 10)
    srv("SET", "src", "new")
    data = srv("DUMP", "src")
    srv.advance(0.02)
    assert srv("RESTORE", "k", 0, data) == OK
    assert srv("GET", "k") == b"new"
    assert [b"DEL", b"k"] in srv.propagated


# -- errors and their order ----------------------------------------------------------

@pytest.fixture
def dumped(srv):
    srv("SET", "src", "value")
    return srv("DUMP", "src")


def test_error_texts(srv, dumped):
    """Each bad argument gets Redis 7.0's error."""
    assert srv("RESTORE", "k", -1, dumped) == \
        ReplyError("ERR Invalid TTL value, must be >= 0")
    assert srv("RESTORE", "k", "1.5", dumped) == NOT_INTEGER
    assert srv("RESTORE", "k", 0, dumped, "IDLETIME", -1) == \
        ReplyError("ERR Invalid IDLETIME value, must be >= 0")
    assert srv("RESTORE", "k", 0, dumped, "IDLETIME", "x") == NOT_INTEGER
    assert srv("RESTORE", "k", 0, dumped, "FREQ", 256) == \
        ReplyError("ERR Invalid FREQ value, must be >= 0 and <= 255")
    assert srv("RESTORE", "k", 0, dumped, "FREQ", -1) == \
        ReplyError("ERR Invalid FREQ value, must be >= 0 and <= 255")
    assert srv("RESTORE", "k", 0, dumped, "FREQ", "x") == NOT_INTEGER
    assert srv("EXISTS", "k") == 0


@pytest.mark.parametrize("options", [
    ["FOO"], ["IDLETIME"], ["FREQ"], ["IDLETIME", 1, "FREQ", 2],
    ["FREQ", 1, "IDLETIME", 2], ["REPLACE", "ABSTTL", "TTL"],
])
def test_syntax_errors(srv, dumped, options):
    """Unknown options, a missing value, and IDLETIME with FREQ are syntax errors."""
    assert srv("RESTORE", "k", 0, dumped, *options) == SYNTAX


def test_repeated_options_are_accepted(srv, dumped):
    """An option may repeat; the last value counts."""
    assert srv("RESTORE", "k", 0, dumped, "IDLETIME", 5, "IDLETIME", 7,
               "REPLACE", "REPLACE") == OK


def test_check_order_matches_redis(srv, dumped):
    """Options first, then BUSYKEY, then the TTL, then the footer, then the value."""
    srv("SET", "busy", "x")
    assert srv("RESTORE", "busy", -1, b"junk", "FOO") == SYNTAX
    assert srv("RESTORE", "busy", -1, b"junk") == BUSYKEY
    assert srv("RESTORE", "busy", "abc", b"junk") == BUSYKEY
    assert srv("RESTORE", "k", -1, b"junk") == \
        ReplyError("ERR Invalid TTL value, must be >= 0")
    assert srv("RESTORE", "k", 0, b"junk") == PAYLOAD_WRONG
    assert srv("RESTORE", "k", 0, payload(0, b"\xc5")) == BAD_DATA


def test_footer_errors(srv, dumped):
    """A short payload, a newer RDB version, a wrong CRC (even all zeros) are
    'version or checksum are wrong'."""
    newer = dumped[:-10] + struct.pack("<H", 11) + dumped[-8:]
    assert srv("RESTORE", "k", 0, b"short") == PAYLOAD_WRONG
    assert srv("RESTORE", "k", 0, b"") == PAYLOAD_WRONG
    assert srv("RESTORE", "k", 0, with_valid_crc(newer[:-8])) == PAYLOAD_WRONG
    assert srv("RESTORE", "k", 0, dumped[:-1] + b"\x00") == PAYLOAD_WRONG
    assert srv("RESTORE", "k", 0, dumped[:-8] + b"\x00" * 8) == PAYLOAD_WRONG
    assert srv("EXISTS", "k") == 0


def test_older_rdb_versions_are_accepted(srv):
    """A payload from an older Redis (any RDB version up to ours) restores."""
    for version in (1, 6, 9):
        key = f"k{version}"
        assert srv("RESTORE", key, 0, payload(0, encode_string(b"x"), version)) == OK
        assert srv("GET", key) == b"x"


def test_skip_checksum_validation_skips_the_crc_not_the_version(srv, dumped):
    """With skip_checksum_validation a wrong CRC is accepted; a newer version
    and a short payload are still refused."""
    srv.server.skip_checksum_validation = True
    newer = dumped[:-10] + struct.pack("<H", 11) + dumped[-8:]
    assert srv("RESTORE", "k", 0, dumped[:-1] + b"\x01") == OK
    assert srv("GET", "k") == b"value"
    assert srv("RESTORE", "k2", 0, newer) == PAYLOAD_WRONG
    assert srv("RESTORE", "k3", 0, b"short") == PAYLOAD_WRONG


def test_a_value_may_run_into_the_footer(srv):
    """Like Redis, the value is read from the whole payload, footer included."""
    assert srv("RESTORE", "k", 0, payload(0, b"\x05abc")) == OK
    assert srv("GET", "k")[:3] == b"abc"


def test_bytes_after_the_value_are_ignored(srv):
    """Like Redis, RESTORE reads one value and ignores what follows it."""
    assert srv("RESTORE", "k", 0, payload(0, encode_string(b"v") + b"extra")) == OK
    assert srv("GET", "k") == b"v"


@pytest.mark.parametrize("rdb_type, body", [
    (8, b"\x00"),                                     # no such type
    (30, b""),                                        # unknown type
    (20, encode_string(listpack.encode([b"a"]))),     # 7.2's set listpack
    (18, encode_length(0)),                           # empty list
    (16, encode_string(listpack.encode([]))),         # empty hash
    (2, encode_length(0)),                            # empty set
    (0, b"\x0fabc"),                                  # runs past the footer
    (16, encode_string(listpack.encode([b"f", b"1", b"f", b"2"]))),  # dup field
    (16, encode_string(listpack.encode([b"f", b"1", b"g"]))),        # odd count
    (2, encode_length(2) + encode_string(b"a") + encode_string(b"a")),  # dup member
    (11, encode_string(struct.pack("<IIhh", 2, 2, 5, 3))),  # unsorted intset
    (7, encode_length(12345)),                        # module value
])
def test_bad_values_are_bad_data_format(srv, rdb_type, body):
    """Values Redis 7.0 refuses (and corrupt ones it would store unchecked with
    sanitize-dump-payload no) reply 'Bad data format' and create nothing."""
    dirty = srv.server.dirty
    assert srv("RESTORE", "k", 0, payload(rdb_type, body)) == BAD_DATA
    assert srv("EXISTS", "k") == 0
    assert srv.server.dirty == dirty


def test_bad_payload_with_replace_keeps_the_old_key(srv):
    """A payload that fails leaves the key RESTORE ... REPLACE would replace."""
    srv("SET", "k", "old")
    assert srv("RESTORE", "k", 0, payload(18, encode_length(0)), "REPLACE") == BAD_DATA
    assert srv("GET", "k") == b"old"


# -- propagation, dirty, notifications, signals ----------------------------------------

def test_relative_ttl_is_propagated_as_absttl(srv, dumped):
    """A relative TTL reaches replicas as the absolute time plus ABSTTL, the
    other options kept in place."""
    srv("RESTORE", "k", 2000, dumped, "IDLETIME", 5, "REPLACE")
    assert srv.propagated[-1] == [b"RESTORE", b"k", b"%d" % (NOW_MS + 2000), dumped,
                                  b"IDLETIME", b"5", b"REPLACE", b"ABSTTL"]


def test_absttl_and_no_ttl_are_propagated_verbatim(srv, dumped):
    """RESTORE with ABSTTL, or with TTL 0, propagates as sent."""
    srv("RESTORE", "a", NOW_MS + 5000, dumped, "absttl")
    assert srv.propagated[-1] == [b"RESTORE", b"a", b"%d" % (NOW_MS + 5000), dumped,
                                  b"absttl"]
    srv("RESTORE", "b", 0, dumped, "FREQ", 3)
    assert srv.propagated[-1] == [b"RESTORE", b"b", b"0", dumped, b"FREQ", b"3"]


def test_restore_counts_one_change_and_notifies_restore(srv, dumped):
    """A successful RESTORE is one change and a 'restore' generic event."""
    seen = events(srv)
    dirty = srv.server.dirty
    srv("RESTORE", "k", 0, dumped)
    assert srv.server.dirty == dirty + 1
    assert keyevents(seen) == [(b"restore", b"k")]


def test_failed_restore_is_not_propagated(srv, dumped):
    """An error changes nothing and propagates nothing."""
    before = list(srv.propagated)
    srv("SET", "k", "x")
    srv("RESTORE", "k", 0, dumped)
    srv("RESTORE", "k2", 0, b"junk")
    assert srv.propagated == before + [[b"SET", b"k", b"x"]]


def test_restore_touches_watched_keys(srv, dumped):
    """RESTORE of a WATCHed key makes the watcher's EXEC fail."""
    watcher = srv.new_client()
    srv("WATCH", "k", client=watcher)
    srv("MULTI", client=watcher)
    srv("RESTORE", "k", 0, dumped)
    assert srv("EXEC", client=watcher) is NULL_ARRAY


def test_restore_of_a_list_serves_a_blocked_client(srv):
    """A list created by RESTORE wakes a client blocked on its key."""
    srv("RPUSH", "src", "a", "b")
    data = srv("DUMP", "src")
    waiter = block(srv, "BLPOP", "k", 0)
    srv("RESTORE", "k", 0, data)
    assert served(waiter) == [b"k", b"a"]
    assert srv("LRANGE", "k", 0, -1) == [b"b"]


def test_restore_asking_is_restore(srv, dumped):
    """RESTORE-ASKING (cluster migration) does what RESTORE does."""
    assert srv("RESTORE-ASKING", "k", 0, dumped) == OK
    assert srv("GET", "k") == b"value"


# -- IDLETIME and FREQ -----------------------------------------------------------------

def test_idletime_sets_object_idletime(srv, dumped):
    """IDLETIME (seconds) is what OBJECT IDLETIME then reports."""
    srv("RESTORE", "k", 0, dumped, "IDLETIME", 1000)
    assert srv("OBJECT", "IDLETIME", "k") == 1000
    srv.advance(3)
    assert srv("OBJECT", "IDLETIME", "k") == 1003


def test_idletime_beyond_the_lru_clock_is_half_its_range(srv, dumped):
    """An idle time older than Redis's 24-bit LRU clock underflows it: Redis
    stores an access time half the clock's range away."""
    srv("RESTORE", "k", 0, dumped, "IDLETIME", 10 ** 12)
    assert srv("OBJECT", "IDLETIME", "k") == 8388608


def test_without_idletime_the_key_is_fresh(srv, dumped):
    """A restored key was accessed when it was restored."""
    srv("OBJECT", "IDLETIME", "src")
    srv.advance(50)
    srv("RESTORE", "k", 0, dumped)
    assert srv("OBJECT", "IDLETIME", "k") == 0


def test_freq_is_ignored_without_an_lfu_policy(srv, dumped):
    """FREQ does nothing under an LRU (or no) policy."""
    srv("RESTORE", "k", 0, dumped, "FREQ", 100)
    assert srv("OBJECT", "IDLETIME", "k") == 0


def test_freq_sets_the_lfu_counter_under_lfu(srv, dumped):
    """Under an LFU policy FREQ is what OBJECT FREQ reports; IDLETIME is ignored."""
    srv("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    srv("RESTORE", "k", 0, dumped, "FREQ", 100)
    srv("RESTORE", "k2", 0, dumped, "IDLETIME", 100)
    assert srv("OBJECT", "FREQ", "k") == 100
    assert srv("OBJECT", "FREQ", "k2") == 5


# -- sanitize-dump-payload -----------------------------------------------------------

def sanitizations(srv):
    info = srv("INFO", "stats")
    return int(info.split(b"dump_payload_sanitizations:")[1].split(b"\r\n")[0])


def test_sanitizations_are_counted_only_when_redis_would_sanitize(srv):
    """dump_payload_sanitizations counts one per compact blob checked, in
    'yes' and 'clients' modes, and nothing in 'no' (Redis's default)."""
    srv("HSET", "h", "f", "v")
    data = srv("DUMP", "h")
    srv("RESTORE", "a", 0, data)
    assert sanitizations(srv) == 0
    srv("CONFIG", "SET", "sanitize-dump-payload", "yes")
    srv("RESTORE", "b", 0, data)
    assert sanitizations(srv) == 1
    srv("CONFIG", "SET", "sanitize-dump-payload", "clients")
    srv("RESTORE", "c", 0, data)
    assert sanitizations(srv) == 2
    # Counted even when the blob then fails the check, as Redis counts first.
    srv("RESTORE", "d", 0, payload(16, encode_string(listpack.encode([b"f"]))))
    assert sanitizations(srv) == 3


def test_the_master_is_not_sanitized_in_clients_mode(srv):
    """In 'clients' mode a replica trusts its master's RESTOREs."""
    srv("CONFIG", "SET", "sanitize-dump-payload", "clients")
    srv("SADD", "s", 1, 2)
    data = srv("DUMP", "s")
    srv.server.keyspace.applying_master_stream = True
    srv("RESTORE", "k", 0, data)
    assert sanitizations(srv) == 0


@pytest.mark.parametrize("build, blobs", [
    (("SET", "k", "v"), 0),
    (("SADD", "k", 1), 1),
    (("SADD", "k", "a"), 0),
    (("HSET", "k", "f", "v"), 1),
    (("ZADD", "k", 1, "m"), 1),
    (("RPUSH", "k", "a"), 1),
    (("RPUSH", "k", *["x" * 100] * 200), 3),
])
def test_blobs_counted_per_payload(srv, build, blobs):
    """One per intset, hash/zset listpack, and packed quicklist node, as Redis."""
    srv(*build)
    assert sanitized_blobs(srv("DUMP", "k")) == blobs


# -- mutated payloads -------------------------------------------------------------------

def _sample_payloads():
    srv = Harness()
    for name in ("small list", "long list", "listpack hash", "hashtable by length",
                 "intset", "hashtable set", "listpack zset", "skiplist by count",
                 "lzf", "int"):
        for cmd in BUILDS[name]:
            srv(*cmd)
        yield srv("DUMP", "k")
        srv("DEL", "k")


SAMPLES = list(_sample_payloads())


@st.composite
def mutated(draw):
    """A valid payload with a few bytes changed, inserted, removed or cut off,
    its CRC fixed so the value decoder (not the checksum) has to cope."""
    data = bytearray(draw(st.sampled_from(SAMPLES))[:-8])
    for _ in range(draw(st.integers(1, 4))):
        if len(data) < 2:
            break
        where = draw(st.integers(0, max(0, len(data) - 3)))
        action = draw(st.sampled_from(["flip", "set", "insert", "delete", "cut"]))
        if action == "flip":
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            data[where] = draw(st.integers(0, 255))
        elif action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[where:where + draw(st.integers(1, 8))]
        else:
            del data[where:-2]
    return with_valid_crc(bytes(data))


@given(mutated(), st.booleans())
@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_mutated_payloads_never_crash_or_half_restore(data, replace):
    """A mutated payload either restores a value that dumps and restores again
    to the same contents, or fails with a RESTORE error and changes nothing."""
    srv = Harness()
    srv("SET", "k", "old")
    srv("RPUSH", "other", "x")
    before = snapshot(srv)
    dirty = srv.server.dirty
    # Over an existing key with REPLACE, or into a new one.
    key, options = ("k", ["REPLACE"]) if replace else ("fresh", [])
    reply = srv("RESTORE", key, 0, data, *options)
    if reply == OK:
        again = srv("DUMP", key)
        assert srv("RESTORE", "copy", 0, again) == OK
        assert contents(srv, "copy") == contents(srv, key)
    else:
        assert reply in (BAD_DATA, PAYLOAD_WRONG), reply
        assert snapshot(srv) == before
        assert srv.server.dirty == dirty


def test_debug_skip_checksum_validation_lets_a_bad_crc_through():
    """DEBUG SET-SKIP-CHECKSUM-VALIDATION 1 makes RESTORE ignore the CRC, 0 restores the check."""
    srv = Harness("enable-debug-command yes")
    srv("SET", "k", "v")
    data = bytearray(srv("DUMP", "k"))
    data[-1] ^= 0xFF
    assert srv("RESTORE", "a", 0, bytes(data)) == PAYLOAD_WRONG
    assert srv("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1") == OK
    assert srv("RESTORE", "a", 0, bytes(data)) == OK
    srv("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0")
    assert srv("RESTORE", "b", 0, bytes(data)) == PAYLOAD_WRONG
