"""The replica side of replication: following a master (Redis's
replication.c, replica half). ``instance.replica`` is the one ReplicaRole.

Theory of operation
-------------------
The role holds what outlives one connection: the master's address, whether
our history can be resumed, the db the master's stream has selected, when
we last heard from the master, and the ``MasterLinkFactory`` that dials it.
Each connection is a ``MasterLink`` (masterlink.py) that reports back here.

Ids and offsets. A replica's ``instance.replid`` and
``instance.master_repl_offset`` ARE the chain's: adopted from
``+FULLRESYNC <replid> <offset>`` once the payload is loaded, then moved by
exactly the stream bytes applied (``applied``), which are also proxied
verbatim into our backlog and to our own replicas (ReplicationMaster.feed,
with ``proxying`` on). So the cached master Redis keeps for PSYNC is always
(replid, master_repl_offset), valid while ``has_history`` holds: it is
False only after a sync that gave no id (old SYNC, a malformed +FULLRESYNC)
or a start-up as a replica with no replication info in the dump.

The transitions, as Redis 7.0 makes them:

- ``follow(host, port)`` (REPLICAOF, the replicaof directive): drop any
  link, keep our ids (a former master asks PSYNC with its own id and
  offset: replicationCacheMasterUsingMyself), become a replica and dial.
  Our replicas stay: they may continue with us.
- ``+CONTINUE <newid>`` with another id: replid2 = our id up to offset+1,
  replid = newid, our replicas dropped (they learn the new id on PSYNC).
- full sync loaded: replid = the master's, replid2 cleared, offset = the
  master's, backlog emptied, our replicas dropped (our history is gone).
- ``unfollow()`` (REPLICAOF NO ONE): replid2 = replid up to offset+1, a new
  replid, replicas dropped so they continue with ``+CONTINUE <newid>``.

Gates the engine reads as attributes (kept current here):
``instance.replica_read_only`` (-READONLY) and ``instance.stale_error``
(-MASTERDOWN while the link is down and replica-serve-stale-data is no).

The cron (once a second, replicationCron's replica half): timeouts for
connect/handshake, transfer and a silent master; REPLCONF ACK; a newline to
the master while a dataset loads.
"""

from twisted.logger import Logger

from redisrepl import errors
from redisrepl.replication.handshake import ROLE_WORDS, CachedMaster, Handshake, ReplState
from redisrepl.replication.master import new_replid
from redisrepl.replication.masterlink import HANDSHAKE, LOADING, PAYLOAD, STREAM, MasterLinkFactory
from redisrepl.server.factory import format_address
from redisrepl.server.protocol import transport_fd

log = Logger()

_NO_REPLID2 = b"0" * 40


