"""The replica's link to its master at protocol depth, no sockets: a
replica Instance on a task.Clock dials through a fake connector; the test
plays the master by writing bytes into the MasterLink and reading what the
replica wrote on a StringTransport. Covers the handshake's bytes, the full
sync (both framings, the swap only when complete), the stream (no replies,
exact offsets, MULTI, GETACK, ACKs, SELECT across reconnects), timeouts,
backoff, the -READONLY/-MASTERDOWN gates and the id shifts of PSYNC2."""

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionLost, ConnectionRefusedError
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.test import iosim

from redisrepl.engine import call
from redisrepl.replication.handshake import ReplState
from redisrepl.resp.values import NO_REPLY, OK, ReplyError
from redisrepl.server.factory import RedisServerFactory
from tests.support.inline_sync import InlineFullSync
from tests.unit.harness import Harness
from tests.unit.test_loader import dump_of
from tests.unit.test_replication_master import TransportConn, resp

MASTER_ID = b"a" * 40
OTHER_ID = b"b" * 40
MARK = b"9f3c1a7e5b2d48c6a0e1f7b3d5c9284a6e0b1f3d"


# -- a fake network ----------

class Dialer:
    """The replica role's connect_tcp: every attempt is a FakeConnector the
    test accepts, refuses or leaves pending."""

    def __init__(self):
        self.connectors = []
        self.attempts = 0

    def __call__(self, host, port, factory, timeout):
        connector = FakeConnector(self, host, port, factory)
        self.connectors.append(connector)
        connector.connect()
        return connector


class FakeConnector:
    """An IConnector whose connect() only records the attempt (the
    ReconnectingClientFactory calls it again on each redial)."""

    def __init__(self, dialer, host, port, factory):
        self.dialer, self.host, self.port, self.factory = dialer, host, port, factory
        self.pending = False
        self.wire = None

    def connect(self):
        self.dialer.attempts += 1
        self.pending = True
        self.wire = None
        self.factory.startedConnecting(self)

    def stopConnecting(self):
        self.pending = False

    def disconnect(self):
        if self.wire is not None:
            self.wire.abortConnection()
        self.pending = False

    def getDestination(self):
        return (self.host, self.port)

    def accept(self):
        """The master accepts: the MasterLink is connected (PING goes out)."""
        assert self.pending, "no connection attempt is pending"
        self.pending = False
        link = self.factory.buildProtocol(None)
        self.wire = Wire(self, link)
        link.makeConnection(self.wire)
        return self.wire

    def accept_from(self, server):
        """The connection reaches a redisrepl master Instance's RedisProtocol:
        an iosim pump carries the bytes both ways."""
        assert self.pending, "no connection attempt is pending"
        self.pending = False
        master = RedisServerFactory(server).buildProtocol(None)
        link = self.factory.buildProtocol(None)
        master_end, replica_end = (IPv4Address("TCP", "127.0.0.1", 6379),
                                   IPv4Address("TCP", "127.0.0.1", 40000))
        return iosim.connect(
            master, SocketlessTransport(master, True, master_end, replica_end),
            link, iosim.FakeTransport(link, False, replica_end, master_end), greet=False)

    def cut(self, pump):
        """The master side drops the iosim connection; the factory hears of it."""
        pump.server.transport.loseConnection()
        pump.flush()
        self.factory.clientConnectionLost(self, Failure(ConnectionDone("cut")))

    def refuse(self):
        self.pending = False
        self.factory.clientConnectionFailed(self, Failure(ConnectionRefusedError()))


class SocketlessTransport(iosim.FakeTransport):
    """The master's end: RedisProtocol asks for TCP options it cannot set here."""

    def getHandle(self):
        return None

    def setTcpNoDelay(self, enabled):
        pass


