"""One replica attached to this master: its handshake settings, its
replication state and what the stream owes it.

A replica is a normal client connection (``client.conn`` a RedisProtocol)
that ran SYNC or PSYNC. From then on the master writes stream bytes
straight to its transport, not as replies, and keeps reading its
REPLCONF ACKs. The states are Redis's ``replstate`` for a replica:

- ``wait_bgsave``    (SLAVE_STATE_WAIT_BGSAVE_START) a full resync is wanted,
                     no save serves it yet: the stream skips it.
- ``send_bulk_wait`` (SLAVE_STATE_WAIT_BGSAVE_END) its save forked and
                     +FULLRESYNC went out: stream bytes are kept here
                     until the payload has been sent.
- ``send_bulk``      (SLAVE_STATE_SEND_BULK) the RDB file is being sent;
                     still buffering.
- ``online``         the buffered stream was flushed; stream bytes go to
                     the transport as they come, ACKs and timeouts count.

A link created by REPLCONF before SYNC has ``state`` None: it only keeps
the settings (listening port, capabilities) until SYNC/PSYNC.
"""

from twisted.logger import Logger

from redisrepl.commands.clients import client_info_line

log = Logger()

WAIT_BGSAVE = "wait_bgsave"
SEND_BULK_WAIT = "send_bulk_wait"
SEND_BULK = "send_bulk"
ONLINE = "online"

# INFO's state= word for each state (Redis's replstateToString).
INFO_STATE = {WAIT_BGSAVE: "wait_bgsave", SEND_BULK_WAIT: "wait_bgsave",
              SEND_BULK: "send_bulk", ONLINE: "online"}


def transport_pending(transport):
    """Bytes written to ``transport`` that the kernel has not taken yet
    (a Twisted FileDescriptor's buffer); 0 for transports without one."""
    buffered = getattr(transport, "dataBuffer", None)
    if not isinstance(buffered, bytes):
        return 0
    return len(buffered) - transport.offset + transport._tempDataLen


