"""DUMP/RESTORE between redisrepl and a real redis-server 7.0, both started
here: payloads move in both directions keeping value, encoding and TTL;
for layouts that do not depend on hash order our DUMP bytes are Redis's
own; corrupt payloads get Redis's replies."""

import struct

from twisted.internet import defer
from twisted.trial import unittest

from redisrepl.rdb import listpack
from redisrepl.rdb.crc64 import crc64
from redisrepl.rdb.primitives import encode_length, encode_string
from redisrepl.rdb.ziplist import encode_ziplist, encode_zipmap
from tests.support import rawclient
from tests.support.inprocess import start_server
from tests.support.processes import redis_server_path, start_redis_server

# An expiry far in the future, as an absolute time: PEXPIRETIME compares exactly.
EXPIRE_AT_MS = 4_000_000_000_000

# Data built the same way on both servers; DUMP bytes must be identical.
DETERMINISTIC = {
    "embstr": [("SET", "k", "hello world")],
    "int8": [("SET", "k", "-100")],
    "int16": [("SET", "k", "30000")],
    "int32": [("SET", "k", "2000000000")],
    "int64 as text": [("SET", "k", "1234567890123")],
    "raw": [("SET", "k", "r" * 45)],
    "lzf": [("SET", "k", "abcd" * 50)],
    "incompressible": [("SET", "k", bytes(range(256)))],
    "empty string": [("SET", "k", "")],
    "appended": [("SET", "k", "12"), ("APPEND", "k", "34")],
    "incrbyfloat": [("SET", "k", "1.5"), ("INCRBYFLOAT", "k", "0.25")],
    "small list": [("RPUSH", "k", "a", "1", "-70000", "5000000000", "x" * 100)],
    "lpushed list": [("LPUSH", "k", *[str(i) for i in range(100)])],
    "compressible list node": [("RPUSH", "k", *["same" * 20] * 40)],
    "listpack hash": [("HSET", "k", "f", "v", "n", "-12", "big", "9" * 19)],
    "intset16": [("SADD", "k", "3", "-1", "200")],
    "intset32": [("SADD", "k", "3", "-1", "70000")],
    "intset64": [("SADD", "k", "3", "5000000000")],
    "listpack zset": [("ZADD", "k", "1", "a", "-2.5", "b", "inf", "c", "-inf", "d",
                       "1e300", "e", "0.1", "f", "3", "g")],
    "skiplist zset": [("ZADD", "k", *[x for i in range(200)
                                      for x in (str(i / 7), f"m{i}")])],
}

# Lists of several quicklist nodes: the node boundaries must be where
# Redis's pushes put them.
MULTI_NODE_LISTS = {
    "long list": [("RPUSH", "k", *[f"element-{i}" * 3 for i in range(3000)])],
    "list of ints": [("RPUSH", "k", *[str(i * 7919) for i in range(4000)])],
    "list of long elements": [("RPUSH", "k", *[f"{i}" * 500 for i in range(100)])],
}

# Hash-ordered layouts: same contents, bytes may differ.
HASH_ORDERED = {
    "hashtable": [("HSET", "k", *[x for i in range(600) for x in (f"f{i}", "v")])],
    "hashtable by length": [("HSET", "k", "f", "v" * 65)],
    "set": [("SADD", "k", "a", "b", "c", "1")],
    "big intset": [("SADD", "k", *[str(i) for i in range(600)])],
    "skiplist by length": [("ZADD", "k", "1", "m" * 65, "2", "n")],
}

