"""The master side of replication without sockets: SYNC/PSYNC, REPLCONF,
ROLE, INFO, the stream as bytes on a StringTransport, acks, timeouts,
output-buffer limits and the backlog's lifecycle. A fake FullSync stands in
for fullsync.py: tests call begin_full_sync / payload_done as it would."""

import pytest
from twisted.internet.testing import StringTransport

from redisrepl.commands.info import generate
from redisrepl.resp.values import NO_REPLY, OK, ReplyError
from tests.unit.harness import Harness


def resp(*args):
    """A command as RESP bytes, written out independently of redisrepl."""
    out = b"*%d\r\n" % len(args)
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        out += b"$%d\r\n%s\r\n" % (len(arg), arg)
    return out


class TransportConn:
    """A client conn over a StringTransport (as RedisProtocol: send() writes)."""

    def __init__(self):
        self.transport = StringTransport()
        self.resp = 2

    def send(self, data):
        self.transport.write(data)

    def close(self):
        self.transport.loseConnection()

    def query_buffer_size(self):
        return 0

    def resp_changed(self, resp):
        self.resp = resp

    def unblocked(self, reply):
        pass


class FakeFullSync:
    """Records what the master asks of FullSync."""

    def __init__(self):
        self.wanted = []
        self.lost = []
        self.crons = 0

    def want(self, link):
        self.wanted.append(link)

    def link_lost(self, link):
        self.lost.append(link)

    def cron(self):
        self.crons += 1


class Repl(Harness):
    def __init__(self, config_text=""):
        super().__init__(config_text)
        self.fullsync = self.server.repl.fullsync = FakeFullSync()

    @property
    def repl(self):
        return self.server.repl

    def replica(self, port=6380, addr=b"127.0.0.1:40001", capa=(b"eof", b"psync2")):
        """A client that ran the handshake (REPLCONF listening-port, capa)."""
        client = self.server.new_client(TransportConn(), addr, b"127.0.0.1:6379", fd=9)
        assert self("REPLCONF", "listening-port", port, client=client) is OK
        for c in capa:
            assert self("REPLCONF", "capa", c, client=client) is OK
        return client

    def online_replica(self, **kwargs):
        """A replica through a full sync, online, its wire cleared."""
        client = self.replica(**kwargs)
        assert self("PSYNC", "?", "-1", client=client) is NO_REPLY
        link = self.repl.link_of(client)
        link.begin_full_sync(self.server.master_repl_offset)
        link.payload_done()
        wire(client, clear=True)
        return client, link


def wire(client, clear=False):
    value = client.conn.transport.value()
    if clear:
        client.conn.transport.clear()
    return value


@pytest.fixture
def rs():
    return Repl()




# -- SYNC / PSYNC: full resync ------------------------------------------------

def test_psync_question_mark_asks_fullsync_and_creates_backlog(rs, logged):
    """PSYNC ? -1: a full resync (sync_full, no partial error), the link
    waits for a save, the backlog appears with a new replid, flag S."""
    old_replid = rs.server.replid
    client = rs.replica()
    assert rs("PSYNC", "?", "-1", client=client) is NO_REPLY
    link = rs.repl.link_of(client)
    assert rs.fullsync.wanted == [link]
    assert link.state == "wait_bgsave" and link.capa_eof and link.capa_psync2
    assert (rs.server.sync_full, rs.server.sync_partial_ok, rs.server.sync_partial_err) \
        == (1, 0, 0)
    assert rs.repl.backlog is not None and rs.server.replid != old_replid
    assert rs.server.replid2 == b"0" * 40 and rs.server.second_repl_offset == -1
    assert b"flags=S " in rs("CLIENT", "LIST")
    assert wire(client) == b""       # +FULLRESYNC waits for the fork
    assert "Replica 127.0.0.1:6380 asks for synchronization" in logged
    assert "Full resync requested by replica 127.0.0.1:6380" in logged
    assert any(line.startswith("Replication backlog created, my new replication IDs are '"
                               + rs.server.replid.decode()) for line in logged)


