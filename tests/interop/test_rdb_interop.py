"""RDB files move between redisrepl and a real redis-server 7.0 with every
key intact: the dataset of tests/interop/rdb_dataset.py (every type in every
encoding Redis 7.0 picks, expiries, several dbs) is built in one server,
SAVEd, and the other server is started on a copy of the dump; both servers'
snapshots (type, OBJECT ENCODING, PEXPIRETIME, value; streams with their
groups, consumers and pending entries) must be equal key by key.

The first test does the same between two real redis-servers: it proves the
dataset survives Redis's own round trip and that the comparison is sound,
so a failure in the others is redisrepl's.
"""

import os
import shutil

from twisted.internet import defer, utils
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.interop import rdb_dataset
from tests.support.processes import start_daemon, start_redis_server
from tests.support.tools import finished_loading, plain_client, require_tool
from tests.support.waiting import wait_until

DUMP = "interop.rdb"


def _build(port):
    client = plain_client(port)
    rdb_dataset.build_dataset(client)
    return rdb_dataset.snapshot(client)


def _save(port):
    """SAVE, then the dump's path."""
    client = rdb_dataset.client_for(plain_client(port), 0)
    client.execute_command("SAVE")
    return _dump_path(client)


def _dump_path(client):
    """dir/dbfilename, from CONFIG GET."""
    _, directory = client.execute_command("CONFIG", "GET", "dir")
    _, name = client.execute_command("CONFIG", "GET", "dbfilename")
    return os.path.join(directory.decode(), name.decode())


def _persistence(port):
    return plain_client(port).info("persistence")


class RdbInteropTests(unittest.TestCase):
    """Dumps between redisrepl and redis-server 7.0, both directions."""

    def setUp(self):
        require_tool("redis-server")
        self.check_rdb = require_tool("redis-check-rdb")

    def copy_dump(self, dump):
        """A copy of ``dump`` in a fresh directory (the servers must not
        share files): returns that directory."""
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        shutil.copyfile(dump, os.path.join(directory, DUMP))
        return directory

    @defer.inlineCallbacks
    def check_rdb_file(self, dump):
        """redis-check-rdb accepts the file."""
        out, err, code = yield utils.getProcessOutputAndValue(
            self.check_rdb, [dump], env=dict(os.environ))
        self.assertEqual(code, 0, (out + err).decode(errors="replace"))
        self.assertIn(b"RDB looks OK", out)

    @defer.inlineCallbacks
    def redis_server_on(self, directory):
        _, port = yield start_redis_server(
            self, extra=["--dir", directory, "--dbfilename", DUMP])
        yield wait_until(lambda: finished_loading(port), timeout=60, what="redis-server to load")
        return port

    @defer.inlineCallbacks
    def redisrepl_on(self, directory=None, config=""):
        if directory is not None:
            config += f"dir {directory}\ndbfilename {DUMP}\n"
        _, port, _ = yield start_daemon(self, config_text=config + 'save ""\n')
        yield wait_until(lambda: finished_loading(port), timeout=120, what="redisrepl to load")
        return port

    @defer.inlineCallbacks
    def build_and_save(self, port):
        """Build the dataset, snapshot it, SAVE: (snapshot, dump path)."""
        before = yield deferToThread(_build, port)
        dump = yield deferToThread(_save, port)
        return before, dump

    @defer.inlineCallbacks
    def build_and_bgsave(self, port):
        """Build the dataset, snapshot it, BGSAVE and await the child's end:
        (snapshot, dump path)."""
        before = yield deferToThread(_build, port)
        saves = _persistence(port)["rdb_saves"]
        client = rdb_dataset.client_for(plain_client(port), 0)
        self.assertEqual(client.execute_command("BGSAVE"), b"Background saving started")
        done = yield wait_until(
            lambda: (lambda info: info["rdb_bgsave_in_progress"] == 0 and
                     info["rdb_saves"] > saves and info)(_persistence(port)),
            timeout=60, what="the background save to finish")
        self.assertEqual(done["rdb_last_bgsave_status"], "ok")
        return before, _dump_path(client)

    @defer.inlineCallbacks
    def assert_holds(self, port, expected):
        actual = yield deferToThread(lambda: rdb_dataset.snapshot(plain_client(port)))
        found = rdb_dataset.differences(expected, actual)
        if found:
            self.fail("the loaded server holds different data:\n    " + "\n    ".join(found))
        self.assertEqual(sorted(actual), list(rdb_dataset.DBS))

    @defer.inlineCallbacks
    def test_redis_server_round_trip(self):
        """The dataset survives redis-server -> dump -> redis-server exactly
        (the dataset and the comparison are sound)."""
        _, source = yield start_redis_server(self)
        before, dump = yield self.build_and_save(source)
        yield self.check_rdb_file(dump)
        port = yield self.redis_server_on(self.copy_dump(dump))
        yield self.assert_holds(port, before)

    @defer.inlineCallbacks
    def test_redisrepl_dump_loads_into_redis_server(self):
        """A dump SAVEd by redisrepl passes redis-check-rdb, and a real
        redis-server started on it holds exactly redisrepl's data."""
        source = yield self.redisrepl_on()
        before, dump = yield self.build_and_save(source)
        yield self.check_rdb_file(dump)
        port = yield self.redis_server_on(self.copy_dump(dump))
        yield self.assert_holds(port, before)

    @defer.inlineCallbacks
    def test_redisrepl_bgsave_loads_into_redis_server(self):
        """A dump written by redisrepl's forked BGSAVE child passes
        redis-check-rdb and loads into redis-server with the same data."""
        source = yield self.redisrepl_on()
        before, dump = yield self.build_and_bgsave(source)
        yield self.check_rdb_file(dump)
        port = yield self.redis_server_on(self.copy_dump(dump))
        yield self.assert_holds(port, before)

    @defer.inlineCallbacks
    def test_uncompressed_unchecksummed_dump_loads_into_redis_server(self):
        """With rdbcompression and rdbchecksum off, redisrepl's dump still
        passes redis-check-rdb and loads into redis-server intact."""
        source = yield self.redisrepl_on(config="rdbcompression no\nrdbchecksum no\n")
        before, dump = yield self.build_and_save(source)
        with open(dump, "rb") as f:
            self.assertEqual(f.read()[-8:], bytes(8))     # no CRC64 trailer
        yield self.check_rdb_file(dump)
        port = yield self.redis_server_on(self.copy_dump(dump))
        yield self.assert_holds(port, before)

    @defer.inlineCallbacks
    def test_redis_server_dump_loads_into_redisrepl(self):
        """A dump SAVEd by redis-server 7.0 loads into redisrepl at start-up
        with exactly redis-server's data."""
        _, source = yield start_redis_server(self)
        before, dump = yield self.build_and_save(source)
        port = yield self.redisrepl_on(self.copy_dump(dump))
        yield self.assert_holds(port, before)

    @defer.inlineCallbacks
    def test_redisrepl_dump_loads_into_redisrepl(self):
        """redisrepl loads its own dump with exactly the data it saved."""
        source = yield self.redisrepl_on()
        before, dump = yield self.build_and_save(source)
        port = yield self.redisrepl_on(self.copy_dump(dump))
        yield self.assert_holds(port, before)
