"""A redisrepl replica (in-process, real loopback sockets) against masters
that misbehave: a corrupt RDB, a truncated RDB then a close, garbage
instead of +FULLRESYNC, a wrong $EOF: mark then silence, silence after
+FULLRESYNC. Each must end with a log line saying what went wrong, the old
data answering GET all along, and a new attempt (a new PSYNC) at the
master. The master is a small Twisted server written here."""

import hiredis
from twisted.internet import defer, reactor, task
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial import unittest

from tests.support import rawclient
from tests.support.inprocess import start_server
from tests.support.waiting import wait_until
from tests.support.wire import encode_command

MASTER_ID = b"c0ffee" + b"0" * 34
MARK = b"9f3c1a7e5b2d48c6a0e1f7b3d5c9284a6e0b1f3d"
WRONG_MARK = b"f" * 40
# A complete RDB holding nothing (checksum 0: the writer skipped it).
EMPTY_RDB = b"REDIS0010" + b"\xff" + b"\0" * 8
# A valid header, SELECTDB 0, then a value type no Redis has (0x77).
CORRUPT_RDB = b"REDIS0010" + b"\xfe\x00" + b"\x77\x03key\x03val" + b"\xff" + b"\0" * 8


class FakeMasterConnection(Protocol):
    """Answers the handshake like a master, then does what the scenario says
    on PSYNC (and on the SYNC a replica falls back to)."""

    def connectionMade(self):
        self.buffer = b""
        self.factory.connections.append(self)

    def dataReceived(self, data):
        self.buffer += data
        while (argv := self._next_command()) is not None:
            self._command(argv)

    def _next_command(self):
        """A multibulk command, or an inline one (the fallback SYNC); the
        replica's keepalive newlines are skipped."""
        self.buffer = self.buffer.lstrip(b"\r\n")
        if not self.buffer:
            return None
        if self.buffer.startswith(b"*"):
            reader = hiredis.Reader()
            reader.feed(self.buffer)
            argv = reader.gets()
            if argv is False:
                return None
            self.buffer = self.buffer[len(encode_command(argv)):]
            return argv
        line, newline, rest = self.buffer.partition(b"\n")
        if not newline:
            return None
        self.buffer = rest
        return line.strip().split()

    def _command(self, argv):
        name = argv[0].upper()
        self.factory.commands.append(argv)
        if name == b"PING":
            self.transport.write(b"+PONG\r\n")
        elif name == b"REPLCONF" and argv[1].upper() != b"ACK":
            self.transport.write(b"+OK\r\n")
        elif name in (b"PSYNC", b"SYNC"):
            self.factory.on_sync(self, name)


class FakeMaster(Factory):
    protocol = FakeMasterConnection

    def __init__(self, on_sync):
        self.on_sync = on_sync
        self.connections = []
        self.commands = []

    @property
    def psyncs(self):
        return [argv for argv in self.commands if argv[0].upper() == b"PSYNC"]


def full_resync(offset=0):
    return b"+FULLRESYNC %s %d\r\n" % (MASTER_ID, offset)


# What each misbehaving master does when asked to sync.

def sends_corrupt_rdb(conn, name):
    conn.transport.write(full_resync() + b"$%d\r\n" % len(CORRUPT_RDB) + CORRUPT_RDB)


def sends_truncated_rdb_then_closes(conn, name):
    conn.transport.write(full_resync() + b"$1000\r\n" + EMPTY_RDB[:9])
    conn.transport.loseConnection()


def answers_garbage(conn, name):
    conn.transport.write(b"garbage instead of fullresync\r\n" if name == b"PSYNC"
                         else b"still garbage\r\n")


def sends_wrong_eof_mark(conn, name):
    conn.transport.write(full_resync() + b"$EOF:" + MARK + b"\r\n" + EMPTY_RDB + WRONG_MARK)


def goes_silent_after_fullresync(conn, name):
    conn.transport.write(full_resync())


