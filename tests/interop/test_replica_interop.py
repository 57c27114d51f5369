"""redisrepl as the REPLICA of a real redis-server 7.0 master (issue 6):
full sync (disk and diskless master, disk and socket load), the stream,
ACKs and WAIT, links broken under write load, a restart with SHUTDOWN
SAVE, promotion with the real old master re-pointed at us, and the
replies and INFO a client sees, each compared with a real replica of the
same master. Helpers are in tests/interop/replication_workload.py.
"""


from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.interop import replication_workload as rw
from tests.support.tools import require_tool
from tests.support.waiting import wait_until

PARTIAL_LINE = "Successful partial resynchronization with master"
READONLY = b"-READONLY You can't write against a read only replica.\r\n"
MASTERDOWN = (b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data "
              b"is set to 'no'.\r\n")
ALREADY_CONNECTED = b"+OK Already connected to specified master\r\n"
# INFO replication values that are clocks, not state: may differ by a tick.
CLOCK_FIELDS = {"master_last_io_seconds_ago", "master_link_down_since_seconds"}


def _link_up(port):
    try:
        return rw.info(port, "replication").get("master_link_status") == "up"
    except Exception:       # still starting or loading: not up yet
        return False


def _link_down(port):
    return rw.info(port, "replication").get("master_link_status") == "down"


def _resynced(master, before):
    """The master counts one more sync (full or partial) than ``before``
    and its one replica online again."""
    now = rw.stats(master)
    return rw.replica_states(master) == ["online"] and (
        now["sync_full"] + now["sync_partial_ok"] >
        before["sync_full"] + before["sync_partial_ok"])


def _kill_clients(port, kind):
    """CLIENT KILL TYPE ``kind`` on ``port``: how many were killed."""
    return rw.call(port, "CLIENT", "KILL", "TYPE", kind)


class _ExactStringsLoad(rw.WriteLoad):
    """WriteLoad without INCRBYFLOAT, whose results Redis itself stores
    with another encoding on its replicas (see rw.snapshot_differences):
    the data must then be equal encodings included."""

    def one_command(self):
        command = super().one_command()
        return ("SET", command[1], "1.5") if command[0] == "INCRBYFLOAT" else command


