"""A redisrepl master restarted from its dump keeps its replication
history (the dump's repl-id / repl-offset become its replid2 and
second_repl_offset), so a real redis-server 7.0 replica of it continues
with a partial resync instead of copying the whole dataset again.
"""

import redis
from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.interop import replication_workload as rw
from tests.interop.test_replication_interop import PARTIAL_LINE
from tests.support.processes import daemon_env, redisrepl_argv, spawn, start_daemon, wait_listening
from tests.support.tools import require_tool
from tests.support.waiting import wait_until


class MasterRestartTests(unittest.TestCase):
    timeout = 120

    def setUp(self):
        require_tool()

    @defer.inlineCallbacks
    def restart(self, child, port):
        """SHUTDOWN SAVE, then the same config in the same directory."""
        try:
            rw.call(port, "SHUTDOWN", "SAVE")
        except redis.ConnectionError:
            pass   # the server closes the connection as it exits
        yield child.wait_ended(30)
        self.assertEqual(child.exit_code, 0, child.output.decode(errors="replace"))
        again = spawn(self, redisrepl_argv(child.config_path), env=daemon_env(),
                      cwd=child.workdir)
        again.workdir, again.config_path = child.workdir, child.config_path
        yield wait_listening(again, port)
        return again

    @defer.inlineCallbacks
    def test_restarted_master_serves_a_partial_resync(self):
        """After SHUTDOWN SAVE and a restart, the master's replid2 is its old
        replid valid up to its old offset + 1, and its real replica comes
        back with +CONTINUE (sync_partial_ok 1, no full sync), then follows
        new writes."""
        child, master, _ = yield start_daemon(
            self, config_text='save ""\nrepl-diskless-sync-delay 0\nlogfile redis.log\n')
        replica_child, replica = yield rw.start_replica(self, master)
        yield deferToThread(rw.fill, master, 500)
        yield rw.wait_in_sync(master, replica)
        before = rw.info(master, "replication")

        child = yield self.restart(child, master)
        after = rw.info(master, "replication")
        self.assertEqual(after["master_replid2"], before["master_replid"])
        self.assertNotEqual(after["master_replid"], before["master_replid"])
        self.assertEqual(int(after["second_repl_offset"]),
                         int(before["master_repl_offset"]) + 1)
        self.assertEqual(after["master_repl_offset"], before["master_repl_offset"])

        yield wait_until(lambda: rw.replica_states(master) == ["online"], timeout=60,
                         what="the real replica back online")
        counters = rw.stats(master)
        self.assertEqual((counters["sync_partial_ok"], counters["sync_full"]), (1, 0))
        self.assertIn(PARTIAL_LINE, rw.server_log(replica_child))
        self.assertEqual(rw.info(replica, "replication")["master_replid"],
                         after["master_replid"])

        rw.call(master, "SET", b"after-restart", b"yes")
        yield rw.wait_in_sync(master, replica)
        self.assertEqual(rw.call(replica, "GET", b"after-restart"), b"yes")
        self.assertEqual(rw.call(replica, "DBSIZE"), rw.call(master, "DBSIZE"))