class Wire(StringTransport):
    """The replica's end of one connection: closing it (either side) reaches
    the link and the factory, as a real TCP client connection does."""

    def __init__(self, connector, link):
        super().__init__()
        self.connector, self.link = connector, link
        self.lost = False

    def loseConnection(self):
        self._lose(ConnectionDone("closed"))

    def abortConnection(self):
        self._lose(ConnectionLost("aborted"))

    def master_closes(self):
        self._lose(ConnectionDone("Connection was closed cleanly."))

    def _lose(self, error):
        if self.lost:
            return
        self.lost = self.disconnecting = True
        reason = Failure(error)
        self.link.connectionLost(reason)
        self.connector.factory.clientConnectionLost(self.connector, reason)

    def master_says(self, data):
        """Bytes from the master."""
        self.link.dataReceived(data)

    def taken(self):
        """What the replica wrote since last asked."""
        data = self.value()
        self.clear()
        return data


# -- the replica ----------

class Replica(Harness):
    def __init__(self, config_text=""):
        super().__init__(config_text)
        self.dialer = Dialer()
        self.role = self.server.replica
        self.role.connect_tcp = self.dialer

    @property
    def connector(self):
        return self.dialer.connectors[-1]

    def follow(self):
        assert self("REPLICAOF", "127.0.0.1", "6379") is OK

    def handshake(self, psync_reply=None):
        """Accept the pending attempt and answer PING and the REPLCONFs;
        then ``psync_reply`` if given. The wire, its output cleared."""
        wire = self.connector.accept()
        wire.master_says(b"+PONG\r\n")
        wire.master_says(b"+OK\r\n+OK\r\n")
        if psync_reply is not None:
            wire.master_says(psync_reply)
        wire.clear()
        return wire

    def full_sync(self, rdb, replid=MASTER_ID, offset=100, framing="len", rest=b""):
        """A whole full sync on a new connection, the dataset loaded."""
        wire = self.handshake(b"+FULLRESYNC %s %d\r\n" % (replid, offset))
        wire.master_says(frame(rdb, framing) + rest)
        self.finish_loading()
        return wire

    def finish_loading(self):
        for _ in range(10_000):
            link = self.role.link
            if link is None or link.phase != "loading":
                return
            self.clock.advance(0)
        raise AssertionError("the dataset never finished loading")

    def cron_after(self, seconds):
        """Let ``seconds`` pass, the replica cron running once a second."""
        for _ in range(int(seconds)):
            self.clock.advance(1)
            self.role.cron()

    def get(self, key, db=0):
        client = self.new_client()
        client.select(db)
        return self("GET", key, client=client)


def frame(rdb, framing):
    if framing == "len":
        return b"$%d\r\n" % len(rdb) + rdb
    return b"$EOF:" + MARK + b"\r\n" + rdb + MARK


def rdb_with(**keys):
    """An RDB (as SAVE writes it) holding string keys in db 0."""
    source = Harness()
    for key, value in keys.items():
        source(b"SET", key, value)
    return dump_of(source)


def ack(offset):
    return resp(b"REPLCONF", b"ACK", b"%d" % offset)


@pytest.fixture
def rep():
    replica = Replica()
    replica("SET", "old", "data")
    replica.follow()
    return replica


# -- the handshake ----------

def test_handshake_bytes_in_order(logged, rep):
    """PING alone; after +PONG the REPLCONFs in one write; after their
    replies PSYNC with our own id and offset+1 (a former master)."""
    replid = rep.server.replid
    wire = rep.connector.accept()
    assert wire.taken() == resp(b"PING")
    assert rep.role.repl_state == ReplState.RECEIVE_PING_REPLY
    wire.master_says(b"+PONG\r\n")
    assert wire.taken() == resp(b"REPLCONF", b"listening-port", b"%d" % rep.server.tcp_port) \
        + resp(b"REPLCONF", b"capa", b"eof", b"capa", b"psync2")
    wire.master_says(b"+OK\r\n")
    assert wire.taken() == b""
    wire.master_says(b"+OK\r\n")
    assert wire.taken() == resp(b"PSYNC", replid, b"1")
    assert rep.role.repl_state == ReplState.RECEIVE_PSYNC_REPLY
    assert "Connecting to MASTER 127.0.0.1:6379" in logged
    assert "Master replied to PING, replication can continue..." in logged
    assert f"Trying a partial resynchronization (request {replid.decode()}:1)." in logged


