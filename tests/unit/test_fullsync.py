"""Full resync orchestration and its byte movers, with no process and no
socket: Redis 7.0's attach rules, diskless delay and max-replicas, disk and
diskless payloads, backpressure and replicas vanishing mid-payload.

Replicas are ``FakeLink``s on StringTransports (which record the producer
registered on them and whether it streams). Children are a ``FakeForker``:
a disk save's body runs at "fork" time and writes dump.rdb; for a diskless
save the test plays the child with its inherited ends of the pipes
(``InheritedPipes``). Real forks are in tests/integration/test_fullsync.py.
"""

import os
import signal

import pytest
from twisted.internet.interfaces import IPullProducer, IPushProducer, IReadDescriptor
from twisted.internet.testing import StringTransport
from twisted.python import failure
from zope.interface.verify import verifyObject

from redisrepl.persistence.bgsave import InfoPipe
from redisrepl.persistence.snapshot import snapshot_of
from redisrepl.rdb.decoder import Entry, RdbDecoder
from redisrepl.replication import fullsync as fullsync_module
from redisrepl.replication.fullsync import FullSync
from redisrepl.replication.link import SEND_BULK, SEND_BULK_WAIT, WAIT_BGSAVE
from redisrepl.replication.rdbpipe import PipeFds, new_eof_mark, pipe_body
from redisrepl.replication.transfer import BulkFileSender, Fanout, PipeReader
from tests.unit.fakeforker import FakeForker
from tests.unit.harness import Harness

# -- fakes ------------------------------------------------------------------------------




class InheritedPipes(PipeFds):
    """The pipes of a diskless save, keeping the child's ends open after the
    parent closes its copies (as a fork would): the test writes the payload
    and waits on the exit pipe with them."""

    made = []

    def close_child_side(self):
        self.child_data_write = os.dup(self.data_write)
        self.child_exit_read = os.dup(self.exit_read)
        InheritedPipes.made.append(self)
        super().close_child_side()

    def child_write(self, data):
        os.write(self.child_data_write, data)

    def child_close(self):
        os.close(self.child_data_write)

    def exit_pipe_closed(self):
        """True once the parent closed its end of the "safe to exit" pipe."""
        os.set_blocking(self.child_exit_read, False)
        try:
            return os.read(self.child_exit_read, 1) == b""
        except BlockingIOError:
            return False


class FakeReactor:
    """Records which descriptors are watched for reading."""

    def __init__(self):
        self.readers = set()

    def addReader(self, reader):
        self.readers.add(reader)

    def removeReader(self, reader):
        self.readers.discard(reader)


class FakeConn:
    def __init__(self):
        self.transport = StringTransport()
        self.sent = []

    def send(self, data):
        self.sent.append(data)


class FakeClient:
    def __init__(self, client_id, now_ms):
        self.id = client_id
        self.conn = FakeConn()
        self.last_interaction_ms = now_ms


class FakeLink:
    """The ReplicaLink contract as FullSync uses it."""

    def __init__(self, master, capa_eof=True, capa_psync2=True, rdb_only=False):
        self.master = master
        self.client = FakeClient(len(master.links) + 1, master.instance.now_ms())
        self.state = WAIT_BGSAVE
        self.capa_eof = capa_eof
        self.capa_psync2 = capa_psync2
        self.rdb_only = rdb_only
        self.rdb_exclude_data = False
        self.rdb_exclude_functions = False
        self.legacy_sync = False
        self.diskless = False
        self.dropped = False
        self.drop_reason = None
        self.psync_initial_offset = -1
        self.copied_from = None
        self.online = False
        self.stream_on_ack = None

    @property
    def transport(self):
        return self.client.conn.transport

    def name(self):
        return f"127.0.0.1:{7000 + self.client.id}"

    def begin_full_sync(self, offset, copy_from=None):
        self.psync_initial_offset = offset
        self.copied_from = copy_from
        self.state = SEND_BULK_WAIT
        self.transport.write(b"+FULLRESYNC %s %d\r\n" % (self.master.instance.replid, offset))

    def payload_done(self, stream_on_ack=False):
        self.state = "online"
        self.online = True
        self.stream_on_ack = stream_on_ack

    def drop(self, reason, graceful=False):
        if self.dropped:
            return
        self.dropped = True
        self.drop_reason = reason
        self.master.link_closed(self)
        self.transport.loseConnection()


