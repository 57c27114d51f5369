"""One server's state: configuration, keyspace, clients, stats. Sans-IO.

The Twisted side (server/, service.py) owns sockets and timers and calls in
here; nothing here touches a socket or reads the wall clock behind the
injected clock's back.
"""

import os
import sys
import time

from twisted.logger import Logger

from redisrepl.blocking import Blocking
from redisrepl.client import Client
from redisrepl.commands.table import build_table
from redisrepl.config import NOTIFY_EXPIRED
from redisrepl.keyspace import Keyspace
from redisrepl.persistence.aof import Aof
from redisrepl.persistence.manager import Persistence
from redisrepl.propagation import ALL, Propagator
from redisrepl.pubsub import PubSub
from redisrepl.replication.master import ReplicationMaster
from redisrepl.replication.replica import ReplicaRole
from redisrepl.replication.wait import ReplicaGuarantees
from redisrepl.slowlog import SlowLog
from redisrepl.stats import StatsSampler

log = Logger()

# Why commands are paused (Redis's pause_purpose): CLIENT PAUSE's; FAILOVER
# pauses as replication/failover.py's PAUSE_PURPOSE.
PAUSE_BY_CLIENT = "client"


def new_run_id():
    return os.urandom(20).hex().encode()


def _connector_of(clock):
    """How the replica dials its master: the reactor's connectTCP (a
    MemoryReactorClock's in tests); None for a bare clock (it then never
    connects)."""
    connect = getattr(clock, "connectTCP", None)
    if connect is None:
        return None
    return lambda host, port, factory, timeout: connect(host, port, factory, timeout=timeout)


