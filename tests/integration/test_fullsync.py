"""Full resyncs with real forks over loopback: raw-socket replicas check the
bytes (+FULLRESYNC, the payload framing, an RDB that decodes to the
server's data, the writes made during the save right after it); shared
saves, backpressure from a replica that stops reading, replicas vanishing
mid-payload; and real redis-server 7.0 replicas, disk and diskless.

The in-process server saves into the test's own directory (the process
cwd is the server's ``dir``).
"""

import os

from twisted.internet import defer, endpoints
from twisted.internet.protocol import Protocol
from twisted.trial import unittest

from redisrepl.rdb.decoder import Aux, Entry, RdbDecoder
from redisrepl.replication.link import transport_pending
from tests.support import rawclient, wire
from tests.support.forking import ForkingServerCase
from tests.support.inprocess import start_server
from tests.support.processes import start_redis_server
from tests.support.tools import require_tool
from tests.support.waiting import wait_until

MARK_SIZE = 40


class RawReplica(Protocol):
    """A replica made of bytes: it sends what a test tells it and keeps
    everything the master sends, unparsed."""

    def __init__(self):
        self.buffer = bytearray()
        self.closed = False

    def dataReceived(self, data):
        self.buffer += data

    def connectionLost(self, reason=None):
        self.closed = True

    def send(self, *commands):
        self.transport.write(b"".join(wire.encode_command(c) for c in commands))

    def sync(self):
        """What the master sent so far, split as a replica reads it, or None
        while the payload is incomplete."""
        return split_sync(bytes(self.buffer))


def split_sync(data):
    """(+FULLRESYNC line, framing, RDB bytes, what followed) or None if the
    payload has not fully arrived. Newline keepalives are skipped."""
    data = data.lstrip(b"\n")
    end = data.find(b"\r\n")
    if end < 0:
        return None
    line, rest = data[:end], data[end + 2:].lstrip(b"\n")
    end = rest.find(b"\r\n")
    if end < 0:
        return None
    head, body = rest[:end], rest[end + 2:]
    if head.startswith(b"$EOF:"):
        mark = head[5:]
        at = body.find(mark)
        if at < 0:
            return None
        return line, b"eof", body[:at], body[at + len(mark):]
    size = int(head[1:])
    if len(body) < size:
        return None
    return line, b"bulk", body[:size], body[size:]


def decode(rdb):
    decoder = RdbDecoder()
    events = decoder.feed(rdb) + decoder.close()
    entries = {(e.db, e.key): e.value for e in events if isinstance(e, Entry)}
    aux = {e.name: e.value for e in events if isinstance(e, Aux)}
    return entries, aux


def commands_in(stream):
    """The commands of a replication stream, PINGs left out."""
    replies, _used = wire.split_replies(bytearray(stream))
    commands = [wire.to_python(wire.parse_reply(r)[0]) for r in replies]
    return [c for c in commands if c != [b"PING"]]


def info(text):
    if isinstance(text, bytes):
        text = text.decode()
    return dict(line.split(":", 1) for line in text.split("\r\n")
                if line and not line.startswith("#"))


