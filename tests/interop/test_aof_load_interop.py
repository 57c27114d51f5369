"""redisrepl loads the AOF directory a real redis-server 7.0 wrote, and
refuses or tolerates broken ones exactly as redis-server does.

A real redis-server with ``appendonly yes`` builds the dataset of
tests/interop/rdb_dataset.py (every type, several dbs, expiries), half of it
before a BGREWRITEAOF (so the base holds data: an RDB preamble, or commands
with ``aof-use-rdb-preamble no``) and the rest after, plus MULTI/EXEC blocks
in other dbs (SELECT in the incr file). redisrepl started on a copy of that
directory must hold the same data key by key. Torn tails, a corrupt middle
and broken manifests go to both servers, side by side.
"""

import dataclasses
import os
import shutil

from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.interop import rdb_dataset
from tests.support.processes import (
    free_port,
    redis_server_argv,
    spawn,
    start_daemon,
    start_redis_server,
)
from tests.support.tools import finished_loading, plain_client, require_tool
from tests.support.waiting import wait_until

AOFDIR = "appendonlydir"
INCR = "appendonly.aof.1.incr.aof"


def _rewritten(port):
    info = plain_client(port).info("persistence")
    return info["aof_rewrite_in_progress"] == 0 and info["aof_rewrite_scheduled"] == 0 \
        and info["aof_last_bgrewrite_status"] == "ok"


def _fill(port):
    """The dataset, then a rewrite: it goes into the base file."""
    client = plain_client(port)
    rdb_dataset.build_dataset(client)
    rdb_dataset.client_for(client, 0).execute_command("BGREWRITEAOF")


def _after_rewrite(port):
    """Transactions and rewritten commands in other dbs (into the incr file):
    the snapshot of everything the server holds."""
    for db in (3, 9):
        raw = rdb_dataset.client_for(plain_client(port), db)
        pipe = raw.pipeline(transaction=True)
        pipe.execute_command("SET", f"tx:{db}", "v")
        pipe.execute_command("RPUSH", f"list:{db}", "a", "b", "c")
        pipe.execute_command("HSET", f"hash:{db}", "f", "1")
        pipe.execute()
        raw.execute_command("INCRBYFLOAT", f"float:{db}", "1.5")
        raw.execute_command("EXPIRE", f"tx:{db}", "10000")
    return rdb_dataset.snapshot(plain_client(port))


def _without_seen_times(snapshot):
    """The snapshot with stream consumers' seen-time masked: a consumer an
    AOF re-creates (XGROUP CREATECONSUMER, XCLAIM) is seen at load time."""
    def mask(value):
        if not isinstance(value, tuple):
            return value
        out = list(value)
        for i, item in enumerate(out[:-1]):
            if item == b"seen-time":
                out[i + 1] = None
        return tuple(mask(item) for item in out)
    return {db: {key: dataclasses.replace(k, value=mask(k.value)) if k.type == b"stream" else k
                 for key, k in keys.items()}
            for db, keys in snapshot.items()}


