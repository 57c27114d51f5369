"""A dataset with every type in every encoding Redis 7.0 picks under its
default config, built through any Redis-protocol server, and a canonical
snapshot of a server's whole keyspace to compare two servers key by key.

    build_dataset(conn)          # conn: a redis.Redis on db 0 of the server
    before = snapshot(conn)      # {db: {key: Key}}
    ... SAVE, start another server on the dump ...
    assert not differences(before, snapshot(other))

The dataset only holds values whose encoding survives a save and a reload
in Redis 7.0 itself (its loader re-picks encodings from the config: a hash
grown past 512 fields and shrunk again comes back as a listpack; a short
string grown by APPEND, or a tiny HyperLogLog, comes back embstr, not raw),
so every difference after a round trip is a bug, not Redis's own
normalisation. Everything is deterministic
(explicit stream ids, seeded random bytes) except the stream consumers'
seen-times and delivery times, which the RDB carries exactly.
"""

import random
from dataclasses import dataclass, field

import redis

DBS = (0, 1, 7, 15)
# Far-future absolute expiries: one in whole seconds, one with ms precision.
EXPIRE_AT_S = 4102444800                 # 2100-01-01
PEXPIRE_AT_MS = 4102444800123
RELATIVE_TTL_S = 30 * 86400
# How far apart PTTL and (PEXPIRETIME - server time at the snapshot's start)
# may be: the time one snapshot takes to read its keys.
PTTL_TOLERANCE_MS = 10_000
SEED = 20240607


# -- connections ----------------------------------------------------------------

def client_for(conn, db):
    """A raw client (bytes in, bytes out, no reply parsing) on ``db`` of the
    server ``conn`` talks to: redis-py's reply callbacks would turn scores
    into floats and XINFO into dicts, hiding what the server said."""
    given = conn.connection_pool.connection_kwargs
    where = {"unix_socket_path": given["path"]} if "path" in given else \
        {"host": given["host"], "port": given["port"]}
    raw = redis.Redis(**where, db=db, username=given.get("username"),
                      password=given.get("password"), socket_timeout=120, protocol=2)
    raw.response_callbacks.clear()
    return raw


# -- the dataset ----------------------------------------------------------------

def build_dataset(conn):
    """Fill dbs 0, 1, 7 and 15 of the server behind ``conn`` (flushed first)."""
    rng = random.Random(SEED)
    client_for(conn, 0).execute_command("FLUSHALL")
    for db in DBS:
        client = client_for(conn, db)
        pipe = client.pipeline(transaction=False)
        (_catalogue if db == 0 else _other_db)(pipe, rng, db)
        pipe.execute()
        _streams(client, db)
        client.close()


def _catalogue(p, rng, db):
    """db 0: each type in each encoding, with expiries on some of each.
    The thresholds are redis-server's compiled-in defaults (no config file):
    512 hash fields, 512 intset members, 128 zset members, 64-byte values."""
    _strings(p, rng)
    _lists(p, rng)
    _sets(p, rng)
    _hashes(p, rng)
    _zsets(p, rng)
    _hyperloglogs(p, rng)
    # Expiries on every type: whole seconds, ms precision, relative.
    for key in (b"str:short", b"list:small", b"set:intset16", b"hash:listpack",
                b"zset:listpack", b"hll:sparse"):
        p.execute_command("EXPIREAT", key, EXPIRE_AT_S)
    for key in (b"str:raw:text", b"list:large", b"set:hashtable", b"hash:by-count",
                b"zset:by-count", b"hll:dense", b"str:int:64max"):
        p.execute_command("PEXPIREAT", key, PEXPIRE_AT_MS + len(key))
    for key in (b"str:empty", b"set:intset64", b"zset:by-member-length"):
        p.execute_command("EXPIRE", key, RELATIVE_TTL_S)