def test_begin_full_sync_writes_fullresync_then_buffers_until_payload_done(rs):
    """+FULLRESYNC <replid> <offset>, then writes are kept for the link and
    flushed (SELECT first) once the payload is done."""
    client = rs.replica()
    rs("PSYNC", "?", "-1", client=client)
    link = rs.repl.link_of(client)
    rs("SET", "before", "x")           # before the fork: only in the backlog
    offset = rs.server.master_repl_offset
    link.begin_full_sync(offset)
    assert wire(client, clear=True) == b"+FULLRESYNC %s %d\r\n" % (rs.server.replid, offset)
    assert link.state == "send_bulk_wait" and link.psync_initial_offset == offset
    rs("SET", "k", "v")
    assert wire(client) == b""
    assert link.buffered_stream() == resp("SELECT", 0) + resp("SET", "k", "v")
    link.payload_done()
    assert link.state == "online"
    assert wire(client) == resp("SELECT", 0) + resp("SET", "k", "v")


def test_waiting_link_gets_no_stream_before_its_save(rs):
    """A link in wait_bgsave is skipped by the stream (its save has not
    forked: those writes will be in the RDB)."""
    client = rs.replica()
    rs("PSYNC", "?", "-1", client=client)
    rs("SET", "k", "v")
    assert rs.repl.link_of(client).buffered_stream() == b""
    assert rs.server.master_repl_offset == len(resp("SELECT", 0) + resp("SET", "k", "v"))


def test_legacy_sync_has_no_fullresync_line_and_no_timeout(rs):
    """SYNC: no +FULLRESYNC line; online without ACKs it is never timed out."""
    client = rs.replica()
    assert rs("SYNC", client=client) is NO_REPLY
    link = rs.repl.link_of(client)
    assert link.legacy_sync
    link.begin_full_sync(rs.server.master_repl_offset)
    assert wire(client) == b""
    link.payload_done()
    rs.advance(3600)
    rs.repl.cron()
    assert rs.repl.links == [link]


def test_rdb_only_link_closes_after_payload_and_gets_no_stream(rs):
    """REPLCONF rdb-only 1: no stream bytes, the connection closes after the RDB."""
    client = rs.replica()
    assert rs("REPLCONF", "rdb-only", "1", client=client) is OK
    rs("SYNC", client=client)
    link = rs.repl.link_of(client)
    link.begin_full_sync(rs.server.master_repl_offset)
    rs("SET", "k", "v")
    assert link.buffered_stream() == b""
    link.payload_done()
    assert client.conn.transport.disconnecting and rs.repl.links == []


def test_sync_from_a_replica_is_ignored(rs):
    """SYNC/PSYNC from a connection that is already a replica: no reply, no change."""
    client, link = rs.online_replica()
    assert rs("PSYNC", "?", "-1", client=client) is NO_REPLY
    assert rs("SYNC", client=client) is NO_REPLY
    assert rs.server.sync_full == 1 and rs.repl.links == [link]


def test_psync_garbage_offset(rs, logged):
    """PSYNC id notanumber: Redis's integer error, logged, nothing attached."""
    client = rs.replica()
    reply = rs("PSYNC", "?", "abc", client=client)
    assert reply == ReplyError("ERR value is not an integer or out of range")
    assert rs.repl.links == [] and rs.server.sync_full == 0
    assert "Replica 127.0.0.1:6380 asks for synchronization but with a wrong offset" in logged


def test_psync_failover_on_a_master(rs):
    """PSYNC ... FAILOVER to a master is refused with Redis's text."""
    client = rs.replica()
    assert rs("PSYNC", "?", "-1", "FAILOVER", client=client) == \
        ReplyError("ERR PSYNC FAILOVER can't be sent to a master.")


def test_sync_refused_inside_multi(rs):
    """SYNC inside MULTI: not allowed in a transaction (no_multi)."""
    client = rs.replica()
    rs("MULTI", client=client)
    assert rs("SYNC", client=client) == \
        ReplyError("ERR Command not allowed inside a transaction")


def test_sync_with_pending_replies_is_refused(rs):
    """PSYNC pipelined after a command whose reply is not written yet."""
    client = rs.replica()
    client.conn._gathering = [b"+PONG\r\n"]
    assert rs("PSYNC", "?", "-1", client=client) == \
        ReplyError("ERR SYNC and PSYNC are invalid with pending output")


# -- PSYNC: partial resync ------------------------------------------------------

def _lost_replica(rs):
    """A replica that was online, saw some writes, and lost its link.
    Returns (the offset it has, the bytes it missed)."""
    client, link = rs.online_replica()
    rs("SET", "a", "1")
    had = rs.server.master_repl_offset
    rs.server.remove_client(client)
    rs("SELECT", "2")
    rs("SET", "b", "2")
    rs("SELECT", "0")
    rs("INCR", "n")
    missed = resp("SELECT", 2) + resp("SET", "b", "2") + resp("SELECT", 0) + resp("INCR", "n")
    return had, missed


