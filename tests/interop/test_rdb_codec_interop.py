"""The RDB codec against real Redis 7.0: files and payloads each side writes
are read by the other, and after a load both pick the same encodings.

Blocking on purpose (subprocess + redis-py): these tests drive a real
redis-server through SAVE and restarts, with no reactor work of our own.
Skipped when the Redis binaries are not installed.
"""

import glob
import os
import shutil
import subprocess
import tempfile
import time

import redis
from twisted.trial import unittest

from redisrepl.rdb import (
    Aux,
    DbSnapshot,
    Entry,
    Function,
    RdbDecoder,
    RdbError,
    dump_payload,
    encode_all,
    load_payload,
)
from redisrepl.rdb import constants as C
from redisrepl.rdb.primitives import encode_length, encode_string
from redisrepl.rdb.values import Limits
from tests.support.ports import free_port
from tests.unit.rdb_samples import (
    encoding,
    legacy_records,
    lp_string,
    modern_values,
    payload,
    plain,
    zl_string,
)

REDIS_SERVER = shutil.which("redis-server")
CHECK_RDB = shutil.which("redis-check-rdb")
SKIP = None if REDIS_SERVER and CHECK_RDB else "redis-server / redis-check-rdb not installed"

# Limits both sides are configured with: LARGE keeps everything compact,
# SMALL converts most of it.
LARGE = Limits(hash_entries=512, hash_value=1000, set_intset_entries=512, zset_entries=512,
               zset_value=1000)
SMALL = Limits(hash_entries=2, hash_value=4, set_intset_entries=2, zset_entries=2,
               zset_value=4)


def limit_args(limits):
    return ["--hash-max-listpack-entries", str(limits.hash_entries),
            "--hash-max-listpack-value", str(limits.hash_value),
            "--set-max-intset-entries", str(limits.set_intset_entries),
            "--zset-max-listpack-entries", str(limits.zset_entries),
            "--zset-max-listpack-value", str(limits.zset_value)]


class RealRedis:
    """A redis-server 7.0 in ``workdir`` (loopback, free port), blocking."""

    def __init__(self, workdir, args=()):
        self.workdir = workdir
        self.port = free_port()
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--dir", workdir, "--logfile", os.path.join(workdir, "redis.log"), *args],
            cwd=workdir)
        self.client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.client.ping():
                    break
            except redis.exceptions.BusyLoadingError:
                pass
            except redis.exceptions.ConnectionError:
                if self.proc.poll() is not None:
                    raise AssertionError(f"redis-server exited: {self.log()}") from None
            if time.monotonic() > deadline:
                raise AssertionError("redis-server did not answer PING")
            time.sleep(0.02)

    def log(self):
        with open(os.path.join(self.workdir, "redis.log")) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.client.shutdown(nosave=True)
            except redis.exceptions.ConnectionError:
                pass
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.client.close()


def decode_file(path, limits=None, verify=True):
    decoder = RdbDecoder(limits, verify_checksum=verify)
    with open(path, "rb") as f:
        events = []
        while chunk := f.read(4096):
            events += decoder.feed(chunk)
    return events + decoder.close()


def entries(events):
    return {(e.db, e.key): e for e in events if isinstance(e, Entry)}


def real_value(client, key):
    """A key of a real Redis as plain Python data (as rdb_samples.plain)."""
    kind = client.type(key)
    if kind == b"string":
        return client.get(key)
    if kind == b"list":
        return client.lrange(key, 0, -1)
    if kind == b"set":
        return client.smembers(key)
    if kind == b"zset":
        return dict(client.zrange(key, 0, -1, withscores=True))
    if kind == b"hash":
        return client.hgetall(key)
    raise AssertionError(f"unexpected type {kind!r}")


def build_dataset(client):
    """Keys around every threshold, in several dbs, some with TTLs."""
    c = client
    c.set("s:int", "12345")
    c.set("s:neg", "-70000")
    c.set("s:bigint", "123456789012345")
    c.set("s:lzf", "abcdefgh" * 200)
    c.set("s:bin", bytes(range(256)))
    c.set("s:ttl", "v", px=10_000_000)
    c.rpush("l:small", "a", "1", "-5000", "x" * 70)
    c.rpush("l:big", *[b"element-%d" % i for i in range(5000)])
    c.hset("h:3", mapping={"a": "1", "b": "2", "c": "3"})
    c.hset("h:2", mapping={"a": "1", "b": "2"})
    c.hset("h:longval", mapping={"a": "x" * 10})
    c.sadd("set:ints3", 1, 2, 3)
    c.sadd("set:ints2", -1, 70000)
    c.sadd("set:big", *range(1000))
    c.sadd("set:text", "a", "b")
    c.zadd("z:3", {"a": 1, "b": 2.5, "c": -3})
    c.zadd("z:2", {"a": 1, "b": 0.1})
    c.zadd("z:longmember", {"abcdefghij": 1})
    c.zadd("z:big", {b"m%d" % i: i / 7 for i in range(600)})
    c.pexpire("z:2", 20_000_000)
    c.select(3)
    c.set("db3:key", "three")
    c.hset("db3:hash", "f", "v")
    c.expire("db3:hash", 5000)
    c.select(15)
    c.sadd("db15:set", 7)
    c.select(0)