def _strings(p, rng):
    printable = bytes(range(33, 127))
    strings = {
        b"str:short": b"hello",
        b"str:empty": b"",
        b"str:embstr:44": bytes(rng.choice(printable) for _ in range(44)),
        b"str:embstr:44:compressible": b"e" * 44,       # LZF in the file, embstr again
        b"str:raw:45": bytes(rng.choice(printable) for _ in range(45)),
        b"str:raw:text": b"The quick brown fox jumps over the lazy dog. " * 300,
        b"str:raw:zeros": b"\x00" * 100_000,
        b"str:raw:random": rng.randbytes(4096),           # LZF does not pay: stored plain
        b"str:raw:random:big": rng.randbytes(300_000),
        b"str:binary:short": b"\x00\xff\r\n\x01",
        # Not canonical integers: kept as strings.
        b"str:not-int:leading-zero": b"007",
        b"str:not-int:plus": b"+1",
        b"str:not-int:float": b"1.5",
        b"str:not-int:minus-zero": b"-0",
        b"str:not-int:overflow": b"9223372036854775808",
        b"str:not-int:space": b" 1",
    }
    ints = {
        b"str:int:zero": 0, b"str:int:shared": 9999, b"str:int:10000": 10000,
        b"str:int:neg1": -1, b"str:int:8max": 127, b"str:int:8min": -128,
        b"str:int:16max": 32767, b"str:int:16min": -32768,
        b"str:int:32max": 2**31 - 1, b"str:int:32min": -2**31,
        b"str:int:33": 2**31, b"str:int:neg33": -2**31 - 1,
        b"str:int:64max": 2**63 - 1, b"str:int:64min": -2**63,
        b"str:int:19digits": 1234567890123456789,
    }
    for key, value in strings.items():
        p.execute_command("SET", key, value)
    for key, value in ints.items():
        p.execute_command("SET", key, str(value))
    p.execute_command("SET", "str:int:counter", "10")
    p.execute_command("INCRBY", "str:int:counter", 2**40)
    p.execute_command("SETRANGE", "str:setrange", 100, "x")   # zero-padded, raw


def _lists(p, rng):
    p.execute_command("RPUSH", "list:small", "a", "", "b" * 64, "-1", "12")
    # Every listpack integer width, and strings that look almost like ints.
    p.execute_command("RPUSH", "list:ints", 0, 127, -128, 4095, -4096, 32767, -32768,
                      8388607, -8388608, 2**31 - 1, -2**31, 2**63 - 1, -2**63,
                      "007", "1e3", "9223372036854775808")
    # Many 8KB listpack nodes.
    p.execute_command("RPUSH", "list:large",
                      *(b"element-%05d-" % i + b"x" * (i % 50) for i in range(4000)))
    # Elements bigger than a node's 8KB: each gets a node of its own.
    p.execute_command("RPUSH", "list:huge-elements", "head", b"h" * 20_000,
                      rng.randbytes(70_000), "middle", b"H" * 9000, "tail")
    p.execute_command("LPUSH", "list:pushed-left", *(str(i) for i in range(300)))


def _sets(p, rng):
    p.execute_command("SADD", "set:intset16", 1, 2, 3, -5, 100, 32767, -32768)
    p.execute_command("SADD", "set:intset32", 1, 70000, -70000, 2**31 - 1, -2**31)
    p.execute_command("SADD", "set:intset64", 1, 2**40, -2**62, 2**63 - 1, -2**63)
    p.execute_command("SADD", "set:intset:max", *range(-256, 256))         # 512 ints
    p.execute_command("SADD", "set:hashtable", "alpha", "beta", "gamma", "", "\x00bin")
    p.execute_command("SADD", "set:hashtable:ints-over-limit", *range(0, 1300, 2))
    p.execute_command("SADD", "set:hashtable:mixed", 1, 2, 3, "x")
    p.execute_command("SADD", "set:hashtable:big-members",
                      b"m" * 100, rng.randbytes(5000), b"short")


