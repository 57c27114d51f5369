"""AOF directories written by redisrepl against Redis 7.0.15's own tools:
redis-check-aof accepts them and a real redis-server started on a copy
holds the same data key by key (tests/interop/rdb_dataset.py: every type,
expiries, several dbs), with the RDB preamble and without; redisrepl also
takes over a directory a real redis-server wrote, appends to it, and that
redis-server loads the result. INFO persistence's aof_* lines come in
Redis's names and order.
"""

import os
import shutil

from twisted.internet import defer, utils
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.interop import rdb_dataset
from tests.support.processes import start_daemon, start_redis_server
from tests.support.tools import aof_rewrite_idle, finished_loading, plain_client, require_tool
from tests.support.waiting import wait_until

MANIFEST = "appendonly.aof.manifest"


def _build_and_rewrite(port):
    """The dataset, then a BGREWRITEAOF so that it lands in a base."""
    client = plain_client(port)
    rdb_dataset.build_dataset(client)
    client.execute_command("BGREWRITEAOF")


def _more_writes(port):
    """Writes only the incr file holds; then the final snapshot."""
    client = rdb_dataset.client_for(plain_client(port), 0)
    client.execute_command("SET", "incr:only", "after the rewrite")
    client.execute_command("RPUSH", "incr:list", "a", "b")
    client.execute_command("INCRBYFLOAT", "incr:float", "2.5")
    db7 = rdb_dataset.client_for(plain_client(port), 7)
    db7.execute_command("DEL", db7.execute_command("RANDOMKEY"))
    return rdb_dataset.snapshot(plain_client(port))


class AofDirChecks:
    """What a TestCase asks of an AOF directory: a copy, redis-check-aof's
    verdict, a real redis-server started on it."""

    def setUp(self):
        require_tool("redis-server")
        self.check_aof = require_tool("redis-check-aof")

    def copy_dir(self, workdir):
        """A copy of workdir/appendonlydir in a fresh dir: returns the dir."""
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        shutil.copytree(os.path.join(workdir, "appendonlydir"),
                        os.path.join(directory, "appendonlydir"))
        return directory

    @defer.inlineCallbacks
    def check(self, directory):
        """redis-check-aof accepts the directory's manifest and files."""
        out, err, code = yield utils.getProcessOutputAndValue(
            self.check_aof, [os.path.join(directory, "appendonlydir", MANIFEST)],
            env=dict(os.environ))
        self.assertEqual(code, 0, (out + err).decode(errors="replace"))
        self.assertIn(b"All AOF files and manifest are valid", out)

    @defer.inlineCallbacks
    def redis_server_on(self, directory):
        _, port = yield start_redis_server(
            self, extra=["--dir", directory, "--appendonly", "yes"])
        yield wait_until(lambda: finished_loading(port), timeout=60, what="redis-server to load")
        return port


