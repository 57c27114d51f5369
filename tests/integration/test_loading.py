"""`twistd -n redisrepl` loading dump.rdb at start-up: a dump written by a real
redis-server 7.0 loads key for key (types, values, TTLs, dbs); a big one
answers -LOADING and INFO loading:1 meanwhile; a corrupt one makes the daemon
exit 1 naming the offset; DEBUG RELOAD keeps the data and the run id."""

import os
import shutil

from twisted.internet import defer
from twisted.trial import unittest

from tests.support import rawclient
from tests.support.processes import redis_server_path, start_daemon, start_redis_server

LOADING = b"-LOADING Redis is loading the dataset in memory\r\n"


def read_text(path):
    if not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return f.read()


@defer.inlineCallbacks
def build_dataset(client):
    """Several types and encodings, TTLs, three dbs (on a real redis-server)."""
    commands = [
        ("SET", "str", "hello"), ("SET", "int", "-12345"), ("SET", "long", "x" * 300),
        ("SET", "ttl:ms", "v", "PX", "500000"), ("SET", "ttl:s", "v", "EX", "9000"),
        ("RPUSH", "list", "a", "b", "7"),
        ("RPUSH", "biglist", *[f"element-{i}" for i in range(1000)]),
        ("HSET", "hash", "f", "v", "n", "3"),
        ("HSET", "bighash", *[x for i in range(700) for x in (f"field{i}", f"value{i}")]),
        ("SADD", "intset", "1", "2", "-300"), ("SADD", "set", "a", "b", "c"),
        ("SADD", "bigset", *[f"member{i}" for i in range(600)]),
        ("ZADD", "zset", "1.5", "a", "-2", "b"),
        ("ZADD", "bigzset", *[x for i in range(300) for x in (str(i / 7), f"m{i}")]),
        ("XADD", "stream", "1-1", "f", "v"), ("XADD", "stream", "2-0", "g", "w"),
        ("XGROUP", "CREATE", "stream", "group", "0"),
        ("XREADGROUP", "GROUP", "group", "alice", "COUNT", "1", "STREAMS", "stream", ">"),
        ("EXPIRE", "hash", "7200"), ("PEXPIRE", "zset", "123456789"),
        ("SELECT", "3"), ("SET", "in3", "three"), ("LPUSH", "list3", "x"),
        ("EXPIRE", "list3", "100000"),
        ("SELECT", "15"), ("HSET", "h15", "a", "b"),
    ]
    for command in commands:
        yield client.call(*command)


@defer.inlineCallbacks
def describe(client):
    """Every key of every db with its type, value and absolute expiry."""
    found = {}
    for db in range(16):
        yield client.call("SELECT", str(db))
        for key in (yield client.call("KEYS", "*")):
            kind = yield client.call("TYPE", key)
            reads = {
                b"string": [("GET", key)],
                b"list": [("LRANGE", key, "0", "-1")],
                b"hash": [("HGETALL", key)],
                b"set": [("SMEMBERS", key)],
                b"zset": [("ZRANGE", key, "0", "-1", "WITHSCORES")],
                b"stream": [("XRANGE", key, "-", "+"), ("XINFO", "GROUPS", key),
                            ("XPENDING", key, "group")],
            }[kind]
            values = []
            for read in reads:
                value = yield client.call(*read)
                if kind in (b"set", b"hash"):
                    value = sorted(value) if kind == b"set" else sorted(
                        zip(value[::2], value[1::2], strict=True))
                values.append(value)
            expire = yield client.call("PEXPIRETIME", key)
            encoding = yield client.call("OBJECT", "ENCODING", key)
            found[(db, key)] = (kind, values, expire, encoding)
    yield client.call("SELECT", "0")
    return found