def test_psync_continue_sends_exactly_the_missed_bytes(rs, logged):
    """PSYNC <replid> <offset+1> within the backlog: +CONTINUE <replid> and
    exactly the bytes after that offset; online at once; sync_partial_ok."""
    had, missed = _lost_replica(rs)
    client = rs.replica()
    assert rs("PSYNC", rs.server.replid, had + 1, client=client) is NO_REPLY
    assert wire(client) == b"+CONTINUE %s\r\n" % rs.server.replid + missed
    assert rs.server.master_repl_offset == had + len(missed)
    link = rs.repl.link_of(client)
    assert link.state == "online" and rs.fullsync.wanted[1:] == []
    assert (rs.server.sync_full, rs.server.sync_partial_ok) == (1, 1)
    assert (f"Partial resynchronization request from 127.0.0.1:6380 accepted. Sending "
            f"{len(missed)} bytes of backlog starting from offset {had + 1}.") in logged
    rs("SET", "c", "3")
    assert wire(client).endswith(resp("SET", "c", "3"))


def test_psync_continue_without_psync2_capa(rs):
    """A replica without capa psync2 gets a bare +CONTINUE."""
    had, missed = _lost_replica(rs)
    client = rs.replica(capa=(b"eof",))
    rs("PSYNC", rs.server.replid, had + 1, client=client)
    assert wire(client) == b"+CONTINUE\r\n" + missed


def test_psync_at_the_current_offset_continues_with_nothing(rs):
    """Asking for the next byte to come: +CONTINUE and no backlog bytes."""
    rs.online_replica()
    client = rs.replica()
    rs("PSYNC", rs.server.replid, rs.server.master_repl_offset + 1, client=client)
    assert wire(client) == b"+CONTINUE %s\r\n" % rs.server.replid


@pytest.mark.parametrize("replid, delta, message", [
    (b"f" * 40, 1, "Partial resynchronization not accepted: Replication ID mismatch"),
    (None, 2, "Unable to partial resync with replica 127.0.0.1:6380 for lack of backlog"),
])
def test_psync_refused_goes_full_and_counts_an_error(rs, logged, replid, delta, message):
    """Unknown replid or an offset past ours: full resync, sync_partial_err."""
    rs.online_replica()
    client = rs.replica()
    rs("PSYNC", replid or rs.server.replid, rs.server.master_repl_offset + delta,
       client=client)
    assert rs.fullsync.wanted[-1] is rs.repl.link_of(client)
    assert (rs.server.sync_full, rs.server.sync_partial_err) == (2, 1)
    assert any(line.startswith(message) for line in logged)


def test_psync_before_the_backlog_window_goes_full():
    """An offset the backlog no longer holds: full resync."""
    rs = Repl("repl-backlog-size 100")
    rs.online_replica()
    for i in range(10):
        rs("SET", "key%d" % i, "v" * 20)
    client = rs.replica()
    rs("PSYNC", rs.server.replid, 2, client=client)
    assert rs.server.sync_partial_err == 1 and rs.repl.link_of(client).state == "wait_bgsave"


# -- the stream ---------------------------------------------------------------

def test_stream_wraps_multi_exec_and_selects_dbs(rs):
    """MULTI/EXEC around a transaction, SELECT when the db changes."""
    client, _link = rs.online_replica()
    rs("MULTI")
    rs("SET", "a", "1")
    rs("SET", "b", "2")
    rs("EXEC")
    rs("SELECT", "3")
    rs("SET", "c", "3")
    assert wire(client) == (resp("SELECT", 0) + resp("MULTI") + resp("SET", "a", "1")
                            + resp("SET", "b", "2") + resp("EXEC")
                            + resp("SELECT", 3) + resp("SET", "c", "3"))


def test_stream_carries_expired_deletes(rs):
    """A key expiring on the master reaches replicas as DEL."""
    client, _link = rs.online_replica()
    rs("SET", "t", "v", "PX", "100")
    wire(client, clear=True)
    rs.advance(1)
    assert rs("GET", "t") is None
    assert wire(client) == resp("DEL", "t")


def test_publish_is_propagated(rs):
    """PUBLISH goes into the stream (PROPAGATE_REPL)."""
    client, _link = rs.online_replica()
    rs("PUBLISH", "ch", "hi")
    assert wire(client) == resp("SELECT", 0) + resp("PUBLISH", "ch", "hi")