class FakeMaster:
    def __init__(self, instance):
        self.instance = instance
        self.links = []
        self.fullsync = None

    def rdb_save_info(self):
        return 0

    def link_closed(self, link):
        if link in self.links:
            self.links.remove(link)
            self.fullsync.link_lost(link)


class Setup:
    """A server, a master with fake links, and the FullSync under test."""

    def __init__(self, config_text=""):
        self.srv = Harness(config_text)
        self.instance = self.srv.server
        self.forker = self.instance.persistence.forker = FakeForker()
        self.master = FakeMaster(self.instance)
        self.reactor = FakeReactor()
        self.fullsync = self.master.fullsync = FullSync(self.master, reactor=self.reactor)

    def replica(self, **kwargs):
        """A new replica asking for a full resync."""
        link = FakeLink(self.master, **kwargs)
        self.master.links.append(link)
        self.fullsync.want(link)
        return link

    def reap(self, **status):
        """The running child ends (by default with its own exit code)."""
        self.forker.exit(**status)
        self.instance.persistence.cron()

    @property
    def pipes(self):
        return InheritedPipes.made[-1]

    def pump_pipe(self):
        for reader in list(self.reactor.readers):
            reader.doRead()


def drain_pull(transport):
    """Ask a pull producer for chunks until it unregisters (as a transport
    whose buffer keeps draining would)."""
    for _ in range(10_000):
        if transport.producer is None:
            return
        transport.producer.resumeProducing()
    raise AssertionError("the producer never finished")




@pytest.fixture(autouse=True)
def _inherited_pipes(monkeypatch):
    InheritedPipes.made = []
    monkeypatch.setattr(fullsync_module, "PipeFds", InheritedPipes)
    yield
    for pipes in InheritedPipes.made:
        for fd in (pipes.child_data_write, pipes.child_exit_read):
            try:
                os.close(fd)
            except OSError:
                pass


def disk(config=""):
    return Setup("repl-diskless-sync no\n" + config)


def diskless(config=""):
    s = Setup("repl-diskless-sync yes\nrepl-diskless-sync-delay 0\n" + config)
    s.forker.run_bodies = False
    return s


def entries_of(rdb):
    decoder = RdbDecoder()
    events = decoder.feed(rdb) + decoder.close()
    return {e.key: e.value for e in events if isinstance(e, Entry)}


# -- the choice of target ------------------------------------------------------------


def test_disk_target_when_diskless_sync_is_off(logged):
    """repl-diskless-sync no: one BGSAVE to disk, +FULLRESYNC at the fork's offset."""
    s = disk()
    s.srv("SET", "k", "v")
    s.instance.master_repl_offset = 42
    link = s.replica()
    assert s.forker.started and s.instance.persistence.child.target == "disk"
    assert link.state == SEND_BULK_WAIT and link.psync_initial_offset == 42
    assert link.transport.value() == b"+FULLRESYNC %s 42\r\n" % s.instance.replid
    assert "Starting BGSAVE for SYNC with target: disk" in logged


def test_disk_target_for_a_replica_without_capa_eof():
    """Diskless sync on, but the replica cannot read an EOF-marked payload: disk."""
    s = diskless()
    s.forker.run_bodies = True
    s.replica(capa_eof=False)
    assert s.instance.persistence.child.target == "disk"


def test_diskless_target_when_every_waiting_replica_has_capa_eof(logged):
    """repl-diskless-sync yes and capa eof: a socket-target child, links marked diskless."""
    s = diskless()
    link = s.replica()
    assert s.instance.persistence.child.target == "socket"
    assert link.diskless and link.state == SEND_BULK_WAIT
    assert s.fullsync.diskless_in_progress
    assert "Starting BGSAVE for SYNC with target: replicas sockets" in logged
    assert any(line.startswith("Background RDB transfer started by pid") for line in logged)


# -- disk payloads ----------------------------------------------------------------------