class Instance:
    def __init__(self, config, clock):
        self.config = config
        self.clock = clock
        self.keyspace = Keyspace(config["databases"], clock)
        self.keyspace.on_expired = self._expired
        self.blocking = Blocking(self)
        self.keyspace.on_ready = self.blocking.signal_ready
        self.keyspace.on_db_swapped = self.blocking.signal_db
        self.pubsub = PubSub(self)
        self.table = build_table()
        for old, new in config.rename_commands:
            self.table.rename(old, new)
        self.commands_by_name = self.table.by_spelling
        self.clients = {}
        self.monitors = []        # MONITOR clients, in attach order
        self._next_client_id = 1
        self.propagator = Propagator()
        self.pending_ops = []     # (db_id, argv, targets) recorded during a call
        self.call_depth = 0
        self.dirty = 0            # changes since the last save
        self.run_id = new_run_id()
        self.start_time = clock.seconds()
        self.pid = os.getpid()
        self.slowlog = SlowLog(config["slowlog-max-len"])
        self.errorstats = {}      # error code -> count
        self.tcp_port = config["port"]
        self.shutdown_hook = None  # set by the service: stops the daemon
        self.pauses = {}          # purpose -> (end ms, ALL?): CLIENT PAUSE, FAILOVER
        self.pause_end_ms = 0     # when the first pause in force ends (0: none)
        self.pause_all = False    # some pause holds ALL commands (else WRITE)
        self.on_unpause = []      # connections waiting for the pause to end
        # What INFO reports before persistence and replication drive it: a
        # master that has not saved. Their modules own these fields.
        self.lastsave = int(self.start_time)  # Redis counts startup as a save
        self.loading = False
        # The error that refuses writes after a failed save (MISCONF), or
        # None: persistence keeps it current so call() checks one attribute.
        self.write_denied = None
        # NOREPLICAS while too few replicas are good (min-replicas-to-write),
        # else None; replication/wait.py's ReplicaGuarantees keeps it current.
        self.min_replicas_error = None
        # DEBUG SET-SKIP-CHECKSUM-VALIDATION: RDB loads and RESTORE skip CRCs.
        self.skip_checksum_validation = False
        # Function libraries' code, kept from a loaded RDB and saved back.
        self.functions = []
        # What the last RDB load counted (INFO persistence); the loader sets them.
        self.rdb_last_load_keys_expired = 0
        self.rdb_last_load_keys_loaded = 0
        # While an RDB loads: its LoadProgress (INFO's loading_* fields).
        self.load_progress = None
        # The loaded RDB's ReplInfo (repl-id, repl-offset, repl-stream-db), or None.
        self.rdb_loaded_repl = None
        self.replid = new_run_id()
        self.replid2 = b"0" * 40
        self.master_repl_offset = 0
        self.second_repl_offset = -1
        # As Redis's server.executable: the absolute path we were started as.
        self.executable = os.path.abspath(sys.argv[0]) if sys.argv[0] else ""
        self.sampler = StatsSampler(self)
        self.reset_stats()
        self._watch_config()
        # SAVE/BGSAVE, save points, MISCONF (redisrepl/persistence/manager.py).
        self.persistence = Persistence(self)
        # The master side of replication: stream, backlog, replica links.
        self.repl = ReplicationMaster(self)
        # The replica side: following a master (redisrepl/replication/replica.py).
        # It keeps the replica_read_only and stale_error gates current.
        self.replica_read_only = False
        self.stale_error = None
        self.replica = ReplicaRole(self, _connector_of(clock))
        # WAIT and min-replicas-to-write (redisrepl/replication/wait.py).
        self.guarantees = ReplicaGuarantees(self, self.repl)
        self.aof = Aof(self)
        self._cron_loops = 0

    # -- time ------------------------------------------------------------

    def now_ms(self):
        return int(self.clock.seconds() * 1000)

    def uptime(self):
        return int(self.clock.seconds() - self.start_time)

    # -- configuration that the hot path reads as attributes --------------

    def _watch_config(self):
        config = self.config
        self.requirepass = config["requirepass"].encode() \
            if isinstance(config["requirepass"], str) else config["requirepass"]
        self.slowlog_threshold = config["slowlog-log-slower-than"]
        self.notify_flags = config["notify-keyspace-events"]
        config.watch("notify-keyspace-events", self._set_notify_flags)
        config.watch("requirepass", self._set_requirepass)
        config.watch("slowlog-log-slower-than", self._set_slowlog_threshold)
        config.watch("slowlog-max-len", lambda old, new: self.slowlog.resize(new))

    def _set_requirepass(self, old, new):
        self.requirepass = new.encode() if isinstance(new, str) else new

    def _set_notify_flags(self, old, new):
        self.notify_flags = new

    def notify(self, event_class, event, key, db_id):
        """Keyspace notification (Redis's notifyKeyspaceEvent)."""
        if self.notify_flags & event_class:
            self.pubsub.notify(event_class, event, key, db_id)

    def _set_slowlog_threshold(self, old, new):
        self.slowlog_threshold = new

    def rdb_save_info(self):
        """The repl-stream-db an RDB carries (persistence/snapshot.py asks),
        or None: no repl-* aux fields."""
        if self.replica.active:
            return self.replica.rdb_save_info()
        return self.repl.rdb_save_info()

    def role_name(self):
        return b"slave" if self.replica.active else b"master"

    # -- stats -----------------------------------------------------------

    def reset_stats(self):
        """CONFIG RESETSTAT."""
        self.total_connections = 0
        self.rejected_connections = 0
        self.total_error_replies = 0
        self.net_input_bytes = 0
        self.net_output_bytes = 0
        self.net_repl_input_bytes = 0
        self.net_repl_output_bytes = 0
        self.total_reads_processed = 0    # read events, as Redis counts them
        self.total_writes_processed = 0   # socket writes
        self.expired_stale_perc = 0.0
        self.expire_cycle_time_used = 0   # microseconds in active expiry
        self.evicted_keys = 0
        self.sync_full = 0
        self.sync_partial_ok = 0
        self.sync_partial_err = 0
        self.total_forks = 0
        self.latest_fork_usec = 0
        self.rdb_saves = 0
        self.dump_payload_sanitizations = 0   # blobs RESTORE checked deeply
        self.errorstats = {}
        self.sampler.reset()
        self.keyspace.reset_stats()
        for cmd in self.table:
            cmd.reset_stats()
            for sub in cmd.subcommands.values():
                sub.reset_stats()

    @property
    def total_commands(self):
        """INFO's total_commands_processed: every command's calls, summed
        (the per-command counts are what call() keeps)."""
        return sum(cmd.calls + sum(sub.calls for sub in cmd.subcommands.values())
                   for cmd in self.table)

    def record_error(self, error):
        """Count an error reply in INFO stats/errorstats, as Redis does."""
        self.total_error_replies += 1
        code = error.message.split(b" ", 1)[0].decode("latin-1")
        self.errorstats[code] = self.errorstats.get(code, 0) + 1

    # -- clients ---------------------------------------------------------

    def new_client(self, conn, addr=b"", laddr=b"", fd=-1, is_unix=False):
        client = Client(self, conn, self._next_client_id, addr, laddr, fd,
                        is_unix)
        self._next_client_id += 1
        self.clients[client.id] = client
        self.total_connections += 1
        return client

    def remove_client(self, client):
        client.closed = True
        self.clients.pop(client.id, None)
        if "O" in client.flags:
            self.monitors.remove(client)
        self.blocking.remove_client(client)
        self.pubsub.remove_client(client)
        self.unwatch_all(client)
        self.repl.client_gone(client)

    def unwatch_all(self, client):
        """UNWATCH, and what EXEC, DISCARD, RESET and a disconnect imply."""
        for db, key in client.watching:
            db.unwatch(client, key)
        client.watching = []
        client.dirty_cas = False

    # -- propagation -----------------------------------------------------

    def also_propagate(self, db_id, argv, targets=ALL):
        """Record an extra op to propagate (Redis's alsoPropagate)."""
        self.pending_ops.append((db_id, argv, targets))
        if self.call_depth == 0:
            # Outside any command (active expiry): propagate right away.
            self.flush_propagation()

    def flush_propagation(self, transaction=True):
        ops, self.pending_ops = self.pending_ops, []
        self.propagator.propagate(ops, transaction)

    def _expired(self, db, key):
        self.notify(NOTIFY_EXPIRED, b"expired", key, db.id)
        verb = b"UNLINK" if self.config["lazyfree-lazy-expire"] else b"DEL"
        self.also_propagate(db.id, [verb, key])

    # -- client pause ----------------------------------------------------

    def is_paused_for(self, cmd, client=None):
        """True if CLIENT PAUSE holds this command back now. An EXEC is held
        by a WRITE pause when ``client``'s transaction queued a write."""
        if not self.pause_end_ms:
            return False
        if self.now_ms() >= self.pause_end_ms:
            self._expire_pauses()
            if not self.pauses:
                return False
        if self.pause_all or cmd.is_write or cmd.may_replicate:
            return True
        queued = client.multi if client is not None else None
        return bool(queued) and cmd.fullname == "exec" and any(
            c.is_write or c.may_replicate for c, _argv in queued)

    def pause(self, until_ms, pause_all, purpose=PAUSE_BY_CLIENT):
        """Hold writes (or everything, ``pause_all``) until ``until_ms`` for
        ``purpose``: CLIENT PAUSE and FAILOVER pause apart, as Redis's
        pause purposes, so ending one does not end the other."""
        end, was_all = self.pauses.get(purpose, (0, False))
        if purpose == PAUSE_BY_CLIENT:
            # A later CLIENT PAUSE only extends, and never narrows ALL.
            until_ms, pause_all = max(end, until_ms), pause_all or was_all
        self.pauses[purpose] = (until_ms, pause_all)
        self._pauses_changed()

    def unpause(self, purpose=PAUSE_BY_CLIENT):
        self.pauses.pop(purpose, None)
        self._pauses_changed()

    def _expire_pauses(self):
        now = self.now_ms()
        for purpose, (end, _all) in list(self.pauses.items()):
            if now >= end:
                del self.pauses[purpose]
        self._pauses_changed()

    def _pauses_changed(self):
        """What call() checks: pause_end_ms is the next moment a pause
        ends (0: none in force), pause_all whether any holds ALL; held
        clients go on once none is left."""
        pauses = self.pauses.values()
        self.pause_end_ms = min((end for end, _all in pauses), default=0)
        self.pause_all = any(pause_all for _end, pause_all in pauses)
        if not self.pauses:
            waiting, self.on_unpause = self.on_unpause, []
            for resume in waiting:
                resume()

    # -- cron ------------------------------------------------------------

    def cron(self):
        """Work done hz times a second (Redis's serverCron + databasesCron)."""
        hz = self.config["hz"]
        self.sampler.cron()
        # Redis gives active expiry 25% of each cron period
        # (ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC); the keyspace honours
        # DEBUG SET-ACTIVE-EXPIRE and the replica role itself.
        start = time.perf_counter_ns()
        self.keyspace.active_expire_cycle(0.25 / hz, time.perf_counter)
        self.expire_cycle_time_used += (time.perf_counter_ns() - start) // 1000
        if self.pause_end_ms and self.now_ms() >= self.pause_end_ms:
            self._expire_pauses()
        self.persistence.cron()
        # Replication's cron runs once a second, as Redis's replicationCron.
        if self._cron_loops % max(1, hz) == 0:
            self.replica.cron()
            self.repl.cron()
            self.guarantees.cron()
        self._cron_loops += 1
        timeout = self.config["timeout"]
        if timeout:
            self._close_idle_clients(timeout * 1000)
        self.aof.cron()

    def _close_idle_clients(self, timeout_ms):
        now = self.now_ms()
        blocked = self.blocking.by_client
        for client in list(self.clients.values()):
            # As Redis: replicas, blocked and subscribed clients are not idle.
            if client in blocked or client.subscribed or "S" in client.flags \
                    or "O" in client.flags:
                continue
            if now - client.last_interaction_ms > timeout_ms:
                log.info("Closing idle client {client_id} ({addr})",
                         client_id=client.id, addr=client.addr.decode())
                client.close()
