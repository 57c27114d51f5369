"""The master side over loopback with a raw-socket replica: the handshake,
+FULLRESYNC, the stream byte for byte, ACKs, and a reconnect that gets
+CONTINUE and exactly the bytes it missed.

The full-sync payload here comes from a stand-in FullSync that encodes the
snapshot in-process (no fork): these tests are about the stream, not the
save (fullsync.py has its own).
"""

import os

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from tests.support import rawclient
from tests.support.inline_sync import InlineFullSync
from tests.support.inprocess import start_server
from tests.support.processes import start_redis_server
from tests.support.waiting import wait_until
from tests.support.wire import encode_command as resp


def info(raw):
    text = raw.decode() if isinstance(raw, bytes) else raw
    return dict(line.split(":", 1) for line in text.split("\r\n")
                if line and not line.startswith("#"))


def take(raw, count):
    """The first ``count`` bytes the replica received, removed from its buffer."""
    data = bytes(raw.buffer[:count])
    del raw.buffer[:count]
    return data


class MasterOverLoopback(unittest.TestCase):
    @defer.inlineCallbacks
    def setUp(self):
        self.server = start_server(self)
        self.instance = self.server.instance
        self.instance.repl.fullsync = InlineFullSync(self.instance)
        self.client = yield rawclient.connect(self, self.server.port)

    @defer.inlineCallbacks
    def handshake(self, capa=(b"eof", b"psync2"), port=7777):
        replica = yield rawclient.connect(self, self.server.port)
        reply = yield replica.request("REPLCONF", "listening-port", str(port))
        self.assertEqual(reply, b"+OK\r\n")
        for c in capa:
            reply = yield replica.request("REPLCONF", "capa", c)
            self.assertEqual(reply, b"+OK\r\n")
        return replica

    @defer.inlineCallbacks
    def received(self, replica, expected):
        """Wait for ``expected`` bytes and check they are exactly those."""
        yield wait_until(lambda: len(replica.buffer) >= len(expected),
                         what=f"{expected!r} on the replica link")
        self.assertEqual(take(replica, len(expected)), expected)
        self.assertEqual(bytes(replica.buffer), b"")

    @defer.inlineCallbacks
    def full_sync(self):
        """A replica through PSYNC ? -1; returns (raw replica, offset)."""
        replica = yield self.handshake()
        replica.send(resp(["PSYNC", "?", "-1"]))
        yield wait_until(lambda: b"\r\n" in replica.buffer and replica.buffer.startswith(
            b"+FULLRESYNC") and b"$" in replica.buffer, what="+FULLRESYNC and $<len>")
        line_end = replica.buffer.index(b"\r\n") + 2
        words = take(replica, line_end).split()
        self.assertEqual(words[1], self.instance.replid)
        offset = int(words[2])
        yield wait_until(lambda: replica.buffer.count(b"\r\n") >= 1, what="$<len>")
        header_end = replica.buffer.index(b"\r\n") + 2
        length = int(take(replica, header_end)[1:-2])
        yield wait_until(lambda: len(replica.buffer) >= length, what="the RDB payload")
        self.assertTrue(take(replica, length).startswith(b"REDIS0010"))
        return replica, offset

    @defer.inlineCallbacks
    def test_full_sync_then_the_stream_byte_for_byte(self):
        """PSYNC ? -1: +FULLRESYNC <replid> <offset>, the RDB, then writes
        arrive as SELECT + commands, MULTI/EXEC kept, offsets agreeing."""
        replica, offset = yield self.full_sync()
        yield self.client.request("SET", "k", "v")
        yield self.client.request("MULTI")
        yield self.client.request("INCR", "n")
        yield self.client.request("RPUSH", "l", "a")
        yield self.client.request("EXEC")
        expected = (resp(["SELECT", "0"]) + resp(["SET", "k", "v"]) + resp(["MULTI"])
                    + resp(["INCR", "n"]) + resp(["RPUSH", "l", "a"]) + resp(["EXEC"]))
        yield self.received(replica, expected)
        self.assertEqual(self.instance.master_repl_offset, offset + len(expected))

    @defer.inlineCallbacks
    def test_acks_show_in_info_and_role(self):
        """REPLCONF ACK (no reply) moves the replica's offset in INFO and ROLE;
        CLIENT LIST flags it S."""
        replica, offset = yield self.full_sync()
        replica.send(resp(["REPLCONF", "ACK", str(offset)]))
        link = self.instance.repl.links[0]
        yield wait_until(lambda: link.ack_time_ms and link.ack_offset == offset,
                         what="the ACK")
        fields = info((yield self.client.call("INFO", "replication")))
        self.assertEqual(fields["connected_slaves"], "1")
        self.assertEqual(fields["slave0"],
                         f"ip=127.0.0.1,port=7777,state=online,offset={offset},lag=0")
        self.assertEqual(fields["repl_backlog_active"], "1")
        role = yield self.client.call("ROLE")
        self.assertEqual(role, [b"master", self.instance.master_repl_offset,
                                [[b"127.0.0.1", b"7777", b"%d" % offset]]])
        clients = yield self.client.call("CLIENT", "LIST")
        self.assertIn(b"flags=S ", clients)
        self.assertEqual(bytes(replica.buffer), b"")     # no reply to ACK

    @defer.inlineCallbacks
    def test_reconnect_gets_continue_and_exactly_the_missed_bytes(self):
        """A replica that lost its link comes back with PSYNC <replid>
        <offset+1>: +CONTINUE <replid> and exactly what it missed."""
        replica, offset = yield self.full_sync()
        yield self.client.request("SET", "a", "1")
        yield self.received(replica, resp(["SELECT", "0"]) + resp(["SET", "a", "1"]))
        had = self.instance.master_repl_offset
        yield replica.disconnect()
        yield wait_until(lambda: not self.instance.repl.links, what="the link to go")
        yield self.client.request("SELECT", "5")
        yield self.client.request("SET", "b", "2")
        missed = resp(["SELECT", "5"]) + resp(["SET", "b", "2"])
        again = yield self.handshake()
        again.send(resp(["PSYNC", self.instance.replid.decode(), str(had + 1)]))
        yield self.received(again, b"+CONTINUE %s\r\n" % self.instance.replid + missed)
        self.assertEqual((self.instance.sync_full, self.instance.sync_partial_ok), (1, 1))
        yield self.client.request("SET", "c", "3")
        yield self.received(again, resp(["SET", "c", "3"]))

    @defer.inlineCallbacks
    def test_lost_replica_mid_stream_leaves_others_served(self):
        """One replica vanishing does not disturb another one's stream."""
        first, _ = yield self.full_sync()
        second, _ = yield self.full_sync()
        yield first.disconnect()
        yield wait_until(lambda: len(self.instance.repl.links) == 1, what="one link left")
        yield self.client.request("SET", "x", "y")
        yield self.received(second, resp(["SELECT", "0"]) + resp(["SET", "x", "y"]))