def test_masterauth_and_announce_ip_join_the_pipeline():
    """AUTH user pass first and REPLCONF ip-address, as Redis 7.0 pipelines them."""
    rep = Replica("masterauth secret\nmasteruser repl\nreplica-announce-ip 10.0.0.9\n"
                  "replica-announce-port 7000\n")
    rep.follow()
    wire = rep.connector.accept()
    wire.clear()
    wire.master_says(b"-NOAUTH Authentication required.\r\n")
    assert wire.taken() == resp(b"AUTH", b"repl", b"secret") \
        + resp(b"REPLCONF", b"listening-port", b"7000") \
        + resp(b"REPLCONF", b"ip-address", b"10.0.0.9") \
        + resp(b"REPLCONF", b"capa", b"eof", b"capa", b"psync2")


def test_handshake_reply_split_at_every_byte(rep):
    """Reply lines cut anywhere still drive the handshake."""
    wire = rep.connector.accept()
    wire.clear()
    for byte in b"+PONG\r\n+OK\r\n+OK\r\n":
        wire.master_says(bytes([byte]))
    assert wire.taken().endswith(resp(b"PSYNC", rep.server.replid, b"1"))


# -- full sync ----------

@pytest.mark.parametrize("framing", ["len", "eof"])
def test_full_sync_swaps_dataset_only_when_complete(rep, framing, logged):
    """+FULLRESYNC, the payload in pieces: the old data answers until the
    whole payload is loaded, then the new dataset, the master's id and
    offset, link up, a first ACK of that offset."""
    rdb = rdb_with(new="value")
    wire = rep.handshake(b"+FULLRESYNC %s 1000\r\n" % MASTER_ID)
    assert rep.role.repl_state == ReplState.TRANSFER
    payload = frame(rdb, framing)
    for start in range(0, len(payload) - 1, 7):
        wire.master_says(payload[start:min(start + 7, len(payload) - 1)])
        assert rep.get("old") == b"data" and rep.get("new") is None
    wire.master_says(payload[-1:])
    assert rep.role.link.phase == "loading"
    assert wire.producerState == "paused"      # the stream waits in TCP
    assert rep.get("old") == b"data"
    rep.finish_loading()
    assert rep.get("old") is None and rep.get("new") == b"value"
    assert rep.role.repl_state == ReplState.CONNECTED
    assert wire.producerState == "producing"
    assert (rep.server.replid, rep.server.master_repl_offset) == (MASTER_ID, 1000)
    assert rep.server.replid2 == b"0" * 40 and rep.server.second_repl_offset == -1
    assert wire.taken() == ack(1000)
    assert "MASTER <-> REPLICA sync: Finished with success" in logged
    assert f"Full resync from master: {MASTER_ID.decode()}:1000" in logged


def test_full_sync_in_socket_mode_keeps_old_data_until_the_end(logged):
    """repl-diskless-load swapdb: decoded from the socket, still swapped at the end."""
    rep = Replica("repl-diskless-load swapdb\n")
    rep("SET", "old", "data")
    rep.follow()
    rdb = rdb_with(new="value")
    wire = rep.handshake(b"+FULLRESYNC %s 5\r\n" % MASTER_ID)
    payload = frame(rdb, "eof")
    wire.master_says(payload[:-1])
    assert rep.get("old") == b"data" and rep.get("new") is None
    wire.master_says(payload[-1:])
    rep.finish_loading()
    assert rep.get("new") == b"value" and rep.get("old") is None
    assert "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to parser" \
        in logged


