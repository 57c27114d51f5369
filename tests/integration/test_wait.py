"""WAIT and min-replicas-to-write with a real redis-server 7.0 replica of an
in-process redisrepl master, over loopback: the replica's REPLCONF ACKs
answer WAIT, and its silence (SIGSTOP) closes the min-replicas gate."""

import os
import shutil
import signal

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from tests.support import rawclient
from tests.support.inprocess import start_server
from tests.support.processes import start_redis_server
from tests.support.waiting import wait_until
from tests.support.wire import encode_command as resp

NOREPLICAS = b"-NOREPLICAS Not enough good replicas to write.\r\n"


def info(raw):
    text = raw.decode() if isinstance(raw, bytes) else raw
    return dict(line.split(":", 1) for line in text.split("\r\n")
                if line and not line.startswith("#"))


class WaitWithARealReplica(unittest.TestCase):
    timeout = 120

    @defer.inlineCallbacks
    def setUp(self):
        if shutil.which("redis-server") is None:
            raise unittest.SkipTest("redis-server is not on PATH")
        # A disk sync's dump lands in the working directory: the test's own.
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        cwd = os.getcwd()
        os.chdir(workdir)
        self.addCleanup(os.chdir, cwd)
        self.master = start_server(self, 'save ""\nrepl-diskless-sync-delay 0\n')
        self.instance = self.master.instance
        self.client = yield rawclient.connect(self, self.master.port)
        self.replica, replica_port = yield start_redis_server(
            self, ["--replicaof", "127.0.0.1", str(self.master.port),
                   "--repl-diskless-load", "disabled"])
        self.addCleanup(self.resume_replica)
        self.replica_client = yield rawclient.connect(self, replica_port)
        yield self.in_sync()

    def resume_replica(self):
        if not self.replica.done:
            self.replica.transport.signalProcess(signal.SIGCONT)

    @defer.inlineCallbacks
    def in_sync(self):
        """Until the replica's link is up, its offset is ours, and the
        master counts it online."""
        deadline = reactor.seconds() + 60
        while True:
            fields = info((yield self.replica_client.call("INFO", "replication")))
            links = self.instance.repl.links
            if (fields.get("master_link_status") == "up"
                    and int(fields["master_repl_offset"]) == self.instance.master_repl_offset
                    and [link.state for link in links] == ["online"]):
                return
            if reactor.seconds() > deadline:
                self.fail(f"the replica never caught up: {fields}")
            yield task.deferLater(reactor, 0.05, lambda: None)

    @defer.inlineCallbacks
    def test_wait_one_returns_one_once_the_replica_acked_the_write(self):
        """SET then WAIT 1 0: answered 1, and the replica holds the write."""
        yield self.client.request("SET", "k", "v")
        self.assertEqual((yield self.client.request("WAIT", "1", "0")), b":1\r\n")
        self.assertEqual((yield self.replica_client.call("GET", "k")), b"v")

    @defer.inlineCallbacks
    def test_wait_for_two_with_one_replica_times_out_with_one(self):
        """WAIT 2 100 with a single replica answers 1 once 100 ms passed."""
        yield self.client.request("INCR", "n")
        self.assertEqual((yield self.client.request("WAIT", "2", "100")), b":1\r\n")
        self.assertEqual(len(self.instance.blocking), 0)

    @defer.inlineCallbacks
    def test_a_pipeline_goes_on_after_a_blocked_wait(self):
        """Commands pipelined behind a blocking WAIT run after its answer."""
        self.client.send(resp(["SET", "k", "1"]) + resp(["WAIT", "1", "0"])
                         + resp(["INCR", "k"]))
        replies = yield self.client.read_replies(3)
        self.assertEqual(replies, [b"+OK\r\n", b":1\r\n", b":2\r\n"])

    @defer.inlineCallbacks
    def test_wait_on_a_stopped_replica_times_out_with_zero(self):
        """A SIGSTOPped replica acks nothing: WAIT 1 200 answers 0; once it
        runs again, WAIT 1 0 answers 1."""
        self.replica.transport.signalProcess(signal.SIGSTOP)
        yield self.client.request("SET", "k", "v")
        self.assertEqual((yield self.client.request("WAIT", "1", "200")), b":0\r\n")
        self.replica.transport.signalProcess(signal.SIGCONT)
        self.assertEqual((yield self.client.request("WAIT", "1", "0", timeout=30)),
                         b":1\r\n")

    @defer.inlineCallbacks
    def test_min_replicas_to_write_two_refuses_and_one_accepts(self):
        """min-replicas-to-write 2 with one replica: NOREPLICAS for writes,
        reads served; 1 lets writes through to the replica."""
        yield self.client.request("SET", "k", "before")
        yield self.client.request("CONFIG", "SET", "min-replicas-to-write", "2")
        self.assertEqual((yield self.client.request("SET", "k", "refused")), NOREPLICAS)
        self.assertEqual((yield self.client.call("GET", "k")), b"before")
        fields = info((yield self.client.call("INFO", "replication")))
        self.assertEqual(fields["min_slaves_good_slaves"], "1")
        yield self.client.request("CONFIG", "SET", "min-replicas-to-write", "1")
        self.assertEqual((yield self.client.request("SET", "k", "accepted")), b"+OK\r\n")
        yield self.in_sync()
        self.assertEqual((yield self.replica_client.call("GET", "k")), b"accepted")

    @defer.inlineCallbacks
    def test_a_stopped_replica_stops_writes_after_max_lag(self):
        """min-replicas-max-lag 2: once the replica stops acking (SIGSTOP)
        writes are refused within seconds; when it acks again they pass."""
        yield self.client.request("CONFIG", "SET", "min-replicas-max-lag", "2")
        yield self.client.request("CONFIG", "SET", "min-replicas-to-write", "1")
        self.assertEqual((yield self.client.request("SET", "k", "1")), b"+OK\r\n")
        self.replica.transport.signalProcess(signal.SIGSTOP)
        yield wait_until(lambda: self.instance.min_replicas_error is not None,
                         timeout=15, what="the stopped replica to stop counting")
        self.assertEqual((yield self.client.request("SET", "k", "2")), NOREPLICAS)
        self.assertEqual((yield self.client.call("GET", "k")), b"1")
        self.replica.transport.signalProcess(signal.SIGCONT)
        yield wait_until(lambda: self.instance.min_replicas_error is None,
                         timeout=15, what="the resumed replica to count again")
        self.assertEqual((yield self.client.request("SET", "k", "3")), b"+OK\r\n")
