"""The AOF with real processes: `twistd -n redisrepl` with appendonly yes is
killed with SIGKILL under write load and restarted on the same directory;
every acknowledged write must be back. BGREWRITEAOF forks a real child
while the writes go on, and CONFIG SET appendonly yes turns the AOF on at
runtime; both survive a kill -9.

A kill -9 keeps what reached the kernel, fsynced or not; what fsync adds
shows only when the machine goes down. ``PowerLossTests`` model that: an
in-process server whose every completed fsync is recorded (with the file
size it covered) and whose every reply is recorded as it leaves for the
socket; a power cut at any instant keeps only the fsynced bytes.
"""

import os
import re
import signal
import time

from twisted.internet import defer, task
from twisted.trial import unittest

from redisrepl.persistence import aof as aof_module
from tests.support import rawclient, wire
from tests.support.forking import ForkingServerCase
from tests.support.processes import daemon_env, redisrepl_argv, spawn, start_daemon, wait_listening
from tests.support.waiting import wait_until

WRITES = 20_000


def info(raw):
    text = raw.decode() if isinstance(raw, bytes) else raw
    return dict(line.split(":", 1) for line in text.split("\r\n")
                if line and not line.startswith("#"))


@defer.inlineCallbacks
def wait_for_info(client, predicate, timeout, what):
    """Poll INFO persistence until ``predicate(fields)`` holds (wait_until
    takes plain predicates; this one needs a round trip)."""
    from twisted.internet import reactor
    deadline = reactor.seconds() + timeout
    while True:
        fields = info((yield client.call("INFO", "persistence")))
        if predicate(fields):
            return fields
        if reactor.seconds() >= deadline:
            raise AssertionError(f"timed out waiting for {what}: {fields}")
        yield task.deferLater(reactor, 0.02, lambda: None)


def rpush_batch(key, start, count):
    return b"".join(wire.encode_command((b"RPUSH", key, b"%d" % i))
                    for i in range(start, start + count))


class AofDaemonTests(unittest.TestCase):
    @defer.inlineCallbacks
    def daemon(self, config):
        child, port, workdir = yield start_daemon(
            self, 'save ""\nlogfile redis.log\nappendonly yes\n' + config)
        self.addCleanup(self.kill_orphans, workdir)
        client = yield rawclient.connect(self, port)
        return child, port, workdir, client

    def kill_orphans(self, workdir):
        """Rewrite children outlive a SIGKILLed parent: stop them."""
        path = os.path.join(workdir, "redis.log")
        if not os.path.exists(path):
            return
        with open(path) as f:
            for pid in re.findall(r"rewriting started by pid (\d+)", f.read()):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    @defer.inlineCallbacks
    def kill_and_restart(self, child, port, workdir):
        """SIGKILL, then the daemon again on the same dir and config."""
        child.transport.signalProcess("KILL")
        yield child.wait_ended(timeout=15)
        again = spawn(self, redisrepl_argv(child.config_path), env=daemon_env(), cwd=workdir)
        again.workdir, again.config_path = workdir, child.config_path
        yield wait_listening(again, port)
        client = yield rawclient.connect(self, port)
        yield wait_for_info(client, lambda fields: fields["loading"] == "0", 60,
                            "the restarted daemon to load")
        return again, client

    @defer.inlineCallbacks
    def acked_writes_survive_kill(self, fsync_policy):
        child, port, workdir, client = yield self.daemon(f"appendfsync {fsync_policy}\n")
        client.send(rpush_batch(b"log", 0, WRITES))
        yield wait_until(lambda: len(wire.split_replies(client.buffer)[0]) >= WRITES // 4,
                         timeout=60, what="a quarter of the writes acknowledged")
        child.transport.signalProcess("KILL")
        yield client.wait_closed(timeout=15)
        acked = len(wire.split_replies(client.buffer)[0])
        self.assertLess(acked, WRITES)      # killed under load, not after it
        _, client = yield self.kill_and_restart(child, port, workdir)
        items = yield client.call("LRANGE", "log", "0", "-1", timeout=60)
        self.assertGreaterEqual(len(items), acked)
        self.assertEqual(items, [b"%d" % i for i in range(len(items))])

    def test_always_keeps_every_acknowledged_write(self):
        """appendfsync always, kill -9 under load: every acknowledged RPUSH
        is back after the restart, in order, nothing invented."""
        return self.acked_writes_survive_kill("always")

    def test_everysec_loses_nothing_to_a_process_kill(self):
        """appendfsync everysec, kill -9 under load: each write reached the
        kernel before its reply, so a process kill (no OS crash) loses none
        (everysec only risks the last second to a machine crash)."""
        return self.acked_writes_survive_kill("everysec")

    @defer.inlineCallbacks
    def test_bgrewriteaof_under_load_loses_nothing(self):
        """A slow BGREWRITEAOF child (rdb-key-save-delay) while INCRs go on:
        every INCR answers, the manifest switches base and incr, and after a
        kill -9 the counter and the keys are all there."""
        child, port, workdir, client = yield self.daemon("rdb-key-save-delay 200\n")
        client.send(b"".join(wire.encode_command((b"SET", b"key:%d" % i, b"v%d" % i))
                             for i in range(3000)))
        yield client.read_replies(3000, timeout=60)
        self.assertEqual((yield client.request("BGREWRITEAOF")),
                         b"+Background append only file rewriting started\r\n")
        counted = 0
        while True:
            fields = info((yield client.call("INFO", "persistence")))
            if fields["aof_rewrite_in_progress"] == "0":
                break
            self.assertEqual((yield client.call("INCR", "counter")), counted + 1)
            counted += 1
        self.assertGreater(counted, 10)
        self.assertEqual(fields["aof_last_bgrewrite_status"], "ok")
        with open(os.path.join(workdir, "appendonlydir", "appendonly.aof.manifest")) as f:
            self.assertEqual(f.read(), "file appendonly.aof.2.base.rdb seq 2 type b\n"
                                       "file appendonly.aof.2.incr.aof seq 2 type i\n")
        self.assertEqual(sorted(os.listdir(os.path.join(workdir, "appendonlydir"))),
                         ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof",
                          "appendonly.aof.manifest"])
        _, client = yield self.kill_and_restart(child, port, workdir)
        self.assertEqual((yield client.call("GET", "counter")), b"%d" % counted)
        self.assertEqual((yield client.call("DBSIZE")), 3001)

    @defer.inlineCallbacks
    def test_kill_during_rewrite_keeps_both_incrs(self):
        """kill -9 while the rewrite child runs: the old base plus both incr
        files (the one opened at the fork already in the manifest) hold
        every write."""
        child, port, workdir, client = yield self.daemon("rdb-key-save-delay 100000\n")
        yield client.request("SET", "before", "1")
        yield client.request("SET", "spare", "x")
        yield client.request("BGREWRITEAOF")
        yield client.request("SET", "during", "2")
        with open(os.path.join(workdir, "appendonlydir", "appendonly.aof.manifest")) as f:
            self.assertIn("appendonly.aof.2.incr.aof seq 2 type i", f.read())
        _, client = yield self.kill_and_restart(child, port, workdir)
        self.assertEqual((yield client.call("MGET", "before", "during")), [b"1", b"2"])

    @defer.inlineCallbacks
    def test_config_set_appendonly_at_runtime_then_kill(self):
        """A server started without the AOF turns it on with CONFIG SET (a
        rewrite first), takes more writes, and after kill -9 a restart with
        appendonly yes finds all of them."""
        child, port, workdir = yield start_daemon(self, 'save ""\nlogfile redis.log\n')
        self.addCleanup(self.kill_orphans, workdir)
        client = yield rawclient.connect(self, port)
        yield client.request("SET", "old", "1")
        self.assertEqual((yield client.request("CONFIG", "SET", "appendonly", "yes")),
                         b"+OK\r\n")
        yield client.request("SET", "new", "2")
        yield wait_for_info(client, lambda fields: fields["aof_rewrite_in_progress"] == "0"
                            and fields["aof_rewrite_scheduled"] == "0", 30,
                            "the first rewrite to finish")
        yield client.request("SET", "newer", "3")
        yield client.request("CONFIG", "REWRITE")
        _, client = yield self.kill_and_restart(child, port, workdir)
        self.assertEqual((yield client.call("MGET", "old", "new", "newer")),
                         [b"1", b"2", b"3"])