def test_disk_payload_is_preamble_and_file_through_a_pull_producer(logged):
    """After the save: `$<len>\\r\\n` + dump.rdb through a pull producer, then online."""
    s = disk()
    s.srv("SET", "k", "v")
    s.srv("RPUSH", "l", "a", "b")
    link = s.replica()
    link.transport.clear()
    s.reap()
    transport = link.transport
    assert link.state == SEND_BULK
    assert transport.streaming is False
    assert verifyObject(IPullProducer, transport.producer)
    drain_pull(transport)
    with open("dump.rdb", "rb") as f:
        dump = f.read()
    assert transport.value() == b"$%d\r\n" % len(dump) + dump
    assert set(entries_of(dump)) == {b"k", b"l"}
    assert link.online and link.stream_on_ack is False
    assert transport.producer is None
    assert s.instance.net_repl_output_bytes >= len(dump)


def test_slow_disk_replica_only_pauses_its_own_file():
    """Each replica pulls its own chunks: one that does not drain gets no more."""
    s = disk()
    for i in range(3000):
        s.srv("SET", f"key:{i}", "x" * 100)
    fast, slow = s.replica(), s.replica()
    s.reap()
    slow_sent = len(slow.transport.value())
    drain_pull(fast.transport)
    assert fast.online and not slow.online
    assert len(slow.transport.value()) == slow_sent      # nothing more was pushed
    drain_pull(slow.transport)
    assert slow.online and slow.transport.value() == fast.transport.value()


def test_failed_disk_save_drops_the_replicas_it_served(logged):
    """A BGSAVE child that fails: its replicas are dropped with Redis's line."""
    s = disk()
    a, b = s.replica(), s.replica()
    s.reap(exitcode=1)
    assert a.dropped and b.dropped
    assert a.drop_reason == "SYNC failed. BGSAVE child returned an error"


def test_fork_failure_refuses_the_waiting_replicas(logged):
    """No fork: -ERR BGSAVE failed, replication can't continue, and close."""
    s = disk()
    s.forker.fork_error = OSError(11, "Resource temporarily unavailable")
    link = s.replica()
    assert link.client.conn.sent == [b"-ERR BGSAVE failed, replication can't continue\r\n"]
    assert link.dropped
    assert "BGSAVE for replication failed" in logged


def test_replica_lost_while_its_file_goes_out_stops_its_producer():
    """A link forgotten mid-file: its producer is unregistered and the file closed."""
    s = disk()
    for i in range(3000):
        s.srv("SET", f"key:{i}", "x" * 100)
    link = s.replica()
    s.reap()
    sender = link.transport.producer
    assert isinstance(sender, BulkFileSender)
    link.drop("gone")
    assert link.transport.producer is None and not sender.active
    assert s.fullsync.senders == {}


def test_transport_lost_mid_file_stops_the_producer():
    """The transport's stopProducing (connection lost) ends that transfer only."""
    s = disk()
    for i in range(3000):
        s.srv("SET", f"key:{i}", "x" * 100)
    a, b = s.replica(), s.replica()
    s.reap()
    producer = a.transport.producer
    producer.stopProducing()
    assert not producer.active and a not in s.fullsync.senders
    drain_pull(b.transport)
    assert b.online


# -- attaching to a running save -----------------------------------------------------


def test_replica_attaches_to_a_running_disk_save(logged):
    """A second replica during a disk save for replication shares it: one fork,
    the first one's offset and buffered stream."""
    s = disk()
    first = s.replica()
    s.instance.master_repl_offset += 100      # writes went to the stream meanwhile
    second = s.replica()
    assert len(s.forker.started) == 1
    assert second.psync_initial_offset == first.psync_initial_offset
    assert second.copied_from is first
    assert "Waiting for end of BGSAVE for SYNC" in logged
    s.reap()
    drain_pull(first.transport)
    drain_pull(second.transport)
    assert first.online and second.online


def test_replica_lacking_a_capability_of_the_served_one_waits(logged):
    """Redis attaches only a replica with every capability of the one served."""
    s = disk()
    s.replica(capa_eof=True)
    late = s.replica(capa_eof=False)
    assert late.state == WAIT_BGSAVE
    assert "Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE " \
           "for SYNC" in logged


def test_user_bgsave_running_makes_the_replica_wait_then_a_save_starts(logged):
    """A BGSAVE a user started cannot serve a replica: when it ends, the
    replication save starts at once."""
    s = disk()
    s.srv("BGSAVE")
    assert len(s.forker.started) == 1
    link = s.replica()
    assert link.state == WAIT_BGSAVE and len(s.forker.started) == 1
    s.reap()
    assert len(s.forker.started) == 2 and link.state == SEND_BULK_WAIT