def test_stream_bytes_in_the_payloads_last_read_are_applied_after_the_load(rep):
    """Commands that follow the payload in the same read wait for the load,
    then apply (the offset counts them)."""
    rdb = rdb_with()
    command = resp(b"SET", b"after", b"sync")
    rep.full_sync(rdb, offset=10, rest=command)
    assert rep.get("after") == b"sync"
    assert rep.server.master_repl_offset == 10 + len(command)


@pytest.mark.parametrize("config", ["", "repl-diskless-load swapdb\n"])
def test_corrupt_payload_keeps_old_data_and_leaves_no_temp_file(config, tmp_path, logged):
    """An RDB the decoder refuses: logged with its offset, the link closed,
    the old dataset serving, no temp file left, a redial scheduled."""
    rep = Replica(config)
    rep("SET", "old", "data")
    rep.follow()
    corrupt = b"REDIS0010" + b"\xfe\x00" + b"\x77\x03key\x03val" + b"\xff" + b"\0" * 8
    wire = rep.handshake(b"+FULLRESYNC %s 0\r\n" % MASTER_ID)
    wire.master_says(frame(corrupt, "len"))
    rep.finish_loading()
    assert wire.lost and rep.get("old") == b"data"
    assert rep.role.repl_state == ReplState.CONNECT
    assert "Internal error in RDB reading offset 11 -> Unknown RDB encoding type 119" in logged
    assert any(line.startswith("Failed trying to load the MASTER synchronization DB")
               for line in logged)
    assert list(tmp_path.glob("temp-*.tmp")) == []
    rep.clock.advance(5)
    assert rep.dialer.attempts == 2


def test_master_closing_mid_payload_keeps_old_data(rep, tmp_path, logged):
    """A connection lost inside the payload: Redis's I/O error, old data, no temp file."""
    wire = rep.handshake(b"+FULLRESYNC %s 0\r\n" % MASTER_ID)
    wire.master_says(b"$1000\r\nREDIS0010")
    wire.master_closes()
    assert rep.get("old") == b"data" and rep.role.link is None
    assert "I/O error trying to sync with MASTER: connection lost" in logged
    assert list(tmp_path.glob("temp-*.tmp")) == []


# -- the stream ----------

@pytest.fixture
def up(rep):
    """A replica in the stream phase after a full sync at offset 100."""
    wire = rep.full_sync(rdb_with(), offset=100)
    wire.clear()
    return rep, wire


def test_master_client_is_listed_as_redis_lists_it(up):
    """CLIENT LIST shows the master client with flags M, the stream's db and
    user=(superuser); CLIENT KILL TYPE master finds it."""
    rep, wire = up
    line = next(entry for entry in rep("CLIENT", "LIST").split(b"\n") if b"flags=M" in entry)
    assert b" db=0 " in line and b" user=(superuser) " in line
    assert rep("CLIENT", "KILL", "TYPE", "master") == 1


def test_stream_commands_apply_with_no_replies_and_exact_offsets(up):
    """Every command applies through the engine, nothing is written back,
    the offset moves by each command's bytes, even split mid-command."""
    rep, wire = up
    first = resp(b"SET", b"k", b"v")
    second = resp(b"RPUSH", b"l", b"a", b"b")
    data = first + second + resp(b"INCR", b"k")     # INCR of "v" fails
    wire.master_says(data[:5])
    assert rep.server.master_repl_offset == 100
    wire.master_says(data[5:len(first) + 3])
    assert rep.server.master_repl_offset == 100 + len(first)
    wire.master_says(data[len(first) + 3:])
    assert rep.server.master_repl_offset == 100 + len(data)
    assert rep.get("k") == b"v" and rep("LRANGE", "l", 0, -1) == [b"a", b"b"]
    assert wire.taken() == b""


def test_an_error_while_applying_is_logged_critical(up, logged):
    """A command that fails on the replica means diverged data: Redis's warning."""
    rep, wire = up
    wire.master_says(resp(b"SET", b"k", b"v") + resp(b"INCR", b"k"))
    assert wire.taken() == b""
    assert any(line.startswith("== CRITICAL == This replica is sending an error to its "
                               "master: 'ERR value is not an integer") for line in logged)