class FullSyncTests(ForkingServerCase):
    def start(self, config_text):
        return super().start('save ""\n' + config_text)

    @defer.inlineCallbacks
    def fill(self, count, size=0, prefix="key"):
        """``count`` string keys, pipelined, plus one key of each collection.
        With ``size``, values are that many random (incompressible) bytes."""
        commands = [("SET", f"{prefix}:{i}", os.urandom(size) if size else b"v")
                    for i in range(count)]
        commands += [("RPUSH", "list", "a", "b"), ("HSET", "hash", "f", "v"),
                     ("SADD", "set", "1", "2"), ("ZADD", "zset", "1", "m")]
        self.client.send(b"".join(wire.encode_command(c) for c in commands))
        yield self.client.read_replies(len(commands), timeout=60)

    @defer.inlineCallbacks
    def replica(self, *handshake):
        """A raw replica connection that has sent ``handshake`` commands."""
        from twisted.internet import reactor
        endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", self.server.port)
        replica = yield endpoints.connectProtocol(endpoint, RawReplica())
        self.addCleanup(lambda: replica.transport.abortConnection()
                        if not replica.closed else None)
        # One command at a time: PSYNC is refused while a reply is pending.
        for command in handshake:
            replica.send(command)
            if command[0] != "PSYNC":
                yield wait_until(lambda: replica.buffer.endswith(b"+OK\r\n"),
                                 what=f"{command[0]}'s reply")
                del replica.buffer[:]
        return replica

    def expected_entries(self, instance):
        return {(db.id, key) for db in instance.keyspace.dbs for key in db.data}

    @defer.inlineCallbacks
    def check_sync_with_writes_during_the_save(self, config_text, handshake, framing):
        instance = yield self.start(config_text + "rdb-key-save-delay 500\n")
        yield self.fill(1000)
        keys = self.expected_entries(instance)
        replica = yield self.replica(*handshake)
        yield wait_until(lambda: b"+FULLRESYNC" in replica.buffer, what="+FULLRESYNC")
        self.assertTrue(instance.persistence.bgsave_in_progress)
        yield self.client.call("SET", "during", "the-save")
        synced = yield wait_until(replica.sync, timeout=30, what="the whole payload")
        line, frame, rdb, _after = synced
        _tag, replid, offset = line.split()
        self.assertEqual(replid, instance.replid)
        self.assertEqual(frame, framing)
        entries, aux = decode(rdb)
        self.assertEqual(set(entries), keys)
        self.assertEqual(entries[(0, b"key:7")], b"v")
        self.assertEqual((aux[b"repl-id"], aux[b"repl-offset"]), (replid, offset))
        if framing == b"eof":
            # Diskless: online once the child is reaped, the stream held
            # until the replica's first ACK.
            yield wait_until(lambda: [link.state for link in instance.repl.links] ==
                             ["online"], what="the replica to be online")
            self.assertEqual(commands_in(replica.sync()[3]), [])
            replica.send(("REPLCONF", "ACK", offset))
        yield wait_until(lambda: [b"SET", b"during", b"the-save"] in
                         commands_in(replica.sync()[3]), what="the write made during the save")
        self.assertEqual(commands_in(replica.sync()[3])[:2],
                         [[b"SELECT", b"0"], [b"SET", b"during", b"the-save"]])
        self.assertEqual([link.state for link in instance.repl.links], ["online"])
        self.assertEqual(instance.total_forks, 1)

    def test_disk_sync_to_a_raw_replica(self):
        """Disk sync: +FULLRESYNC, $<len> + an RDB holding the data as of the fork
        (with its repl-id/offset), then the writes made during the save."""
        return self.check_sync_with_writes_during_the_save(
            "repl-diskless-sync no\n", [("PSYNC", "?", "-1")], b"bulk")

    def test_diskless_sync_to_a_raw_replica(self):
        """Diskless sync: $EOF:<mark> framing, the same RDB, then (after the first
        ACK) the writes made during the save."""
        return self.check_sync_with_writes_during_the_save(
            "repl-diskless-sync yes\nrepl-diskless-sync-delay 0\n",
            [("REPLCONF", "capa", "eof", "capa", "psync2"), ("PSYNC", "?", "-1")], b"eof")

    @defer.inlineCallbacks
    def test_replica_attaches_to_a_running_disk_save(self):
        """Two replicas arriving during one disk save share it: one fork, the
        same offset, the same RDB, the same stream."""
        instance = yield self.start("repl-diskless-sync no\nrdb-key-save-delay 1000\n")
        yield self.fill(500)
        first = yield self.replica(("PSYNC", "?", "-1"))
        yield wait_until(lambda: b"+FULLRESYNC" in first.buffer, what="+FULLRESYNC")
        yield self.client.call("SET", "between", "arrivals")
        second = yield self.replica(("PSYNC", "?", "-1"))
        yield wait_until(lambda: first.sync() and second.sync(), timeout=30,
                         what="both payloads")
        yield wait_until(lambda: all(link.state == "online" for link in instance.repl.links))
        a, b = first.sync(), second.sync()
        self.assertEqual(a[0], b[0])
        self.assertEqual(a[2], b[2])
        self.assertEqual(instance.total_forks, 1)
        self.assertIn([b"SET", b"between", b"arrivals"], commands_in(b[3]))

    @defer.inlineCallbacks
    def test_slow_diskless_replica_pauses_the_pipe_not_memory(self):
        """A replica that stops reading pauses the pipe (and so the child): the
        master buffers a bounded amount for it; once it reads, all complete."""
        instance = yield self.start("repl-diskless-sync yes\nrepl-diskless-sync-delay 1\n")
        yield self.fill(400, size=100_000)          # ~40 MB of payload
        handshake = [("REPLCONF", "capa", "eof"), ("PSYNC", "?", "-1")]
        slow = yield self.replica(*handshake)
        fast = yield self.replica(*handshake)
        yield wait_until(lambda: b"+FULLRESYNC" in slow.buffer, what="+FULLRESYNC")
        slow.transport.pauseProducing()                     # it stops reading
        fullsync = instance.repl.fullsync
        yield wait_until(lambda: fullsync.save is not None and fullsync.save.reader.paused,
                         timeout=30, what="the pipe reader to pause")
        slow_link = next(link for link in instance.repl.links
                         if link.client.conn.transport.producer is not None
                         and link.client.conn.transport.producer.paused_since is not None)
        pending = transport_pending(slow_link.client.conn.transport)
        self.assertLess(pending, 1024 * 1024)
        self.assertIsNone(fast.sync())                      # the pipe waits for everyone
        slow.transport.resumeProducing()
        yield wait_until(lambda: slow.sync() and fast.sync(), timeout=60,
                         what="both payloads")
        self.assertEqual(slow.sync()[2], fast.sync()[2])
        self.assertEqual(len(decode(fast.sync()[2])[0]), 404)
        self.assertEqual(instance.total_forks, 1)

    @defer.inlineCallbacks
    def test_slow_disk_replica_does_not_hold_the_others(self):
        """Disk sync: each replica pulls its own file; one not reading does not
        stop another from finishing, and its buffer stays bounded."""
        instance = yield self.start("repl-diskless-sync no\n")
        yield self.fill(300, size=100_000)
        slow = yield self.replica(("PSYNC", "?", "-1"))
        fast = yield self.replica(("PSYNC", "?", "-1"))
        slow.transport.pauseProducing()
        yield wait_until(fast.sync, timeout=60, what="the reading replica's payload")
        self.assertIsNone(slow.sync())
        for link in instance.repl.links:
            self.assertLess(transport_pending(link.client.conn.transport), 1024 * 1024)
        slow.transport.resumeProducing()
        yield wait_until(slow.sync, timeout=60, what="the slow replica's payload")
        self.assertEqual(slow.sync()[2], fast.sync()[2])

    @defer.inlineCallbacks
    def test_replica_vanishing_mid_payload_leaves_the_other_served(self):
        """Diskless: one replica closes mid-payload; the other completes."""
        instance = yield self.start("repl-diskless-sync yes\nrepl-diskless-sync-delay 1\n"
                                    "rdb-key-save-delay 2000\n")
        yield self.fill(1000)
        handshake = [("REPLCONF", "capa", "eof"), ("PSYNC", "?", "-1")]
        leaving = yield self.replica(*handshake)
        staying = yield self.replica(*handshake)
        yield wait_until(lambda: b"$EOF:" in leaving.buffer, timeout=30,
                         what="the payload to start")
        leaving.transport.abortConnection()
        yield wait_until(staying.sync, timeout=30, what="the remaining payload")
        self.assertEqual(len(decode(staying.sync()[2])[0]), 1004)
        yield wait_until(lambda: [link.state for link in instance.repl.links] == ["online"])

    @defer.inlineCallbacks
    def test_last_replica_vanishing_kills_the_child(self):
        """Diskless: the only replica goes away mid-payload: the child is killed
        and reaped, the pipe closed, and a new replica gets a new save."""
        instance = yield self.start("repl-diskless-sync yes\nrepl-diskless-sync-delay 0\n"
                                    "rdb-key-save-delay 5000\n")
        yield self.fill(1000)
        handshake = [("REPLCONF", "capa", "eof"), ("PSYNC", "?", "-1")]
        leaving = yield self.replica(*handshake)
        yield wait_until(lambda: b"$EOF:" in leaving.buffer, what="the payload to start")
        pid = instance.persistence.child.pid
        leaving.transport.abortConnection()
        yield wait_until(lambda: not instance.persistence.bgsave_in_progress, timeout=20,
                         what="the child to be killed and reaped")
        self.assertFalse(os.path.exists(f"/proc/{pid}"))
        self.assertIsNone(instance.repl.fullsync.save)
        yield self.client.call("CONFIG", "SET", "rdb-key-save-delay", "0")
        again = yield self.replica(*handshake)
        yield wait_until(again.sync, timeout=30, what="a new payload")
        self.assertEqual(instance.total_forks, 2)