def _hashes(p, rng):
    p.execute_command("HSET", "hash:listpack", "name", "redis", "count", 42, "neg", -7,
                      "empty", "", "big-int", 2**63 - 1, "edge", "v" * 64, "f" * 64, "x")
    p.execute_command("HSET", "hash:listpack:max-fields",
                      *(x for i in range(512) for x in (b"f%d" % i, b"v%d" % i)))
    p.execute_command("HSET", "hash:by-count",
                      *(x for i in range(600) for x in (b"field:%d" % i, b"value:%d" % i)))
    p.execute_command("HSET", "hash:by-value-length", "a", "1", "long", "v" * 65)
    p.execute_command("HSET", "hash:by-field-length", "f" * 65, "1", "b", "2")
    p.execute_command("HSET", "hash:huge-value", "blob", rng.randbytes(50_000), "n", 1)


def _zsets(p, rng):
    p.execute_command("ZADD", "zset:listpack", 1, "one", 2.5, "two.five", -0.125, "neg",
                      0, "zero", "inf", "plus-inf", "-inf", "minus-inf",
                      1e300, "huge", 9007199254740993, "2^53+1", 123456789012345678,
                      "big-int", 0.1, "tenth", 3, "same-a", 3, "same-b", -2**63, "min64")
    p.execute_command("ZADD", "zset:listpack:edge", 1, "m" * 64, 2, "short")
    p.execute_command("ZADD", "zset:by-count",
                      *(x for i in range(200) for x in (i * 0.5 - 30, b"member:%d" % i)))
    p.execute_command("ZADD", "zset:by-member-length", 1, "m" * 65, 2, "b", "-inf", "c")
    p.execute_command("ZADD", "zset:skiplist:scores", "inf", "a", "-inf", "b", 1e-300,
                      "tiny", 3.141592653589793, "pi", *(x for i in range(150)
                                                         for x in (i / 7, b"s%d" % i)))
    p.execute_command("ZADD", "zset:huge-member", 5, rng.randbytes(20_000))


def _hyperloglogs(p, rng):
    p.execute_command("PFADD", "hll:sparse", *(b"item-%d" % i for i in range(20)))
    p.execute_command("PFADD", "hll:dense", *(b"elem-%d" % i for i in range(10_000)))
    p.execute_command("PFCOUNT", "hll:dense")         # caches the cardinality in the header


def _other_db(p, rng, db):
    """dbs 1, 7, 15: the same key names with values naming the db, so a key
    landing in the wrong db shows."""
    tag = b"db%d" % db
    p.execute_command("SET", "shared:name", tag)
    p.execute_command("SET", "shared:int", db * 1000)
    p.execute_command("RPUSH", "shared:list", tag, *(b"%d" % i for i in range(db * 10)))
    p.execute_command("HSET", "shared:hash", "db", db, "tag", tag)
    p.execute_command("SADD", "shared:set", db, db + 1, tag)
    p.execute_command("ZADD", "shared:zset", db, tag, -db, b"neg-" + tag)
    p.execute_command("PFADD", "shared:hll", *(tag + b"%d" % i for i in range(40)))
    p.execute_command("SET", "ttl:s", tag, "EXAT", EXPIRE_AT_S + db)
    p.execute_command("SET", "ttl:ms", tag, "PXAT", PEXPIRE_AT_MS + db)
    p.execute_command("HSET", "ttl:hash", "f", tag)
    p.execute_command("PEXPIRE", "ttl:hash", RELATIVE_TTL_S * 1000 + db)
    p.execute_command("SET", b"only-in-" + tag, rng.randbytes(30))