def test_offset_never_moves_inside_multi(up):
    """MULTI ... EXEC: the offset stays put until EXEC, then moves by all of it."""
    rep, wire = up
    multi = resp(b"MULTI") + resp(b"SET", b"a", b"1") + resp(b"SET", b"b", b"2")
    wire.master_says(multi)
    assert rep.server.master_repl_offset == 100
    assert rep.role.link.read_offset_ahead() == len(multi)
    wire.master_says(resp(b"EXEC"))
    assert rep.server.master_repl_offset == 100 + len(multi) + len(resp(b"EXEC"))
    assert rep.get("a") == b"1" and rep.get("b") == b"2"


def test_link_cut_mid_multi_resumes_at_the_offset_before_multi(up, logged):
    """Cut inside a transaction: nothing of it applied, PSYNC asks for the
    offset before MULTI + 1, and the resent transaction applies once."""
    rep, wire = up
    wire.master_says(resp(b"SET", b"x", b"0"))
    before = rep.server.master_repl_offset
    transaction = resp(b"MULTI") + resp(b"INCR", b"x") + resp(b"EXEC")
    wire.master_says(transaction[:-len(resp(b"EXEC"))])
    wire.master_closes()
    assert rep.get("x") == b"0" and rep.server.master_repl_offset == before
    assert "Connection with master lost." in logged
    rep.clock.advance(5)                         # the factory redials
    wire = rep.connector.accept()
    wire.master_says(b"+PONG\r\n+OK\r\n+OK\r\n")
    assert wire.taken().endswith(resp(b"PSYNC", MASTER_ID, b"%d" % (before + 1)))
    wire.master_says(b"+CONTINUE\r\n" + transaction)
    assert rep.get("x") == b"1"
    assert rep.server.master_repl_offset == before + len(transaction)


def test_getack_answers_the_offset_before_it(up):
    """REPLCONF GETACK *: an ACK of the bytes applied before it; the
    GETACK's own bytes count afterwards."""
    rep, wire = up
    command = resp(b"SET", b"k", b"v")
    getack = resp(b"REPLCONF", b"GETACK", b"*")
    wire.master_says(command + getack)
    assert wire.taken() == ack(100 + len(command))
    assert rep.server.master_repl_offset == 100 + len(command) + len(getack)


def test_ack_every_second_from_the_cron(up):
    """The cron sends REPLCONF ACK <offset> once a second."""
    rep, wire = up
    wire.master_says(resp(b"PING"))
    rep.cron_after(1)
    assert wire.taken() == ack(114)
    rep.cron_after(1)
    assert wire.taken() == ack(114)


def test_select_is_kept_across_reconnects(up):
    """The stream's SELECT survives a broken link: after +CONTINUE the
    master does not repeat it, and writes still land in that db."""
    rep, wire = up
    wire.master_says(resp(b"SELECT", b"3") + resp(b"SET", b"in3", b"a"))
    wire.master_closes()
    rep.clock.advance(5)
    wire = rep.handshake(b"+CONTINUE\r\n")
    wire.master_says(resp(b"SET", b"also3", b"b"))
    assert rep.get("in3", db=3) == b"a"
    assert rep.get("also3", db=3) == b"b" and rep.get("also3") is None


def test_garbage_in_the_stream_drops_the_link(up, logged):
    """A reply instead of a command: Redis's protocol error, link closed, redialed."""
    rep, wire = up
    attempts = rep.dialer.attempts
    wire.master_says(b"+OK\r\n")
    assert wire.lost and rep.role.link is None
    assert any("Protocol error from master" in line for line in logged)
    rep.clock.advance(5)
    assert rep.dialer.attempts == attempts + 1


# -- timeouts and backoff ----------

