"""PayloadReceiver (redisrepl/replication/payload.py) against a real
redis-server 7.0 master (and, the same tests, a redisrepl master): a
hand-driven replica socket asks for a full sync (disk-based `$<len>` and
diskless `$EOF:<mark>`), feeds everything after +FULLRESYNC to the
receiver until Finished, and the RDB it hands out decodes with RdbDecoder
to the master's keys, db by db."""

import re
import shutil

from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from redisrepl.rdb import End, Entry, RdbDecoder
from redisrepl.replication.payload import Chunk, Finished, PayloadReceiver, Started
from tests.interop import replication_workload as rw

FULLRESYNC = re.compile(rb"^\+FULLRESYNC [0-9a-f]{40} \d+$")


def full_sync(port, diskless):
    """Handshake as a replica, PSYNC ? -1, then read the payload through a
    PayloadReceiver: (events, raw socket). Blocking: run in a thread."""
    raw = rw.RawReplica(port)
    if not rw.replconf_handshake(raw, diskless):
        raise AssertionError("REPLCONF refused")
    raw.send("PSYNC", "?", "-1")
    line = raw.read_line()
    if not FULLRESYNC.match(line):
        raise AssertionError(f"expected +FULLRESYNC, got {line!r}")
    receiver = PayloadReceiver()
    events = receiver.feed(bytes(raw.buffer))
    while not receiver.finished:
        data = raw.sock.recv(1 << 16)
        if not data:
            raise AssertionError("the master closed the connection mid-payload")
        events += receiver.feed(data)
    return events, receiver, raw


def master_keys(port):
    """{(db, key)} on the master, every db."""
    keys = set()
    for db in range(16):
        conn = rw.client(port, db)
        keys.update((db, key) for key in conn.keys("*"))
        conn.close()
    return keys


class PayloadMixin:
    """The tests; subclasses name the master's kind."""

    master_kind = None
    timeout = 120

    def setUp(self):
        if shutil.which("redis-server") is None:
            raise unittest.SkipTest("redis-server is not on PATH (apt-get install redis-server)")

    @defer.inlineCallbacks
    def sync_and_decode(self, diskless):
        directives = [("repl-diskless-sync", "yes" if diskless else "no"),
                      ("repl-diskless-sync-delay", "0")]
        _child, port = yield rw.start_master(self, self.master_kind, directives)
        yield deferToThread(rw.build_dataset, port)
        events, receiver, raw = yield deferToThread(full_sync, port, diskless)
        self.addCleanup(raw.close)
        started = events[0]
        self.assertIsInstance(started, Started)
        if diskless:
            self.assertEqual((started.size, len(started.mark)), (None, 40))
        else:
            self.assertIsNone(started.mark)
            self.assertEqual(started.size, receiver.rdb_bytes)
        self.assertIsInstance(events[-1], Finished)
        # A diskless master starts the stream only after the first ACK,
        # a disk-based one after the payload: with no writes, nothing follows.
        self.assertEqual(events[-1].rest, b"")
        decoder = RdbDecoder()
        records = []
        for event in events:
            if type(event) is Chunk:
                records += decoder.feed(event.data)
        records += decoder.close()
        self.assertIsInstance(records[-1], End)
        decoded = {(r.db, r.key) for r in records if type(r) is Entry}
        expected = yield deferToThread(master_keys, port)
        self.assertEqual(decoded, expected)
        self.assertGreater(len(decoded), 50)

    def test_disk_based_payload_decodes_to_the_masters_keys(self):
        """`$<len>` framing from redis-server: exactly len RDB bytes, all keys."""
        return self.sync_and_decode(diskless=False)

    def test_diskless_payload_decodes_to_the_masters_keys(self):
        """`$EOF:<mark>` framing from redis-server: the RDB without the mark, all keys."""
        return self.sync_and_decode(diskless=True)


class PayloadFromRealMasterTests(PayloadMixin, unittest.TestCase):
    master_kind = rw.REDIS


class PayloadFromRedisreplMasterTests(PayloadMixin, unittest.TestCase):
    master_kind = rw.REDISREPL