def test_ping_every_period_without_select(rs):
    """cron PINGs on its first loop and every repl-ping-replica-period
    loops, with no SELECT before it even when none was sent yet."""
    client, _link = rs.online_replica()
    rs.repl.cron()
    assert wire(client, clear=True) == resp("PING")
    for _ in range(9):
        rs.repl.cron()
    assert wire(client, clear=True) == b""
    rs.repl.cron()
    assert wire(client) == resp("PING")


def test_no_ping_without_replicas(rs):
    """No replicas: PING does not move the offset."""
    before = rs.server.master_repl_offset
    rs.repl.cron()
    assert rs.server.master_repl_offset == before


def test_instance_cron_runs_replication_cron_once_a_second():
    """Instance.cron (hz times a second) runs the replication cron every hz calls."""
    rs = Repl("hz 10")
    for _ in range(25):
        rs.server.cron()
    assert rs.fullsync.crons == 3


def test_newline_keepalive_to_links_waiting_for_a_save(rs):
    """"\\n" each second to wait_bgsave and disk send_bulk_wait links; none
    to a diskless one (it would corrupt the payload) or an online one."""
    waiting = rs.replica(port=1)
    rs("PSYNC", "?", "-1", client=waiting)
    disk = rs.replica(port=2)
    rs("PSYNC", "?", "-1", client=disk)
    rs.repl.link_of(disk).begin_full_sync(rs.server.master_repl_offset)
    diskless = rs.replica(port=3)
    rs("PSYNC", "?", "-1", client=diskless)
    rs.repl.link_of(diskless).diskless = True
    rs.repl.link_of(diskless).begin_full_sync(rs.server.master_repl_offset)
    for client in (waiting, disk, diskless):
        wire(client, clear=True)
    rs.repl._cron_loops = 1            # not a PING loop
    rs.repl.cron()
    assert (wire(waiting), wire(disk), wire(diskless)) == (b"\n", b"\n", b"")


def test_stream_held_until_first_ack_after_diskless_payload(rs):
    """payload_done(stream_on_ack=True): online, but the kept stream waits
    for the replica's first ACK."""
    client = rs.replica()
    rs("PSYNC", "?", "-1", client=client)
    link = rs.repl.link_of(client)
    link.begin_full_sync(rs.server.master_repl_offset)
    wire(client, clear=True)
    rs("SET", "k", "v")
    link.payload_done(stream_on_ack=True)
    assert link.state == "online" and wire(client) == b""
    rs("REPLCONF", "ACK", link.psync_initial_offset, client=client)
    assert wire(client) == resp("SELECT", 0) + resp("SET", "k", "v")


def test_request_acks_sends_one_getack_per_reactor_turn(rs):
    """request_acks() twice in one turn: one REPLCONF GETACK * in the stream."""
    client, _link = rs.online_replica()
    rs.repl.request_acks()
    rs.repl.request_acks()
    assert wire(client) == b""
    rs.advance(0)
    assert wire(client, clear=True) == resp("REPLCONF", "GETACK", "*")
    rs.repl.request_acks()
    rs.advance(0)
    assert wire(client) == resp("REPLCONF", "GETACK", "*")


# -- REPLCONF -------------------------------------------------------------------

def test_replconf_ack_updates_offset_and_time_without_reply(rs):
    """REPLCONF ACK: no reply, the acked offset only grows, ack time moves,
    on_ack callbacks run."""
    client, link = rs.online_replica()
    rs("SET", "k", "v")
    seen = []
    rs.repl.on_ack.append(seen.append)
    rs.advance(5)
    assert rs("REPLCONF", "ACK", rs.server.master_repl_offset, client=client) is NO_REPLY
    assert link.ack_offset == rs.server.master_repl_offset
    assert link.ack_time_ms == rs.server.now_ms() and seen == [link]
    rs("REPLCONF", "ACK", "1", "FACK", "1", client=client)
    assert link.ack_offset == rs.server.master_repl_offset and seen == [link, link]


def test_replconf_ack_not_a_number_or_not_a_replica_is_silent(rs):
    """ACK with garbage, or from a non-replica: no reply, no effect."""
    client, link = rs.online_replica()
    assert rs("REPLCONF", "ACK", "abc", client=client) is NO_REPLY
    assert link.ack_offset == 0
    assert rs("REPLCONF", "ACK", "5") is NO_REPLY
    assert rs("REPLCONF", "GETACK", "*") is NO_REPLY