STREAM = [
    *[("XADD", "k", f"{i}-1", "field", str(i), "other", "x" * (i % 5)) for i in range(1, 200)],
    ("XDEL", "k", "5-1", "199-1"),
    ("XGROUP", "CREATE", "k", "g1", "0"),
    ("XGROUP", "CREATE", "k", "g2", "$"),
    ("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", "k", ">"),
    ("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "2", "STREAMS", "k", ">"),
    ("XACK", "k", "g1", "1-1"),
]


def payload(rdb_type, body, version=10):
    data = bytes((rdb_type,)) + body + struct.pack("<H", version)
    return data + struct.pack("<Q", crc64(data))


class Server:
    """One connection, with the calls these tests need."""

    def __init__(self, client):
        self.client = client

    def call(self, *args):
        return self.client.call(*args)

    def raw(self, *args):
        return self.client.request(*args)

    @defer.inlineCallbacks
    def run(self, commands):
        for command in commands:
            reply = yield self.raw(*command)
            if reply.startswith(b"-"):
                raise AssertionError(f"{command[:3]}...: {reply!r}")

    @defer.inlineCallbacks
    def contents(self, key):
        """(type, everything a client reads of the value)."""
        kind = yield self.call("TYPE", key)
        if kind == b"string":
            value = yield self.call("GET", key)
        elif kind == b"list":
            value = yield self.call("LRANGE", key, 0, -1)
        elif kind == b"hash":
            flat = yield self.call("HGETALL", key)
            value = sorted(zip(flat[0::2], flat[1::2], strict=True))
        elif kind == b"set":
            value = sorted((yield self.call("SMEMBERS", key)))
        elif kind == b"zset":
            value = yield self.call("ZRANGE", key, 0, -1, "WITHSCORES")
        elif kind == b"stream":
            value = yield self.stream_contents(key)
        else:
            value = None
        return kind, value

    @defer.inlineCallbacks
    def stream_contents(self, key):
        entries = yield self.call("XRANGE", key, "-", "+")
        flat = yield self.call("XINFO", "STREAM", key)
        info = dict(zip(flat[0::2], flat[1::2], strict=True))
        groups = yield self.call("XINFO", "GROUPS", key)
        pending = []
        for group in groups:
            name = dict(zip(group[0::2], group[1::2], strict=True))[b"name"]
            # Idle times are clocks, not data: ids, owners and counts are kept.
            entries_pending = yield self.call("XPENDING", key, name, "-", "+", 100)
            pending.append([(id_, owner, count)
                            for id_, owner, _idle, count in entries_pending])
            consumers = yield self.call("XINFO", "CONSUMERS", key, name)
            pending.append([consumer[:4] for consumer in consumers])
        return (entries, info[b"last-generated-id"], info[b"max-deleted-entry-id"],
                info[b"entries-added"], info[b"recorded-first-entry-id"], groups,
                pending)


class DumpInteropTests(unittest.TestCase):
    """A real redis-server and an in-process redisrepl per test."""

    def setUp(self):
        if redis_server_path() is None:
            self.fail("redis-server 7.0 is not on PATH (apt-get install redis-server)")
        return self._start()

    @defer.inlineCallbacks
    def _start(self):
        _child, redis_port = yield start_redis_server(self)
        repl = start_server(self, "save \"\"\nappendonly no\n")
        self.repl_instance = repl.instance
        self.redis = Server((yield rawclient.connect(self, redis_port)))
        self.repl = Server((yield rawclient.connect(self, repl.port)))

    @defer.inlineCallbacks
    def build_both(self, commands):
        for server in (self.redis, self.repl):
            yield server.call("FLUSHALL")
            yield server.run(commands)

    @defer.inlineCallbacks
    def compare_dumps(self, builds):
        """The names of ``builds`` whose DUMP bytes differ between the two."""
        differing = []
        for name, commands in builds.items():
            yield self.build_both(commands)
            theirs = yield self.redis.call("DUMP", "k")
            ours = yield self.repl.call("DUMP", "k")
            if theirs != ours:
                differing.append(f"{name}: redis {theirs[:48]!r}... ours {ours[:48]!r}...")
        return differing

    @defer.inlineCallbacks
    def test_dump_bytes_are_identical(self):
        """Strings, ints, small lists, listpack hashes and zsets, intsets and
        skiplist zsets built by the same commands DUMP to Redis's bytes."""
        differing = yield self.compare_dumps(DETERMINISTIC)
        self.assertEqual(differing, [], "\n".join(differing))

    @defer.inlineCallbacks
    def test_dump_bytes_are_identical_without_compression(self):
        """With rdbcompression no, neither server compresses, byte for byte."""
        for server in (self.redis, self.repl):
            yield server.call("CONFIG", "SET", "rdbcompression", "no")
        differing = yield self.compare_dumps(
            {name: DETERMINISTIC[name] for name in ("lzf", "compressible list node")})
        self.assertEqual(differing, [], "\n".join(differing))

    @defer.inlineCallbacks
    def test_multi_node_lists_dump_identical_bytes(self):
        """A list pushed past one quicklist node is split where Redis splits
        it, for each list-max-listpack-size."""
        differing = []
        for fill in ("-2", "-1", "-5", "5", "100", "0"):
            for server in (self.redis, self.repl):
                yield server.call("CONFIG", "SET", "list-max-listpack-size", fill)
            found = yield self.compare_dumps(MULTI_NODE_LISTS)
            differing += [f"fill {fill}: {line}" for line in found]
        self.assertEqual(differing, [], "\n".join(differing))

    @defer.inlineCallbacks
    def move(self, source, target, builds, ttl_args):
        """DUMP every build from ``source``, RESTORE it in ``target``; the value,
        encoding and expiry must be what ``source`` itself gets from RESTORE."""
        problems = []
        for name, commands in builds.items():
            yield source.call("FLUSHALL")
            yield target.call("FLUSHALL")
            yield source.run(commands)
            data = yield source.call("DUMP", "k")
            reply = yield target.raw("RESTORE", "copy", *ttl_args, data, "ABSTTL")
            same = yield source.raw("RESTORE", "copy", *ttl_args, data, "ABSTTL")
            if reply != same:
                problems.append(f"{name}: RESTORE replied {reply!r}, expected {same!r}")
                continue
            want = yield source.contents("copy")
            got = yield target.contents("copy")
            if want != got:
                problems.append(f"{name}: contents differ")
            want = yield source.call("OBJECT", "ENCODING", "copy")
            got = yield target.call("OBJECT", "ENCODING", "copy")
            if want != got:
                problems.append(f"{name}: encoding {got!r}, expected {want!r}")
            want = yield source.call("PEXPIRETIME", "copy")
            got = yield target.call("PEXPIRETIME", "copy")
            if want != got:
                problems.append(f"{name}: expiry {got!r}, expected {want!r}")
        return problems

    def all_builds(self):
        return {**DETERMINISTIC, **MULTI_NODE_LISTS, **HASH_ORDERED, "stream": STREAM}

    @defer.inlineCallbacks
    def test_redis_payloads_restore_here(self):
        """Every type's DUMP from redis-server RESTOREs here with the value,
        encoding and expiry Redis itself restores."""
        problems = yield self.move(self.redis, self.repl, self.all_builds(),
                                   [EXPIRE_AT_MS])
        self.assertEqual(problems, [], "\n".join(problems))

    @defer.inlineCallbacks
    def test_our_payloads_restore_in_redis(self):
        """Every type's DUMP from redisrepl RESTOREs in redis-server with the
        value, encoding and expiry we restore it with."""
        problems = yield self.move(self.repl, self.redis, self.all_builds(),
                                   [EXPIRE_AT_MS])
        self.assertEqual(problems, [], "\n".join(problems))

    @defer.inlineCallbacks
    def test_payloads_without_ttl_move_both_ways(self):
        """TTL 0 restores without expiry in both directions."""
        builds = {"small list": DETERMINISTIC["small list"]}
        problems = yield self.move(self.redis, self.repl, builds, [0])
        problems += yield self.move(self.repl, self.redis, builds, [0])
        self.assertEqual(problems, [], "\n".join(problems))

    @defer.inlineCallbacks
    def test_old_encodings_restore_as_in_redis(self):
        """Payloads in pre-7.0 encodings (ziplist, zipmap, plain sets and zsets
        with text scores) restore here as in Redis."""
        old = {
            "list ziplist": payload(10, encode_string(encode_ziplist([b"a", b"12"]))),
            "hash ziplist": payload(13, encode_string(encode_ziplist([b"f", b"v"]))),
            "zset ziplist": payload(12, encode_string(encode_ziplist([b"m", b"1.5"]))),
            "zipmap": payload(9, encode_string(encode_zipmap([(b"f", b"v")]))),
            "quicklist 1": payload(14, encode_length(1) +
                                   encode_string(encode_ziplist([b"a", b"b"]))),
            "zset text scores": payload(3, encode_length(2) + encode_string(b"a") +
                                        b"\x031.5" + encode_string(b"b") + b"\xfe"),
            "plain list": payload(1, encode_length(2) + encode_string(b"x") +
                                  encode_string(b"7")),
            "version 6 string": payload(0, encode_string(b"v"), version=6),
        }
        problems = []
        for name, data in old.items():
            for server in (self.redis, self.repl):
                yield server.call("DEL", "k")
            theirs = yield self.redis.raw("RESTORE", "k", 0, data)
            ours = yield self.repl.raw("RESTORE", "k", 0, data)
            want = (theirs, (yield self.redis.contents("k")),
                    (yield self.redis.call("OBJECT", "ENCODING", "k")))
            got = (ours, (yield self.repl.contents("k")),
                   (yield self.repl.call("OBJECT", "ENCODING", "k")))
            if want != got:
                problems.append(f"{name}: redis {want!r}, ours {got!r}")
        self.assertEqual(problems, [], "\n".join(problems))

    @defer.inlineCallbacks
    def test_corrupt_payloads_get_redis_replies(self):
        """Corrupt payloads, and errors in the order Redis checks them, get
        redis-server's exact reply bytes."""
        yield self.build_both([("SET", "busy", "x"), ("SET", "src", "hello")])
        good = yield self.redis.call("DUMP", "src")
        corrupt = [
            b"junk",
            b"",
            good[:-1] + bytes([good[-1] ^ 1]),                  # CRC
            good[:-8] + b"\0" * 8,                              # no CRC
            good[:-10] + b"\x0b\x00" + good[-8:],               # RDB 11
            payload(8, b"\x00"),                                # no such type
            payload(20, encode_string(listpack.encode([b"a"]))),  # 7.2's type
            payload(18, encode_length(0)),                      # empty list
            payload(16, encode_string(listpack.encode([]))),    # empty hash
            payload(2, encode_length(2) + encode_string(b"a") + encode_string(b"a")),
            payload(0, encode_string(b"v") + b"trailing"),       # accepted
            payload(0, b"\xc3\x05\x64aaaaa"),                    # bad LZF
            payload(0, b"\xc5"),                                 # bad encoding
            payload(18, encode_length(1) + encode_length(3) + encode_string(b"x")),
        ]
        requests = [("RESTORE", f"k{i}", 0, data) for i, data in enumerate(corrupt)]
        requests += [
            ("RESTORE", "busy", -1, b"junk"),
            ("RESTORE", "busy", -1, b"junk", "FOO"),
            ("RESTORE", "new", -1, b"junk"),
            ("RESTORE", "new", "x", good),
            ("RESTORE", "new", 0, good, "IDLETIME", "-1"),
            ("RESTORE", "new", 0, good, "FREQ", "256"),
            ("RESTORE", "new", 0, good, "IDLETIME", "1", "FREQ", "1"),
            ("RESTORE", "new", 0, good, "IDLETIME"),
            ("DUMP", "missing"),
            ("RESTORE", "past", 1, good, "ABSTTL"),
            ("EXISTS", "past"),
            ("RESTORE", "busy", 1, good, "ABSTTL", "REPLACE"),
            ("EXISTS", "busy"),
        ]
        differing = []
        for request in requests:
            theirs = yield self.redis.raw(*request)
            ours = yield self.repl.raw(*request)
            if theirs != ours:
                differing.append(f"{request!r}: redis {theirs!r}, ours {ours!r}")
        self.assertEqual(differing, [], "\n".join(differing))

    @defer.inlineCallbacks
    def test_value_may_run_into_the_footer_as_in_redis(self):
        """Redis reads the value from the whole payload, footer included: a
        string whose length runs into the version and CRC is restored (with
        those bytes in it), not refused."""
        data = payload(0, b"\x05abc")
        theirs = yield self.redis.raw("RESTORE", "k", 0, data)
        ours = yield self.repl.raw("RESTORE", "k", 0, data)
        self.assertEqual((ours, (yield self.repl.call("GET", "k"))),
                         (theirs, (yield self.redis.call("GET", "k"))))

    @defer.inlineCallbacks
    def test_sanitizations_counted_as_redis(self):
        """With sanitize-dump-payload yes, the same RESTOREs count the same
        dump_payload_sanitizations as redis-server."""
        yield self.build_both([("CONFIG", "SET", "sanitize-dump-payload", "yes"),
                               *MULTI_NODE_LISTS["long list"],
                               ("HSET", "h", "f", "v"), ("SADD", "s", "1"),
                               ("SADD", "t", "a"), ("ZADD", "z", "1", "m")])
        counts = []
        for server in (self.redis, self.repl):
            for key in ("k", "h", "s", "t", "z"):
                data = yield server.call("DUMP", key)
                yield server.call("RESTORE", key + "-copy", 0, data)
            yield server.call("RESTORE", "bad", 0,
                              payload(16, encode_string(listpack.encode([b"f"]))))
            counts.append((yield self.sanitizations(server)))
        self.assertEqual(counts[1], counts[0])
        self.assertGreater(counts[0], 4)

    @defer.inlineCallbacks
    def sanitizations(self, server):
        info = yield server.call("INFO", "stats")
        for line in info.split(b"\r\n"):
            if line.startswith(b"dump_payload_sanitizations:"):
                return int(line.split(b":")[1])
        raise AssertionError("no dump_payload_sanitizations in INFO stats")
