"""Real redis-server 7.0 replicas of a master: full sync (disk and
diskless), streaming, the partial-resync matrix of Redis's own
tests/integration/replication-psync.tcl, shared saves, output-buffer
limits, WAIT / min-replicas, and bad input from hand-driven replicas.

Every test runs twice, with the master a parameter: RedisMasterTests use a
real redis-server 7.0 as master (proving each test and its expectations
right), RedisreplMasterTests use redisrepl (`twistd -n redisrepl`). The
replicas are always real redis-server 7.0 (disk load); helpers are in
tests/interop/replication_workload.py.
"""

import re
import signal

from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.interop import replication_workload as rw
from tests.support.tools import require_tool
from tests.support.waiting import wait_until

BIG_BACKLOG = "100mb"
PARTIAL_LINE = "Successful partial resynchronization with master"
FULL_LINE = "Full resync from master"
STREAMED_LINE = "receiving streamed RDB from master"
BUFFER_LIMIT_LINE = "for overcoming of output buffer limits"
FULLRESYNC = re.compile(rb"^\+FULLRESYNC [0-9a-f]{40} \d+$")


def _cut_link(replica_port, delay):
    """On the replica, as replication-psync.tcl does: kill its master
    link, and with ``delay`` sleep that long in the same MULTI so it
    cannot reconnect before. Runs in a thread (blocks ``delay`` s)."""
    conn = rw.client(replica_port, timeout=delay + 30)
    try:
        pipe = conn.pipeline(transaction=True)
        pipe.execute_command("CLIENT", "KILL", "TYPE", "master")
        if delay:
            pipe.execute_command("DEBUG", "SLEEP", delay)
        pipe.execute()
    finally:
        conn.close()


def _resynced(master, before):
    """The master counts one more sync (full or partial) than ``before``
    and its replica online again."""
    now = rw.stats(master)
    return rw.replica_states(master) == ["online"] and (
        now["sync_full"] + now["sync_partial_ok"] >
        before["sync_full"] + before["sync_partial_ok"])