def test_silent_master_is_timed_out_and_redialed(logged):
    """No byte for repl-timeout seconds in the stream phase: dropped, redialed."""
    rep = Replica("repl-timeout 5\n")
    rep.follow()
    wire = rep.full_sync(rdb_with())
    rep.cron_after(5)
    assert not wire.lost
    rep.cron_after(1)
    assert wire.lost
    assert "MASTER timeout: no data nor PING received..." in logged
    rep.clock.advance(5)
    assert rep.dialer.attempts == 2 and rep.connector.pending


def test_master_pings_keep_the_link_alive(up):
    """Stream bytes (the master's PINGs) reset the silence timer."""
    rep, wire = up
    for _ in range(120):
        rep.cron_after(1)
        wire.master_says(resp(b"PING"))
    assert not wire.lost


def test_handshake_timeout():
    """A master that accepts and never answers PING is timed out."""
    rep = Replica("repl-timeout 3\n")
    rep.follow()
    wire = rep.connector.accept()
    rep.cron_after(3)
    assert not wire.lost
    rep.cron_after(1)
    assert wire.lost and rep.role.repl_state == ReplState.CONNECT


def test_transfer_timeout_keeps_old_data(rep, logged):
    """A payload that stops mid-way is timed out; the old data serves."""
    wire = rep.handshake(b"+FULLRESYNC %s 0\r\n" % MASTER_ID)
    wire.master_says(b"$1000\r\n" + b"REDIS0010")
    rep.cron_after(61)
    assert wire.lost and rep.get("old") == b"data"
    assert any(line.startswith("Timeout receiving bulk data from MASTER") for line in logged)


def test_refusing_master_does_not_cause_a_tight_loop(rep):
    """A master that accepts TCP and answers -ERR to PING: redials back off
    (a few attempts a minute, not thousands) since nothing resets the delay."""
    for _ in range(600):                       # ten minutes of simulated time
        if rep.connector.pending:
            wire = rep.connector.accept()
            wire.master_says(b"-ERR nope\r\n")
            assert wire.lost
        rep.clock.advance(1)
    assert rep.dialer.attempts <= 600 / 4
    assert rep.role.factory.delay > rep.role.factory.initialDelay


def test_refused_connections_back_off_too(rep, logged):
    """Connection refused: logged as Redis does, redialed with backoff."""
    for _ in range(120):
        if rep.connector.pending:
            rep.connector.refuse()
        rep.clock.advance(1)
    assert 2 <= rep.dialer.attempts <= 120 / 4
    assert any(line.startswith("Error condition on socket for SYNC") for line in logged)


@pytest.mark.parametrize("reply", [b"+FULLRESYNC %s 0\r\n" % MASTER_ID, b"+CONTINUE\r\n"])
def test_backoff_resets_only_after_the_master_accepts_psync(rep, reply):
    """Failures grow the delay; +FULLRESYNC or +CONTINUE resets it."""
    for _ in range(3):
        wire = rep.connector.accept()
        wire.master_says(b"-ERR nope\r\n")
        rep.clock.advance(rep.role.factory.delay + 1)
    assert rep.role.factory.delay > rep.role.factory.initialDelay
    rep.handshake()
    assert rep.role.factory.delay > rep.role.factory.initialDelay   # the handshake: no reset
    rep.role.link.dataReceived(reply)
    assert rep.role.factory.delay == rep.role.factory.initialDelay


def test_loading_master_means_retry_later(rep, logged):
    """-LOADING to PSYNC: closed, redialed later, no SYNC sent."""
    wire = rep.handshake()
    wire.master_says(b"-LOADING Redis is loading the dataset in memory\r\n")
    assert wire.lost and b"SYNC" not in wire.value()
    assert any(line.startswith("Master is currently unable to PSYNC but should be in the "
                               "future: -LOADING") for line in logged)


# -- gates ----------