class ReplicaLink:
    def __init__(self, master, client):
        self.master = master
        self.client = client
        self.state = None
        # REPLCONF settings.
        self.listening_port = 0
        self.ip_address = None        # REPLCONF ip-address, else the peer's
        self.capa_eof = False
        self.capa_psync2 = False
        self.rdb_only = False         # REPLCONF rdb-only 1: the RDB, no stream
        # REPLCONF rdb-filter-only: an RDB without the keys (redis-cli
        # --replica) and without functions unless asked (--functions-rdb).
        self.rdb_exclude_data = False
        self.rdb_exclude_functions = False
        # SYNC (not PSYNC): no +FULLRESYNC line, no ACKs expected.
        self.legacy_sync = False
        # Set by FullSync when this link's payload goes through the child's
        # pipe: no "\n" keepalives then, they would corrupt the payload.
        self.diskless = False
        self.ack_offset = 0
        self.ack_time_ms = 0
        self.psync_initial_offset = -1
        self.dropped = False
        self._pending = []            # stream bytes kept until online
        self._pending_size = 0
        self._stream_on_ack = False   # online, stream held until the first ACK
        self._soft_limit_since = 0    # when the soft output limit was first passed

    # -- naming ----------------------------------------------------------

    def peer_ip(self):
        host = self.client.addr.rpartition(b":")[0]
        return host[1:-1] if host.startswith(b"[") else host

    def ip(self):
        """The replica's address as INFO and ROLE show it."""
        return self.ip_address if self.ip_address is not None else self.peer_ip()

    def name(self):
        """``ip:port`` as Redis's replicationGetSlaveName."""
        ip = self.ip().decode("latin-1")
        if not ip:
            return f"client id #{self.client.id}"
        if not self.listening_port:
            return f"{ip}:<unknown-replica-port>"
        if ":" in ip:
            return f"[{ip}]:{self.listening_port}"
        return f"{ip}:{self.listening_port}"

    def __repr__(self):
        return f"<ReplicaLink {self.name()} {self.state}>"

    # -- the stream --------------------------------------------------------

    def begin_full_sync(self, offset, copy_from=None):
        """Its save has forked at ``offset``: say +FULLRESYNC (unless it came
        with SYNC) and keep the stream from now on. ``copy_from``: a link
        served by the same save whose buffered stream it shares (Redis's
        copyReplicaOutputBuffer when a replica attaches to a running save)."""
        self.psync_initial_offset = offset
        self.state = SEND_BULK_WAIT
        if copy_from is not None:
            self._pending = list(copy_from._pending)
            self._pending_size = copy_from._pending_size
        # Its selected db is unknown: the next stream op re-SELECTs.
        self.master.stream.force_select()
        if not self.legacy_sync:
            self.send_status(b"+FULLRESYNC %s %d\r\n" % (
                self.master.instance.replid, offset))

    def buffered_stream(self):
        """The stream bytes kept for it while it is not online."""
        return b"".join(self._pending)

    def write(self, data):
        """Stream bytes: to the transport once online, else kept."""
        if self.state == ONLINE and not self._stream_on_ack:
            self._transport_write(data)
        else:
            self._pending.append(data)
            self._pending_size += len(data)
        self.check_output_limits()

    def keepalive(self):
        """A newline: keeps a replica waiting for its save from timing out,
        and moves no offset."""
        self._transport_write(b"\n")

    def payload_done(self, stream_on_ack=False):
        """The RDB has been handed to the transport: the link is online.
        ``stream_on_ack`` (diskless): hold the stream until its first ACK,
        so no byte follows the EOF mark in the same read (Redis's
        repl_start_cmd_stream_on_ack)."""
        if self.rdb_only:
            log.info("Close the connection with replica {name} as RDB transfer "
                     "is complete", name=self.name())
            self.drop(None, graceful=True)
            return
        self.state = ONLINE
        self.ack_time_ms = self.master.instance.now_ms()   # no false timeout
        log.info("Synchronization with replica {name} succeeded", name=self.name())
        self.master.online_changed()
        if stream_on_ack:
            self._stream_on_ack = True
        else:
            self.start_stream()

    def start_stream(self):
        """Flush what was kept; from now on stream bytes go straight out."""
        self._stream_on_ack = False
        if self._pending:
            data = b"".join(self._pending)
            self._pending = []
            self._pending_size = 0
            self._transport_write(data)

    def acked(self, offset):
        """REPLCONF ACK ``offset`` (already checked against the master's)."""
        if offset > self.ack_offset:
            self.ack_offset = offset
        self.ack_time_ms = self.master.instance.now_ms()
        if self._stream_on_ack and self.state == ONLINE:
            self.start_stream()

    def send_status(self, data):
        """A status line (+FULLRESYNC, +CONTINUE...) in order with any reply
        the connection is still gathering."""
        self.client.conn.send(data)

    def _transport_write(self, data):
        if self.dropped:
            return
        self.master.instance.net_repl_output_bytes += len(data)
        self.client.conn.transport.write(data)

    # -- limits ----------------------------------------------------------

    def output_buffer_size(self):
        """What it owes the replica: the transport's unsent bytes plus the
        stream kept here."""
        return transport_pending(self.client.conn.transport) + self._pending_size

    def check_output_limits(self):
        """client-output-buffer-limit replica: drop the link past the hard
        limit, or past the soft one for longer than its seconds. True if
        dropped."""
        if self.dropped:
            return True
        hard, soft, seconds = self.master.obuf_limits
        if not hard and not soft:
            return False
        used = self.output_buffer_size()
        over = bool(hard) and used >= hard
        if soft and used >= soft:
            now_s = self.master.instance.now_ms() // 1000
            if not self._soft_limit_since:
                self._soft_limit_since = now_s
            elif now_s - self._soft_limit_since > seconds:
                over = True
        else:
            self._soft_limit_since = 0
        if over:
            info = client_info_line(self.client, None).decode("latin-1")
            log.warn("Client {client} scheduled to be closed ASAP for overcoming of "
                     "output buffer limits.", client=info, replica=self.name(),
                     used=used, hard=hard, soft=soft, soft_seconds=seconds)
            self.drop(None)
        return over

    # -- ending ----------------------------------------------------------

    def drop(self, reason, graceful=False):
        """Log ``reason`` (if any) and close the connection. Not graceful:
        unsent bytes are discarded (a stuck replica never takes them).
        The master forgets the link at once."""
        if self.dropped:
            return
        self.dropped = True
        if reason:
            log.warn("{reason}", reason=reason, replica=self.name())
        self.master.link_closed(self)
        transport = getattr(self.client.conn, "transport", None)
        if graceful or transport is None or not hasattr(transport, "abortConnection"):
            self.client.close()
        else:
            self.client.closed = True   # no more commands from it
            transport.abortConnection()