class AofInteropTests(AofDirChecks, unittest.TestCase):
    @defer.inlineCallbacks
    def redisrepl_writes_and_redis_reads(self, preamble):
        _, port, workdir = yield start_daemon(
            self, f'save ""\nappendonly yes\naof-use-rdb-preamble {preamble}\n')
        yield wait_until(lambda: finished_loading(port), timeout=60, what="redisrepl to start")
        yield deferToThread(_build_and_rewrite, port)
        yield wait_until(lambda: aof_rewrite_idle(port), timeout=120, what="the rewrite")
        before = yield deferToThread(_more_writes, port)
        with open(os.path.join(workdir, "appendonlydir", MANIFEST)) as f:
            suffix = "rdb" if preamble == "yes" else "aof"
            self.assertEqual(f.read(), f"file appendonly.aof.2.base.{suffix} seq 2 type b\n"
                                       "file appendonly.aof.2.incr.aof seq 2 type i\n")
        directory = self.copy_dir(workdir)
        yield self.check(directory)
        redis_port = yield self.redis_server_on(directory)
        after = yield deferToThread(rdb_dataset.snapshot, plain_client(redis_port))
        expected = [] if preamble == "yes" else (yield self.redis_own_round_trip())
        self.assertEqual(rdb_dataset.differences(before, after), expected)

    @defer.inlineCallbacks
    def redis_own_round_trip(self):
        """What Redis 7.0.15 itself loses through a command base: the same
        steps between two real redis-servers (one stream, rebuilt by XADDs,
        differs in one internal field)."""
        _, port = yield start_redis_server(
            self, extra=["--appendonly", "yes", "--aof-use-rdb-preamble", "no"])
        yield deferToThread(_build_and_rewrite, port)
        yield wait_until(lambda: aof_rewrite_idle(port), timeout=120, what="the rewrite")
        before = yield deferToThread(_more_writes, port)
        workdir = plain_client(port).config_get("dir")["dir"]
        other = yield self.redis_server_on(self.copy_dir(workdir))
        after = yield deferToThread(rdb_dataset.snapshot, plain_client(other))
        return rdb_dataset.differences(before, after)

    def test_rdb_preamble_dir_loads_in_redis_server(self):
        """aof-use-rdb-preamble yes: base .rdb + incr, checked and loaded by
        Redis 7.0.15 with every key equal."""
        return self.redisrepl_writes_and_redis_reads("yes")

    def test_command_base_dir_loads_in_redis_server(self):
        """aof-use-rdb-preamble no: the base as commands (RPUSH/SADD/ZADD/
        HMSET/XADD/XSETID/XGROUP/XCLAIM, PEXPIREAT, FUNCTION LOAD), checked
        and loaded by Redis 7.0.15 with every key equal."""
        return self.redisrepl_writes_and_redis_reads("no")

    @defer.inlineCallbacks
    def test_redisrepl_continues_a_real_redis_dir(self):
        """A dir redis-server wrote: redisrepl loads it, appends to its incr
        file, and redis-server loads the result with every key equal."""
        _, redis_port = yield start_redis_server(self, extra=["--appendonly", "yes"])
        redis_dir = plain_client(redis_port).config_get("dir")["dir"]
        yield deferToThread(_build_and_rewrite, redis_port)
        yield wait_until(lambda: aof_rewrite_idle(redis_port), timeout=120, what="the rewrite")
        plain_client(redis_port).shutdown(nosave=True)
        directory = self.copy_dir(redis_dir)
        _, port, _ = yield start_daemon(self, f'save ""\nappendonly yes\ndir {directory}\n')
        yield wait_until(lambda: finished_loading(port), timeout=120, what="redisrepl to load")
        before = yield deferToThread(_more_writes, port)
        with open(os.path.join(directory, "appendonlydir", MANIFEST)) as f:
            self.assertEqual(f.read(), "file appendonly.aof.2.base.rdb seq 2 type b\n"
                                       "file appendonly.aof.2.incr.aof seq 2 type i\n")
        again = self.copy_dir(directory)
        yield self.check(again)
        other = yield self.redis_server_on(again)
        after = yield deferToThread(rdb_dataset.snapshot, plain_client(other))
        self.assertEqual(rdb_dataset.differences(before, after), [])

    @defer.inlineCallbacks
    def test_info_aof_fields_match_redis(self):
        """INFO persistence: the same aof_* names in the same order as Redis
        7.0.15, with the AOF on and off."""
        for appendonly in ("yes", "no"):
            _, redis_port = yield start_redis_server(
                self, extra=["--appendonly", appendonly])
            _, port, _ = yield start_daemon(self, f'save ""\nappendonly {appendonly}\n')
            yield wait_until(lambda port=port: finished_loading(port), timeout=60, what="redisrepl")
            names = []
            for p in (redis_port, port):
                raw = rdb_dataset.client_for(plain_client(p), 0)
                text = raw.execute_command("INFO", "persistence").decode()
                names.append([line.split(":")[0] for line in text.split("\r\n")
                              if line.startswith(("aof_", "module_fork"))])
            self.assertEqual(names[1], names[0], appendonly)
