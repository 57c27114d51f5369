"""Replication chains (top -> middle -> bottom) with redisrepl in them:
real -> redisrepl -> redisrepl, real -> redisrepl -> real and
redisrepl -> redisrepl -> redisrepl.

One routine per chain, as Redis's psync2 tests walk a chain:

1. full sync down the chain, then a mixed write workload through the top:
   every node ends with the same master_replid and master_repl_offset and
   the same data key by key (the middle proxies its master's stream
   verbatim, so the chain shares one history);
2. the middle's link to the top is killed under write load: the top
   continues it partially and the bottom is never fully resynced (the
   middle keeps its sub-replica through its own reconnection);
3. the middle is promoted (REPLICAOF NO ONE): the bottom continues with
   +CONTINUE <newid>, taking the middle's new replid and keeping the old
   one as replid2, and the middle's writes reach it.
"""


from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.interop import replication_workload as rw
from tests.support.tools import require_tool
from tests.support.waiting import wait_until

REDIS, REDISREPL = rw.REDIS, rw.REDISREPL
# Real servers serve their sub-replica at once (7.0 waits 5 s for more);
# a backlog that outlasts a reconnection under the write load.
_DIRECTIVES = [("repl-diskless-sync-delay", "0"), ("repl-backlog-size", "64mb")]


def replication_ids(port):
    """(master_replid, master_replid2, master_repl_offset) from INFO."""
    fields = rw.info(port, "replication")
    return (fields["master_replid"], fields["master_replid2"],
            int(fields["master_repl_offset"]))


def chain_converged(*ports):
    """Each node is in sync with the one above it, and all share one
    replid and one offset."""
    pairs = zip(ports, ports[1:], strict=False)
    if not all(rw.in_sync(upper, lower) for upper, lower in pairs):
        return False
    try:
        ids = {replication_ids(port)[::2] for port in ports}
    except Exception:        # a node reconnecting: not yet
        return False
    return len(ids) == 1


def _kill_master_link(port):
    """CLIENT KILL TYPE master on ``port``: its link to its master drops."""
    return rw.call(port, "CLIENT", "KILL", "TYPE", "master")


class ChainMixin:
    """The routine; subclasses name the kind of each node."""

    top_kind = middle_kind = bottom_kind = None
    timeout = 120

    def setUp(self):
        require_tool()

    # -- plumbing -----------------------------------------------------------------

    @defer.inlineCallbacks
    def start_node(self, kind, master_port):
        """A node of ``kind`` replicating ``master_port``: (child, port)."""
        if kind == REDIS:
            extra = [arg for name, value in _DIRECTIVES for arg in (f"--{name}", value)]
            result = yield rw.start_replica(self, master_port,
                                            extra=[*extra, "--logfile", "redis.log"])
        else:
            result = yield rw.start_redisrepl_replica(self, master_port, _DIRECTIVES)
        return result

    @defer.inlineCallbacks
    def assert_same_data(self, top, *others):
        """Every short-TTL key expired on the top, then each node's
        keyspace equal to the top's, key by key."""
        yield wait_until(lambda: rw.short_ttl_keys_gone(top), timeout=30,
                         what="the short-TTL keys to expire on the top")
        yield self.wait_converged(top, *others)
        yield wait_until(lambda: all(rw.same_keyspace(top, port) for port in others),
                         timeout=30, what="INFO keyspace equal along the chain")
        for port in others:
            found = yield deferToThread(rw.snapshot_differences, top, port, False)
            if found:
                self.fail(f"node {port} holds different data:\n    " + "\n    ".join(found))

    @defer.inlineCallbacks
    def wait_converged(self, *ports):
        yield wait_until(lambda: chain_converged(*ports), timeout=60, interval=0.05,
                         what=f"chain {ports} on one replid and offset")

    # -- the routine ------------------------------------------------------------------

    @defer.inlineCallbacks
    def run_chain(self):
        self.top_child, top = yield rw.start_master(self, self.top_kind, _DIRECTIVES)
        yield deferToThread(rw.build_dataset, top)
        self.middle_child, middle = yield self.start_node(self.middle_kind, top)
        self.bottom_child, bottom = yield self.start_node(self.bottom_kind, middle)
        yield self.wait_converged(top, middle, bottom)

        # 1. a workload through the top reaches the bottom unchanged.
        workload = rw.MixedWorkload(top, seed=11)
        self.addCleanup(workload.close)
        yield deferToThread(workload.run, 15)
        yield self.wait_converged(top, middle, bottom)
        yield self.assert_same_data(top, middle, bottom)

        # 2. the middle's master link breaks under load.
        top_before, middle_before = rw.stats(top), rw.stats(middle)
        load = rw.WriteLoad(top, seed=3)
        load.start()
        try:
            yield wait_until(lambda: load.commands >= 200, timeout=30, what="write load")
            yield deferToThread(_kill_master_link, middle)
            yield wait_until(lambda: rw.stats(top)["sync_partial_ok"] >
                             top_before["sync_partial_ok"], timeout=30,
                             what="the middle's partial resync with the top")
            written = load.commands
            yield wait_until(lambda: load.commands >= written + 200, timeout=30,
                             what="writes after the reconnection")
        finally:
            yield deferToThread(load.stop)
        yield self.wait_converged(top, middle, bottom)
        top_after, middle_after = rw.stats(top), rw.stats(middle)
        self.assertEqual(top_after["sync_full"], top_before["sync_full"])
        self.assertEqual(middle_after["sync_full"], middle_before["sync_full"],
                         "the bottom was fully resynced")
        yield self.assert_same_data(top, middle, bottom)

        # 3. the middle is promoted: the bottom continues with its new id.
        old_replid, _, _ = replication_ids(middle)
        self.assertEqual(rw.call(middle, "REPLICAOF", "NO", "ONE"), b"OK")
        new_replid, replid2, _ = replication_ids(middle)
        self.assertNotEqual(new_replid, old_replid)
        self.assertEqual(replid2, old_replid)
        self.assertEqual(rw.call(middle, "SET", "after:promotion", "1"), b"OK")
        yield self.wait_converged(middle, bottom)
        self.assertEqual(replication_ids(bottom)[:2], (new_replid, old_replid))
        promoted = rw.stats(middle)
        self.assertEqual(promoted["sync_full"], middle_before["sync_full"])
        self.assertEqual(promoted["sync_partial_ok"], middle_before["sync_partial_ok"] + 1)
        self.assertEqual(rw.call(bottom, "GET", "after:promotion"), b"1")
        yield self.assert_same_data(middle, bottom)

    def test_chain(self):
        """A chain converges on one replid, offset and dataset; a broken
        middle link resumes partially without resyncing the bottom; the
        promoted middle keeps the bottom with +CONTINUE <newid>."""
        return self.run_chain()


class RealRedisreplRedisreplTests(ChainMixin, unittest.TestCase):
    top_kind, middle_kind, bottom_kind = REDIS, REDISREPL, REDISREPL


class RealRedisreplRealTests(ChainMixin, unittest.TestCase):
    top_kind, middle_kind, bottom_kind = REDIS, REDISREPL, REDIS


class RedisreplChainTests(ChainMixin, unittest.TestCase):
    top_kind, middle_kind, bottom_kind = REDISREPL, REDISREPL, REDISREPL
