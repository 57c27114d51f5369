"""The master side of replication: the stream, its backlog, the replica
links, and what SYNC / PSYNC / REPLCONF ACK do (Redis's replication.c,
master half). ``instance.repl`` is the one ReplicationMaster.

Theory of operation:

- **The stream** is what the propagator feeds through ``self.stream`` (a
  CommandStream for REPL ops: SELECT when the db changes, MULTI/EXEC around
  multi-op commands) plus PINGs and GETACKs written by ``feed`` directly
  (no SELECT before them, as Redis feeds them with ``slaveseldb``). Every
  byte moves ``master_repl_offset``, goes into the backlog and to each link
  past WAIT_BGSAVE (kept by the link until it is online).
- **The backlog** exists from the first replica's full sync (with a fresh
  replid, as Redis's changeReplicationId + clearReplicationId2) until
  ``repl-backlog-ttl`` seconds without replicas. The stream consumer is
  registered with the propagator exactly while it exists: with neither
  backlog nor replicas nothing is recorded, and the offset does not move.
- **PSYNC** asks ``psync.decide``: +CONTINUE and the backlog from the
  asked offset, the link online at once; or a full resync, handed to
  ``self.fullsync.want(link)`` which forks the save and calls
  ``link.begin_full_sync`` / ``link.payload_done``.
- **cron** (once a second): PING every repl-ping-replica-period, "\\n" to
  links waiting for their save, repl-timeout for online links, the backlog
  ttl, then the full-sync cron (pending diskless saves).
- **On a replica** (``proxying``), the stream is not made here: the replica
  side (replica.py) feeds the bytes it applied from its own master, verbatim,
  so the whole chain shares one replid and one offset. The propagator's ops
  then reach the AOF only; no PING goes into the stream (it would move the
  offset away from our master's) and the backlog is never freed by ttl
  (Redis's replicationFeedSlaves and replicationCron do the same).
"""

from twisted.logger import Logger

from redisrepl.propagation import REPL, CommandStream
from redisrepl.replication import psync
from redisrepl.replication.backlog import Backlog
from redisrepl.replication.failover import Failover
from redisrepl.replication.fullsync import FullSync
from redisrepl.replication.link import INFO_STATE, ONLINE, WAIT_BGSAVE, ReplicaLink
from redisrepl.resp.encoder import encode_command

log = Logger()

_PING = encode_command([b"PING"])
_GETACK = encode_command([b"REPLCONF", b"GETACK", b"*"])
_NO_REPLID2 = b"0" * 40