class ReplicaRole:
    def __init__(self, instance, connect_tcp=None):
        self.instance = instance
        self.config = instance.config
        self.host = None              # masterhost: None while we are a master
        self.port = 0
        self.state = ReplState.NONE   # outside a connection's handshake
        self.link = None              # the MasterLink of the current connection
        self.factory = None
        self.connector = None
        self.has_history = True       # see the module's docstring
        self.stream_db = 0            # the db the master's stream has selected
        self.last_io = 0              # clock seconds of the master's last byte
        self.down_since = 0           # repl_down_since (0: never up, or up)
        # How to dial: fn(host, port, factory, timeout) -> connector; the
        # service gives the reactor's connectTCP.
        self.connect_tcp = connect_tcp
        self.config.watch("replica-read-only", lambda old, new: self._update_gates())
        self.config.watch("replica-serve-stale-data", lambda old, new: self._update_gates())
        self._update_gates()

    # -- what we are -------------------------------------------------------------

    @property
    def active(self):
        """True while this server is a replica (masterhost is set)."""
        return self.host is not None

    @property
    def repl_state(self):
        """Redis's repl_state, the handshake's states included."""
        link = self.link
        if link is not None and link.phase == HANDSHAKE:
            return link.handshake.state
        return self.state

    @property
    def connected(self):
        return self.state == ReplState.CONNECTED

    def _set_state(self, state):
        self.state = state
        self._update_gates()

    def _update_gates(self):
        instance = self.instance
        active = self.active
        instance.replica_read_only = active and self.config["replica-read-only"]
        stale = active and self.state != ReplState.CONNECTED and \
            not self.config["replica-serve-stale-data"]
        instance.stale_error = errors.MASTERDOWN if stale else None

    # -- REPLICAOF -------------------------------------------------------------------

    def follow(self, host, port):
        """replicationSetMaster: become a replica of host:port and dial it."""
        if not self.active:
            # Our own id and offset are what we will ask PSYNC with.
            log.info("Before turning into a replica, using my own master parameters to "
                     "synthesize a cached master: I may be able to synchronize with the "
                     "new master with just a partial transfer.")
        self.become_replica(host, port)
        self._dial()

    def become_replica(self, host, port):
        """The role without dialing yet (start-up dials after the load)."""
        was_master = not self.active
        self._drop_link()
        self.host, self.port = host, int(port)
        # CONFIG REWRITE writes what we follow (Sentinel relies on it).
        self.config.assign("replicaof", (host, self.port))
        instance = self.instance
        instance.keyspace.is_replica = True
        instance.repl.set_proxying(True)
        if was_master:
            # Blocked clients waited on a master's data (Redis's
            # disconnectAllBlockedClients).
            instance.blocking.unblock_all(errors.UNBLOCKED_ROLE_CHANGE)
            self.stream_db = instance.repl.rdb_save_info() or 0
        self._set_state(ReplState.CONNECT)
        instance.guarantees.refresh()

    def stop(self):
        """The service stops: no more dialing, the link closed."""
        self._drop_link()

    def start(self):
        """Dial the configured master (start-up, after the dataset loaded)."""
        if self.active and self.factory is None:
            self._dial()

    def unfollow(self):
        """replicationUnsetMaster: REPLICAOF NO ONE."""
        if not self.active:
            return
        self.host = None
        self.config.assign("replicaof", None)
        self._drop_link()
        instance = self.instance
        self._shift_replid(new_replid())
        log.info("Setting secondary replication ID to {replid2}, valid up to offset: "
                 "{offset}. New replication ID is {replid}",
                 replid2=instance.replid2.decode(), offset=instance.second_repl_offset,
                 replid=instance.replid.decode())
        instance.repl.disconnect_replicas(None)
        instance.keyspace.is_replica = False
        instance.repl.set_proxying(False)
        instance.repl.no_replicas_since = instance.clock.seconds()
        self.down_since = 0
        self.has_history = True
        self._set_state(ReplState.NONE)
        instance.guarantees.refresh()

    def _shift_replid(self, new_id):
        """shiftReplicationId: our id becomes replid2, valid up to here, and
        ``new_id`` our id."""
        instance = self.instance
        instance.replid2 = instance.replid
        instance.second_repl_offset = instance.master_repl_offset + 1
        instance.replid = new_id

    def _dial(self):
        log.info("Connecting to MASTER {host}:{port}", host=self.host, port=self.port)
        self.factory = MasterLinkFactory(self)
        if self.connect_tcp is None:
            return   # a bare clock (unit tests): nothing to dial with
        self.connector = self.connect_tcp(self.host, self.port, self.factory,
                                          self.config["repl-timeout"])

    def _drop_link(self):
        """Stop dialing and close the current connection (cancelReplicationHandshake
        and freeClient(server.master))."""
        factory, self.factory = self.factory, None
        if factory is not None:
            factory.stopTrying()
        connector, self.connector = self.connector, None
        link, self.link = self.link, None
        if link is not None:
            if link.client is not None:
                self.stream_db = link.client.db.id
                self.down_since = int(self.instance.clock.seconds())
            link.abort()
        elif connector is not None:
            connector.disconnect()

    # -- what a connection reports ---------------------------------------------------------

    def new_handshake(self):
        port = self.config["replica-announce-port"] or self.instance.tcp_port
        cached = None
        if self.has_history:
            cached = CachedMaster(self.instance.replid, self.instance.master_repl_offset)
        return Handshake(port, self.config["masterauth"], self.config["masteruser"],
                         self.config["replica-announce-ip"], cached,
                         failover=self.instance.repl.failover.in_progress)

    def connecting(self):
        self._set_state(ReplState.CONNECTING)
        self.io_seen()

    def connect_failed(self, why):
        log.warn("Error condition on socket for SYNC: {why}", why=why)  # noqa: G010
        self._set_state(ReplState.CONNECT)

    def link_connected(self, link):
        if self.factory is None or link.factory is not self.factory:
            link.abort()   # a connection of a master we no longer follow
            return
        self.link = link
        self.io_seen()
        log.info("MASTER <-> REPLICA sync started")

    def link_lost(self, link, was_streaming):
        if link is not self.link:
            return
        self.link = None
        if link.client is not None:
            self.stream_db = link.client.db.id
        if was_streaming:
            log.info("Connection with master lost.")
            log.info("Caching the disconnected master state.")
            self.down_since = int(self.instance.clock.seconds())
        if self.active:
            self._set_state(ReplState.CONNECT)

    def factory_reset_delay(self):
        if self.factory is not None:
            self.factory.resetDelay()

    def io_seen(self):
        self.last_io = self.instance.clock.seconds()

    def psync_refused(self):
        """PSYNC was sent and answered with neither +FULLRESYNC nor
        +CONTINUE (or not answered): a FAILOVER to that master aborts."""
        self.instance.repl.failover.psync_refused()

    def transfer_started(self, link):
        self._set_state(ReplState.TRANSFER)
        if link.sync_replid is None:
            # No id to resume from after this sync (Redis blanks it).
            self.has_history = False
        self.instance.repl.failover.psync_accepted()

    def partial_resync(self, link, new_id):
        """+CONTINUE: the stream resumes where our offset is."""
        instance = self.instance
        if new_id is not None:
            self._shift_replid(new_id)
            instance.repl.disconnect_replicas(None)
        instance.repl.ensure_backlog()
        self._up()
        instance.repl.failover.psync_accepted()

    def sync_loaded(self, link, replid, offset, repl_info):
        """The full sync's dataset is swapped in: adopt the master's history."""
        instance = self.instance
        # Our replicas hold the history we just dropped.
        instance.repl.disconnect_replicas(None)
        instance.replid = replid if replid is not None else new_replid()
        instance.replid2 = _NO_REPLID2
        instance.second_repl_offset = -1
        instance.master_repl_offset = max(offset, 0)
        instance.repl.reset_backlog()
        self.has_history = replid is not None
        self.stream_db = repl_info.stream_db if repl_info is not None else 0
        link.handshake.transfer_complete()
        log.info("MASTER <-> REPLICA sync: Finished with success")
        self._up()
        # With appendonly yes the AOF starts over from the synced dataset (a
        # rewrite: Redis's restartAOFAfterSYNC checks the setting itself).
        instance.aof.restart_after_sync()

    def _up(self):
        self.down_since = 0
        self._set_state(ReplState.CONNECTED)

    def new_master_client(self, link):
        """The client the master's commands run as (flags M, db = the
        stream's), and the first ACK (a 7.0 master waits for it)."""
        instance = self.instance
        client = instance.new_client(link, addr=b"%s:%d" % (self.host.encode(), self.port),
                                     laddr=format_address(link.transport.getHost()),
                                     fd=transport_fd(link.transport))
        client.is_master = True
        client.authenticated = True
        client.flags += "M"
        client.select(self.stream_db)
        link.client = client
        link.send_ack()
        return client

    def applied(self, data):
        """Stream bytes applied (whole commands, whole transactions): our
        offset moves, our backlog and replicas get them verbatim."""
        self.instance.repl.feed(data)

    # -- cron --------------------------------------------------------------------------------

    def cron(self):
        """Once a second: replicationCron's replica half."""
        if not self.active:
            return
        now = self.instance.clock.seconds()
        timeout = self.config["repl-timeout"]
        link = self.link
        if link is None:
            return
        if link.phase == HANDSHAKE and now - self.last_io > timeout:
            link.abort("Timeout connecting to the MASTER...")
        elif link.phase == PAYLOAD and now - self.last_io > timeout:
            link.abort("Timeout receiving bulk data from MASTER... If the problem persists "
                       "try to set the 'repl-timeout' parameter in redis.conf to a larger "
                       "value.")
        elif link.phase == LOADING:
            # Tells the master we are alive while it waits for our first ACK.
            link.write(b"\n")
        elif link.phase == STREAM:
            if now - link.client.last_interaction_ms / 1000 > timeout:
                link.abort("MASTER timeout: no data nor PING received...")
            else:
                link.send_ack()

    # -- persistence ---------------------------------------------------------------------------

    def rdb_save_info(self):
        """The repl-stream-db a dump made on a replica carries."""
        link = self.link
        if link is not None and link.client is not None:
            return link.client.db.id
        return self.stream_db

    def loaded_at_startup(self, repl_info):
        """After the start-up load: resume the history the dump recorded
        (loadDataFromDisk's replication part)."""
        instance = self.instance
        if repl_info is None:
            if self.active:
                self.has_history = False
            return
        if self.active:
            # A restarted replica asks PSYNC <its master's id> <offset+1>.
            instance.replid = repl_info.replid
            instance.master_repl_offset = repl_info.offset
            self.stream_db = repl_info.stream_db
            self.has_history = True
        else:
            # A restarted master keeps its old history as replid2.
            instance.replid2 = repl_info.replid
            instance.second_repl_offset = repl_info.offset + 1
            instance.master_repl_offset = repl_info.offset
            instance.repl.ensure_backlog()
            instance.repl.no_replicas_since = instance.clock.seconds()

    # -- visibility --------------------------------------------------------------------------

    def info_fields(self):
        """INFO replication between role and connected_slaves on a replica."""
        instance = self.instance
        now = int(instance.clock.seconds())
        link = self.link
        client = link.client if link is not None else None
        if client is not None or self.has_history:
            offset = instance.master_repl_offset
            read_offset = offset + (link.read_offset_ahead() if link is not None else 0)
        else:
            offset = read_offset = 1
        state = self.repl_state
        lines = [
            f"master_host:{self.host}",
            f"master_port:{self.port}",
            "master_link_status:" + ("up" if state == ReplState.CONNECTED else "down"),
            "master_last_io_seconds_ago:%d" % (
                now - client.last_interaction_ms // 1000 if client is not None else -1),
            f"master_sync_in_progress:{int(state == ReplState.TRANSFER)}",
            f"slave_read_repl_offset:{read_offset}",
            f"slave_repl_offset:{offset}",
        ]
        if state == ReplState.TRANSFER and link is not None and link.receiver is not None:
            progress = link.receiver.progress()
            lines += [
                f"master_sync_total_bytes:{progress.total_bytes}",
                f"master_sync_read_bytes:{progress.read_bytes}",
                f"master_sync_left_bytes:{progress.left_bytes}",
                f"master_sync_perc:{progress.perc:.2f}",
                "master_sync_last_io_seconds_ago:%d" % (now - int(self.last_io)),
            ]
        if state != ReplState.CONNECTED:
            lines.append("master_link_down_since_seconds:%d" % (
                now - self.down_since if self.down_since else -1))
        config = self.config
        lines += [
            f"slave_priority:{config['replica-priority']}",
            f"slave_read_only:{int(config['replica-read-only'])}",
            f"replica_announced:{int(config['replica-announced'])}",
        ]
        return lines

    def role_reply(self):
        """ROLE on a replica."""
        link = self.link
        client = link.client if link is not None else None
        if link is not None and link.phase == HANDSHAKE:
            word = link.handshake.role_state
        else:
            word = ROLE_WORDS.get(self.state, "unknown")
        offset = self.instance.master_repl_offset if client is not None else -1
        return [b"slave", self.host.encode(), self.port, word.encode(), offset]
