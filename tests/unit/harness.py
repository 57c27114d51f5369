"""A server with no sockets: run commands through engine.call() and look at
replies, the keyspace and what was propagated. Time is a task.Clock."""

from twisted.internet.task import Clock

from redisrepl.blocking import BLOCKED
from redisrepl.config import Config
from redisrepl.engine import call
from redisrepl.instance import Instance

# A fixed, realistic epoch so absolute expiry times are easy to read.
EPOCH = 1_700_000_000.0


class FakeConn:
    """The conn a Client writes to: records bytes and closes."""

    def __init__(self):
        self.sent = []
        self.closed = False
        self.resp = 2
        self.unblocked_with = None   # the reply a blocked command got

    def send(self, data):
        self.sent.append(data)

    def close(self):
        self.closed = True

    def query_buffer_size(self):
        return 0

    def resp_changed(self, resp):
        self.resp = resp

    def unblocked(self, reply):
        self.unblocked_with = reply


class OpsRecorder:
    """A propagation consumer that keeps every op it is fed."""

    def __init__(self):
        self.ops = []

    def feed(self, ops):
        self.ops.extend(ops)


class Harness:
    def __init__(self, config_text=""):
        config = Config()
        if config_text:
            config.load_text(config_text)
        self.config = config
        self.clock = Clock()
        self.clock.advance(EPOCH)
        self.server = Instance(config, self.clock)
        self.recorder = OpsRecorder()
        self.server.propagator.add(self.recorder)
        self.client = self.new_client()

    def new_client(self, addr=b"127.0.0.1:50000"):
        return self.server.new_client(FakeConn(), addr, b"127.0.0.1:6379", fd=8)

    def __call__(self, *args, client=None):
        """Run one command; returns its reply value (errors as ReplyError)."""
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        return call(client or self.client, argv)

    @property
    def propagated(self):
        """The propagated commands, as lists of bytes (db ids dropped)."""
        return [argv for _db, argv, _targets in self.recorder.ops]

    @property
    def propagated_with_db(self):
        return [(db, argv) for db, argv, _targets in self.recorder.ops]

    @property
    def propagated_with_targets(self):
        return [(argv, targets) for _db, argv, targets in self.recorder.ops]

    def advance(self, seconds):
        self.clock.advance(seconds)

    @property
    def db(self):
        return self.client.db


def block(srv, *args):
    """Run a blocking command on a new client; it must block."""
    client = srv.new_client()
    assert srv(*args, client=client) is BLOCKED
    return client


def served(client):
    """The reply a blocked client was unblocked with (None: still waiting)."""
    return client.conn.unblocked_with