class ReplicationMaster:
    def __init__(self, instance, fullsync=None):
        self.instance = instance
        self.config = instance.config
        self.links = []                 # ReplicaLinks past SYNC/PSYNC, in order
        self._by_client = {}            # Client -> its ReplicaLink (replicas)
        self._handshakes = {}           # Client -> ReplicaLink (REPLCONF only)
        self.backlog = None
        self.stream = CommandStream(self.feed, targets=REPL)
        self.on_ack = []                # callbacks(link) after each REPLCONF ACK
        self.no_replicas_since = instance.clock.seconds()
        self._cron_loops = 0
        self._ack_requested = False
        self.fullsync = fullsync if fullsync is not None else FullSync(self)
        # FAILOVER: pauses writes and hands the master role to a replica.
        self.failover = Failover(instance)
        # True while this server is a replica: the stream is its master's.
        self.proxying = False
        self.config.watch("repl-backlog-size", self._resize_backlog)
        # (hard, soft, soft seconds) for replicas, read on every stream write.
        self.obuf_limits = self.config["client-output-buffer-limit"]["replica"]
        self.config.watch("client-output-buffer-limit", self._set_obuf_limits)

    # -- the stream ----------------------------------------------------------

    def feed(self, data):
        """Append ``data`` to the replication stream."""
        if not data or self.backlog is None:
            return
        self.instance.master_repl_offset += len(data)
        self.backlog.append(data)
        # A copy: a link over its output limit leaves the list mid-loop.
        for link in tuple(self.links):
            if link.state != WAIT_BGSAVE and not link.rdb_only:
                link.write(data)

    def request_acks(self):
        """REPLCONF GETACK * into the stream once this reactor turn is over,
        however many WAITs asked for it (Redis's get_ack_from_slaves)."""
        if self._ack_requested:
            return
        self._ack_requested = True
        self.instance.clock.callLater(0, self._send_getack)

    def _send_getack(self):
        self._ack_requested = False
        if self.links:
            self.feed(_GETACK)

    # -- the backlog ---------------------------------------------------------

    def _create_backlog(self):
        instance = self.instance
        # No valid history before it: a new replid, no replid2.
        instance.replid = new_replid()
        instance.replid2 = _NO_REPLID2
        instance.second_repl_offset = -1
        self.ensure_backlog()
        log.info("Replication backlog created, my new replication IDs are "
                 "'{replid}' and '{replid2}'", replid=instance.replid.decode(),
                 replid2=instance.replid2.decode())

    def ensure_backlog(self):
        """A backlog from the current offset if there is none, the ids kept
        (Redis's createReplicationBacklog): a restarted master keeping its
        history, a replica that synced."""
        if self.backlog is None:
            self.backlog = Backlog(self.config["repl-backlog-size"],
                                   self.instance.master_repl_offset)
            self._consume_propagation()

    def reset_backlog(self):
        """An empty backlog from the current offset: a replica's full sync
        replaced its history (Redis frees and creates it)."""
        self.backlog = None
        self.ensure_backlog()

    def set_proxying(self, proxying):
        """This server became a replica (True) or a master (False)."""
        self.proxying = proxying
        self._consume_propagation()

    def _consume_propagation(self):
        """The stream takes the propagator's ops exactly while there is a
        backlog and this server is a master."""
        consumers = self.instance.propagator.consumers
        wanted = self.backlog is not None and not self.proxying
        if wanted and self.stream not in consumers:
            # The reader's db is unknown: SELECT before the next op.
            self.stream.force_select()
            consumers.append(self.stream)
        elif not wanted and self.stream in consumers:
            consumers.remove(self.stream)

    def disconnect_replicas(self, reason):
        """Drop every replica (Redis's disconnectSlaves): our history
        changed, they must ask again (PSYNC tells them the new id)."""
        for link in list(self.links):
            link.drop(reason)

    def _free_backlog(self):
        instance = self.instance
        # Writes will no longer move the offset: the old id must not be
        # resumable (Redis's comment in replicationCron explains the case).
        instance.replid = new_replid()
        instance.replid2 = _NO_REPLID2
        instance.second_repl_offset = -1
        self.backlog = None
        self._consume_propagation()

    def _set_obuf_limits(self, old, new):
        self.obuf_limits = new["replica"]

    def _resize_backlog(self, old, new):
        if self.backlog is not None:
            self.backlog.resize(new)

    def rdb_save_info(self):
        """The repl-stream-db an RDB should carry, or None with no backlog
        (Redis's rdbPopulateSaveInfo on a master)."""
        if self.backlog is None:
            return None
        selected = self.stream.selected_db
        return 0 if selected == -1 else selected

    # -- links -----------------------------------------------------------------

    def link_of(self, client):
        """The client's ReplicaLink if it is a replica, else None."""
        return self._by_client.get(client)

    def settings_of(self, client):
        """The link REPLCONF configures: the replica's, or one kept for the
        coming SYNC/PSYNC."""
        link = self._by_client.get(client)
        if link is None:
            link = self._handshakes.get(client)
            if link is None:
                link = self._handshakes[client] = ReplicaLink(self, client)
        return link

    def _attach(self, link):
        client = link.client
        self._handshakes.pop(client, None)
        self._by_client[client] = link
        self.links.append(link)
        if "S" not in client.flags:
            client.flags += "S"

    def link_closed(self, link):
        """``link`` is gone (dropped, or its connection lost): forget it."""
        if self._by_client.get(link.client) is not link:
            return
        del self._by_client[link.client]
        self.links.remove(link)
        log.warn("Connection with replica {name} lost.", name=link.name())
        if not self.links:
            self.no_replicas_since = self.instance.clock.seconds()
        self.fullsync.link_lost(link)
        self.online_changed()

    def online_changed(self):
        """A link went online or away: min-replicas-to-write counts again
        now, as Redis's refreshGoodSlavesCount on those events."""
        self.instance.guarantees.refresh()

    def client_gone(self, client):
        """Instance.remove_client: the connection closed."""
        self._handshakes.pop(client, None)
        link = self._by_client.get(client)
        if link is not None:
            link.dropped = True
            self.link_closed(link)

    # -- SYNC / PSYNC ------------------------------------------------------------

    def try_partial(self, link, asked_replid, asked_offset):
        """PSYNC: continue from the backlog if possible (True), counting
        sync_partial_ok / sync_partial_err as Redis does."""
        instance = self.instance
        decision = psync.decide(instance.replid, instance.replid2,
                                instance.second_repl_offset, self.backlog,
                                instance.master_repl_offset, asked_replid, asked_offset)
        if not decision.partial:
            self._log_refused(link, asked_replid, asked_offset, decision)
            # "?" is a replica forcing a full resync on purpose: no error.
            if not asked_replid.startswith(b"?"):
                instance.sync_partial_err += 1
            return False
        link.state = ONLINE
        link.ack_time_ms = instance.now_ms()
        self._attach(link)
        head = (b"+CONTINUE %s\r\n" % instance.replid if link.capa_psync2
                else b"+CONTINUE\r\n")
        data = self.backlog.read_from(asked_offset)
        link.send_status(head + data)
        log.info("Partial resynchronization request from {name} accepted. Sending "
                 "{nbytes} bytes of backlog starting from offset {offset}.",
                 name=link.name(), nbytes=len(data), offset=asked_offset)
        instance.sync_partial_ok += 1
        self.online_changed()
        return True

    def _log_refused(self, link, asked_replid, asked_offset, decision):
        name = link.name()
        if asked_replid.startswith(b"?"):
            log.info("Full resync requested by replica {name}", name=name)
        elif decision.reason.startswith("lack of backlog"):
            log.info("Unable to partial resync with replica {name} for lack of backlog "
                     "(Replica request was: {offset}).", name=name, offset=asked_offset)
            if asked_offset > self.instance.master_repl_offset:
                log.warn("Warning: replica {name} tried to PSYNC with an offset that is "
                         "greater than the master replication offset.", name=name)
        else:
            log.info("Partial resynchronization not accepted: {reason}",
                     reason=decision.reason, name=name)

    def full_sync(self, link):
        """A full resync: the link waits for a save (FullSync's job)."""
        self.instance.sync_full += 1
        link.state = WAIT_BGSAVE
        self._attach(link)
        if len(self.links) == 1 and self.backlog is None:
            self._create_backlog()
        self.fullsync.want(link)

    # -- acks --------------------------------------------------------------------

    def ack(self, link, offset):
        """REPLCONF ACK ``offset`` from a replica."""
        mine = self.instance.master_repl_offset
        if offset > mine:
            # It has bytes we never sent: its history diverged from ours.
            link.drop(f"Replica {link.name()} acknowledged offset {offset}, past my "
                      f"replication offset {mine}: its history diverged from mine. "
                      "Closing the link so it resynchronizes.")
            return
        link.acked(offset)
        for callback in list(self.on_ack):
            callback(link)

    def good_replicas(self):
        """Online replicas that acked within min-replicas-max-lag seconds
        (Redis's repl_good_slaves_count)."""
        now_s = self.instance.now_ms() // 1000
        max_lag = self.config["min-replicas-max-lag"]
        return sum(1 for link in self.links
                   if link.state == ONLINE and now_s - link.ack_time_ms // 1000 <= max_lag)

    # -- cron ----------------------------------------------------------------------

    def cron(self):
        """Once a second (Redis's replicationCron, master half)."""
        config = self.config
        # No PING while a FAILOVER with a TIMEOUT waits for the offset to
        # be reached (Redis's manual_failover_in_progress).
        if self.links and not self.proxying and not self.failover.end_time_ms \
                and self._cron_loops % config["repl-ping-replica-period"] == 0:
            # Lets replicas time out a master whose TCP link looks alive.
            self.feed(_PING)
        for link in list(self.links):
            if link.state == WAIT_BGSAVE or (link.state == "send_bulk_wait"
                                             and not link.diskless):
                link.keepalive()
        now_s = self.instance.now_ms() // 1000
        timeout = config["repl-timeout"]
        for link in list(self.links):
            if link.state == ONLINE and not link.legacy_sync \
                    and now_s - link.ack_time_ms // 1000 > timeout:
                link.drop(f"Disconnecting timedout replica (streaming sync): {link.name()}")
            elif not link.dropped:
                link.check_output_limits()
        ttl = config["repl-backlog-ttl"]
        if not self.links and ttl and self.backlog is not None and not self.proxying \
                and self.instance.clock.seconds() - self.no_replicas_since > ttl:
            self._free_backlog()
            log.info("Replication backlog freed after {ttl} seconds without connected "
                     "replicas.", ttl=ttl)
        self.fullsync.cron()
        self._cron_loops += 1

    # -- visibility ------------------------------------------------------------------

    def info_fields(self):
        """INFO replication after ``role``, field for field as Redis 7.0 on
        a master."""
        instance = self.instance
        config = self.config
        lines = [f"connected_slaves:{len(self.links)}"]
        if config["min-replicas-to-write"] and config["min-replicas-max-lag"]:
            lines.append(f"min_slaves_good_slaves:{self.good_replicas()}")
        now_s = instance.now_ms() // 1000
        for index, link in enumerate(self.links):
            lag = now_s - link.ack_time_ms // 1000 if link.state == ONLINE else 0
            lines.append(
                f"slave{index}:ip={link.ip().decode('latin-1')},port={link.listening_port},"
                f"state={INFO_STATE[link.state]},offset={link.ack_offset},lag={lag}")
        backlog = self.backlog
        lines += [
            "master_failover_state:" + self.failover.state,
            "master_replid:" + instance.replid.decode(),
            "master_replid2:" + instance.replid2.decode(),
            f"master_repl_offset:{instance.master_repl_offset}",
            f"second_repl_offset:{instance.second_repl_offset}",
            f"repl_backlog_active:{int(backlog is not None)}",
            f"repl_backlog_size:{config['repl-backlog-size']}",
            f"repl_backlog_first_byte_offset:{backlog.first_byte_offset if backlog else 0}",
            f"repl_backlog_histlen:{backlog.histlen if backlog else 0}",
        ]
        return lines

    def role_reply(self):
        """ROLE on a master: offset and the online replicas."""
        replicas = [[link.ip(), b"%d" % link.listening_port, b"%d" % link.ack_offset]
                    for link in self.links if link.state == ONLINE]
        return [b"master", self.instance.master_repl_offset, replicas]


def new_replid():
    # Imported late: instance.py imports this module.
    from redisrepl.instance import new_run_id
    return new_run_id()