class BadMaster(unittest.TestCase):
    """One misbehaving master per test; the replica must survive it."""

    config = "repl-timeout 2\n"

    @defer.inlineCallbacks
    def setUp(self):
        self.lines = []
        observer = self.lines.append
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        self.server = start_server(self, self.config)
        self.addCleanup(self._stop_following)
        self.client = yield rawclient.connect(self, self.server.port)
        reply = yield self.client.call("SET", "old", "data")
        self.assertEqual(reply, b"OK")
        self.gets = []
        self.reader = task.LoopingCall(self._read_old)
        self.addCleanup(lambda: self.reader.running and self.reader.stop())

    def _stop_following(self):
        # Before the server stops: no redial may outlive the test.
        self.server.instance.replica.unfollow()

    @defer.inlineCallbacks
    def _read_old(self):
        self.gets.append((yield self.client.call("GET", "old")))

    def logged(self, text):
        return any(text in formatEvent(event) for event in self.lines)

    @defer.inlineCallbacks
    def run_scenario(self, on_sync, *expected_logs):
        """Follow a master that does ``on_sync``; wait for every expected log
        line and a second PSYNC, reading the old key all the while."""
        master = FakeMaster(on_sync)
        port = reactor.listenTCP(0, master, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.addCleanup(lambda: [c.transport.abortConnection() for c in master.connections])
        self.reader.start(0.05)
        reply = yield self.client.call("REPLICAOF", "127.0.0.1", str(port.getHost().port))
        self.assertEqual(reply, b"OK")
        for text in expected_logs:
            yield wait_until(lambda text=text: self.logged(text), timeout=15,
                             what=f"the log line {text!r}")
        yield wait_until(lambda: len(master.psyncs) >= 2, timeout=15,
                         what="the replica to retry with a new PSYNC")
        self.reader.stop()
        self.assertGreaterEqual(len(master.connections), 2)
        self.assertTrue(self.gets)
        self.assertEqual(set(self.gets), {b"data"})
        reply = yield self.client.call("GET", "old")
        self.assertEqual(reply, b"data")
        info = yield self.client.call("INFO", "replication")
        self.assertIn(b"master_link_status:down", info)
        return master

    def test_corrupt_rdb(self):
        """A corrupt RDB: the decoder's error and the failed load logged, old data kept."""
        return self.run_scenario(
            sends_corrupt_rdb,
            "Internal error in RDB reading",
            "Unknown RDB encoding type 119",
            "Failed trying to load the MASTER synchronization DB")

    def test_truncated_rdb_then_close(self):
        """Half a payload then a close: Redis's I/O error line, old data kept."""
        return self.run_scenario(
            sends_truncated_rdb_then_closes,
            "I/O error trying to sync with MASTER: connection lost")

    @defer.inlineCallbacks
    def test_garbage_instead_of_fullresync(self):
        """Garbage to PSYNC: Redis's warning, the SYNC fallback, its garbage
        refused as a payload header, then a retry."""
        master = yield self.run_scenario(
            answers_garbage,
            "Unexpected reply to PSYNC from master: garbage instead of fullresync",
            "Bad protocol from MASTER")
        self.assertIn([b"SYNC"], master.commands)

    def test_wrong_eof_mark_then_silence(self):
        """A payload whose end mark never comes: repl-timeout ends the transfer."""
        return self.run_scenario(
            sends_wrong_eof_mark,
            "Timeout receiving bulk data from MASTER")

    def test_silence_after_fullresync(self):
        """+FULLRESYNC and then nothing: repl-timeout ends the transfer."""
        return self.run_scenario(
            goes_silent_after_fullresync,
            "Timeout receiving bulk data from MASTER")


class BadMasterSocketLoad(BadMaster):
    """The same masters with the payload decoded from the socket (swapdb)."""

    config = "repl-timeout 2\nrepl-diskless-load swapdb\n"