def test_writes_answer_readonly_and_the_master_passes(up):
    """replica-read-only: clients get -READONLY, the master's stream writes."""
    rep, wire = up
    assert rep("SET", "k", "v") == \
        ReplyError("READONLY You can't write against a read only replica.")
    wire.master_says(resp(b"SET", b"k", b"from-master"))
    assert rep.get("k") == b"from-master"
    rep("CONFIG", "SET", "replica-read-only", "no")
    assert rep("SET", "k", "v") is OK


def test_masterdown_while_link_down_with_serve_stale_data_no():
    """replica-serve-stale-data no: -MASTERDOWN until the link is up, and again
    once it drops; INFO still answers."""
    rep = Replica("replica-serve-stale-data no\n")
    rep.follow()
    masterdown = ReplyError("MASTERDOWN Link with MASTER is down and "
                            "replica-serve-stale-data is set to 'no'.")
    assert rep("GET", "k") == masterdown
    assert not isinstance(rep("INFO", "replication"), ReplyError)
    wire = rep.full_sync(rdb_with(k="v"))
    assert rep("GET", "k") == b"v"
    wire.master_closes()
    assert rep("GET", "k") == masterdown


# -- ids: promotion, +CONTINUE <newid>, full sync ----------

def sub_replica(rep):
    """A replica of our replica, online through a partial resync."""
    client = rep.server.new_client(TransportConn(), b"127.0.0.1:40001", b"127.0.0.1:6380", fd=9)
    rep("REPLCONF", "capa", "psync2", client=client)
    offset = rep.server.master_repl_offset
    assert rep("PSYNC", rep.server.replid, offset + 1, client=client) is NO_REPLY
    assert client.conn.transport.value().startswith(b"+CONTINUE")
    client.conn.transport.clear()
    return client


def test_applied_stream_is_proxied_verbatim_to_sub_replicas(up):
    """A chain shares one stream: our sub-replicas get exactly the bytes applied."""
    rep, wire = up
    client = sub_replica(rep)
    data = resp(b"SET", b"k", b"v") + resp(b"MULTI") + resp(b"INCR", b"n")
    wire.master_says(data)
    assert client.conn.transport.value() == resp(b"SET", b"k", b"v")
    wire.master_says(resp(b"EXEC"))
    assert client.conn.transport.value() == data + resp(b"EXEC")


def test_sub_replicas_get_no_pings_or_newlines_while_our_link_is_down(up):
    """With our master gone, nothing goes into the stream to sub-replicas:
    no PING (it would move the offset off our master's) and no newline (a
    real 7.0 replica counts one in its offset once the next command comes:
    checked by hand, 100 + a 27-byte SET + "\\n" gave 128)."""
    rep, wire = up
    client = sub_replica(rep)
    wire.master_closes()
    rep.server.config.set_many([(b"repl-ping-replica-period", b"1")])
    for _ in range(15):
        rep.clock.advance(1)
        rep.server.cron()
    assert client.conn.transport.value() == b""
    assert rep.role.link is None or rep.role.link.phase != "stream"


def test_replicaof_no_one_shifts_ids_and_drops_sub_replicas(up, logged):
    """Promotion: replid2 = the old replid valid up to offset+1, a new replid,
    sub-replicas dropped (they come back with +CONTINUE <newid>)."""
    rep, wire = up
    wire.master_says(resp(b"SET", b"k", b"v"))
    client = sub_replica(rep)
    offset = rep.server.master_repl_offset
    assert rep("REPLICAOF", "NO", "ONE") is OK
    assert rep.server.replid2 == MASTER_ID
    assert rep.server.second_repl_offset == offset + 1
    assert rep.server.replid != MASTER_ID and rep.server.master_repl_offset == offset
    assert client.conn.transport.disconnecting and rep.server.repl.links == []
    assert wire.lost and not rep.role.active
    assert rep("SET", "k", "w") is OK
    assert any(line.startswith("MASTER MODE enabled") for line in logged)