def test_replica_waits_for_the_next_save_during_a_diskless_one(logged):
    """A diskless save's bytes already went out: a newcomer waits for the next."""
    s = diskless()
    s.replica()
    late = s.replica()
    assert late.state == WAIT_BGSAVE and len(s.forker.started) == 1
    assert "Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC" in logged


# -- diskless delay and max-replicas ---------------------------------------------------


def test_diskless_delay_gathers_replicas_into_one_save(logged):
    """repl-diskless-sync-delay: the save starts from cron once the delay has
    passed, for every replica that arrived meanwhile."""
    s = diskless("repl-diskless-sync-delay 5\n")
    a = s.replica()
    assert "Delay next BGSAVE for diskless SYNC" in logged
    s.srv.advance(2)
    b = s.replica()
    s.srv.advance(2)
    s.fullsync.cron()
    assert not s.forker.started
    s.srv.advance(1)
    s.fullsync.cron()
    assert len(s.forker.started) == 1
    assert a.state == b.state == SEND_BULK_WAIT


def test_diskless_max_replicas_starts_before_the_delay():
    """repl-diskless-sync-max-replicas reached: no need to wait the delay."""
    s = diskless("repl-diskless-sync-delay 60\nrepl-diskless-sync-max-replicas 2\n")
    s.replica()
    s.fullsync.cron()
    assert not s.forker.started
    s.replica()
    s.fullsync.cron()
    assert len(s.forker.started) == 1


# -- diskless payloads --------------------------------------------------------------------


def test_diskless_payload_reaches_every_replica_then_they_go_online(logged):
    """Pipe bytes go to every replica; at the pipe's end the child may exit;
    reaped with success, each link is online with the stream held for its ACK."""
    s = diskless()
    a, b = s.replica(), s.replica(capa_eof=True)
    assert a.state == SEND_BULK_WAIT and b.state == WAIT_BGSAVE   # b came too late
    a.transport.clear()
    pipes = s.pipes
    assert verifyObject(IPushProducer, a.transport.producer) and a.transport.streaming
    pipes.child_write(b"$EOF:" + b"m" * 40 + b"\r\nRDB...")
    s.pump_pipe()
    assert a.transport.value() == b"$EOF:" + b"m" * 40 + b"\r\nRDB..."
    pipes.child_write(b"m" * 40)
    pipes.child_close()
    s.pump_pipe()
    assert "Diskless rdb transfer, done reading from pipe, 1 replicas still up." in logged
    assert pipes.exit_pipe_closed()
    assert not a.online                           # not before the child is reaped
    s.reap(exitcode=0)
    assert a.online and a.stream_on_ack is True
    assert a.transport.producer is None
    assert ("Streamed RDB transfer with replica 127.0.0.1:7001 succeeded (socket). "
            "Waiting for REPLCONF ACK from slave to enable streaming") in logged
    # The late one gets its own save as soon as the child is gone.
    assert len(s.forker.started) == 2 and b.state == SEND_BULK_WAIT


def test_diskless_end_is_no_save():
    """A diskless child's end leaves dirty, lastsave and the bgsave status alone."""
    s = diskless()
    s.srv("SET", "k", "v")
    dirty, lastsave = s.instance.dirty, s.instance.lastsave
    s.replica()
    fields = dict(line.split(":", 1) for line in s.instance.persistence.info_fields())
    assert fields["rdb_bgsave_in_progress"] == "1"
    s.pipes.child_close()
    s.pump_pipe()
    s.srv.advance(3)
    s.reap(exitcode=0)
    assert (s.instance.dirty, s.instance.lastsave) == (dirty, lastsave)
    assert s.instance.persistence.last_bgsave_ok
    assert s.instance.total_forks == 1


def test_a_paused_replica_pauses_the_pipe_until_every_one_resumes():
    """Push producers: any paused transport stops pipe reads; all resumed, reads go on."""
    s = diskless("repl-diskless-sync-delay 1\n")
    a, b = s.replica(), s.replica()
    s.srv.advance(1)
    s.fullsync.cron()
    reader = next(iter(s.reactor.readers))
    a.transport.producer.pauseProducing()
    b.transport.producer.pauseProducing()
    assert not s.reactor.readers
    a.transport.producer.resumeProducing()
    assert not s.reactor.readers                  # b still slow
    b.transport.producer.resumeProducing()
    assert s.reactor.readers == {reader}