def _streams(c, db):
    """Streams are built command by command: their replies (XREADGROUP,
    XCLAIM) are part of the state."""
    if db != 0:
        c.execute_command("XADD", "shared:stream", "1-1", "db", db)
        c.execute_command("XGROUP", "CREATE", "shared:stream", "g", "0")
        c.execute_command("PEXPIREAT", "shared:stream", PEXPIRE_AT_MS - db)
        return
    s = "stream:nodes"
    # > 100 entries a node: several nodes; a field list that changes midway
    # (entries with the master fields are stored compressed, others not).
    pipe = c.pipeline(transaction=False)
    for i in range(1, 351):
        fields = ["sensor", i % 7, "value", i * 3] if i < 200 else \
            ["other", "x" * (i % 30), "n", -i, "extra", ""]
        pipe.execute_command("XADD", s, f"{1000 + i // 3}-{i % 3}", *fields)
    # Entries bigger than a 4KB node.
    pipe.execute_command("XADD", s, "2000-0", "blob", b"B" * 5000)
    pipe.execute_command("XADD", s, "2000-1", "small", 1)
    pipe.execute_command("XDEL", s, "1000-1", "1010-2", "1050-0", "2000-0")
    pipe.execute()
    c.execute_command("XGROUP", "CREATE", s, "readers", "0")
    c.execute_command("XGROUP", "CREATE", s, "late", "$")
    c.execute_command("XGROUP", "CREATE", s, "mid", "1040-0", "ENTRIESREAD", 100)
    c.execute_command("XREADGROUP", "GROUP", "readers", "alice", "COUNT", 10,
                      "STREAMS", s, ">")
    c.execute_command("XREADGROUP", "GROUP", "readers", "bob", "COUNT", 5,
                      "STREAMS", s, ">")
    c.execute_command("XACK", s, "readers", "1001-0", "1001-1")
    # Pending entries: one moved to another consumer (delivery count 2),
    # one deleted from the stream while still pending.
    c.execute_command("XCLAIM", s, "readers", "carol", 0, "1002-0", "RETRYCOUNT", 7)
    c.execute_command("XDEL", s, "1002-1")
    c.execute_command("XGROUP", "CREATECONSUMER", s, "readers", "idle-dave")
    c.execute_command("XREADGROUP", "GROUP", "mid", "m1", "COUNT", 3, "STREAMS", s, ">")
    c.execute_command("EXPIREAT", s, EXPIRE_AT_S + 7)

    c.execute_command("XGROUP", "CREATE", "stream:empty-mkstream", "g", "$", "MKSTREAM")
    c.execute_command("XADD", "stream:all-deleted", "5-5", "f", "v")
    c.execute_command("XDEL", "stream:all-deleted", "5-5")
    for i in range(200):
        c.execute_command("XADD", "stream:exact-trim", f"{i + 1}-0", "i", i)
    c.execute_command("XTRIM", "stream:exact-trim", "MAXLEN", 50)
    c.execute_command("XADD", "stream:setid", "10-0", "a", 1)
    c.execute_command("XSETID", "stream:setid", "99-9", "ENTRIESADDED", 500,
                      "MAXDELETEDID", "50-0")


# -- the snapshot ---------------------------------------------------------------

@dataclass(frozen=True)
class Key:
    """One key as read back, in a form two servers can be compared on."""

    type: bytes
    encoding: bytes
    expire_at: int                     # PEXPIRETIME: ms since the epoch, -1 for none
    value: object
    # PTTL minus what PEXPIRETIME implies at the snapshot's start: 0 up to
    # the time the snapshot took. Not part of equality.
    pttl_lag: int = field(default=0, compare=False)


def snapshot(conn):
    """{db: {key: Key}} for every key of every non-empty db."""
    info = client_for(conn, 0).execute_command("INFO", "keyspace")
    dbs = [int(line.split(b":")[0][2:]) for line in info.splitlines()
           if line.startswith(b"db")]
    return {db: _snapshot_db(client_for(conn, db)) for db in dbs}