def snapshot(client, dbs=(0, 3, 15)):
    """(db, key) -> (value, encoding (None for strings), has a TTL, pttl)
    for every key of ``dbs``."""
    out = {}
    for db in dbs:
        client.select(db)
        for key in client.keys("*"):
            kind = client.type(key)
            enc = client.object("encoding", key).decode()
            out[(db, key)] = (real_value(client, key), enc if kind != b"string" else None,
                              client.pttl(key) > 0, client.pttl(key))
    client.select(0)
    return out


def ours(entry):
    enc = None if isinstance(entry.value, bytes) else encoding(entry.value)
    return plain(entry.value), enc


class RealRedisTestCase(unittest.TestCase):
    skip = SKIP

    def workdir(self):
        path = tempfile.mkdtemp(prefix="rdbinterop-")
        self.addCleanup(shutil.rmtree, path, True)
        return path

    def redis(self, workdir, args=()):
        server = RealRedis(workdir, args)
        self.addCleanup(server.stop)
        return server


class LoadEncodingTests(RealRedisTestCase):
    """Redis saves with one set of thresholds and reloads with another: the
    encodings it then reports are the ones our decoder picks."""

    def check_reload(self, build_limits, load_limits):
        workdir = self.workdir()
        server = self.redis(workdir, limit_args(build_limits))
        build_dataset(server.client)
        server.client.save()
        server.stop()
        server = self.redis(workdir, limit_args(load_limits))
        theirs = snapshot(server.client)
        got = entries(decode_file(os.path.join(workdir, "dump.rdb"), load_limits))
        self.assertEqual(sorted(got), sorted(theirs))
        for where, (value, enc, has_ttl, _) in theirs.items():
            with self.subTest(key=where):
                self.assertEqual(ours(got[where]), (value, enc))
                self.assertEqual(got[where].expire_ms is not None, has_ttl)

    def test_compact_dump_loaded_with_small_limits(self):
        """Listpacks and intsets past the new entry limits convert; past the
        value limits they stay compact, as in Redis."""
        self.check_reload(LARGE, SMALL)

    def test_plain_dump_loaded_with_large_limits(self):
        """Hashtables and skiplists that now fit become compact, as in Redis."""
        self.check_reload(SMALL, LARGE)

    def test_same_limits(self):
        """Reloading with the limits that built the data keeps every encoding."""
        self.check_reload(Limits(), Limits())


