"""A coordinated failover from this master to one of its replicas
(Redis 7.0's FAILOVER: failoverCommand, updateFailoverStatus,
abortFailover, clearFailoverState in replication.c).

Theory of operation
-------------------
``instance.repl.failover`` is the one Failover. Its states are Redis's
``failover_state``:

- ``no-failover``          (NO_FAILOVER) nothing under way.
- ``waiting-for-sync``     (FAILOVER_WAIT_FOR_SYNC) FAILOVER was accepted:
                           writes are paused and nothing expires, so the
                           offset stands still while a replica (the target,
                           or any replica without TO) acknowledges all of it.
- ``failover-in-progress`` (FAILOVER_IN_PROGRESS) the target caught up (or
                           the FORCE timeout passed): this server became a
                           replica of the target, and its handshake sends
                           ``PSYNC <replid> <offset+1> FAILOVER``, which makes
                           the target promote itself and answer +CONTINUE.

How it ends:

- the PSYNC is answered +CONTINUE or +FULLRESYNC: the failover is over
  (``psync_accepted``), writes resume -- and are refused with -READONLY,
  since this server is now a replica;
- the PSYNC is answered anything else, or the connection drops before an
  answer: "Failover target rejected psync request" (``psync_refused``),
  this server turns master again (a new replid, as REPLICAOF NO ONE);
- the TIMEOUT passes while waiting, without FORCE: "Replica never caught up
  before timeout", this server stays master;
- FAILOVER ABORT, in either state.

The check "has a replica caught up" runs after each REPLCONF ACK -- in the
next reactor turn, as Redis runs it from beforeSleep, because failing over
drops connections -- and at the timeout. Sans-IO: time is the instance's
clock; the role change is ReplicaRole.follow / unfollow.
"""

from twisted.logger import Logger

from redisrepl.replication.link import ONLINE

# Its own pause (instance.pause's purpose): CLIENT UNPAUSE does not end it.
PAUSE_PURPOSE = "failover"

log = Logger()

NO_FAILOVER = "no-failover"
WAIT_FOR_SYNC = "waiting-for-sync"
IN_PROGRESS = "failover-in-progress"

# The failover's write pause has no end of its own (Redis pauses until
# LLONG_MAX): only the failover's end lifts it.
_FOREVER_MS = 1 << 62