class ReplicaInteropTests(unittest.TestCase):
    """A redisrepl replica against a real redis-server 7.0 master."""

    timeout = 180

    def setUp(self):
        require_tool()

    # -- plumbing ---------------------------------------------------------------

    @defer.inlineCallbacks
    def start_master(self, *directives):
        self.master_child, port = yield rw.start_master(
            self, rw.REDIS, [("repl-diskless-sync-delay", "0"), *directives])
        return port

    @defer.inlineCallbacks
    def assert_same_data(self, master, replica, strict_strings=False, reloaded=False):
        """Offsets equal, every expiry's DEL through, then key by key (see
        rw.snapshot_differences and rw.reloaded_snapshot_differences)."""
        yield rw.wait_in_sync(master, replica, timeout=60)
        yield wait_until(lambda: rw.same_keyspace(master, replica), timeout=30,
                         what="INFO keyspace equal on master and replica")
        if reloaded:
            found = yield deferToThread(rw.reloaded_snapshot_differences, master, replica)
        else:
            found = yield deferToThread(rw.snapshot_differences, master, replica,
                                        strict_strings)
        if found:
            self.fail("the replica holds different data:\n    " + "\n    ".join(found))

    @defer.inlineCallbacks
    def run_workload(self, master, rounds, seed):
        """MixedWorkload rounds, then the short-TTL keys expired and deleted
        on the master: no DEL of theirs can enter the stream later."""
        workload = rw.MixedWorkload(master, seed=seed)
        try:
            yield deferToThread(workload.run, rounds)
        finally:
            workload.close()
        yield wait_until(lambda: rw.short_ttl_keys_gone(master), timeout=30,
                         what="the short-TTL keys to expire on the master")

    @defer.inlineCallbacks
    def synced_pair(self, master_directives=(), replica_directives=()):
        """A real master with a little data and a redisrepl replica in sync:
        (master, replica child, replica port)."""
        master = yield self.start_master(*master_directives)
        yield deferToThread(rw.fill, master, 200)
        child, replica = yield rw.start_redisrepl_replica(self, master, replica_directives)
        yield rw.wait_in_sync(master, replica, timeout=60)
        return master, child, replica

    # -- 1. full sync, then the stream ------------------------------------------------

    @defer.inlineCallbacks
    def full_sync(self, diskless, load):
        master = yield self.start_master(("repl-diskless-sync", "yes" if diskless else "no"))
        yield deferToThread(rw.build_dataset, master)
        before = rw.stats(master)
        # A dataset of its own first: the sync must replace it entirely.
        child, replica = yield rw.start_redisrepl_replica(
            self, None, [("repl-diskless-load", load)])
        yield deferToThread(rw.fill, replica, 300, prefix=b"own:")
        self.assertEqual(rw.call(replica, "SET", "hash:listpack", "own"), b"OK")
        # Writes all through the sync: kept by the master for the replica,
        # they arrive behind the payload and while the dataset loads.
        writes = _ExactStringsLoad(master, seed=3)
        writes.start()
        try:
            self.assertEqual(rw.call(replica, "REPLICAOF", "127.0.0.1", master), b"OK")
            yield wait_until(lambda: _link_up(replica), timeout=60,
                             what="the replica's first sync to end")
        finally:
            written = writes.stop()
        self.assertTrue(written)
        yield self.assert_same_data(master, replica, strict_strings=True)
        self.assertEqual(rw.call(replica, "EXISTS", "own:1"), 0)
        after = rw.stats(master)
        self.assertEqual(after["sync_full"], before["sync_full"] + 1)
        log = rw.server_log(child)
        self.assertEqual(log.count("receiving streamed RDB from master"), int(diskless), log)

        yield self.run_workload(master, 30, seed=7)
        yield self.assert_same_data(master, replica)
        self.assertEqual(rw.stats(master)["sync_full"], before["sync_full"] + 1)

        # The master lists us (by our listening port) online, at the offset
        # it had (or past it, should a PING have followed): ACKs work; WAIT
        # counts us.
        offset = int(rw.info(master, "replication")["master_repl_offset"])
        yield wait_until(lambda: (rw.acked_offset(master, replica) or 0) >= offset,
                         timeout=10, what="the master to see the replica's ACK of its offset")
        conn = rw.client(master, timeout=30)
        self.addCleanup(conn.close)
        conn.execute_command("SET", "after-workload", "1")
        self.assertEqual(conn.execute_command("WAIT", 1, 0), 1)
        self.assertEqual(rw.call(replica, "GET", "after-workload"), b"1")

    def test_full_sync_disk_master_disk_load(self):
        """Disk-based sync, repl-diskless-load disabled: every type and
        encoding replaces the replica's own data, then the mixed workload,
        equal key by key; ACKs and WAIT."""
        return self.full_sync(diskless=False, load="disabled")

    def test_full_sync_disk_master_swapdb_load(self):
        """Disk-based sync loaded from the socket (swapdb): equal data."""
        return self.full_sync(diskless=False, load="swapdb")

    def test_full_sync_diskless_master_disk_load(self):
        """Diskless ($EOF:) sync into a temp file: equal data."""
        return self.full_sync(diskless=True, load="disabled")

    def test_full_sync_diskless_master_swapdb_load(self):
        """Diskless ($EOF:) sync loaded from the socket: equal data."""
        return self.full_sync(diskless=True, load="swapdb")

    # -- 2. links broken under write load -----------------------------------------------

    @defer.inlineCallbacks
    def test_broken_links_resync_partially(self):
        """The master link killed on the replica (CLIENT KILL TYPE master)
        and the replica killed on the master (TYPE replica), both under
        write load: each time +CONTINUE (sync_partial_ok grows, sync_full
        does not), and the data ends equal."""
        master, child, replica = yield self.synced_pair(
            master_directives=[("repl-backlog-size", "100mb")])
        loads = [rw.WriteLoad(master, seed) for seed in (1, 2)]
        for load in loads:
            load.start()
        try:
            yield wait_until(lambda: rw.call(master, "DBSIZE", db=9) > 100, timeout=30,
                             what="the write load to reach the master")
            for port, kind in ((replica, "master"), (master, "replica"),
                               (replica, "master")):
                before = rw.stats(master)
                partial_lines = rw.server_log(child).count(PARTIAL_LINE)
                self.assertEqual(_kill_clients(port, kind), 1)
                yield wait_until(lambda b=before: _resynced(master, b), timeout=30,
                                 what=f"the replica to reconnect after TYPE {kind}")
                after = rw.stats(master)
                self.assertEqual(after["sync_partial_ok"], before["sync_partial_ok"] + 1)
                self.assertEqual(after["sync_full"], before["sync_full"])
                self.assertEqual(rw.server_log(child).count(PARTIAL_LINE), partial_lines + 1)
        finally:
            written = [load.stop() for load in loads]
        self.assertTrue(all(written))
        yield self.assert_same_data(master, replica)

    # -- 3. restart with SHUTDOWN SAVE ------------------------------------------------------

    @defer.inlineCallbacks
    def test_restart_after_shutdown_save_continues(self):
        """A replica stopped with SHUTDOWN SAVE and started again on its dump
        asks PSYNC with the saved id and offset and gets +CONTINUE, also for
        the writes made while it was down; the data ends equal."""
        master, child, replica = yield self.synced_pair(
            replica_directives=[("save", "3600 1")])
        yield self.run_workload(master, 10, seed=11)
        yield rw.wait_in_sync(master, replica)
        before = rw.stats(master)

        with self.assertRaises(ConnectionError):
            yield deferToThread(rw.raw_reply, replica, "SHUTDOWN", "SAVE")
        yield child.wait_ended()
        self.assertEqual(child.exit_code, 0, rw.server_log(child))
        yield wait_until(lambda: rw.replica_states(master) == [], timeout=10,
                         what="the master to drop the stopped replica")
        rw.call(master, "SET", "written-while-down", "yes")
        rw.call(master, "RPUSH", "list-while-down", "a", "b", db=3)

        child = yield rw.restart_daemon(self, child, replica)
        yield wait_until(lambda: _resynced(master, before), timeout=30,
                         what="the restarted replica to resync")
        after = rw.stats(master)
        self.assertEqual(after["sync_partial_ok"], before["sync_partial_ok"] + 1)
        self.assertEqual(after["sync_full"], before["sync_full"])
        self.assertIn(PARTIAL_LINE, rw.server_log(child))
        yield self.assert_same_data(master, replica, reloaded=True)
        self.assertEqual(rw.call(replica, "GET", "written-while-down"), b"yes")

    # -- 4. promotion: the real old master follows us ----------------------------------------

    @defer.inlineCallbacks
    def test_promoted_replica_takes_old_master_partially(self):
        """REPLICAOF NO ONE on the redisrepl replica, then REPLICAOF it on the
        real old master: that one continues partially (its log says so, our
        sync_partial_ok is 1, no full sync), and our writes reach it."""
        # No PING may move the old master past what we hold before it
        # follows us: it would ask for bytes we never had.
        master, child, replica = yield self.synced_pair(
            master_directives=[("repl-ping-replica-period", "3600")])
        yield self.run_workload(master, 5, seed=13)
        yield rw.wait_in_sync(master, replica)
        old_id = rw.info(replica, "replication")["master_replid"]

        self.assertEqual(rw.call(replica, "REPLICAOF", "NO", "ONE"), b"OK")
        promoted = rw.info(replica, "replication")
        self.assertEqual(promoted["role"], "master")
        self.assertEqual(promoted["master_replid2"], old_id)
        self.assertEqual(int(promoted["second_repl_offset"]),
                         int(promoted["master_repl_offset"]) + 1)
        self.assertEqual(rw.call(replica, "SET", "by-new-master", "1"), b"OK")

        self.assertEqual(rw.call(master, "REPLICAOF", "127.0.0.1", replica), b"OK")
        yield rw.wait_in_sync(replica, master, timeout=60)
        self.assertIn("Successful partial resynchronization with master",
                      rw.server_log(self.master_child))
        self.assertNotIn("Full resync from master", rw.server_log(self.master_child))
        ours = rw.stats(replica)
        self.assertEqual((ours["sync_partial_ok"], ours["sync_full"]), (1, 0))
        self.assertEqual(rw.info(master, "replication")["master_replid"],
                         promoted["master_replid"])

        yield self.run_workload(replica, 5, seed=17)
        self.assertEqual(rw.call(master, "GET", "by-new-master"), b"1")
        yield self.assert_same_data(replica, master)

    # -- 5. what clients see, beside a real replica -------------------------------------------

    @defer.inlineCallbacks
    def test_replies_match_a_real_replica(self):
        """-READONLY for writes, +OK Already connected for a repeated
        REPLICAOF, and with replica-serve-stale-data no and the master down
        -MASTERDOWN for data commands while INFO still answers: byte for
        byte what a real replica of the same master replies."""
        master = yield self.start_master()
        rw.call(master, "SET", "k", "v")
        stale = [("replica-serve-stale-data", "no")]
        _, ours = yield rw.start_redisrepl_replica(self, master, stale)
        _, real = yield rw.start_replica(
            self, master, [arg for name, value in stale for arg in (f"--{name}", value)])
        yield rw.wait_in_sync(master, ours, real)

        def both(*args):
            mine, theirs = rw.raw_reply(ours, *args), rw.raw_reply(real, *args)
            self.assertEqual(mine, theirs, f"{args}: redisrepl {mine!r}, redis {theirs!r}")
            return mine

        self.assertEqual(both("SET", "k", "w"), READONLY)
        self.assertEqual(both("DEL", "k"), READONLY)
        self.assertEqual(both("GET", "k"), b"$1\r\nv\r\n")
        transaction = (("MULTI",), ("SET", "k", "w"), ("GET", "k"), ("EXEC",))
        mine, theirs = rw.raw_replies(ours, *transaction), rw.raw_replies(real, *transaction)
        self.assertEqual(mine, theirs)
        self.assertEqual(mine[1], READONLY)
        for command in ("REPLICAOF", "SLAVEOF"):
            self.assertEqual(both(command, "127.0.0.1", master), ALREADY_CONNECTED)
        yield rw.wait_in_sync(master, ours, real)

        yield self.master_child.stop()
        yield wait_until(lambda: _link_down(ours) and _link_down(real), timeout=30,
                         what="both replicas to see their master gone")
        self.assertEqual(both("GET", "k"), MASTERDOWN)
        self.assertEqual(both("DBSIZE"), MASTERDOWN)
        self.assertEqual(both("PING"), MASTERDOWN)
        self.assertEqual(both("SET", "k", "w"), READONLY)
        self.assertEqual(both("ECHO", "x"), b"$1\r\nx\r\n")
        self.assertEqual(both("CONFIG", "GET", "replica-serve-stale-data"),
                         b"*2\r\n$24\r\nreplica-serve-stale-data\r\n$2\r\nno\r\n")
        self.assertEqual(both("REPLICAOF", "127.0.0.1", master), ALREADY_CONNECTED)
        self.assertTrue(rw.raw_reply(ours, "INFO", "replication").startswith(b"$"))
        self.assertEqual(rw.call(ours, "CONFIG", "SET", "replica-serve-stale-data", "yes"),
                         b"OK")
        self.assertEqual(rw.call(ours, "GET", "k"), b"v")

    # -- 6. INFO replication, beside a real replica ---------------------------------------------

    @defer.inlineCallbacks
    def test_info_replication_matches_a_real_replica(self):
        """INFO replication on a redisrepl replica has a real replica's fields
        in the same order: while both load one slow diskless transfer, once
        in sync (then with the same values: ids, offsets, backlog), and with
        the master gone."""
        # One transfer for both (diskless delay 1 s), slowed by the save's
        # per-key delay; no PINGs into the stream: both at the same offset.
        master = yield self.start_master(
            ("repl-ping-replica-period", "3600"), ("repl-diskless-sync", "yes"),
            ("repl-diskless-sync-delay", "1"), ("rdb-key-save-delay", "100000"))
        yield deferToThread(rw.fill, master, 20)
        _, real = yield rw.start_replica(self)
        _, ours = yield rw.start_redisrepl_replica(self)
        for port in (real, ours):
            rw.call(port, "REPLICAOF", "127.0.0.1", master)

        def compare(exclude):
            mine, theirs = rw.info_lines(ours, "replication"), \
                rw.info_lines(real, "replication")
            self.assertEqual([name for name, _ in mine], [name for name, _ in theirs])
            self.assertEqual([f for f in mine if f[0] not in exclude],
                             [f for f in theirs if f[0] not in exclude])

        def transferring(port):
            return rw.info(port, "replication").get("master_sync_in_progress") == "1"

        yield wait_until(lambda: transferring(ours) and transferring(real), timeout=30,
                         what="both replicas in the middle of the transfer")
        # Each replica's own id until the sync ends; the bytes read so far
        # depend on when each looks.
        compare(CLOCK_FIELDS | {"master_replid", "master_sync_read_bytes",
                                "master_sync_perc", "master_sync_last_io_seconds_ago"})
        rw.call(master, "CONFIG", "SET", "rdb-key-save-delay", "0")
        yield rw.wait_in_sync(master, ours, real)
        yield self.run_workload(master, 3, seed=19)
        yield rw.wait_in_sync(master, ours, real)
        compare(CLOCK_FIELDS)

        yield self.master_child.stop()
        yield wait_until(lambda: _link_down(ours) and _link_down(real), timeout=30,
                         what="both replicas to see their master gone")
        compare(CLOCK_FIELDS)