class RealReplicaOfInProcessMaster(unittest.TestCase):
    """A real redis-server 7.0 replica of an in-process redisrepl master
    (its FullSync forks for real): INFO on both sides, the stream, and a
    broken link resumed with +CONTINUE."""

    timeout = 120

    @defer.inlineCallbacks
    def start(self, config_text):
        # The save's dump lands in the working directory: the test's own.
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        cwd = os.getcwd()
        os.chdir(workdir)
        self.addCleanup(os.chdir, cwd)
        self.master = start_server(self, config_text)
        self.instance = self.master.instance
        self.client = yield rawclient.connect(self, self.master.port)
        for i in range(100):
            yield self.client.request("SET", f"key:{i}", f"value:{i}")
        yield self.client.request("RPUSH", "list", "a", "b", "c")
        self.replica, self.replica_port = yield start_redis_server(
            self, ["--replicaof", "127.0.0.1", str(self.master.port),
                   "--repl-diskless-load", "disabled"])
        self.replica_client = yield rawclient.connect(self, self.replica_port)

    @defer.inlineCallbacks
    def in_sync(self):
        """Wait until the replica's link is up and its offset is ours."""
        @defer.inlineCallbacks
        def check():
            fields = info((yield self.replica_client.call("INFO", "replication")))
            return (fields.get("master_link_status") == "up"
                    and int(fields["master_repl_offset"]) == self.instance.master_repl_offset
                    and fields)

        deadline = reactor.seconds() + 60
        while True:
            fields = yield check()
            if fields:
                return fields
            if reactor.seconds() > deadline:
                self.fail("the replica never caught up with the master")
            yield task.deferLater(reactor, 0.05, lambda: None)

    @defer.inlineCallbacks
    def check_replication(self):
        replica_info = yield self.in_sync()
        self.assertEqual(replica_info["role"], "slave")
        self.assertEqual(replica_info["master_replid"], self.instance.replid.decode())
        yield self.client.request("SELECT", "3")
        yield self.client.request("MULTI")
        yield self.client.request("INCRBYFLOAT", "f", "1.5")
        yield self.client.request("SADD", "s", "x", "y")
        yield self.client.request("EXEC")
        yield self.client.request("SELECT", "0")
        yield self.in_sync()
        size = yield self.replica_client.call("DBSIZE")
        self.assertEqual(size, 101)
        value = yield self.replica_client.call("LRANGE", "list", "0", "-1")
        self.assertEqual(value, [b"a", b"b", b"c"])
        yield self.replica_client.call("SELECT", "3")
        self.assertEqual((yield self.replica_client.call("GET", "f")), b"1.5")
        # Master side: the replica online at its listening port, acked.
        yield wait_until(lambda: self.instance.repl.links[0].ack_offset
                         == self.instance.master_repl_offset, what="the replica's ACK")
        fields = info((yield self.client.call("INFO", "replication")))
        self.assertEqual(fields["connected_slaves"], "1")
        self.assertRegex(fields["slave0"], "^ip=127.0.0.1,port=%d,state=online,offset=%d,lag=[01]$"
                         % (self.replica_port, self.instance.master_repl_offset))
        self.assertEqual(fields["repl_backlog_active"], "1")
        self.assertEqual(fields["repl_backlog_first_byte_offset"], "1")
        stats = info((yield self.client.call("INFO", "stats")))
        self.assertEqual((stats["sync_full"], stats["sync_partial_ok"]), ("1", "0"))

        # Break the link: the replica comes back with PSYNC and continues.
        killed = yield self.client.call("CLIENT", "KILL", "TYPE", "replica")
        self.assertEqual(killed, 1)
        yield self.client.request("SET", "after", "break")
        yield wait_until(lambda: self.instance.sync_partial_ok == 1, timeout=30,
                         what="the replica's partial resync")
        yield self.in_sync()
        self.assertEqual((yield self.replica_client.call("GET", "after")), None)  # db 3
        yield self.replica_client.call("SELECT", "0")
        self.assertEqual((yield self.replica_client.call("GET", "after")), b"break")
        self.assertEqual(self.instance.sync_full, 1)

    @defer.inlineCallbacks
    def test_disk_sync(self):
        """repl-diskless-sync no: the dump file is sent, then the stream."""
        yield self.start("repl-diskless-sync no\nsave \"\"")
        yield self.check_replication()

    @defer.inlineCallbacks
    def test_diskless_sync(self):
        """repl-diskless-sync yes: the RDB through the pipe, the stream after the ACK."""
        yield self.start("repl-diskless-sync yes\nrepl-diskless-sync-delay 0\nsave \"\"")
        yield self.check_replication()
