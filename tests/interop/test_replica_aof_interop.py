"""A redisrepl replica with ``appendonly yes`` behind a real redis-server
7.0 master (issues 6 and 7): after each full sync it rewrites its AOF
(Redis's restartAOFAfterSYNC) into a new base holding the synced data, the
stream then lands in the new incr file, and a second full sync rewrites
again. A real redis-server replica of the same master, also with
``appendonly yes``, is the reference for the manifest; redis-check-aof
and a real redis-server started on a copy of our directory are the judges
of the files.
"""

import os

from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.interop import replication_workload as rw
from tests.interop.test_aof_interop import MANIFEST, AofDirChecks
from tests.support.waiting import wait_until


def _manifest(workdir):
    try:
        with open(os.path.join(workdir, "appendonlydir", MANIFEST)) as f:
            return f.read()
    except FileNotFoundError:
        return None


def _after_sync(seq):
    """The manifest Redis 7.0 leaves once the rewrite ``seq`` is done."""
    return (f"file appendonly.aof.{seq}.base.rdb seq {seq} type b\n"
            f"file appendonly.aof.{seq}.incr.aof seq {seq} type i\n")


def _rewritten(port, workdir, seq):
    """The rewrite after a sync is over, ok, and its manifest in place."""
    fields = rw.info(port, "persistence")
    return (fields["aof_rewrite_in_progress"] == "0" and fields["aof_rewrite_scheduled"] == "0"
            and fields["aof_last_bgrewrite_status"] == "ok"
            and _manifest(workdir) == _after_sync(seq))


def _read(workdir, name):
    with open(os.path.join(workdir, "appendonlydir", name), "rb") as f:
        return f.read()


class ReplicaAofInteropTests(AofDirChecks, unittest.TestCase):
    timeout = 240

    @defer.inlineCallbacks
    def assert_dir_holds_master_data(self, workdir, master, strict_strings):
        """A copy of ``workdir``'s AOF passes redis-check-aof, and a real
        redis-server started on it holds the master's data key by key."""
        directory = self.copy_dir(workdir)
        yield self.check(directory)
        copy = yield self.redis_server_on(directory)
        found = yield deferToThread(rw.snapshot_differences, master, copy, strict_strings)
        if found:
            self.fail("the AOF holds different data:\n    " + "\n    ".join(found))

    @defer.inlineCallbacks
    def test_each_full_sync_rewrites_the_aof(self):
        """Full sync: a new base with the master's data (as a real replica's
        manifest says); streamed writes go to the new incr; a second full
        sync (the master's replid changed, link killed) rewrites again."""
        _, master = yield rw.start_master(
            self, rw.REDIS, [("repl-diskless-sync-delay", "0"), ("enable-debug-command", "yes")])
        yield deferToThread(rw.build_dataset, master)
        real, real_port = yield rw.start_replica(self, master, ["--appendonly", "yes"])
        ours, port = yield rw.start_redisrepl_replica(self, master, [("appendonly", "yes")])
        yield rw.wait_in_sync(master, port, real_port, timeout=90)

        # 1. The sync is followed by a rewrite: base 2 + incr 2, as Redis.
        yield wait_until(lambda: _rewritten(real_port, real.workdir, 2), timeout=60,
                         what="the real replica's rewrite after the sync")
        yield wait_until(lambda: _rewritten(port, ours.workdir, 2), timeout=60,
                         what="our rewrite after the sync")
        self.assertEqual(sorted(os.listdir(os.path.join(ours.workdir, "appendonlydir"))),
                         sorted(os.listdir(os.path.join(real.workdir, "appendonlydir"))))
        self.assertTrue(_read(ours.workdir, "appendonly.aof.2.base.rdb").startswith(b"REDIS"))
        yield self.assert_dir_holds_master_data(ours.workdir, master, strict_strings=True)

        # 2. The stream lands in incr 2.
        rw.call(master, "SET", "after:sync", "streamed")
        rw.call(master, "RPUSH", "after:list", "a", "b", db=3)
        rw.call(master, "INCRBYFLOAT", "after:float", "2.5")
        yield rw.wait_in_sync(master, port, timeout=60)
        incr = _read(ours.workdir, "appendonly.aof.2.incr.aof")
        for needle in (b"after:sync", b"streamed", b"after:list", b"after:float"):
            self.assertIn(needle, incr)
        self.assertEqual(_manifest(ours.workdir), _after_sync(2))
        yield self.assert_dir_holds_master_data(ours.workdir, master, strict_strings=False)

        # 3. A second full sync: a new replid leaves no partial resync.
        full_syncs = rw.stats(master)["sync_full"]
        rw.call(master, "DEBUG", "CHANGE-REPL-ID")
        rw.call(master, "SET", "before:resync", "1", db=9)
        self.assertEqual(rw.call(master, "CLIENT", "KILL", "TYPE", "replica"), 2)
        yield wait_until(lambda: rw.stats(master)["sync_full"] == full_syncs + 2, timeout=60,
                         what="both replicas to sync in full again")
        yield rw.wait_in_sync(master, port, real_port, timeout=90)
        yield wait_until(lambda: _rewritten(real_port, real.workdir, 3), timeout=60,
                         what="the real replica's second rewrite")
        yield wait_until(lambda: _rewritten(port, ours.workdir, 3), timeout=60,
                         what="our second rewrite")
        self.assertEqual(sorted(os.listdir(os.path.join(ours.workdir, "appendonlydir"))),
                         ["appendonly.aof.3.base.rdb", "appendonly.aof.3.incr.aof", MANIFEST])
        self.assertEqual(int(rw.info(port, "persistence")["aof_rewrites"]), 2)
        yield self.assert_dir_holds_master_data(ours.workdir, master, strict_strings=False)
