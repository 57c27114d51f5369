"""What a master promises its clients about replicas. Sans-IO.

Two guarantees, both read from the replica links' acknowledgements (each
online link's ``ack_offset`` and ``ack_time_ms``, kept by ReplicationMaster
from REPLCONF ACK):

- ``WAIT numreplicas timeout`` (Redis's waitCommand): the client's last
  write ends at stream offset ``client.woff`` (set by engine.execute once
  the write is propagated, Redis's ``c->woff``). If enough online replicas
  have acknowledged that offset the answer comes at once; otherwise the
  client blocks, one REPLCONF GETACK goes into the stream, and after each
  reactor turn that brought acks the waiters are checked again, oldest first
  (processClientsWaitingReplicas, run by Redis before the event loop
  sleeps). A timeout answers how many replicas acknowledged it by then.

- ``min-replicas-to-write N`` with ``min-replicas-max-lag S`` (both non-zero):
  a master with fewer than N good replicas (online, last ack within S
  seconds) refuses writes with -NOREPLICAS. As Redis's
  refreshGoodSlavesCount, the count is refreshed once a second (cron),
  when either directive changes, and when told (``refresh()``: a replica
  going online or away); call() only checks ``instance.min_replicas_error``.
"""

from redisrepl.resp.values import ReplyError

NOREPLICAS = ReplyError("NOREPLICAS Not enough good replicas to write.")

_ONLINE = "online"


class _WaitingClient:
    """One client blocked in WAIT: its target and its Blocking waiter."""

    __slots__ = ("client", "offset", "numreplicas", "waiter")

    def __init__(self, client, offset, numreplicas, waiter):
        self.client = client
        self.offset = offset
        self.numreplicas = numreplicas
        self.waiter = waiter


class ReplicaGuarantees:
    """WAIT's blocked clients and the min-replicas-to-write gate.

    ``repl`` is the ReplicationMaster: its ``links``, ``on_ack``,
    ``request_acks()`` and ``good_replicas()`` are all this reads or calls.
    """

    def __init__(self, instance, repl):
        self.instance = instance
        self.repl = repl
        self.waiting = []          # _WaitingClient, oldest first
        self._check_call = None    # the pending end-of-turn check, if any
        # The good-replica count as last refreshed (INFO's
        # min_slaves_good_slaves); left as it was while the gate is off.
        self.good_count = 0
        repl.on_ack.append(self._acked)
        # One callable for both names: it runs once per CONFIG SET.
        on_config = self._config_changed
        instance.config.watch("min-replicas-to-write", on_config)
        instance.config.watch("min-replicas-max-lag", on_config)
        self.refresh()

    # -- WAIT ----------------------------------------------------------------

    def acked(self, offset):
        """How many online replicas acknowledged ``offset``
        (replicationCountAcksByOffset)."""
        return sum(1 for link in self.repl.links
                   if link.state == _ONLINE and link.ack_offset >= offset)

    def wait(self, client, numreplicas, timeout_ms):
        """WAIT: the count now, or BLOCKED until enough replicas ack or
        ``timeout_ms`` passes (0: for ever). Inside EXEC it never blocks."""
        offset = client.woff
        count = self.acked(offset)
        if count >= numreplicas or client.in_exec:
            return count
        blocking = self.instance.blocking
        blocked = blocking.block_keyless(client, timeout_ms, self._timed_out)
        self.waiting.append(_WaitingClient(
            client, offset, numreplicas, blocking.by_client[client]))
        self.repl.request_acks()
        return blocked

    def _acked(self, link):
        # As Redis, every ack of one reactor turn is looked at together.
        if self.waiting and self._check_call is None:
            self._check_call = self.instance.clock.callLater(0, self.check_waiting)

    def check_waiting(self):
        """Unblock every waiter its replicas satisfy, oldest first.

        As Redis's processClientsWaitingReplicas, a waiter asking no more
        than the last one served (offset and count) is answered with that
        one's count without counting again.
        """
        self._check_call = None
        last_offset = last_count = 0
        still_waiting = []
        for entry in self.waiting:
            if not self._is_blocked(entry):
                continue
            if last_offset and last_offset >= entry.offset \
                    and last_count >= entry.numreplicas:
                count = last_count
            else:
                count = self.acked(entry.offset)
                if count < entry.numreplicas:
                    still_waiting.append(entry)
                    continue
                last_offset, last_count = entry.offset, count
            self.instance.blocking.unblock(entry.client, count)
        self.waiting = still_waiting

    def _timed_out(self, client):
        """The timeout's reply: the replicas that acknowledged by now."""
        for entry in self.waiting:
            if entry.client is client:
                self.waiting.remove(entry)
                return self.acked(entry.offset)
        return self.acked(client.woff)

    def _is_blocked(self, entry):
        """False once the client went away (its wait was dropped)."""
        return self.instance.blocking.by_client.get(entry.client) is entry.waiter

    # -- min-replicas-to-write ---------------------------------------------

    def refresh(self):
        """Recount good replicas and set ``instance.min_replicas_error``
        (refreshGoodSlavesCount + checkGoodReplicasStatus)."""
        instance = self.instance
        to_write = instance.config["min-replicas-to-write"]
        if not to_write or not instance.config["min-replicas-max-lag"]:
            instance.min_replicas_error = None
            return
        self.good_count = self.repl.good_replicas()
        # A replica takes writes only from its master: no gate there.
        refused = self.good_count < to_write and instance.role_name() == b"master"
        instance.min_replicas_error = NOREPLICAS if refused else None

    def _config_changed(self, old, new):
        self.refresh()

    def cron(self):
        """Once a second (replicationCron): refresh the gate; check the
        waiters too, as Redis does before every sleep, for what changed
        without an ack (a replica put online) and to forget clients gone."""
        self.refresh()
        if self.waiting:
            self.check_waiting()