class LegacyRestoreTests(RealRedisTestCase):
    """Types no Redis 7.0 writes (ziplist, zipmap, quicklist 1, text scores),
    given to real Redis by RESTORE with an old version footer."""

    def test_legacy_payloads_encode_as_redis_does(self):
        """RESTORE in Redis and load_payload here give the same data and encoding."""
        records = {n: r for n, r in legacy_records().items() if n != "set_listpack"}
        for limits in (Limits(), SMALL, LARGE):
            server = self.redis(self.workdir(), limit_args(limits))
            for name, (rdb_type, body, expected) in records.items():
                for version in (6, 9):
                    data = payload(rdb_type, body, version)
                    key = f"{name}:{version}"
                    server.client.restore(key, 0, data)
                    value = load_payload(data, limits)
                    with self.subTest(name=name, limits=limits, version=version):
                        self.assertEqual(plain(value), expected)
                        self.assertEqual(real_value(server.client, key), expected)
                        self.assertEqual(encoding(value),
                                         server.client.object("encoding", key).decode())
            server.stop()

    def test_threshold_edges_through_restore(self):
        """Blobs and plain values just over or under each limit."""
        server = self.redis(self.workdir(), limit_args(SMALL))
        pairs3 = [b"a", b"1", b"b", b"2", b"c", b"3"]
        long_pair = [b"abcdefgh", b"12345678"]
        cases = {
            "hash_zl_3": (C.TYPE_HASH_ZIPLIST, zl_string(pairs3)),
            "hash_zl_long": (C.TYPE_HASH_ZIPLIST, zl_string(long_pair)),
            "hash_lp_long": (C.TYPE_HASH_LISTPACK, lp_string(long_pair)),
            "hash_plain_long": (C.TYPE_HASH, encode_length(1) + encode_string(b"abcdefgh") +
                                encode_string(b"1")),
            "zset_zl_long": (C.TYPE_ZSET_ZIPLIST, zl_string([b"abcdefgh", b"1"])),
            "zset_zl_3": (C.TYPE_ZSET_ZIPLIST, zl_string(pairs3)),
            "set_plain_ints": (C.TYPE_SET, encode_length(2) + encode_string(b"5") +
                               encode_string(b"-9")),
            "set_plain_3": (C.TYPE_SET, encode_length(3) + b"".join(
                encode_string(b"%d" % i) for i in range(3))),
        }
        for name, (rdb_type, body) in cases.items():
            data = payload(rdb_type, body, 9)
            server.client.restore(name, 0, data)
            with self.subTest(name=name):
                self.assertEqual(encoding(load_payload(data, SMALL)),
                                 server.client.object("encoding", name).decode())

    def test_both_refuse_empty_and_duplicate_values(self):
        """Empty collections and duplicates Redis always checks are refused by both."""
        server = self.redis(self.workdir())
        bad = {
            "empty_list": (C.TYPE_LIST, encode_length(0)),
            "empty_hash_zl": (C.TYPE_HASH_ZIPLIST, zl_string([])),
            "empty_zset_lp": (C.TYPE_ZSET_LISTPACK, lp_string([])),
            "empty_quicklist": (C.TYPE_LIST_QUICKLIST_2, encode_length(0)),
            "dup_set": (C.TYPE_SET, encode_length(2) + encode_string(b"a") * 2),
            "dup_hash_zl": (C.TYPE_HASH_ZIPLIST, zl_string([b"f", b"1", b"f", b"2"])),
            "dup_zset_zl": (C.TYPE_ZSET_ZIPLIST, zl_string([b"m", b"1", b"m", b"2"])),
        }
        for name, (rdb_type, body) in bad.items():
            data = payload(rdb_type, body, 9)
            with self.subTest(name=name):
                with self.assertRaises(redis.exceptions.ResponseError) as info:
                    server.client.restore(name, 0, data)
                self.assertIn("Bad data format", str(info.exception))
                with self.assertRaises(RdbError):
                    load_payload(data)