def test_replica_vanishing_mid_payload_leaves_the_others_served(logged):
    """One transport lost mid-payload: the others keep getting the bytes."""
    s = diskless("repl-diskless-sync-delay 1\n")
    a, b = s.replica(), s.replica()
    s.srv.advance(1)
    s.fullsync.cron()
    a.transport.clear()
    b.transport.clear()
    a.transport.producer.stopProducing()          # what a lost connection does
    a.transport.producer = None
    s.pipes.child_write(b"payload")
    s.pump_pipe()
    assert a.transport.value() == b"" and b.transport.value() == b"payload"
    assert not s.forker.killed


def test_last_replica_gone_kills_the_child(logged):
    """No replica left mid-payload: the child is killed with SIGUSR1."""
    s = diskless()
    link = s.replica()
    pid = s.forker.started[-1]
    link.drop("gone")
    assert s.forker.killed == [(pid, signal.SIGUSR1)]
    assert "Diskless rdb transfer, last replica dropped, killing fork child." in logged
    assert not s.reactor.readers
    s.instance.persistence.cron()
    assert s.instance.persistence.child is None and s.fullsync.save is None


def test_stalled_diskless_replica_is_dropped_after_repl_timeout(logged):
    """A replica keeping the pipe paused past repl-timeout is cut; the others go on."""
    s = diskless("repl-timeout 10\nrepl-diskless-sync-delay 1\n")
    stuck, fine = s.replica(), s.replica()
    s.srv.advance(1)
    s.fullsync.cron()
    stuck.transport.producer.pauseProducing()
    s.srv.advance(10)
    s.fullsync.cron()
    assert not stuck.dropped
    s.srv.advance(1)
    s.fullsync.cron()
    assert stuck.dropped and not fine.dropped
    assert stuck.drop_reason == "Disconnecting timedout replica (full sync): 127.0.0.1:7001"
    assert s.reactor.readers                      # the pipe flows again


def test_failed_diskless_child_drops_its_replicas():
    """The child fails: the replicas it streamed to are dropped."""
    s = diskless()
    link = s.replica()
    s.pipes.child_close()
    s.pump_pipe()
    s.reap(exitcode=1)
    assert link.dropped and link.drop_reason == "SYNC failed. BGSAVE child returned an error"


# -- rdb-del-sync-files --------------------------------------------------------------------


def test_rdb_del_sync_files_removes_the_dump_once_replicas_have_it(logged):
    """With no persistence and rdb-del-sync-files, the sync's dump goes away."""
    s = disk("save \"\"\nrdb-del-sync-files yes\n")
    link = s.replica()
    s.reap()
    s.fullsync.cron()
    assert os.path.exists("dump.rdb")             # still being sent
    drain_pull(link.transport)
    s.fullsync.cron()
    assert not os.path.exists("dump.rdb")
    assert "Removing the RDB file used to feed replicas in a persistence-less instance" \
        in logged


# -- the movers alone ------------------------------------------------------------------------


def test_bulk_file_sender_reports_premature_eof(tmp_path):
    """A file shorter than announced: on_error("premature EOF"), unregistered."""
    path = tmp_path / "short"
    path.write_bytes(b"abc")
    transport = StringTransport()
    errors = []
    sender = BulkFileSender(transport, open(path, "rb"), 10, on_done=None,
                            on_error=errors.append, on_stopped=None)
    sender.start()
    drain_pull(transport)
    assert errors == ["premature EOF"] and transport.value() == b"$10\r\nabc"


def test_bulk_file_sender_stops_when_the_connection_is_closing(tmp_path):
    """loseConnection() waits for the producer: it must unregister itself."""
    path = tmp_path / "f"
    path.write_bytes(b"x" * 200_000)
    transport = StringTransport()
    stopped = []
    sender = BulkFileSender(transport, open(path, "rb"), 200_000, on_done=None,
                            on_error=None, on_stopped=lambda: stopped.append(1))
    sender.start()
    transport.loseConnection()
    sender.resumeProducing()
    assert stopped == [1] and transport.producer is None