class RealReplicaTests(unittest.TestCase):
    """redis-server 7.0 as a replica of an in-process redisrepl."""

    def setUp(self):
        require_tool()
        self.workdir = os.path.abspath(self.mktemp())
        os.makedirs(self.workdir)
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(self.workdir)

    @defer.inlineCallbacks
    def sync_real_replicas(self, config_text, count=1):
        server = start_server(self, 'save ""\n' + config_text)
        client = yield rawclient.connect(self, server.port)
        commands = [("SET", f"k{i}", f"v{i}") for i in range(200)]
        commands += [("RPUSH", "list", "a", "b", "c"), ("HSET", "hash", "f", "v"),
                     ("SADD", "set", "x", "y"), ("ZADD", "zset", "1.5", "m"),
                     ("SET", "ttl", "t", "EX", "1000"), ("SELECT", "3"), ("SET", "in3", "x")]
        client.send(b"".join(wire.encode_command(c) for c in commands))
        yield client.read_replies(len(commands))
        replicas = []
        for _ in range(count):
            _child, port = yield start_redis_server(
                self, ["--replicaof", "127.0.0.1", str(server.port),
                       "--repl-diskless-load", "disabled"])
            replicas.append((yield rawclient.connect(self, port)))

        @defer.inlineCallbacks
        def all_up():
            for replica in replicas:
                fields = info((yield replica.call("INFO", "replication")))
                if fields.get("master_link_status") != "up":
                    return False
            return True

        yield wait_until_deferred(all_up, what="every replica's link to be up")
        yield client.call("SELECT", "0")
        yield client.call("SET", "after", "sync")
        for replica in replicas:
            yield wait_until_deferred(lambda r=replica: r.call("GET", "after"),
                                      what="the stream to reach the replica")
            self.assertEqual((yield replica.call("DBSIZE")), 206)
            self.assertEqual((yield replica.call("GET", "k17")), b"v17")
            self.assertEqual((yield replica.call("LRANGE", "list", 0, -1)), [b"a", b"b", b"c"])
            self.assertEqual((yield replica.call("ZSCORE", "zset", "m")), b"1.5")
            self.assertGreater((yield replica.call("TTL", "ttl")), 900)
            yield replica.call("SELECT", "3")
            self.assertEqual((yield replica.call("GET", "in3")), b"x")
        return server

    @defer.inlineCallbacks
    def test_disk_sync_to_redis_server(self):
        """A real replica syncs from a disk save and follows the stream."""
        server = yield self.sync_real_replicas("repl-diskless-sync no\n")
        self.assertEqual(server.instance.total_forks, 1)

    @defer.inlineCallbacks
    def test_diskless_sync_to_redis_server(self):
        """A real replica syncs from a diskless save and follows the stream."""
        server = yield self.sync_real_replicas(
            "repl-diskless-sync yes\nrepl-diskless-sync-delay 0\n")
        self.assertEqual(server.instance.total_forks, 1)

    @defer.inlineCallbacks
    def test_two_real_replicas_share_one_diskless_save(self):
        """Two replicas arriving within the diskless delay share one fork."""
        server = yield self.sync_real_replicas(
            "repl-diskless-sync yes\nrepl-diskless-sync-delay 3\n", count=2)
        self.assertEqual(server.instance.total_forks, 1)


@defer.inlineCallbacks
def wait_until_deferred(predicate, timeout=30.0, interval=0.05, what=None):
    """wait_until for a predicate returning a Deferred."""
    from twisted.internet import reactor, task
    deadline = reactor.seconds() + timeout
    while True:
        result = yield predicate()
        if result:
            return result
        if reactor.seconds() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        yield task.deferLater(reactor, interval, lambda: None)