def test_ack_past_our_offset_drops_the_diverged_replica(rs, logged):
    """An ACK beyond master_repl_offset: logged and the link dropped."""
    client, link = rs.online_replica()
    rs("REPLCONF", "ACK", rs.server.master_repl_offset + 10, client=client)
    assert rs.repl.links == [] and client.conn.transport.disconnecting
    assert rs.fullsync.lost == [link]
    assert any("its history diverged" in line for line in logged)


@pytest.mark.parametrize("args, reply", [
    (("foo", "bar"), ReplyError("ERR Unrecognized REPLCONF option: foo")),
    (("a",), ReplyError("ERR syntax error")),
    ((), OK),
    (("listening-port", "abc"), ReplyError("ERR value is not an integer or out of range")),
    (("capa", "zzz", "capa", "eof"), OK),
    (("rdb-only", "2"), ReplyError("ERR value is out of range, value must between 0 and 1")),
    (("ip-address", "x" * 300),
     ReplyError("ERR REPLCONF ip-address provided by replica instance is too long: 300 bytes")),
    (("ip-address", "10.0.0.5", "listening-port", "7000"), OK),
    (("rdb-filter-only", ""), OK),
    (("rdb-filter-only", "FUNCTIONS"), OK),
    (("rdb-filter-only", "foo"), ReplyError("ERR Unsupported rdb-filter-only option: foo")),
    (("rdb-filter-only", '"a'), ReplyError("ERR Missing rdb-filter-only values")),
])
def test_replconf_replies_as_redis(rs, args, reply):
    """REPLCONF's replies and errors, checked against Redis 7.0.15."""
    assert rs("REPLCONF", *args) == reply


def test_replconf_ip_address_names_the_replica(rs):
    """ip-address replaces the peer address in INFO and ROLE."""
    client = rs.replica(port=7000)
    rs("REPLCONF", "ip-address", "10.0.0.5", client=client)
    rs("PSYNC", "?", "-1", client=client)
    assert rs.repl.link_of(client).name() == "10.0.0.5:7000"


# -- timeouts, output buffer limits, lost links ---------------------------------

def test_repl_timeout_drops_a_silent_online_replica(rs, logged):
    """No ACK for more than repl-timeout seconds: dropped with Redis's log line."""
    client, link = rs.online_replica()
    rs.advance(60)
    rs.repl.cron()
    assert rs.repl.links == [link]
    rs.advance(1)
    rs.repl.cron()
    assert rs.repl.links == [] and client.conn.transport.disconnecting
    assert "Disconnecting timedout replica (streaming sync): 127.0.0.1:6380" in logged


def test_output_buffer_hard_limit_drops_the_link(logged):
    """Stream kept for a link past the hard limit: closed, logged, others unhurt."""
    rs = Repl("client-output-buffer-limit replica 1000 0 0")
    client = rs.replica(port=2)
    rs("PSYNC", "?", "-1", client=client)
    rs.repl.link_of(client).begin_full_sync(rs.server.master_repl_offset)
    healthy, _ = rs.online_replica(port=1)
    rs("SET", "k", "v" * 500)
    assert rs.repl.link_of(client) is not None
    wire(healthy, clear=True)
    rs("SET", "k", "v" * 500)
    assert rs.repl.link_of(client) is None and client.conn.transport.disconnecting
    assert [link.client for link in rs.repl.links] == [healthy]
    assert wire(healthy) == resp("SET", "k", "v" * 500)
    assert any(line.startswith("Client id=") and line.endswith(
        "scheduled to be closed ASAP for overcoming of output buffer limits.")
        for line in logged)


def test_output_buffer_soft_limit_needs_its_seconds():
    """Over the soft limit: dropped only once it lasted more than the seconds."""
    rs = Repl("client-output-buffer-limit replica 0 100 5")
    client, link = rs.online_replica()
    transport = client.conn.transport
    # Bytes the kernel has not taken, as a FileDescriptor keeps them.
    transport.dataBuffer, transport.offset, transport._tempDataLen = b"x" * 200, 0, 0
    assert link.output_buffer_size() == 200
    rs("SET", "a", "1")
    rs.advance(5)
    rs("SET", "a", "2")
    assert rs.repl.links == [link]
    rs.advance(1)
    rs("SET", "a", "3")
    assert rs.repl.links == []


def test_client_going_away_removes_the_link(rs, logged):
    """connectionLost -> remove_client: the link is gone, FullSync told."""
    client, link = rs.online_replica()
    rs.server.remove_client(client)
    assert rs.repl.links == [] and rs.fullsync.lost == [link]
    assert "Connection with replica 127.0.0.1:6380 lost." in logged


