"""RDB persistence with real processes: BGSAVE forks while clients are
served, the dump passes redis-check-rdb and loads into redis-server, a
failed save stops writes until a good one, save points fire on their own,
FLUSHALL empties the dump, SHUTDOWN and SIGTERM save the dataset.

In-process servers write to the test's own directory (the process cwd is
the server's ``dir``); the daemon tests run `twistd -n redisrepl` in a temp
dir and signal it for real.
"""

import os
import shutil

from twisted.internet import defer, task, utils
from twisted.trial import unittest

from redisrepl.rdb.decoder import Entry, RdbDecoder
from tests.support import rawclient
from tests.support.forking import ForkingServerCase
from tests.support.processes import redis_server_path, start_daemon, start_redis_server
from tests.support.waiting import wait_until

KEYS = 100_000


def read_dump(path):
    decoder = RdbDecoder()
    with open(path, "rb") as f:
        events = decoder.feed(f.read())
    events += decoder.close()
    return [e for e in events if isinstance(e, Entry)]


def info(raw):
    text = raw.decode() if isinstance(raw, bytes) else raw
    return dict(line.split(":", 1) for line in text.split("\r\n")
                if line and not line.startswith("#"))


@defer.inlineCallbacks
def loaded_dbsize(client, timeout=30.0):
    """DBSIZE once the server has finished loading (-LOADING until then)."""
    from twisted.internet import reactor
    deadline = reactor.seconds() + timeout
    while True:
        size = yield client.call("DBSIZE")
        if isinstance(size, int) or reactor.seconds() > deadline:
            return size
        yield task.deferLater(reactor, 0.05, lambda: None)


def is_reaped(pid):
    """True once ``pid`` is gone; a zombie still has /proc/<pid> (state Z)."""
    return not os.path.exists(f"/proc/{pid}")


class InProcessPersistence(ForkingServerCase):
    @defer.inlineCallbacks
    def persistence_info(self):
        return info((yield self.client.call("INFO", "persistence")))

    @defer.inlineCallbacks
    def bgsave_and_wait(self):
        persistence = self.server.instance.persistence
        self.assertEqual((yield self.client.request("BGSAVE")),
                         b"+Background saving started\r\n")
        pid = persistence.child.pid
        yield wait_until(lambda: not persistence.bgsave_in_progress, timeout=60,
                         what="the BGSAVE child to finish")
        return pid

    def fill(self, instance, count=KEYS):
        db = instance.keyspace.dbs[0]
        for i in range(count):
            db.set(b"key:%d" % i, b"value:%d" % i)

    @defer.inlineCallbacks
    def test_bgsave_serves_clients_while_the_child_writes(self):
        """While a slow BGSAVE of 100k keys runs (rdb-key-save-delay), every
        command gets its reply, between two INFOs both saying in progress."""
        instance = yield self.start('save ""\nrdb-key-save-delay 100')
        self.fill(instance)
        self.assertEqual((yield self.client.request("BGSAVE")),
                         b"+Background saving started\r\n")
        pid = instance.persistence.child.pid
        self.assertEqual((yield self.persistence_info())["rdb_bgsave_in_progress"], "1")
        for i in range(200):
            self.assertEqual((yield self.client.request("SET", "new:%d" % i, "x")),
                             b"+OK\r\n")
            self.assertEqual((yield self.client.request("INCR", "counter")),
                             b":%d\r\n" % (i + 1))
        fields = yield self.persistence_info()
        self.assertEqual(fields["rdb_bgsave_in_progress"], "1")
        self.assertEqual(fields["current_save_keys_total"], str(KEYS))
        # Stopped by the server itself (SIGUSR1): no error, temp file gone.
        instance.persistence.kill_child()
        yield wait_until(lambda: not instance.persistence.bgsave_in_progress,
                         timeout=20, what="the killed child to be reaped")
        self.assertEqual((yield self.persistence_info())["rdb_last_bgsave_status"], "ok")
        self.assertEqual(os.listdir(self.workdir), [])
        yield wait_until(lambda: is_reaped(pid), timeout=5, what="no zombie left")

    @defer.inlineCallbacks
    def test_bgsave_result_passes_redis_check_rdb_and_loads_in_redis(self):
        """A BGSAVE of 100k keys of every type: redis-check-rdb accepts it,
        redis-server loads the same key count, the child is reaped."""
        instance = yield self.start()
        self.fill(instance)
        for args in (("RPUSH", "list", "a", "1", "b"), ("HSET", "hash", "f", "v"),
                     ("SADD", "ints", "1", "2", "3"), ("SADD", "set", "x", "y"),
                     ("ZADD", "zset", "1.5", "m"), ("XADD", "stream", "1-1", "f", "v"),
                     ("SET", "ttl", "v", "EX", "1000"), ("SET", "long", "z" * 5000),
                     ("SELECT", "2"), ("SET", "in-db2", "v")):
            yield self.client.request(*args)
        pid = yield self.bgsave_and_wait()
        self.assertTrue(is_reaped(pid))
        fields = yield self.persistence_info()
        self.assertEqual((fields["rdb_last_bgsave_status"], fields["rdb_changes_since_last_save"]),
                         ("ok", "0"))
        self.assertGreater(int(fields["rdb_last_cow_size"]), 0)
        dump = os.path.join(self.workdir, "dump.rdb")
        out, err, code = yield utils.getProcessOutputAndValue(
            shutil.which("redis-check-rdb"), [dump])
        self.assertEqual(code, 0, out + err)
        self.assertIn(b"RDB looks OK!", out)
        self.assertEqual(len(read_dump(dump)), KEYS + 9)
        if redis_server_path() is None:
            raise unittest.SkipTest("redis-server is not installed")
        _child, port = yield start_redis_server(self, extra=("--dir", self.workdir))
        real = yield rawclient.connect(self, port)
        self.assertEqual((yield loaded_dbsize(real)), KEYS + 8)
        self.assertEqual((yield real.call("LRANGE", "list", "0", "-1")), [b"a", b"1", b"b"])

    @defer.inlineCallbacks
    def test_failed_bgsave_stops_writes_until_a_good_one(self):
        """A BGSAVE that cannot rename over dbfilename reports err and MISCONF;
        once the way is clear a good BGSAVE makes the server writable again."""
        yield self.start("save 3600 1")
        os.mkdir(os.path.join(self.workdir, "dump.rdb"))
        yield self.client.request("SET", "k", "v")
        yield self.bgsave_and_wait()
        self.assertEqual((yield self.persistence_info())["rdb_last_bgsave_status"], "err")
        self.assertTrue((yield self.client.request("SET", "k", "2")).startswith(
            b"-MISCONF Redis is configured to save RDB snapshots"))
        self.assertEqual([name for name in os.listdir(self.workdir)], ["dump.rdb"])
        os.rmdir(os.path.join(self.workdir, "dump.rdb"))
        yield self.bgsave_and_wait()
        self.assertEqual((yield self.persistence_info())["rdb_last_bgsave_status"], "ok")
        self.assertEqual((yield self.client.request("SET", "k", "3")), b"+OK\r\n")

    @defer.inlineCallbacks
    def test_save_point_triggers_a_bgsave(self):
        """"save 1 1": one change and a second later the cron saves by itself."""
        instance = yield self.start("save 1 1")
        yield self.client.request("SET", "k", "v")
        dump = os.path.join(self.workdir, "dump.rdb")
        yield wait_until(lambda: os.path.exists(dump) and instance.dirty == 0,
                         timeout=20, what="the save point's BGSAVE")
        self.assertEqual([e.key for e in read_dump(dump)], [b"k"])
        self.assertEqual(instance.total_forks, 1)

    @defer.inlineCallbacks
    def test_flushall_leaves_an_empty_dump(self):
        """With save points FLUSHALL rewrites the dump empty at once."""
        yield self.start("save 3600 1")
        yield self.client.request("MSET", "a", "1", "b", "2")
        yield self.client.request("SAVE")
        dump = os.path.join(self.workdir, "dump.rdb")
        self.assertEqual(len(read_dump(dump)), 2)
        self.assertEqual((yield self.client.request("FLUSHALL")), b"+OK\r\n")
        self.assertEqual(read_dump(dump), [])