class LoadingTests(unittest.TestCase):
    """The daemon's start-up load and DEBUG RELOAD, over the wire."""

    def setUp(self):
        if redis_server_path() is None:
            raise unittest.SkipTest("redis-server is not installed")

    @defer.inlineCallbacks
    def real_dump(self, fill):
        """A dump.rdb written by a real redis-server after ``fill(client)``;
        fires with (path of a dir holding it, what the real server held)."""
        child, port = yield start_redis_server(self, ("--enable-debug-command", "yes"))
        client = yield rawclient.connect(self, port)
        yield fill(client)
        expected = None
        if fill is build_dataset:
            expected = yield describe(client)
        self.assertEqual((yield client.call("SAVE")), b"OK")
        yield child.stop()
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        shutil.copy(os.path.join(child.workdir, "dump.rdb"), workdir)
        return workdir, expected

    @defer.inlineCallbacks
    def test_dump_of_real_redis_loads_key_for_key(self):
        """Every key, type, value, encoding and expiry of a real redis-server's
        dump is there after start-up; INFO counts them."""
        workdir, expected = yield self.real_dump(build_dataset)
        _child, port, _ = yield start_daemon(self, f"dir {workdir}\n")
        client = yield rawclient.connect(self, port)
        yield wait_until_deferred(lambda: loaded(client), timeout=60)
        got = yield describe(client)
        self.assertEqual(got, expected)
        info = yield client.call("INFO", "persistence")
        self.assertIn(b"rdb_last_load_keys_loaded:%d\r\n" % len(expected), info)

    @defer.inlineCallbacks
    def test_big_dump_answers_loading_meanwhile(self):
        """While 200k keys load, a client gets -LOADING and INFO loading:1, then the data."""
        @defer.inlineCallbacks
        def fill(client):
            yield client.call("DEBUG", "POPULATE", "200000", "key", "20")

        workdir, _ = yield self.real_dump(fill)
        _child, port, _ = yield start_daemon(self, f"dir {workdir}\n")
        client = yield rawclient.connect(self, port)
        self.assertEqual((yield client.request("GET", "key:1")), LOADING)
        info = yield client.call("INFO", "persistence")
        self.assertIn(b"loading:1\r\n", info)
        self.assertIn(b"loading_total_bytes:%d\r\n" % os.path.getsize(
            os.path.join(workdir, "dump.rdb")), info)
        yield wait_until_deferred(lambda: loaded(client), timeout=120)
        self.assertEqual((yield client.call("DBSIZE")), 200000)
        self.assertEqual((yield client.call("GET", "key:199999")),
                         b"value:199999".ljust(20, b"\0"))

    @defer.inlineCallbacks
    def test_corrupt_dump_exits_1_naming_the_offset(self):
        """A truncated dump: the daemon logs the offset and exits with status 1."""
        @defer.inlineCallbacks
        def fill(client):
            yield client.call("DEBUG", "POPULATE", "5000")

        workdir, _ = yield self.real_dump(fill)
        path = os.path.join(workdir, "dump.rdb")
        self.assertGreater(os.path.getsize(path), 50000)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:len(data) // 2])
        child, _port, _ = yield start_daemon(
            self, f"dir {workdir}\nlogfile {workdir}/redis.log\n", wait=False)
        yield child.wait_ended(timeout=60)
        self.assertEqual(child.exit_code, 1)
        log = read_text(os.path.join(workdir, "redis.log"))
        self.assertIn("Short read or OOM loading DB. Unrecoverable error, aborting now.", log)
        self.assertIn("Internal error in RDB reading offset ", log)
        self.assertNotIn("Ready to accept connections", log)

    @defer.inlineCallbacks
    def test_debug_reload_keeps_data_and_run_id(self):
        """DEBUG RELOAD saves and loads back: same data, same run_id."""
        _child, port, workdir = yield start_daemon(self, "enable-debug-command yes\n")
        client = yield rawclient.connect(self, port)
        yield client.call("RPUSH", "list", "a", "b")
        yield client.call("SET", "k", "v", "PX", "100000")
        before = yield describe(client)
        run_id = [line for line in (yield client.call("INFO", "server")).split(b"\r\n")
                  if line.startswith(b"run_id:")]
        self.assertEqual((yield client.call("DEBUG", "RELOAD")), b"OK")
        self.assertEqual((yield describe(client)), before)
        self.assertIn(run_id[0], (yield client.call("INFO", "server")))
        self.assertTrue(os.path.exists(os.path.join(workdir, "dump.rdb")))


@defer.inlineCallbacks
def loaded(client):
    """True once INFO says the load is over."""
    info = yield client.call("INFO", "persistence")
    return b"loading:0\r\n" in info


@defer.inlineCallbacks
def wait_until_deferred(check, timeout=10.0, interval=0.05):
    """wait_until for a predicate that returns a Deferred."""
    from twisted.internet import reactor, task
    deadline = reactor.seconds() + timeout
    while not (yield check()):
        if reactor.seconds() >= deadline:
            raise AssertionError(f"timed out after {timeout}s")
        yield task.deferLater(reactor, interval, lambda: None)