RPUSH_LOG = re.compile(rb"\*3\r\n\$5\r\nRPUSH\r\n\$3\r\nlog\r\n\$\d+\r\n\d+\r\n")


class PowerLossTests(ForkingServerCase):
    # everysec's "at most a second at risk" is proven on the fake clock
    # (tests/unit/test_aof.py): wall-clock bounds here would flake on a
    # loaded machine.
    @defer.inlineCallbacks
    def start_recording(self, fsync_policy):
        """The server, with every completed fsync and every reply recorded."""
        instance = yield self.start(f'save ""\nappendonly yes\nappendfsync {fsync_policy}\n')
        yield wait_until(lambda: instance.aof.fd is not None, timeout=30,
                         what="the AOF to be opened")
        self.synced = []        # (time.monotonic(), bytes of the incr file fsynced)
        self.sent = []          # (time.monotonic(), replies sent so far, bytes fsynced)

        def recording_fsync(fd, real=aof_module.redis_fsync):
            size = os.fstat(fd).st_size
            real(fd)
            self.synced.append((time.monotonic(), size))
        # appendfsync always fsyncs on the reactor thread, everysec in the worker.
        self.patch(aof_module, "redis_fsync", recording_fsync)
        instance.aof.worker.sync = recording_fsync
        (client,) = instance.clients.values()
        conn, real_write = client.conn, client.conn._write

        def recording_write(data):
            replied = (self.sent[-1][1] if self.sent else 0) + data.count(b"\r\n")
            durable = self.synced[-1][1] if self.synced else 0
            self.sent.append((time.monotonic(), replied, durable))
            real_write(data)
        conn._write = recording_write
        return instance

    @defer.inlineCallbacks
    def push(self, start, count):
        self.client.send(rpush_batch(b"log", start, count))
        yield self.client.read_replies(count, timeout=60)

    def command_ends(self):
        """Where each RPUSH of the incr file ends, in order."""
        with open(os.path.join("appendonlydir", "appendonly.aof.1.incr.aof"), "rb") as f:
            return [m.end() for m in RPUSH_LOG.finditer(f.read())]

    @defer.inlineCallbacks
    def test_always_every_reply_follows_the_fsync_of_its_write(self):
        """appendfsync always: when each reply leaves, the fsynced part of
        the AOF already holds that write (and every one before it), so a
        power cut at any instant keeps every acknowledged write."""
        yield self.start_recording("always")
        for start in range(0, 2000, 200):
            yield self.push(start, 200)
        ends = self.command_ends()
        self.assertEqual(len(ends), 2000)
        self.assertEqual(self.sent[-1][1], 2000)
        for _when, replied, durable in self.sent:
            self.assertGreaterEqual(durable, ends[replied - 1],
                                    f"reply {replied} left before its write was fsynced")