def _snapshot_db(c):
    seconds, micros = c.execute_command("TIME")
    started_ms = int(seconds) * 1000 + int(micros) // 1000
    keys = {}
    for key in sorted(c.execute_command("KEYS", "*")):
        pipe = c.pipeline(transaction=False)
        pipe.execute_command("TYPE", key)
        pipe.execute_command("OBJECT", "ENCODING", key)
        pipe.execute_command("PEXPIRETIME", key)
        pipe.execute_command("PTTL", key)
        type_, encoding, expire_at, pttl = pipe.execute()
        lag = 0 if expire_at < 0 else (expire_at - started_ms) - pttl
        keys[key] = Key(type_, encoding, expire_at, _read_value(c, key, type_, encoding), lag)
    c.close()
    return keys


def _read_value(c, key, type_, encoding):
    cmd = c.execute_command
    if type_ == b"string":
        return cmd("GET", key)
    if type_ == b"list":
        return tuple(cmd("LRANGE", key, 0, -1))
    if type_ == b"set":
        return tuple(sorted(cmd("SMEMBERS", key)))
    if type_ == b"hash":
        flat = cmd("HGETALL", key)
        pairs = list(zip(flat[::2], flat[1::2], strict=True))
        # A listpack keeps insertion order (and a save/load keeps the
        # listpack); a hashtable has none.
        return tuple(pairs if encoding == b"listpack" else sorted(pairs))
    if type_ == b"zset":
        return _freeze(cmd("ZRANGE", key, 0, -1, "WITHSCORES"))
    if type_ == b"stream":
        return _freeze({"xrange": cmd("XRANGE", key, "-", "+"),
                        "xinfo-full": cmd("XINFO", "STREAM", key, "FULL", "COUNT", 0)})
    raise AssertionError(f"unexpected type {type_!r} for {key!r}")


def _freeze(reply):
    """Lists to tuples, all the way down (hashable, comparable)."""
    if isinstance(reply, dict):
        return tuple((k, _freeze(v)) for k, v in reply.items())
    if isinstance(reply, (list, tuple)):
        return tuple(_freeze(item) for item in reply)
    return reply


# -- comparing ------------------------------------------------------------------

def differences(expected, actual, limit=40):
    """Human-readable lines, one per differing key or attribute (at most
    ``limit``); empty when the snapshots hold the same data."""
    found = []
    for db in sorted(set(expected) | set(actual)):
        want, got = expected.get(db, {}), actual.get(db, {})
        for key in sorted(set(want) - set(got)):
            found.append(f"db{db} {key!r}: missing")
        for key in sorted(set(got) - set(want)):
            found.append(f"db{db} {key!r}: unexpected ({got[key].type.decode()})")
        for key in sorted(set(want) & set(got)):
            found.extend(f"db{db} {key!r}: {line}" for line in _key_differences(
                want[key], got[key]))
    for snap in (expected, actual):
        for db, keys in sorted(snap.items()):
            for key, value in keys.items():
                if not 0 <= value.pttl_lag <= PTTL_TOLERANCE_MS:
                    found.append(f"db{db} {key!r}: PTTL is {value.pttl_lag} ms off "
                                 "PEXPIRETIME")
    return found[:limit] + ([f"... and {len(found) - limit} more"] if len(found) > limit
                            else [])


def _key_differences(want, got):
    for name in ("type", "encoding", "expire_at"):
        if getattr(want, name) != getattr(got, name):
            yield f"{name} {getattr(want, name)!r} != {getattr(got, name)!r}"
    if want.value != got.value:
        yield "value differs: " + _first_difference(want.value, got.value)


def _first_difference(want, got, path=""):
    """Where two frozen replies first part, shortened for a test report."""
    if isinstance(want, tuple) and isinstance(got, tuple):
        for i, (a, b) in enumerate(zip(want, got, strict=False)):
            if a != b:
                return _first_difference(a, b, f"{path}[{i}]")
        return f"{path} length {len(want)} != {len(got)}"
    return f"{path} {_short(want)} != {_short(got)}"


def _short(value, width=80):
    text = repr(value)
    return text if len(text) <= width else text[:width] + f"...({len(text)} chars)"