class FailoverError(Exception):
    """FAILOVER refused: ``message`` is Redis's error text, without "ERR "."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class Failover:
    def __init__(self, instance):
        self.instance = instance
        self.state = NO_FAILOVER
        self.target_host = None       # None until a target is known
        self.target_port = 0
        self.end_time_ms = 0          # 0: no TIMEOUT
        self.force = False
        self._timer = None            # the TIMEOUT's delayed call
        self._check_scheduled = False

    @property
    def in_progress(self):
        """True while the PSYNC to the target must carry FAILOVER."""
        return self.state == IN_PROGRESS

    @property
    def active(self):
        return self.state != NO_FAILOVER

    # -- FAILOVER [TO host port [FORCE]] [TIMEOUT ms] ------------------------------

    def start(self, host=None, port=0, timeout_ms=0, force=False):
        """failoverCommand once the arguments parsed: the checks in
        Redis's order, then pause writes and wait. Raises FailoverError."""
        instance = self.instance
        repl = instance.repl
        if self.active:
            raise FailoverError("FAILOVER already in progress.")
        if instance.replica.active:
            raise FailoverError("FAILOVER is not valid when server is a replica.")
        if not repl.links:
            raise FailoverError("FAILOVER requires connected replicas.")
        if force and (not timeout_ms or host is None):
            raise FailoverError("FAILOVER with force option requires both a timeout "
                                "and target HOST and IP.")
        if host is not None:
            link = self.find_replica(host, port)
            if link is None:
                raise FailoverError("FAILOVER target HOST and PORT is not a replica.")
            if link.state != ONLINE:
                raise FailoverError("FAILOVER target replica is not online.")
            self.target_host, self.target_port = host, port
            log.info("FAILOVER requested to {host}:{port}.", host=host, port=port)
        else:
            log.info("FAILOVER requested to any replica.")
        clock = instance.clock
        if timeout_ms:
            self.end_time_ms = instance.now_ms() + timeout_ms
            self._timer = clock.callLater(timeout_ms / 1000, self._timed_out)
        self.force = force
        self.state = WAIT_FOR_SYNC
        instance.pause(_FOREVER_MS, False, PAUSE_PURPOSE)
        # The dataset stands still while paused: nothing expires (Redis's
        # expireIfNeeded while clients are paused).
        instance.keyspace.is_replica = True
        repl.on_ack.append(self._acked)
        # A replica may have acked everything already.
        self._schedule_check()

    def find_replica(self, host, port):
        """findReplica: the replica link announcing ``host`` (any case) and
        listening ``port``, or None."""
        wanted = host.lower()
        for link in self.instance.repl.links:
            if link.ip().decode("latin-1").lower() == wanted and link.listening_port == port:
                return link
        return None

    # -- waiting for a replica ----------------------------------------------------------

    def _acked(self, link):
        self._schedule_check()

    def _schedule_check(self):
        if not self._check_scheduled:
            self._check_scheduled = True
            self.instance.clock.callLater(0, self._check)

    def _check(self):
        self._check_scheduled = False
        self.update()

    def _timed_out(self):
        self._timer = None
        self.update(timed_out=True)

    def update(self, timed_out=False):
        """updateFailoverStatus: fail over to a replica that acknowledged
        our whole stream, or act on the timeout."""
        if self.state != WAIT_FOR_SYNC:
            return
        instance = self.instance
        if timed_out or (self.end_time_ms and self.end_time_ms <= instance.now_ms()):
            if self.force:
                log.info("FAILOVER to {host}:{port} time out exceeded, failing over.",
                         host=self.target_host, port=self.target_port)
                self._fail_over()
            else:
                self.abort("Replica never caught up before timeout")
            return
        offset = instance.master_repl_offset
        if self.target_host is not None:
            link = self.find_replica(self.target_host, self.target_port)
        else:
            link = next((link for link in instance.repl.links
                         if link.ack_offset == offset), None)
            if link is not None:
                self.target_host = link.ip().decode("latin-1")
                self.target_port = link.listening_port
        if link is not None and link.ack_offset == offset:
            log.info("Failover target {host}:{port} is synced, failing over.",
                     host=self.target_host, port=self.target_port)
            self._fail_over()

    def _fail_over(self):
        self.state = IN_PROGRESS
        self._stop_waiting()
        # The handshake sees in_progress and sends PSYNC ... FAILOVER.
        self.instance.replica.follow(self.target_host, self.target_port)

    # -- the target's answer (the replica side reports it) ----------------------------

    def psync_accepted(self):
        """+CONTINUE or +FULLRESYNC from the target: done."""
        if self.state == IN_PROGRESS:
            self.clear()

    def psync_refused(self):
        """Any other answer to PSYNC FAILOVER, or none."""
        if self.state == IN_PROGRESS:
            self.abort("Failover target rejected psync request")

    # -- ending ------------------------------------------------------------------------

    def abort(self, reason):
        """abortFailover: log why; a server already following the target
        turns master again."""
        if self.state == NO_FAILOVER:
            return
        if self.target_host is not None:
            log.info("FAILOVER to {host}:{port} aborted: {reason}",
                     host=self.target_host, port=self.target_port, reason=reason)
        else:
            log.info("FAILOVER to any replica aborted: {reason}", reason=reason)
        if self.state == IN_PROGRESS:
            self.instance.replica.unfollow()
        self.clear()

    def clear(self):
        """clearFailoverState: forget the failover and lift its pause."""
        self._stop_waiting()
        self.state = NO_FAILOVER
        self.target_host = None
        self.target_port = 0
        self.end_time_ms = 0
        self.force = False
        instance = self.instance
        instance.keyspace.is_replica = instance.replica.active
        instance.unpause(PAUSE_PURPOSE)

    def _stop_waiting(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        on_ack = self.instance.repl.on_ack
        if self._acked in on_ack:
            on_ack.remove(self._acked)
