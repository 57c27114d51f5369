"""A redisrepl replica keeps serving its old dataset through a full sync
from a real redis-server 7.0 master, then serves the new one.

A real 7.0 replica answers -LOADING while it loads a first sync; redisrepl
builds the new dataset aside and swaps it in at once (syncload.py), so a
client polling a key sees the old value at every poll, then the master's,
never -LOADING and never a missing key. Checked with
`repl-diskless-load disabled` (payload to a temp file, then loaded
cooperatively) from a disk-sync master, and `swapdb` (decoded from the
socket) from a diskless one.
"""

import shutil
import socket
import time

import hiredis
from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.interop import replication_workload as rw
from tests.support.processes import start_daemon
from tests.support.wire import encode_command

MASTER_KEYS = 200_000      # DEBUG POPULATE: key:<i> -> value:<i>
OLD_KEYS = 20_000          # the replica's own old dataset: old:<i>
PROBE_KEY = b"key:0"
OLD_VALUE = b"old"
NEW_VALUE = b"value:0"
SYNC_DEADLINE = 60.0       # seconds the poller waits for the link at most


class Link:
    """A blocking RESP connection that returns error replies as values."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.reader = hiredis.Reader()

    def call(self, *args):
        self.sock.sendall(encode_command(args))
        while True:
            reply = self.reader.gets()
            if reply is not False:
                return reply
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("the replica closed the connection")
            self.reader.feed(data)

    def close(self):
        self.sock.close()


def _fields(info_text):
    return dict(line.split(":", 1) for line in info_text.decode().splitlines()
                if ":" in line)


class Poll:
    """One poll: the GET's reply, then the replica's INFO replication."""

    def __init__(self, reply, fields):
        self.reply = reply
        self.in_progress = fields.get("master_sync_in_progress") == "1"
        self.read_bytes = int(fields.get("master_sync_read_bytes", "0"))
        self.left_bytes = int(fields.get("master_sync_left_bytes", "-1"))
        self.link_up = fields.get("master_link_status") == "up"

    @property
    def payload_whole(self):
        """The payload is all in and the dataset still loading ($len only)."""
        return self.in_progress and self.read_bytes > 0 and self.left_bytes == 0


def poll_until_link_up(port):
    """From a thread: GET PROBE_KEY then INFO replication, back to back,
    until the link is up: [Poll]."""
    data, control = Link(port), Link(port)
    polls = []
    try:
        deadline = time.monotonic() + SYNC_DEADLINE
        while time.monotonic() < deadline:
            reply = data.call("GET", PROBE_KEY)
            polls.append(Poll(reply, _fields(control.call("INFO", "replication"))))
            if polls[-1].link_up:
                break
        return polls
    finally:
        data.close()
        control.close()


def _fill_old_data(port):
    rw.fill(port, OLD_KEYS, value_size=20, prefix=b"old:")
    rw.call(port, "SET", PROBE_KEY, OLD_VALUE)


class ReplicaStaleReadsTests(unittest.TestCase):
    timeout = 120

    def setUp(self):
        if shutil.which("redis-server") is None:
            raise unittest.SkipTest("redis-server is not on PATH")

    @defer.inlineCallbacks
    def sync_while_polling(self, load_mode, master_directives):
        """A real master with MASTER_KEYS keys; a redisrepl replica holding
        old data, polled while REPLICAOF makes it fully sync: [Poll]."""
        self.master_child, master = yield rw.start_master(
            self, rw.REDIS, [("enable-debug-command", "yes"), *master_directives])
        rw.call(master, "DEBUG", "POPULATE", MASTER_KEYS)
        _child, replica, _ = yield start_daemon(
            self, config_text=f'save ""\nrepl-diskless-load {load_mode}\n')
        yield deferToThread(_fill_old_data, replica)
        polling = deferToThread(poll_until_link_up, replica)
        self.assertEqual(rw.call(replica, "REPLICAOF", "127.0.0.1", master), b"OK")
        polls = yield polling
        yield rw.wait_in_sync(master, replica, timeout=60)
        return master, replica, polls

    def assert_old_then_new(self, polls):
        """Every reply is the old value until the swap, the master's after
        (the swap may fall between a poll's GET and its INFO); nothing else
        (no -LOADING, no nil), and the link came up."""
        replies = [poll.reply for poll in polls]
        self.assertTrue(polls and polls[-1].link_up, "the link never came up")
        unexpected = [r for r in replies if r not in (OLD_VALUE, NEW_VALUE)]
        self.assertEqual(unexpected, [], "GET answered other than the old or new value")
        swapped = replies.index(NEW_VALUE) if NEW_VALUE in replies else len(replies)
        self.assertEqual(replies[swapped:], [NEW_VALUE] * (len(replies) - swapped),
                         "the old value came back after the new one")

    def assert_new_dataset(self, master, replica):
        """The master's keys (counted, and a thousand compared), none of
        the old ones."""
        self.assertEqual(rw.call(replica, "DBSIZE"), MASTER_KEYS)
        self.assertEqual(rw.call(replica, "EXISTS", b"old:1"), 0)
        sample = [b"key:%d" % i for i in range(0, MASTER_KEYS, MASTER_KEYS // 1000)]
        self.assertEqual(rw.call(replica, "MGET", *sample), rw.call(master, "MGET", *sample))

    @defer.inlineCallbacks
    def test_disk_load_serves_old_data_while_loading(self):
        """repl-diskless-load disabled, from a disk-sync master ($len): the
        old value answers every GET while the payload arrives and while the
        temp file loads (payload whole, sync still in progress), then the
        master's dataset is in."""
        master, replica, polls = yield self.sync_while_polling(
            "disabled", [("repl-diskless-sync", "no")])
        self.assert_old_then_new(polls)
        loading = [poll for poll in polls if poll.payload_whole]
        self.assertTrue(loading, "no poll landed while the temp file loaded")
        self.assertTrue(all(poll.reply == OLD_VALUE for poll in loading))
        self.assert_new_dataset(master, replica)

    @defer.inlineCallbacks
    def test_swapdb_load_serves_old_data_while_decoding(self):
        """repl-diskless-load swapdb, from a diskless master ($EOF:): the old
        value answers every GET while the payload is decoded from the
        socket, then the master's dataset is in."""
        master, replica, polls = yield self.sync_while_polling(
            "swapdb", [("repl-diskless-sync", "yes"), ("repl-diskless-sync-delay", "0")])
        self.assert_old_then_new(polls)
        decoding = [poll for poll in polls if poll.in_progress and poll.read_bytes > 0]
        self.assertTrue(decoding, "no poll landed while the payload was decoded")
        self.assertTrue(all(poll.reply == OLD_VALUE for poll in decoding))
        self.assert_new_dataset(master, replica)