def test_backlog_freed_after_ttl_without_replicas(logged):
    """repl-backlog-ttl seconds with no replica: the backlog goes, with a new
    replid; writes stop moving the offset."""
    rs = Repl("repl-backlog-ttl 10")
    client, _link = rs.online_replica()
    replid = rs.server.replid
    rs.server.remove_client(client)
    rs.advance(10)
    rs.repl.cron()
    assert rs.repl.backlog is not None
    rs.advance(1)
    rs.repl.cron()
    assert rs.repl.backlog is None and rs.server.replid != replid
    assert rs.repl.stream not in rs.server.propagator.consumers
    offset = rs.server.master_repl_offset
    rs("SET", "k", "v")
    assert rs.server.master_repl_offset == offset
    assert "Replication backlog freed after 10 seconds without connected replicas." in logged


def test_backlog_resized_by_config_set(rs):
    """CONFIG SET repl-backlog-size resizes the live backlog."""
    rs.online_replica()
    assert rs("CONFIG", "SET", "repl-backlog-size", "20000") is not None
    assert rs.repl.backlog.size == 20000


def test_rdb_save_info_is_the_stream_db(rs):
    """No backlog: no repl info in RDBs; then the stream's db (0 when unset)."""
    assert rs.server.rdb_save_info() is None
    rs.online_replica()
    assert rs.server.rdb_save_info() == 0
    rs("SELECT", "4")
    rs("SET", "k", "v")
    assert rs.server.rdb_save_info() == 4


# -- visibility ---------------------------------------------------------------------

def _info_replication(rs):
    return generate(rs.server, {"replication"}).split("\r\n")


def test_info_replication_fields_as_redis(rs):
    """INFO replication on a master with replicas, field for field."""
    assert _info_replication(rs)[1:4] == ["role:master", "connected_slaves:0",
                                          "master_failover_state:no-failover"]
    client, link = rs.online_replica()
    waiting = rs.replica(port=6381, addr=b"127.0.0.1:40002")
    rs("PSYNC", "?", "-1", client=waiting)
    rs("SET", "a", "b")
    rs.advance(2)
    rs("REPLCONF", "ACK", "14", client=client)
    rs.advance(1)
    offset = rs.server.master_repl_offset
    assert _info_replication(rs) == [
        "# Replication",
        "role:master",
        "connected_slaves:2",
        "slave0:ip=127.0.0.1,port=6380,state=online,offset=14,lag=1",
        "slave1:ip=127.0.0.1,port=6381,state=wait_bgsave,offset=0,lag=0",
        "master_failover_state:no-failover",
        "master_replid:" + rs.server.replid.decode(),
        "master_replid2:" + "0" * 40,
        f"master_repl_offset:{offset}",
        "second_repl_offset:-1",
        "repl_backlog_active:1",
        "repl_backlog_size:1048576",
        "repl_backlog_first_byte_offset:1",
        f"repl_backlog_histlen:{offset}",
        "",
    ]


def test_info_min_slaves_good_slaves():
    """min_slaves_good_slaves counts online replicas acked within the max lag."""
    rs = Repl("min-replicas-to-write 1\nmin-replicas-max-lag 10")
    client, _link = rs.online_replica()
    assert "min_slaves_good_slaves:1" in _info_replication(rs)
    rs.advance(11)
    assert "min_slaves_good_slaves:0" in _info_replication(rs)
    rs("REPLCONF", "ACK", "0", client=client)
    assert rs.repl.good_replicas() == 1


def test_role_on_a_master(rs):
    """ROLE: master, its offset, and [ip, port, acked offset] per online replica."""
    assert rs("ROLE") == [b"master", 0, []]
    client, _link = rs.online_replica()
    waiting = rs.replica(port=6381)
    rs("PSYNC", "?", "-1", client=waiting)
    rs("SET", "a", "b")
    rs("REPLCONF", "ACK", "5", client=client)
    assert rs("ROLE") == [b"master", rs.server.master_repl_offset,
                          [[b"127.0.0.1", b"6380", b"5"]]]


def test_output_buffer_limit_follows_config_set(rs):
    """CONFIG SET client-output-buffer-limit applies to live links."""
    client = rs.replica()
    rs("PSYNC", "?", "-1", client=client)
    rs.repl.link_of(client).begin_full_sync(rs.server.master_repl_offset)
    assert rs("CONFIG", "SET", "client-output-buffer-limit", "replica 100 0 0") is OK
    rs("SET", "k", "v" * 200)
    assert rs.repl.links == []
