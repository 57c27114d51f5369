"""A real Redis 7.0 replica's handshake bytes against our Handshake machine's.

A scripted fake master (a Twisted listener) answers a real ``redis-server
--replicaof`` and records every byte it sends; the same replies fed to
``Handshake`` must produce exactly those bytes, and the real replica's log
must carry the lines our Log events carry (awaited, not raced)."""

import os
import shutil

import hiredis
from twisted.internet import defer, protocol, reactor
from twisted.trial import unittest

from redisrepl.replication.handshake import Handshake, Log, Send
from tests.support.ports import free_port
from tests.support.processes import redis_server_argv, spawn
from tests.support.waiting import wait_until

USER, PASSWORD, ANNOUNCE_IP = "u", "x", "10.1.2.3"


class ScriptedMaster(protocol.Protocol):
    """Answers each complete command with the next scripted reply line."""

    def connectionMade(self):
        self.factory.connection = self
        self.raw = b""
        self.reader = hiredis.Reader()
        self.replies = list(self.factory.replies)

    def dataReceived(self, data):
        self.raw += data
        if data.endswith(b"\r\nSYNC\r\n") or data == b"SYNC\r\n":
            return  # the inline SYNC fallback: the end of the script
        self.reader.feed(data)
        while self.reader.gets() is not False:
            if self.replies:
                self.transport.write(self.replies.pop(0) + b"\r\n")


def our_bytes_and_logs(port, replies):
    """Feed the same replies to our machine: what it sends and logs."""
    hs = Handshake(port, masterauth=PASSWORD, masteruser=USER, announce_ip=ANNOUNCE_IP)
    events = hs.connected()
    for line in replies:
        events += hs.reply(line)
    sent = b"".join(e.data for e in events if isinstance(e, Send))
    return sent, [e.message for e in events if isinstance(e, Log)]


class RealReplicaHandshake(unittest.TestCase):
    """redis-server 7.0 as the replica, a scripted fake master."""

    def setUp(self):
        if shutil.which("redis-server") is None:
            raise unittest.SkipTest("redis-server is not installed")

    @defer.inlineCallbacks
    def run_replica(self, replies, done):
        factory = protocol.ServerFactory.forProtocol(ScriptedMaster)
        factory.replies, factory.connection = replies, None
        listener = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(listener.stopListening)
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        port = free_port()
        argv = redis_server_argv(port, workdir, [
            "--replicaof", "127.0.0.1", str(listener.getHost().port),
            "--masteruser", USER, "--masterauth", PASSWORD,
            "--replica-announce-ip", ANNOUNCE_IP])
        child = spawn(self, argv, cwd=workdir)
        sent, messages = our_bytes_and_logs(port, replies)
        log_path = os.path.join(workdir, "redis.log")

        def finished():
            if factory.connection is None or not done(factory.connection.raw):
                return False
            with open(log_path) as f:
                log = f.read()
            return all(message in log for message in messages)
        yield wait_until(finished, timeout=20, what="the replica's handshake and log lines")
        factory.connection.transport.loseConnection()
        yield child.stop()
        return factory.connection.raw, sent, messages

    @defer.inlineCallbacks
    def test_psync_refused_falls_back_to_sync(self):
        """Same bytes as a real replica through PSYNC -ERR and the inline SYNC, same log lines."""
        replies = [b"+PONG", b"+OK", b"+OK", b"+OK", b"+OK", b"-ERR unknown command 'PSYNC'"]
        raw, sent, messages = yield self.run_replica(
            replies, lambda raw: raw.endswith(b"SYNC\r\n") and not raw.endswith(b"PSYNC\r\n"))
        self.assertEqual(raw, sent)
        self.assertIn("Retrying with SYNC...", messages)

    @defer.inlineCallbacks
    def test_auth_refused(self):
        """An AUTH error: same bytes up to it, and the real log says what our Failed says."""
        replies = [b"-NOAUTH Authentication required.", b"-WRONGPASS invalid password"]
        raw, sent, messages = yield self.run_replica(
            replies, lambda raw: raw.endswith(b"psync2\r\n"))
        self.assertEqual(raw, sent)
        self.assertIn("Unable to AUTH to MASTER: -WRONGPASS invalid password", messages)