class AofLoadInteropTests(unittest.TestCase):
    """Real Redis 7.0 AOF directories into redisrepl."""

    def setUp(self):
        require_tool("redis-server")

    @defer.inlineCallbacks
    def real_aof_dir(self, preamble):
        """A real redis-server's AOF dir holding the dataset, and its snapshot."""
        child, port = yield start_redis_server(self, extra=[
            "--appendonly", "yes", "--aof-use-rdb-preamble", "yes" if preamble else "no"])
        yield deferToThread(_fill, port)
        yield wait_until(lambda: _rewritten(port), timeout=60, what="the AOF rewrite")
        expected = yield deferToThread(_after_rewrite, port)
        yield child.stop()       # SIGTERM: Redis flushes and fsyncs the AOF
        return os.path.join(child.workdir, AOFDIR), expected

    def copy_dir(self, aofdir):
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        shutil.copytree(aofdir, os.path.join(directory, AOFDIR))
        return directory

    @defer.inlineCallbacks
    def redisrepl_on(self, directory, config=""):
        child, port, _ = yield start_daemon(
            self, config_text=f"dir {directory}\nappendonly yes\nsave \"\"\n{config}")
        yield wait_until(lambda: finished_loading(port), timeout=120, what="redisrepl to load")
        return child, port

    @defer.inlineCallbacks
    def redis_on(self, directory, config=()):
        _, port = yield start_redis_server(self, extra=["--dir", directory,
                                                        "--appendonly", "yes", *config])
        yield wait_until(lambda: finished_loading(port), timeout=60, what="redis-server to load")
        return port

    @defer.inlineCallbacks
    def assert_holds(self, port, expected, loaded_at_different_times=False):
        actual = yield deferToThread(lambda: rdb_dataset.snapshot(plain_client(port)))
        if loaded_at_different_times:
            expected, actual = _without_seen_times(expected), _without_seen_times(actual)
        found = rdb_dataset.differences(expected, actual)
        if found:
            self.fail("the loaded server holds different data:\n    " + "\n    ".join(found))

    @defer.inlineCallbacks
    def assert_loads_as_redis(self, aofdir, source):
        """redis-server and redisrepl, each on a copy of ``aofdir``, hold the
        same data key by key, and the keys of the server that wrote it."""
        real_port = yield self.redis_on(self.copy_dir(aofdir))
        real = yield deferToThread(lambda: rdb_dataset.snapshot(plain_client(real_port)))
        _, port = yield self.redisrepl_on(self.copy_dir(aofdir))
        yield self.assert_holds(port, real, loaded_at_different_times=True)
        self.assertEqual({db: sorted(keys) for db, keys in real.items()},
                         {db: sorted(keys) for db, keys in source.items()})

    # -- whole directories -------------------------------------------------------

    @defer.inlineCallbacks
    def test_rdb_preamble_dir_loads_same_data(self):
        """A real base.rdb + incr (MULTI/EXEC, SELECT) loads into redisrepl key by key."""
        aofdir, expected = yield self.real_aof_dir(preamble=True)
        self.assertTrue(any(n.endswith(".base.rdb") for n in os.listdir(aofdir)))
        yield self.assert_loads_as_redis(aofdir, expected)

    @defer.inlineCallbacks
    def test_command_base_dir_loads_same_data(self):
        """With aof-use-rdb-preamble no the base is commands: redisrepl loads
        what redis-server loads from it (a stream rebuilt by XADDs has other
        nodes than the original, in both)."""
        aofdir, expected = yield self.real_aof_dir(preamble=False)
        self.assertTrue(any(n.endswith(".base.aof") for n in os.listdir(aofdir)))
        yield self.assert_loads_as_redis(aofdir, expected)

    # -- broken files ------------------------------------------------------------

    @defer.inlineCallbacks
    def small_dir(self):
        """A real AOF dir with a few commands in incr 1: the dir."""
        child, port = yield start_redis_server(self, extra=["--appendonly", "yes"])
        raw = rdb_dataset.client_for(plain_client(port), 0)
        for i in range(20):
            raw.execute_command("SET", f"k{i}", "v" * i)
        yield child.stop()
        return os.path.join(child.workdir, AOFDIR)

    @defer.inlineCallbacks
    def test_torn_tail_truncated_as_redis_does(self):
        """aof-load-truncated yes: both servers cut the torn tail at the same
        offset, log Redis's warning, and hold the same keys."""
        aofdir = yield self.small_dir()
        with open(os.path.join(aofdir, INCR), "ab") as f:
            f.write(b"*3\r\n$3\r\nSET\r\n$4\r\ntorn")
        real_dir, ours_dir = self.copy_dir(aofdir), self.copy_dir(aofdir)
        real_port = yield self.redis_on(real_dir)
        child, ours_port = yield self.redisrepl_on(ours_dir)
        sizes = [os.path.getsize(os.path.join(d, AOFDIR, INCR)) for d in (real_dir, ours_dir)]
        self.assertEqual(sizes[0], sizes[1])
        self.assertIn(b"AOF appendonly.aof.1.incr.aof loaded anyway because "
                      b"aof-load-truncated is enabled", child.output)
        expected = yield deferToThread(lambda: rdb_dataset.snapshot(plain_client(real_port)))
        self.assertEqual(len(expected[0]), 20)
        yield self.assert_holds(ours_port, expected)

    @defer.inlineCallbacks
    def test_torn_tail_refused_without_aof_load_truncated(self):
        """aof-load-truncated no: both servers refuse to start on a torn tail."""
        aofdir = yield self.small_dir()
        with open(os.path.join(aofdir, INCR), "ab") as f:
            f.write(b"*2\r\n$3\r\nGET")
        yield self.both_fail_with_config(aofdir, "aof-load-truncated", "no",
                                         "Unexpected end of file reading the append only "
                                         "file appendonly.aof.1.incr.aof")

    @defer.inlineCallbacks
    def both_fail_with_config(self, aofdir, name, value, expected_log):
        real_dir, ours_dir = self.copy_dir(aofdir), self.copy_dir(aofdir)
        port = free_port()
        real = spawn(self, redis_server_argv(port, real_dir, [
            "--appendonly", "yes", f"--{name}", value]), cwd=real_dir)
        yield real.wait_ended(30)
        ours, _, _ = yield start_daemon(
            self, config_text=f"dir {ours_dir}\nappendonly yes\n{name} {value}\n", wait=False)
        yield ours.wait_ended(60)
        with open(os.path.join(real_dir, "redis.log"), errors="replace") as f:
            real_log = f.read()
        ours_log = ours.output.decode(errors="replace")
        self.assertEqual(real.exit_code, 1, real_log)
        self.assertEqual(ours.exit_code, 1, ours_log)
        self.assertIn(expected_log, real_log)
        self.assertIn(expected_log, ours_log)
        return ours_log

    @defer.inlineCallbacks
    def test_corrupt_middle_stops_both(self):
        """A bad byte in the middle: both refuse, naming the file; we also give the offset."""
        aofdir = yield self.small_dir()
        path = os.path.join(aofdir, INCR)
        with open(path, "rb") as f:
            data = f.read()
        middle = data.index(b"*3\r\n$3\r\nSET\r\n$2\r\nk5")
        with open(path, "wb") as f:
            f.write(data[:middle] + b"!" + data[middle + 1:])
        ours_log = yield self.both_fail_with_config(
            aofdir, "aof-load-truncated", "yes",
            "Bad file format reading the append only file appendonly.aof.1.incr.aof: make a "
            "backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>")
        self.assertIn(f"Bad file format at offset {middle} of the append only file "
                      "appendonly.aof.1.incr.aof", ours_log)

    @defer.inlineCallbacks
    def test_broken_manifests_refused_as_redis(self):
        """Manifests redis-server refuses, redisrepl refuses with the same text;
        one it accepts (comments, CRLF, extra keys), redisrepl accepts."""
        aofdir = yield self.small_dir()
        manifest = os.path.join(aofdir, "appendonly.aof.manifest")
        with open(manifest, "rb") as f:
            good = f.read()
        broken = [
            (b"", "Found an empty AOF manifest"),
            (good.rstrip(b"\n"), "The AOF manifest file contains too long line"),
            (good.replace(b"type i", b"type x"), "Unknown AOF file type"),
            (good + good.splitlines(True)[-1], "Found a non-monotonic sequence number"),
            (good.replace(b"seq 1 type b", b"seq 0 type b"), "Invalid AOF manifest file format"),
        ]
        for data, message in broken:
            with open(manifest, "wb") as f:
                f.write(data)
            yield self.both_fail_with_config(aofdir, "aof-load-truncated", "yes", message)
        with open(manifest, "wb") as f:
            f.write(b"# kept\r\n" + good.replace(b"\n", b" future 1\r\n").replace(b"file", b"FILE"))
        real_port = yield self.redis_on(self.copy_dir(aofdir))
        _, ours_port = yield self.redisrepl_on(self.copy_dir(aofdir))
        expected = yield deferToThread(lambda: rdb_dataset.snapshot(plain_client(real_port)))
        self.assertEqual(len(expected[0]), 20)
        yield self.assert_holds(ours_port, expected)
