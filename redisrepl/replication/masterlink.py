"""The replica's connection to its master: a Twisted adapter around the
sans-IO pieces.

Theory of operation. One ``MasterLink`` protocol per TCP connection, in
three phases, each driven by a sans-IO reader:

1. **handshake** -- reply lines go to ``Handshake`` (handshake.py); its
   events say what to send, what to log, and how it ended. ``+FULLRESYNC``
   (or SYNC) leads to 2, ``+CONTINUE`` to 3, anything else closes the
   connection and the factory redials.
2. **payload** -- bytes go to ``PayloadReceiver`` (payload.py), the RDB
   bytes to a ``SyncLoad`` (syncload.py) that builds the new dataset aside.
   Once the payload is whole the transport is paused while the dataset
   loads, so the master's stream waits in TCP; then the dataset is swapped
   in, the replica role adopts the master's id and offset, and 3 begins with
   whatever followed the payload.
3. **stream** -- bytes go to ``MasterStream`` (masterstream.py); every
   command runs through ``engine.call`` as the master client (no replies),
   and the bytes of each applied command -- a whole MULTI/EXEC at once, the
   offset never moves inside one -- are handed to the replica role, which
   counts them and proxies them verbatim to our own backlog and replicas.

The persistent state (who the master is, ids, offsets, the stream's db,
timeouts, INFO) is the replica role's (replica.py); a link dies with its
connection. ``MasterLinkFactory`` is a ReconnectingClientFactory: it redials
with backoff and only ``resetDelay()``s after +FULLRESYNC / +CONTINUE, so a
master that accepts TCP and then refuses cannot make us spin.
"""

from twisted.internet.protocol import Protocol, ReconnectingClientFactory
from twisted.logger import Logger

from redisrepl.engine import call
from redisrepl.rdb import RdbError
from redisrepl.replication import handshake as hs
from redisrepl.replication.masterstream import MasterStream, StreamError
from redisrepl.replication.payload import Chunk, Finished, PayloadError, PayloadReceiver, Started
from redisrepl.replication.syncload import SyncLoad
from redisrepl.resp.encoder import encode_command
from redisrepl.resp.values import ReplyError

log = Logger()

HANDSHAKE = "handshake"
PAYLOAD = "payload"
LOADING = "loading"
STREAM = "stream"
CLOSED = "closed"

# Redis reads at most this much of a handshake reply line.
MAX_LINE = 1024