class DaemonPersistence(unittest.TestCase):
    @defer.inlineCallbacks
    def test_shutdown_saves_the_dataset(self):
        """SHUTDOWN with save points writes dump.rdb, then the process exits 0."""
        child, port, workdir = yield start_daemon(self, "logfile redis.log\n")
        client = yield rawclient.connect(self, port)
        yield client.request("SET", "kept", "yes")
        client.send(b"*1\r\n$8\r\nSHUTDOWN\r\n")
        self.assertEqual((yield client.wait_closed(timeout=15)), b"")
        yield child.wait_ended(timeout=15)
        self.assertEqual(child.exit_code, 0)
        self.assertEqual([(e.key, e.value) for e in read_dump(os.path.join(workdir, "dump.rdb"))],
                         [(b"kept", b"yes")])

    @defer.inlineCallbacks
    def test_sigterm_saves_and_refuses_to_exit_if_it_cannot(self):
        """SIGTERM saves like SHUTDOWN; while the save fails the daemon stays
        up (Redis's "Errors trying to shut down"), once it works it exits 0."""
        child, port, workdir = yield start_daemon(self, "logfile redis.log\n")
        client = yield rawclient.connect(self, port)
        yield client.request("SET", "kept", "yes")
        blocker = os.path.join(workdir, "dump.rdb")
        os.mkdir(blocker)
        log_path = os.path.join(workdir, "redis.log")

        def logged(text):
            with open(log_path) as f:
                return text in f.read()
        child.transport.signalProcess("TERM")
        yield wait_until(lambda: logged("Errors trying to shut down the server"),
                         timeout=15, what="the refused shutdown")
        self.assertEqual((yield client.request("PING")), b"+PONG\r\n")
        os.rmdir(blocker)
        child.transport.signalProcess("TERM")
        yield child.wait_ended(timeout=15)
        self.assertEqual(child.exit_code, 0)
        self.assertTrue(logged("Received SIGTERM scheduling shutdown..."))
        self.assertEqual([e.key for e in read_dump(blocker)], [b"kept"])