def test_pipe_reader_reads_until_eof_and_honours_pause():
    """The pipe reader feeds chunks, stops while paused, reports the end."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)

    class Sink:
        def __init__(self):
            self.chunks = []
            self.ended = False

        def data(self, chunk):
            self.chunks.append(chunk)

        def eof(self):
            self.ended = True

    sink = Sink()
    reactor = FakeReactor()
    reader = PipeReader(reactor, read_fd, sink)
    assert verifyObject(IReadDescriptor, reader)
    reader.start()
    os.write(write_fd, b"hello")
    reader.pause()
    assert not reactor.readers
    reader.resume()
    reader.doRead()
    assert b"".join(sink.chunks) == b"hello"
    os.close(write_fd)
    reader.doRead()
    assert sink.ended and reader.closed and not reactor.readers


def test_pipe_hang_up_after_the_data_is_the_end():
    """epoll reports the writer's close as a hang-up once the data is read:
    connectionLost then reads the rest and reports the end, not an error."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    events = []

    class Sink:
        def data(self, chunk):
            events.append(chunk)

        def eof(self):
            events.append("eof")

        def read_error(self, reason):
            events.append(("error", reason))

    reader = PipeReader(FakeReactor(), read_fd, Sink())
    reader.start()
    os.write(write_fd, b"tail")
    os.close(write_fd)
    reader.connectionLost(failure.Failure(OSError("hang-up")))
    assert events == [b"tail", "eof"] and reader.closed


def test_pipe_reader_connection_lost_is_a_read_error():
    """A hang-up with the writer still there is an error, reported once."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    errors = []

    class Sink:
        def read_error(self, reason):
            errors.append(reason)

    reader = PipeReader(FakeReactor(), read_fd, Sink())
    reader.start()
    reader.connectionLost(failure.Failure(OSError("boom")))
    reader.connectionLost(failure.Failure(OSError("boom")))
    os.close(write_fd)
    assert errors == ["boom"]


def test_fanout_outlets_are_push_producers():
    """Each replica transport gets its own streaming producer."""
    class Source:
        def pause(self):
            pass

        def resume(self):
            pass

    s = Setup()
    links = [FakeLink(s.master), FakeLink(s.master)]
    fanout = Fanout(links, Source(), s.instance.clock, on_lost=None)
    for link in links:
        assert link.transport.streaming is True
        assert verifyObject(IPushProducer, link.transport.producer)
    fanout.release_all()
    assert all(link.transport.producer is None for link in links)


def test_child_body_writes_the_framed_rdb(tmp_path):
    """The diskless child writes $EOF:<mark>\\r\\n, the RDB, <mark>; then waits
    for the parent's word on the exit pipe (already given here)."""
    srv = Harness()
    srv("SET", "k", "v")
    srv("SADD", "s", "1", "2")
    fds = PipeFds()
    os.close(fds.data_write)
    out = tmp_path / "payload"
    fds.data_write = os.open(out, os.O_WRONLY | os.O_CREAT)
    mark = new_eof_mark()
    assert len(mark) == 40 and all(c in b"0123456789abcdef" for c in mark)
    info = InfoPipe()
    body = pipe_body(fds, mark)(snapshot_of(srv.server), info, None)
    assert body() == 0            # the parent's exit_write was closed by the body
    info.close()
    payload = out.read_bytes()
    head = b"$EOF:" + mark + b"\r\n"
    assert payload.startswith(head) and payload.endswith(mark)
    assert set(entries_of(payload[len(head):-40])) == {b"k", b"s"}
    os.close(fds.exit_read)


def test_aof_rewrite_running_delays_the_replication_save(logged, monkeypatch):
    """An AOF rewrite child: syncCommand's "another BG operation" line,
    and the save for the replica starts once the rewrite is reaped."""
    from redisrepl.persistence import aof_rewrite
    s = disk()
    monkeypatch.setattr(aof_rewrite, "child_pid", lambda: s.forker.started[-1])
    s.srv("BGREWRITEAOF")
    link = s.replica()
    assert "No BGSAVE in progress, but another BG operation is active. BGSAVE for " \
        "replication delayed" in logged
    assert link.state == WAIT_BGSAVE and len(s.forker.started) == 1
    s.reap()
    assert len(s.forker.started) == 2 and link.state == SEND_BULK_WAIT