class MasterLink(Protocol):
    """One connection to the master (see the module's docstring)."""

    def __init__(self, role, handshake):
        self.role = role
        self.instance = role.instance
        self.handshake = handshake
        self.phase = HANDSHAKE
        self._line = bytearray()
        self.receiver = None
        self.sync = None
        self.sync_replid = None       # +FULLRESYNC's id and offset
        self.sync_offset = -1
        self.client = None            # the master client, in the stream phase
        self.stream = None
        self._pending_stream = b""    # bytes after the payload, before the stream
        self._unapplied = 0           # bytes of commands run, not yet counted
        self._applied_upto = 0        # of those, up to the last boundary
        self._aborted = False

    # -- connection ------------------------------------------------------------

    def connectionMade(self):
        self.role.link_connected(self)
        self._run(self.handshake.connected())

    def connectionLost(self, reason):
        phase, self.phase = self.phase, CLOSED
        why = reason.getErrorMessage()
        if phase == HANDSHAKE:
            self._run(self.handshake.connection_lost(why))
        elif phase in (PAYLOAD, LOADING):
            if self.sync is not None:
                self.sync.abort()
            if phase == PAYLOAD and not self._aborted:
                log.warn("I/O error trying to sync with MASTER: connection lost")  # noqa: G010
        if self.client is not None:
            self._unapplied = self._applied_upto = 0
            self.instance.remove_client(self.client)
        self.role.link_lost(self, phase == STREAM)

    def abort(self, reason=None):
        """Close now (a timeout, a protocol error): unsent bytes are dropped."""
        if reason:
            log.warn("{reason}", reason=reason)  # noqa: G010
        self._aborted = True
        if self.transport is not None:
            self.transport.abortConnection()

    def write(self, data):
        """Bytes to the master (ACKs, keepalives, the handshake)."""
        if self.phase != CLOSED:
            self.transport.write(data)

    # -- the Client's conn interface (the master client) -------------------------

    def send(self, data):
        """A reply to the master client: swallowed, a replica answers nothing."""

    def close(self):
        self.abort()

    def query_buffer_size(self):
        return self.stream.untaken if self.stream is not None else 0

    def resp_changed(self, resp):
        pass

    def unblocked(self, reply):
        pass

    # -- bytes in ------------------------------------------------------------------

    def dataReceived(self, data):
        self.role.io_seen()
        if self.phase == HANDSHAKE:
            data = self._handshake_data(data)
        if data and self.phase == PAYLOAD:
            data = self._payload_data(data)
        if data and self.phase == LOADING:
            self._pending_stream += data
            return
        if data and self.phase == STREAM:
            self._stream_data(data)

    # -- 1. handshake ----------------------------------------------------------------

    def _handshake_data(self, data):
        """Feed reply lines to the handshake; return what follows its end."""
        self._line += data
        while self.phase == HANDSHAKE:
            newline = self._line.find(b"\n")
            if newline < 0:
                if len(self._line) > MAX_LINE:
                    self.abort("Master sent a reply line longer than "
                               f"{MAX_LINE} bytes during the handshake")
                return b""
            line = bytes(self._line[:newline]).rstrip(b"\r")
            del self._line[:newline + 1]
            self._run(self.handshake.reply(line))
        rest = bytes(self._line)
        self._line.clear()
        return rest

    def _run(self, events):
        """Carry out the handshake's events (handshake.py's contract)."""
        for event in events:
            kind = type(event)
            if kind is hs.Send:
                self.write(event.data)
            elif kind is hs.Log:
                if event.level == "warning":
                    log.warn("{text}", text=event.message)  # noqa: G010
                else:
                    log.info("{text}", text=event.message)
            elif kind is hs.FullResync or kind is hs.Legacy:
                full = kind is hs.FullResync
                self.sync_replid = event.replid if full else None
                self.sync_offset = event.offset if full else -1
                self.role.factory_reset_delay()
                self.phase = PAYLOAD
                self.receiver = PayloadReceiver()
                self.role.transfer_started(self)
            elif kind is hs.Continue:
                self.role.factory_reset_delay()
                self.role.partial_resync(self, event.new_replid)
                self._start_stream()
            elif kind in (hs.RetryLater, hs.Failed):
                self.abort()
                if self.handshake.psync_sent:
                    self.role.psync_refused()
                return

    # -- 2. payload ------------------------------------------------------------------

    def _payload_data(self, data):
        """Feed the payload reader; return the bytes after the payload."""
        try:
            events = self.receiver.feed(data)
        except PayloadError as error:
            self.abort(error.message)
            return b""
        for event in events:
            kind = type(event)
            try:
                if kind is Chunk:
                    self.sync.write(event.data)
                elif kind is Started:
                    self._payload_started(event)
                elif kind is Finished:
                    self._payload_finished()
                    return event.rest
            except RdbError as error:
                self._sync_failed(error)
                return b""
            except OSError as error:
                self.abort("Write error writing the payload to the temp file: "
                           f"{error.strerror or error}")
                return b""
        return b""

    def _payload_started(self, event):
        to_disk = self.instance.config["repl-diskless-load"] == "disabled"
        if event.mark is not None:
            log.info("MASTER <-> REPLICA sync: receiving streamed RDB from master "
                     "with EOF to {target}", target="disk" if to_disk else "parser")
        else:
            log.info("MASTER <-> REPLICA sync: receiving {size} bytes from master "
                     "to {target}", size=event.size, target="disk" if to_disk else "parser")
        self.sync = SyncLoad(self.instance, to_disk)

    def _payload_finished(self):
        log.info("MASTER <-> REPLICA sync: Finished receiving the payload "
                 "({nbytes} bytes)", nbytes=self.receiver.rdb_bytes)
        self.phase = LOADING
        # The stream waits in TCP while the dataset loads.
        self.transport.pauseProducing()
        d = self.sync.complete()
        d.addCallbacks(self._loaded, self._load_failed)

    def _loaded(self, loader):
        if self.phase == CLOSED:
            return
        self.role.sync_loaded(self, self.sync_replid, self.sync_offset, loader.repl_info)
        self.sync = None
        self.receiver = None
        self._start_stream()
        self.transport.resumeProducing()
        pending, self._pending_stream = self._pending_stream, b""
        if pending:
            self._stream_data(pending)

    def _load_failed(self, failure):
        if self.phase == CLOSED:
            return None   # the link died first (task stopped): logged then
        error = failure.value
        self._sync_failed(error)
        return None

    def _sync_failed(self, error):
        if isinstance(error, RdbError):
            # Not "message": legacy observers (trial's) overwrite that key.
            log.warn("Internal error in RDB reading offset {offset} -> {reason}",  # noqa: G010
                     offset=error.offset or 0, reason=error.message)
        else:
            log.warn("{error}", error=error)  # noqa: G010
        self.abort("Failed trying to load the MASTER synchronization DB from "
                   "socket/disk: the old dataset is kept, retrying.")

    # -- 3. stream -------------------------------------------------------------------

    def _start_stream(self):
        self.phase = STREAM
        self.stream = MasterStream()
        self.client = self.role.new_master_client(self)

    def _stream_data(self, data):
        stream = self.stream
        stream.feed(data)
        client = self.client
        client.last_interaction_ms = self.instance.now_ms()
        keyspace = self.instance.keyspace
        keyspace.applying_master_stream = True
        try:
            while self.phase == STREAM:
                try:
                    command = stream.next_command()
                except StreamError as error:
                    self.abort(f"{error}: closing the master connection")
                    return
                if command is None:
                    return
                argv, size = command
                name = argv[0]
                if len(name) == 8 and name.lower() == b"replconf":
                    # GETACK acks what was applied before it: count it first.
                    self._flush_applied()
                self._unapplied += size
                reply = call(client, argv)
                if isinstance(reply, ReplyError):
                    # Replicas answer nothing, but an error here means our
                    # dataset differs from the master's (Redis's words).
                    log.warn("== CRITICAL == This replica is sending an error to its "  # noqa: G010
                             "master: '{error}' after processing the command '{command}'",
                             error=reply.message.decode("utf-8", "replace"),
                             command=name.decode("utf-8", "replace"))
                if client.multi is None:
                    # A boundary: everything so far counts (never mid-MULTI).
                    self._applied_upto = self._unapplied
        finally:
            keyspace.applying_master_stream = False
            self._flush_applied()

    def _flush_applied(self):
        """Hand the bytes of the commands applied up to the last boundary
        to the role, in one piece per read (offset, backlog, sub-replicas)."""
        upto = self._applied_upto
        if upto and self.phase == STREAM:
            self._applied_upto = 0
            self._unapplied -= upto
            self.role.applied(self.stream.take(upto))

    def read_offset_ahead(self):
        """Bytes received in the stream phase but not applied yet
        (slave_read_repl_offset - slave_repl_offset)."""
        return self.stream.untaken if self.stream is not None else 0

    def send_ack(self):
        """REPLCONF ACK <offset>, straight to the master."""
        if self.phase == STREAM:
            self.write(encode_command([b"REPLCONF", b"ACK",
                                       b"%d" % self.instance.master_repl_offset]))


class MasterLinkFactory(ReconnectingClientFactory):
    """Dials the master, and redials with backoff (Redis's cron retries
    once a second; this starts there and backs off to ``maxDelay``)."""

    initialDelay = 1.0
    factor = 1.5
    maxDelay = 5.0
    noisy = False   # "Starting factory ..." means nothing to an operator

    def __init__(self, role):
        self.role = role
        # Redials are timed on the instance's clock, not the global reactor.
        self.clock = role.instance.clock

    def startedConnecting(self, connector):
        self.role.connecting()

    def buildProtocol(self, addr):
        protocol = MasterLink(self.role, self.role.new_handshake())
        protocol.factory = self
        return protocol

    def clientConnectionFailed(self, connector, reason):
        self.role.connect_failed(reason.getErrorMessage())
        ReconnectingClientFactory.clientConnectionFailed(self, connector, reason)
