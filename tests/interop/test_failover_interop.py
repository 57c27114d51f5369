"""FAILOVER between a master and its replica, redisrepl on one side or
both: redisrepl -> redisrepl, redisrepl -> real redis-server 7.0 and real
-> redisrepl (the scenarios of Redis's tests/integration/failover.tcl).

A happy failover swaps the roles with no full resync and loses no
acknowledged write: the old master pauses writes, waits for the replica to
acknowledge its whole stream, turns replica and sends
``PSYNC <replid> <offset> FAILOVER``; the target promotes itself and
answers ``+CONTINUE <newid>``. TIMEOUT without FORCE gives up, FAILOVER
ABORT gives up at once, TIMEOUT with FORCE hands over anyway. A replica is
kept from catching up by stopping its process (SIGSTOP), as Redis's tests do.
"""

import signal
import threading

import redis
from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.interop import replication_workload as rw
from tests.support.tools import require_tool
from tests.support.waiting import wait_until

REDIS, REDISREPL = rw.REDIS, rw.REDISREPL
_DIRECTIVES = [("repl-diskless-sync-delay", "0")]


def role(port):
    return rw.call(port, "ROLE")[0]


def failover_state(port):
    return rw.info(port, "replication")["master_failover_state"]


class Counter(threading.Thread):
    """INCRs a counter on the master until a write is refused (the master
    turned replica): ``acknowledged`` is how many it answered."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.conn = rw.client(port)
        self.acknowledged = 0
        self.refusal = None
        self.stopping = threading.Event()

    def run(self):
        try:
            while not self.stopping.is_set():
                self.conn.execute_command("INCR", "failover:counter")
                self.acknowledged += 1
        except redis.ResponseError as error:
            self.refusal = error
        finally:
            self.conn.close()

    def stop(self):
        self.stopping.set()
        self.join(60)


class FailoverMixin:
    master_kind = replica_kind = None
    timeout = 120

    def setUp(self):
        require_tool()

    @defer.inlineCallbacks
    def start_pair(self):
        """A master and one replica, in sync: (master port, replica port)."""
        self.master_child, master = yield rw.start_master(self, self.master_kind, _DIRECTIVES)
        if self.replica_kind == REDIS:
            self.replica_child, replica = yield rw.start_replica(
                self, master, extra=["--repl-diskless-sync-delay", "0",
                                     "--logfile", "redis.log"])
        else:
            self.replica_child, replica = yield rw.start_redisrepl_replica(
                self, master, _DIRECTIVES)
        yield rw.wait_in_sync(master, replica)
        return master, replica

    def freeze(self, child):
        """SIGSTOP ``child`` (SIGCONT at the end of the test at the latest)."""
        child.transport.signalProcess(signal.SIGSTOP)
        self.addCleanup(self.thaw, child)

    def thaw(self, child):
        if not child.done:
            child.transport.signalProcess(signal.SIGCONT)

    @defer.inlineCallbacks
    def wait_state(self, port, state, timeout=30):
        yield wait_until(lambda: failover_state(port) == state, timeout=timeout,
                         interval=0.02, what=f"master_failover_state {state} on {port}")

    @defer.inlineCallbacks
    def assert_swapped(self, old, new, before):
        """Roles swapped, the old master continued partially, datasets equal."""
        yield wait_until(lambda: role(new) == b"master" and rw.in_sync(new, old),
                         timeout=30, what="the old master in sync with the new one")
        self.assertEqual(role(old), b"slave")
        after = rw.stats(new)
        self.assertEqual(after["sync_full"], before["sync_full"])
        self.assertEqual(after["sync_partial_ok"], before["sync_partial_ok"] + 1)
        self.assertEqual(rw.info(old, "replication")["master_replid"],
                         rw.info(new, "replication")["master_replid"])
        found = yield deferToThread(rw.snapshot_differences, new, old, False)
        self.assertEqual(found, [])

    @defer.inlineCallbacks
    def failover_under_writes(self, to_target):
        master, replica = yield self.start_pair()
        args = ("TO", "127.0.0.1", replica) if to_target else ()
        yield deferToThread(rw.fill, master, 500)
        before = rw.stats(replica)
        counter = Counter(master)
        counter.start()
        try:
            yield wait_until(lambda: counter.acknowledged >= 200, timeout=30,
                             what="writes before the failover")
            self.assertEqual(rw.call(master, "FAILOVER", *args), b"OK")
            yield wait_until(lambda: counter.refusal is not None, timeout=30,
                             what="a write refused by the old master")
        finally:
            yield deferToThread(counter.stop)
        self.assertIsInstance(counter.refusal, redis.ReadOnlyError)
        yield self.wait_state(master, "no-failover")
        yield self.assert_swapped(master, replica, before)
        # No acknowledged write lost, none applied twice.
        self.assertEqual(int(rw.call(replica, "GET", "failover:counter")),
                         counter.acknowledged)
        self.assertEqual(rw.call(replica, "SET", "after", "1"), b"OK")
        yield wait_until(lambda: rw.call(master, "GET", "after") == b"1", timeout=30,
                         what="a write on the new master reaching the old one")

    def test_failover_to_any_replica(self):
        """FAILOVER (no TO) under writes: roles swap, the old master
        continues partially, every acknowledged write is on the new master."""
        return self.failover_under_writes(to_target=False)

    def test_failover_to_target(self):
        """FAILOVER TO host port under writes: the named replica becomes
        master with no full resync and no acknowledged write lost."""
        return self.failover_under_writes(to_target=True)

    @defer.inlineCallbacks
    def test_timeout_and_abort(self):
        """A replica that never catches up: TIMEOUT gives up and the master
        stays master; FAILOVER ABORT ends a waiting failover at once; reads
        are served and writes wait meanwhile; no sync happens."""
        master, replica = yield self.start_pair()
        before = rw.stats(master)
        self.freeze(self.replica_child)
        self.assertEqual(rw.call(master, "SET", "case", "1"), b"OK")
        self.assertEqual(rw.call(master, "FAILOVER", "TO", "127.0.0.1", replica,
                                 "TIMEOUT", 500), b"OK")
        self.assertEqual(failover_state(master), "waiting-for-sync")
        yield self.wait_state(master, "no-failover")
        self.assertEqual(role(master), b"master")
        self.assertIn("FAILOVER to 127.0.0.1:%d aborted: Replica never caught up before "
                      "timeout" % replica, rw.server_log(self.master_child))

        self.assertEqual(rw.call(master, "FAILOVER", "TO", "127.0.0.1", replica,
                                 "TIMEOUT", 60000), b"OK")
        self.assertEqual(failover_state(master), "waiting-for-sync")
        self.assertEqual(rw.call(master, "GET", "case"), b"1")
        with self.assertRaises(redis.ResponseError) as refused:
            rw.call(master, "REPLICAOF", "NO", "ONE")
        self.assertEqual(str(refused.exception), "REPLICAOF not allowed while failing over.")
        self.assertEqual(rw.call(master, "FAILOVER", "ABORT"), b"OK")
        self.assertEqual(failover_state(master), "no-failover")
        self.assertEqual(rw.call(master, "SET", "case", "2"), b"OK")

        self.thaw(self.replica_child)
        yield rw.wait_in_sync(master, replica)
        self.assertEqual(role(master), b"master")
        after = rw.stats(master)
        self.assertEqual((after["sync_full"], after["sync_partial_ok"]),
                         (before["sync_full"], before["sync_partial_ok"]))
        self.assertEqual(rw.call(replica, "GET", "case"), b"2")

    @defer.inlineCallbacks
    def test_force(self):
        """TIMEOUT with FORCE hands over to a replica that did not catch up:
        the master turns replica (failover-in-progress) while the target is
        stopped, and once it runs the target is master and both agree."""
        master, replica = yield self.start_pair()
        self.freeze(self.replica_child)
        self.assertEqual(rw.call(master, "SET", "case", "force"), b"OK")
        self.assertEqual(rw.call(master, "FAILOVER", "TO", "127.0.0.1", replica,
                                 "TIMEOUT", 100, "FORCE"), b"OK")
        yield self.wait_state(master, "failover-in-progress")
        self.assertEqual(role(master), b"slave")
        self.thaw(self.replica_child)
        yield self.wait_state(master, "no-failover")
        yield wait_until(lambda: role(replica) == b"master" and rw.in_sync(replica, master),
                         timeout=30, what="the old master in sync with the forced one")
        self.assertIn("time out exceeded, failing over.", rw.server_log(self.master_child))
        found = yield deferToThread(rw.snapshot_differences, replica, master, False)
        self.assertEqual(found, [])


class RedisreplToRedisreplTests(FailoverMixin, unittest.TestCase):
    master_kind, replica_kind = REDISREPL, REDISREPL


class RedisreplToRealTests(FailoverMixin, unittest.TestCase):
    master_kind, replica_kind = REDISREPL, REDIS

    @defer.inlineCallbacks
    def test_target_rejects_psync(self):
        """A target that refuses PSYNC (ACL -psync): the failover aborts with
        'Failover target rejected psync request', the master is master
        again, a write held by the pause is then accepted, and the replica
        continues partially with the new replid."""
        master, replica = yield self.start_pair()
        self.assertEqual(rw.call(replica, "ACL", "SETUSER", "default", "-psync"), b"OK")
        before = rw.stats(master)
        self.freeze(self.replica_child)
        self.assertEqual(rw.call(master, "SET", "case", "1"), b"OK")
        self.assertEqual(rw.call(master, "FAILOVER", "TO", "127.0.0.1", replica), b"OK")
        held = deferToThread(rw.call, master, "SET", "held", "1")
        self.thaw(self.replica_child)
        yield self.wait_state(master, "no-failover")
        self.assertEqual((yield held), b"OK")
        self.assertIn("FAILOVER to 127.0.0.1:%d aborted: Failover target rejected psync "
                      "request" % replica, rw.server_log(self.master_child))
        self.assertEqual(rw.call(replica, "ACL", "SETUSER", "default", "+psync"), b"OK")
        yield rw.wait_in_sync(master, replica)
        self.assertEqual(role(master), b"master")
        after = rw.stats(master)
        self.assertEqual(after["sync_full"], before["sync_full"])
        self.assertEqual(after["sync_partial_ok"], before["sync_partial_ok"] + 1)
        self.assertEqual(rw.call(replica, "GET", "held"), b"1")


class RealToRedisreplTests(FailoverMixin, unittest.TestCase):
    master_kind, replica_kind = REDIS, REDISREPL