class FilesWeWriteTests(RealRedisTestCase):
    """Files written by encode_all, read by redis-check-rdb and redis-server."""

    def write_file(self, workdir):
        values = modern_values()
        dbs = [DbSnapshot(0, values, {b"str:small": int(time.time() * 1000) + 10_000_000}),
               DbSnapshot(2, {b"k2": b"v2"}, {}),
               DbSnapshot(9, {b"zs": values[b"zset:listpack"]},
                          {b"zs": int(time.time() * 1000) + 20_000_000})]
        aux = [(b"redis-ver", b"7.0.15"), (b"redis-bits", b"64"), (b"ctime", b"1700000000"),
               (b"used-mem", b"1000000"), (b"repl-stream-db", b"0"),
               (b"repl-id", b"0" * 40), (b"repl-offset", b"0"), (b"aof-base", b"0")]
        functions = [b"#!lua name=mylib\nredis.register_function('f', function() return 1 end)"]
        path = os.path.join(workdir, "dump.rdb")
        with open(path, "wb") as f:
            f.write(encode_all(dbs, aux, functions))
        return path, dbs

    def test_redis_check_rdb_accepts_every_type(self):
        """redis-check-rdb reads our file of every encoding without complaint."""
        path, _ = self.write_file(self.workdir())
        result = subprocess.run([CHECK_RDB, path], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("RDB looks OK", result.stdout)
        self.assertIn("18 keys read", result.stdout)

    def test_redis_server_loads_the_same_data(self):
        """A real redis-server started on our file holds the same keys,
        values, TTLs and encodings, and our functions."""
        workdir = self.workdir()
        _, dbs = self.write_file(workdir)
        server = self.redis(workdir)
        theirs = snapshot(server.client, [db.id for db in dbs])
        for db in dbs:
            for key, value in db.data.items():
                with self.subTest(db=db.id, key=key):
                    got, enc, has_ttl, _ = theirs[(db.id, key)]
                    self.assertEqual(got, plain(value))
                    if not isinstance(value, bytes):
                        self.assertEqual(enc, encoding(value))
                    self.assertEqual(has_ttl, key in db.expires)
        self.assertEqual(len(theirs), sum(len(db.data) for db in dbs))
        self.assertEqual(server.client.fcall("f", 0), 1)


class FilesRedisWritesTests(RealRedisTestCase):
    """Dumps written by real Redis decode to the data it holds."""

    def test_dump_of_every_encoding(self):
        """Strings (int, LZF, binary), every collection encoding, expiries in
        several dbs and the aux fields of a Redis 7.0 dump decode exactly."""
        workdir = self.workdir()
        server = self.redis(workdir)
        # A replica gives the master a backlog: only then does SAVE write
        # repl-stream-db, repl-id and repl-offset.
        replica = self.redis(self.workdir(), ["--replicaof", "127.0.0.1", str(server.port)])
        build_dataset(server.client)
        deadline = time.monotonic() + 20
        # SAVE is refused while the full sync's child still runs.
        while replica.client.info("replication")["master_link_status"] != "up" or \
                server.client.info("persistence")["rdb_bgsave_in_progress"]:
            self.assertLess(time.monotonic(), deadline, "the replica did not sync")
            time.sleep(0.05)
        theirs = snapshot(server.client)
        server.client.save()
        events = decode_file(os.path.join(workdir, "dump.rdb"))
        got = entries(events)
        self.assertEqual(sorted(got), sorted(theirs))
        for where, (value, enc, has_ttl, pttl) in theirs.items():
            with self.subTest(key=where):
                self.assertEqual(ours(got[where]), (value, enc))
                if has_ttl:
                    left = got[where].expire_ms - time.time() * 1000
                    self.assertLess(abs(left - pttl), 60_000)
                else:
                    self.assertIsNone(got[where].expire_ms)
        aux = {e.name: e.value for e in events if isinstance(e, Aux)}
        self.assertEqual(aux[b"redis-ver"], b"7.0.15")
        self.assertEqual(aux[b"redis-bits"], b"64")
        self.assertEqual(aux[b"repl-id"], server.client.info("replication")["master_replid"]
                         .encode())
        self.assertTrue(aux[b"repl-offset"].isdigit())
        self.assertEqual(aux[b"repl-stream-db"], b"0")
        self.assertIn(b"aof-base", aux)
        self.assertEqual(aux[b"aof-base"], b"0")

    def test_aof_base_and_functions(self):
        """The RDB preamble of an AOF (aof-base 1) and FUNCTION2 records decode."""
        workdir = self.workdir()
        server = self.redis(workdir, ["--appendonly", "yes"])
        code = "#!lua name=lib\nredis.register_function('g', function() return 2 end)"
        server.client.function_load(code)
        server.client.set("k", "v")
        server.client.bgrewriteaof()
        deadline = time.monotonic() + 20
        while server.client.info("persistence")["aof_rewrite_in_progress"] or \
                not glob.glob(os.path.join(workdir, "appendonlydir", "*.base.rdb")):
            self.assertLess(time.monotonic(), deadline, "no AOF base file")
            time.sleep(0.05)
        base = sorted(glob.glob(os.path.join(workdir, "appendonlydir", "*.base.rdb")))[-1]
        events = decode_file(base)
        aux = {e.name: e.value for e in events if isinstance(e, Aux)}
        self.assertEqual(aux[b"aof-base"], b"1")
        self.assertIn(code.encode(), [e.code for e in events if isinstance(e, Function)])
        self.assertEqual(entries(events)[(0, b"k")].value, b"v")


class PayloadTests(RealRedisTestCase):
    """DUMP payloads move both ways, byte for byte where the layout is fixed."""

    def test_real_dumps_load_here_and_ours_restore_there(self):
        """Every value: Redis's DUMP loads here; our payload RESTOREs there
        to the same data."""
        server = self.redis(self.workdir())
        build_dataset(server.client)
        for key in server.client.keys("*"):
            theirs = server.client.dump(key)
            value = load_payload(theirs)
            with self.subTest(key=key):
                self.assertEqual(plain(value), real_value(server.client, key))
                server.client.restore(key + b":back", 0, dump_payload(value))
                self.assertEqual(real_value(server.client, key + b":back"), plain(value))

    def test_identical_payload_bytes(self):
        """Strings (int, raw, LZF), intsets and listpacks built by pushes
        dump to exactly Redis's bytes."""
        server = self.redis(self.workdir())
        build_dataset(server.client)
        for key in [b"s:int", b"s:neg", b"s:bigint", b"s:lzf", b"s:bin", b"set:ints3",
                    b"set:ints2", b"h:3", b"z:3", b"z:2", b"l:small"]:
            theirs = server.client.dump(key)
            with self.subTest(key=key):
                self.assertEqual(dump_payload(load_payload(theirs)), theirs)

    def test_newer_payload_refused_by_both(self):
        """A version 11 footer: Redis and we both refuse the payload."""
        server = self.redis(self.workdir())
        data = payload(C.TYPE_STRING, encode_string(b"x"), version=11)
        with self.assertRaises(redis.exceptions.ResponseError) as info:
            server.client.restore("k", 0, data)
        self.assertIn("DUMP payload version or checksum are wrong", str(info.exception))
        with self.assertRaises(RdbError):
            load_payload(data)