class ReplicationInteropMixin:
    """The tests; subclasses name the master's kind."""

    master_kind = None
    timeout = 300

    def setUp(self):
        require_tool()

    # -- plumbing ---------------------------------------------------------------

    @defer.inlineCallbacks
    def start_master(self, *directives):
        self.master_child, port = yield rw.start_master(self, self.master_kind, directives)
        return port

    @defer.inlineCallbacks
    def assert_same_data(self, master, replica, strict_strings=True):
        """Offsets equal, every expiry's DEL through, then key by key
        (see rw.snapshot_differences for ``strict_strings``)."""
        yield rw.wait_in_sync(master, replica)
        yield wait_until(lambda: rw.same_keyspace(master, replica), timeout=30,
                         what="INFO keyspace equal on master and replica")
        found = yield deferToThread(rw.snapshot_differences, master, replica,
                                    strict_strings)
        if found:
            self.fail("the replica holds different data:\n    " + "\n    ".join(found))

    def replica_log_count(self, child, line):
        return rw.server_log(child).count(line)

    # -- 1. full sync -------------------------------------------------------------

    @defer.inlineCallbacks
    def full_sync(self, diskless):
        master = yield self.start_master(
            ("repl-diskless-sync", "yes" if diskless else "no"),
            ("repl-diskless-sync-delay", "0"))
        yield deferToThread(rw.build_dataset, master)
        before = rw.stats(master)
        replica_child, replica = yield rw.start_replica(self, master)
        yield self.assert_same_data(master, replica)
        after = rw.stats(master)
        self.assertEqual(after["sync_full"], before["sync_full"] + 1)
        self.assertEqual(after["total_forks"], before["total_forks"] + 1)
        streamed = self.replica_log_count(replica_child, STREAMED_LINE)
        self.assertEqual(streamed, 1 if diskless else 0, rw.server_log(replica_child))

    def test_full_sync_disk(self):
        """A disk-based full sync gives a real replica exactly the master's
        every-type dataset, TTLs included, from one fork."""
        return self.full_sync(diskless=False)

    def test_full_sync_diskless(self):
        """A diskless ($EOF-framed) full sync gives a real replica exactly
        the master's every-type dataset, TTLs included, from one fork."""
        return self.full_sync(diskless=True)

    # -- 2. streaming ---------------------------------------------------------------

    @defer.inlineCallbacks
    def test_streaming_mixed_workload(self):
        """Every kind of write (all types, MULTI/EXEC with SELECT, relative
        TTLs, keys expiring, SPOP, INCRBYFLOAT, XADD *, blocking pops,
        FLUSHDB, SWAPDB) reaches a real replica with the same effect, and
        PUBLISH reaches its subscribers."""
        master = yield self.start_master(("repl-diskless-sync-delay", "0"))
        _, replica = yield rw.start_replica(self, master)
        yield rw.wait_in_sync(master, replica)

        subscriber = rw.client(replica).pubsub()
        self.addCleanup(subscriber.close)
        subscriber.subscribe(b"news")
        self.assertEqual(subscriber.get_message(timeout=10)["type"], "subscribe")

        workload = rw.MixedWorkload(master, seed=5)
        self.addCleanup(workload.close)
        yield deferToThread(workload.run, 60)
        yield deferToThread(rw.blocking_pops, master)
        self.assertEqual(rw.call(master, "PUBLISH", b"news", b"hello"), 0)
        message = yield deferToThread(subscriber.get_message, True, 10)
        self.assertEqual((message["channel"], message["data"]), (b"news", b"hello"))

        yield wait_until(lambda: rw.short_ttl_keys_gone(master), timeout=30,
                         what="the short-TTL keys to expire on the master")
        yield self.assert_same_data(master, replica, strict_strings=False)
        dbsize = rw.call(replica, "DBSIZE")
        self.assertGreater(dbsize, 100)
        self.assertEqual(rw.call(replica, "LRANGE", b"block:dst", 0, -1), [b"y"])

    # -- 3. the partial resync matrix ---------------------------------------------------

    @defer.inlineCallbacks
    def psync_matrix(self, backlog_size, backlog_ttl, delay, diskless, partial, cuts=3):
        """replication-psync.tcl's test_psync: three writers flood the
        master while the replica's link is cut ``cuts`` times (after
        ``delay`` s of the replica sleeping); each reconnection must be a
        partial resync if ``partial`` else a full one; data equal after."""
        master = yield self.start_master(
            ("repl-backlog-size", backlog_size), ("repl-backlog-ttl", str(backlog_ttl)),
            ("repl-diskless-sync", "yes" if diskless else "no"),
            ("repl-diskless-sync-delay", "0"))
        replica_child, replica = yield rw.start_replica(self, master)
        loads = [rw.WriteLoad(master, seed) for seed in (1, 2, 3)]
        for load in loads:
            load.start()
        try:
            yield wait_until(lambda: rw.call(master, "DBSIZE", db=9) > 100, timeout=30,
                             what="the write load to reach the master")
            yield wait_until(lambda: rw.replica_states(master) == ["online"], timeout=60,
                             what="the replica online")
            for _ in range(cuts):
                before = rw.stats(master)
                lines = self.replica_log_count(replica_child, PARTIAL_LINE)
                yield deferToThread(_cut_link, replica, delay)
                yield wait_until(lambda b=before: _resynced(master, b), timeout=60,
                                 what="the replica to reconnect")
                after = rw.stats(master)
                if partial:
                    self.assertEqual(after["sync_partial_ok"], before["sync_partial_ok"] + 1)
                    self.assertEqual(after["sync_full"], before["sync_full"])
                    self.assertEqual(after["total_forks"], before["total_forks"])
                    self.assertEqual(after["rdb_saves"], before["rdb_saves"])
                    self.assertEqual(self.replica_log_count(replica_child, PARTIAL_LINE),
                                     lines + 1)
                else:
                    self.assertEqual(after["sync_full"], before["sync_full"] + 1)
                    self.assertEqual(after["sync_partial_err"], before["sync_partial_err"] + 1)
                    self.assertEqual(after["sync_partial_ok"], before["sync_partial_ok"])
                    self.assertEqual(after["total_forks"], before["total_forks"] + 1)
        finally:
            written = [load.stop() for load in loads]
        self.assertTrue(all(written))
        yield self.assert_same_data(master, replica, strict_strings=False)

    def test_psync_ok_disk(self):
        """Link cut under write load, backlog big enough: +CONTINUE each
        time (sync_partial_ok grows, no fork), data equal (disk sync)."""
        return self.psync_matrix(BIG_BACKLOG, 3600, 0, diskless=False, partial=True)

    def test_psync_ok_diskless(self):
        """As test_psync_ok_disk with diskless sync configured."""
        return self.psync_matrix(BIG_BACKLOG, 3600, 0, diskless=True, partial=True)

    def test_psync_ok_after_delay(self):
        """The replica comes back 2 s after the cut: still +CONTINUE."""
        return self.psync_matrix(BIG_BACKLOG, 3600, 2, diskless=False, partial=True)

    def test_psync_no_backlog_disk(self):
        """A 16kb backlog overrun during a 1 s cut: +FULLRESYNC (with
        sync_partial_err), data equal (disk sync)."""
        return self.psync_matrix("16kb", 3600, 1, diskless=False, partial=False, cuts=2)

    def test_psync_no_backlog_diskless(self):
        """As test_psync_no_backlog_disk with diskless sync."""
        return self.psync_matrix("16kb", 3600, 1, diskless=True, partial=False, cuts=2)

    def test_psync_backlog_expired(self):
        """repl-backlog-ttl 1 and a 3 s cut: the backlog is freed with no
        replica attached, so the replica gets +FULLRESYNC."""
        return self.psync_matrix(BIG_BACKLOG, 1, 3, diskless=False, partial=False, cuts=2)

    # -- 4. shared saves, output-buffer limits, WAIT, min-replicas -------------------------

    @defer.inlineCallbacks
    def two_replicas_one_save(self, directives, attach_second_when):
        master = yield self.start_master(*directives)
        yield deferToThread(rw.build_dataset, master)
        yield deferToThread(rw.fill, master, 1000)
        _, first = yield rw.start_replica(self)
        _, second = yield rw.start_replica(self)
        before = rw.stats(master)
        rw.call(first, "REPLICAOF", "127.0.0.1", master)
        yield wait_until(lambda: attach_second_when(master), timeout=30,
                         what="the first replica's sync to start")
        rw.call(second, "REPLICAOF", "127.0.0.1", master)
        yield rw.wait_in_sync(master, first, second)
        after = rw.stats(master)
        self.assertEqual(after["sync_full"], before["sync_full"] + 2)
        self.assertEqual(after["total_forks"], before["total_forks"] + 1)
        yield self.assert_same_data(master, first)
        yield self.assert_same_data(master, second)

    def test_two_replicas_share_diskless_save(self):
        """Two replicas arriving within repl-diskless-sync-delay are served
        by one diskless save (one fork), both with the full dataset."""
        return self.two_replicas_one_save(
            [("repl-diskless-sync", "yes"), ("repl-diskless-sync-delay", "3")],
            lambda master: rw.replica_states(master) == ["wait_bgsave"])

    def test_second_replica_attaches_to_running_disk_save(self):
        """A replica arriving while a disk save for replication runs is
        attached to it: one fork serves both."""
        return self.two_replicas_one_save(
            [("repl-diskless-sync", "no"), ("rdb-key-save-delay", "3000")],
            lambda master: rw.info(master, "persistence")["rdb_bgsave_in_progress"] == "1")

    @defer.inlineCallbacks
    def test_stopped_replica_cut_by_output_buffer_limit(self):
        """A replica SIGSTOPped while its sync runs is disconnected once the
        writes kept for it pass the hard limit, with a log line; the master
        keeps answering other clients, and the replica resyncs once resumed."""
        master = yield self.start_master(
            ("repl-diskless-sync", "no"), ("rdb-key-save-delay", "2000"),
            ("client-output-buffer-limit", "replica 1mb 0 0"))
        yield deferToThread(rw.fill, master, 1000)
        replica_child, replica = yield rw.start_replica(self)
        self.addCleanup(lambda: replica_child.done or
                        replica_child.transport.signalProcess(signal.SIGCONT))
        rw.call(replica, "REPLICAOF", "127.0.0.1", master)
        yield wait_until(lambda: rw.replica_states(master) == ["wait_bgsave"] or
                         rw.replica_states(master) == ["send_bulk"], timeout=30,
                         what="the replica's sync to start")
        replica_child.transport.signalProcess(signal.SIGSTOP)
        written = yield deferToThread(rw.write_until_replicas_cut, master)
        self.assertEqual(rw.replica_states(master), [], f"not cut after {written} bytes")
        self.assertIn(BUFFER_LIMIT_LINE, rw.server_log(self.master_child))
        self.assertEqual(rw.call(master, "PING"), b"PONG")
        replica_child.transport.signalProcess(signal.SIGCONT)
        yield self.assert_same_data(master, replica)

    @defer.inlineCallbacks
    def test_wait(self):
        """WAIT 1 0 after a write returns 1 once the replica acked it; WAIT
        for more replicas than exist returns the count after its timeout."""
        master = yield self.start_master()
        _, replica = yield rw.start_replica(self, master)
        yield rw.wait_in_sync(master, replica)
        conn = rw.client(master, timeout=30)
        self.addCleanup(conn.close)
        conn.execute_command("SET", "k", "v")
        self.assertEqual(conn.execute_command("WAIT", 1, 0), 1)
        conn.execute_command("INCR", "n")
        self.assertEqual(conn.execute_command("WAIT", 2, 300), 1)
        self.assertEqual(rw.call(replica, "GET", "n"), b"1")

    @defer.inlineCallbacks
    def test_min_replicas_to_write(self):
        """min-replicas-to-write 2 with one good replica refuses writes with
        -NOREPLICAS (reads still served); 1 lets them through."""
        master = yield self.start_master()
        _, replica = yield rw.start_replica(self, master)
        yield rw.wait_in_sync(master, replica)
        conn = rw.client(master)
        self.addCleanup(conn.close)
        conn.execute_command("SET", "k", "before")
        conn.execute_command("CONFIG", "SET", "min-replicas-to-write", 2)
        with self.assertRaises(Exception) as caught:
            conn.execute_command("SET", "k", "refused")
        self.assertEqual(str(caught.exception), "NOREPLICAS Not enough good replicas to write.")
        self.assertEqual(conn.execute_command("GET", "k"), b"before")
        conn.execute_command("CONFIG", "SET", "min-replicas-to-write", 1)
        yield wait_until(lambda: rw.info(master, "replication").get(
            "min_slaves_good_slaves") == "1", timeout=10, what="one good replica")
        self.assertEqual(conn.execute_command("SET", "k", "accepted"), b"OK")
        yield rw.wait_in_sync(master, replica)
        self.assertEqual(rw.call(replica, "GET", "k"), b"accepted")

    # -- 5. bad input -----------------------------------------------------------------

    @defer.inlineCallbacks
    def assert_master_still_serves(self, master):
        """PING answers and a new real replica full-syncs to equal data."""
        self.assertEqual(rw.call(master, "PING"), b"PONG")
        _, replica = yield rw.start_replica(self, master)
        yield self.assert_same_data(master, replica)

    @defer.inlineCallbacks
    def test_psync_garbage_arguments(self):
        """PSYNC with a non-numeric offset is an integer error, with a
        garbage id a +FULLRESYNC, with no arguments an arity error; the
        master keeps serving."""
        master = yield self.start_master(("repl-diskless-sync", "no"))
        yield deferToThread(rw.fill, master, 200)

        def exchange(*args):
            raw = rw.RawReplica(master)
            try:
                raw.send(*args)
                return raw.read_line()
            finally:
                raw.close()

        line = yield deferToThread(exchange, "PSYNC", "abc", "xyz")
        self.assertEqual(line, b"-ERR value is not an integer or out of range")
        line = yield deferToThread(exchange, "PSYNC", "abc", "5")
        self.assertRegex(line, FULLRESYNC)
        line = yield deferToThread(exchange, "PSYNC", "?", "-7")
        self.assertRegex(line, FULLRESYNC)
        line = yield deferToThread(exchange, "PSYNC")
        self.assertEqual(line, b"-ERR wrong number of arguments for 'psync' command")
        line = yield deferToThread(exchange, "REPLCONF", "nonsense", "1")
        self.assertEqual(line, b"-ERR Unrecognized REPLCONF option: nonsense")
        yield self.assert_master_still_serves(master)

    @defer.inlineCallbacks
    def test_replconf_ack_not_a_number(self):
        """REPLCONF ACK with a non-number gets no reply from a normal client
        and is ignored from a replica, whose later numeric ACK counts."""
        master = yield self.start_master(("repl-diskless-sync", "no"))
        yield deferToThread(rw.fill, master, 200)

        def as_client():
            raw = rw.RawReplica(master)
            try:
                raw.send("REPLCONF", "ACK", "abc")
                raw.send("PING")
                return raw.read_line()
            finally:
                raw.close()

        self.assertEqual((yield deferToThread(as_client)), b"+PONG")

        raw = rw.RawReplica(master)
        self.addCleanup(raw.close)

        def sync():
            self.assertTrue(rw.replconf_handshake(raw, diskless=False))
            raw.send("PSYNC", "?", "-1")
            line = raw.read_line()
            raw.read_payload()
            return int(line.split()[2])

        offset = yield deferToThread(sync)
        raw.send("REPLCONF", "ACK", "not-a-number")
        raw.send("REPLCONF", "ACK", str(offset))
        yield wait_until(lambda: "offset=%d," % offset in
                         rw.info(master, "replication").get("slave0", ""),
                         timeout=10, what="the numeric ACK to count")
        self.assertEqual(rw.replica_states(master), ["online"])
        self.assertEqual(rw.call(master, "PING"), b"PONG")

    @defer.inlineCallbacks
    def test_sync_client_that_never_reads(self):
        """A SYNC client that never reads is cut by the replica output-buffer
        limit once writes pile up; other clients and replicas are unaffected."""
        master = yield self.start_master(
            ("repl-diskless-sync", "no"),
            ("client-output-buffer-limit", "replica 1mb 0 0"))
        yield deferToThread(rw.fill, master, 2000, 4000)   # an 8MB payload
        raw = yield deferToThread(rw.RawReplica, master, 4096)
        self.addCleanup(raw.close)
        raw.send("SYNC")
        yield wait_until(lambda: rw.replica_states(master) == ["send_bulk"] or
                         rw.replica_states(master) == ["online"], timeout=30,
                         what="the SYNC client to be sent the payload")
        written = yield deferToThread(rw.write_until_replicas_cut, master)
        self.assertEqual(rw.replica_states(master), [], f"not cut after {written} bytes")
        self.assertIn(BUFFER_LIMIT_LINE, rw.server_log(self.master_child))
        yield self.assert_master_still_serves(master)

    @defer.inlineCallbacks
    def test_replica_vanishes_mid_payload_disk(self):
        """A replica closing its socket a few bytes into a disk payload is
        dropped; the master serves the next replica normally."""
        master = yield self.start_master(("repl-diskless-sync", "no"))
        yield deferToThread(rw.build_dataset, master)

        def vanish():
            raw = rw.RawReplica(master)
            try:
                rw.replconf_handshake(raw, diskless=False)
                raw.send("PSYNC", "?", "-1")
                line = raw.read_line()
                raw.read_exact(20)
                return line
            finally:
                raw.close()

        self.assertRegex((yield deferToThread(vanish)), FULLRESYNC)
        yield wait_until(lambda: rw.replica_states(master) == [], timeout=30,
                         what="the vanished replica to be dropped")
        yield self.assert_master_still_serves(master)

    @defer.inlineCallbacks
    def test_replica_vanishes_mid_diskless_payload(self):
        """Of two replicas served by one diskless save, the one vanishing a
        few bytes into the payload is dropped and the other completes."""
        master = yield self.start_master(
            ("repl-diskless-sync", "yes"), ("repl-diskless-sync-delay", "3"))
        yield deferToThread(rw.build_dataset, master)
        before = rw.stats(master)
        raw = yield deferToThread(rw.RawReplica, master)
        self.addCleanup(raw.close)
        accepted = yield deferToThread(rw.replconf_handshake, raw, True)
        self.assertTrue(accepted)
        raw.send("PSYNC", "?", "-1")
        yield wait_until(lambda: rw.replica_states(master) == ["wait_bgsave"], timeout=10,
                         what="the raw replica waiting for the save")
        _, replica = yield rw.start_replica(self, master)

        def vanish():
            line = raw.read_line()
            raw.read_exact(60)
            raw.close()
            return line

        self.assertRegex((yield deferToThread(vanish)), FULLRESYNC)
        yield self.assert_same_data(master, replica)
        after = rw.stats(master)
        self.assertEqual(after["total_forks"], before["total_forks"] + 1)
        self.assertEqual(rw.replica_states(master), ["online"])


class RedisMasterTests(ReplicationInteropMixin, unittest.TestCase):
    """The tests against a real redis-server 7.0 master: they hold for Redis."""

    master_kind = rw.REDIS


class RedisreplMasterTests(ReplicationInteropMixin, unittest.TestCase):
    """The same tests against redisrepl as master."""

    master_kind = rw.REDISREPL