def test_continue_with_a_new_id_shifts_ids_and_drops_sub_replicas(up, logged):
    """+CONTINUE <newid>: replid2 = our old id up to offset+1, replid = newid,
    sub-replicas dropped; the offset itself is unchanged."""
    rep, wire = up
    client = sub_replica(rep)
    offset = rep.server.master_repl_offset
    wire.master_closes()
    rep.clock.advance(5)
    rep.handshake(b"+CONTINUE %s\r\n" % OTHER_ID)
    assert (rep.server.replid, rep.server.replid2) == (OTHER_ID, MASTER_ID)
    assert rep.server.second_repl_offset == offset + 1
    assert rep.server.master_repl_offset == offset
    assert client.conn.transport.disconnecting and rep.server.repl.links == []
    assert f"Master replication ID changed to {OTHER_ID.decode()}" in logged


def test_continue_with_the_same_id_keeps_sub_replicas(up):
    """+CONTINUE with our own id: nothing shifts, sub-replicas stay."""
    rep, wire = up
    client = sub_replica(rep)
    wire.master_closes()
    rep.clock.advance(5)
    rep.handshake(b"+CONTINUE %s\r\n" % MASTER_ID)
    assert rep.server.replid == MASTER_ID and rep.server.second_repl_offset == -1
    assert not client.conn.transport.disconnecting and len(rep.server.repl.links) == 1


def test_full_sync_adopts_the_masters_history_and_drops_sub_replicas(up):
    """A second full sync: the new replid and offset, no replid2, the backlog
    restarted there, sub-replicas dropped."""
    rep, wire = up
    client = sub_replica(rep)
    wire.master_closes()
    rep.clock.advance(5)
    rep.full_sync(rdb_with(), replid=OTHER_ID, offset=7777)
    assert (rep.server.replid, rep.server.master_repl_offset) == (OTHER_ID, 7777)
    assert rep.server.replid2 == b"0" * 40 and rep.server.second_repl_offset == -1
    assert client.conn.transport.disconnecting and rep.server.repl.links == []


def test_sync_from_a_sub_replica_while_our_link_is_down_is_refused(rep):
    """-NOMASTERLINK: we have no history to give before our master's."""
    client = rep.server.new_client(TransportConn(), b"127.0.0.1:40001", b"", fd=9)
    assert call(client, [b"PSYNC", b"?", b"-1"]) == \
        ReplyError("NOMASTERLINK Can't SYNC while not connected with my master")


# -- against a redisrepl master, no sockets -------------------------------------------

def test_follows_a_redisrepl_master_full_then_partial(rep):
    """Wired to our own master side by iosim: a full sync, the stream, a cut,
    writes meanwhile, then +CONTINUE with exactly what was missed; the ids
    and offsets of both ends agree throughout."""
    master = Harness("protected-mode no\ntcp-keepalive 0\n")
    master.server.repl.fullsync = InlineFullSync(master.server)
    master("SET", "a", "1")
    master("SELECT", 5)
    pump = rep.connector.accept_from(master.server)
    pump.flush()
    rep.finish_loading()
    pump.flush()
    assert rep.get("a") == b"1" and rep.get("old") is None
    assert rep.server.replid == master.server.replid
    master("SET", "b", "2")
    pump.flush()
    assert rep.get("b", db=5) == b"2"
    assert rep.server.master_repl_offset == master.server.master_repl_offset
    rep.connector.cut(pump)
    master("SET", "c", "3")
    master("DEL", "b")
    rep.clock.advance(5)
    pump = rep.connector.accept_from(master.server)
    pump.flush()
    assert master.server.sync_partial_ok == 1 and master.server.sync_full == 1
    assert rep.get("c", db=5) == b"3" and rep.get("b", db=5) is None
    assert rep.server.master_repl_offset == master.server.master_repl_offset
    rep.cron_after(1)
    pump.flush()
    assert b"slave0:ip=" in master("INFO", "replication")
    assert b"offset=%d" % master.server.master_repl_offset in master("INFO", "replication")
