"""RDB persistence state of one server: SAVE, BGSAVE, save points, the
MISCONF gate and what INFO persistence reports.

``Persistence`` is ``instance.persistence``. It follows Redis 7.0's rdb.c
and serverCron:

- ``save()`` is rdbSave: a synchronous dump; on success dirty is 0 and
  lastsave now.
- ``bgsave()`` is rdbSaveBackground: fork; the child writes the dump while
  the server goes on. ``cron()`` reads the child's reports and reaps it
  (checkChildrenDone); on success ``dirty`` loses what the child saved.
- ``cron()`` also starts a BGSAVE when a save point is reached (at least
  <changes> changes and more than <seconds> since the last save) or a
  BGSAVE SCHEDULE waits, retrying a failed one only after 5 seconds.
- ``instance.write_denied`` is MISCONF while stop-writes-on-bgsave-error is
  on, save points are set and the last background save failed, or while the
  AOF cannot be written (``instance.aof.write_error()``).
- One child at a time, as Redis: a BGSAVE (``target`` "disk"), an RDB
  streamed to replicas ("socket") or an AOF rewrite ("aof", started by
  ``instance.aof`` through ``fork_aof_rewrite`` and handed back to it when
  reaped).

Times are whole seconds of the injected clock, as Redis's time(NULL).
"""

import signal
import time

from twisted.logger import Logger

from redisrepl import errors
from redisrepl.persistence.aof import misconf
from redisrepl.persistence.bgsave import (
    NOERROR_EXIT_CODE,
    RDB_COW_SIZE,
    InfoPipe,
    OsForker,
    bgsave_body,
)
from redisrepl.persistence.rdbsave import remove_temp_file, save_snapshot
from redisrepl.persistence.snapshot import key_delay, snapshot_of

log = Logger()

# CONFIG_BGSAVE_RETRY_DELAY: after a failed BGSAVE, wait this long (seconds)
# before a save point or a scheduled BGSAVE tries again.
BGSAVE_RETRY_DELAY = 5


class Child:
    """The running child (Redis's child_pid/child_type)."""

    def __init__(self, pid, pipe, started, keys_total, target="disk"):
        self.pid = pid
        # "disk": a BGSAVE to the dump file; "socket": an RDB streamed to
        # replicas (Redis's rdb_child_type), whose end is not a save;
        # "aof": an AOF rewrite (CHILD_TYPE_AOF).
        self.target = target
        self.pipe = pipe
        self.started = started          # clock seconds (rdb_save_time_start)
        self.keys_total = keys_total
        self.keys_processed = 0
        self.cow_peak = 0
        self.cow = 0
        self.cow_updated = 0.0          # time.monotonic() of the child's measure


class Persistence:
    def __init__(self, instance, forker=None):
        self.instance = instance
        self.config = instance.config
        self.clock = instance.clock
        self.forker = forker or OsForker()
        self.child = None
        self.last_bgsave_ok = True           # lastbgsave_status
        self.last_bgsave_try = 0             # lastbgsave_try
        self.dirty_before_bgsave = 0
        self.last_bgsave_seconds = -1        # rdb_save_time_last
        self.bgsave_scheduled = False        # rdb_bgsave_scheduled
        self.last_cow_size = 0               # stat_rdb_cow_bytes
        # Called with True/False when a BGSAVE child is reaped (replicas
        # waiting for the dump: Redis's updateSlavesWaitingBgsave).
        self.on_bgsave_done = []
        self.config.watch("save", self._gate_changed)
        self.config.watch("stop-writes-on-bgsave-error", self._gate_changed)

    def now(self):
        return int(self.clock.seconds())

    @property
    def filename(self):
        return self.config["dbfilename"]

    @property
    def bgsave_in_progress(self):
        """An RDB child runs (child_type == CHILD_TYPE_RDB)."""
        return self.child is not None and self.child.target != "aof"

    @property
    def aof_rewrite_in_progress(self):
        return self.child is not None and self.child.target == "aof"

    # -- the MISCONF gate ------------------------------------------------------

    def _gate_changed(self, old, new):
        self.update_write_denied()

    def update_write_denied(self):
        """writeCommandsDeniedByDiskError, kept in the attribute call() reads."""
        config = self.config
        denied = (config["stop-writes-on-bgsave-error"] and config["save"]
                  and not self.last_bgsave_ok)
        if denied:
            self.instance.write_denied = errors.MISCONF_RDB
            return
        aof = getattr(self.instance, "aof", None)
        aof_errno = aof.write_error() if aof is not None else None
        self.instance.write_denied = misconf(aof_errno) if aof_errno is not None else None

    def _set_bgsave_status(self, ok):
        self.last_bgsave_ok = ok
        self.update_write_denied()

    # -- SAVE ----------------------------------------------------------------------

    def save(self):
        """rdbSave: write the dump now. True on success."""
        instance = self.instance
        config = self.config
        # rdb-key-save-delay slows every save, this one too, as in Redis.
        if not save_snapshot(snapshot_of(instance), self.filename,
                             key_delay(config["rdb-key-save-delay"]),
                             config["rdb-save-incremental-fsync"]):
            return False
        instance.dirty = 0
        instance.lastsave = self.now()
        self._set_bgsave_status(True)
        return True

    # -- BGSAVE --------------------------------------------------------------------

    def bgsave(self):
        """rdbSaveBackground: fork a child that writes the dump. False if a
        child already runs or the fork failed."""
        if self.child is not None:
            return False
        instance = self.instance
        config = self.config
        instance.rdb_saves += 1
        self.dirty_before_bgsave = instance.dirty
        self.last_bgsave_try = self.now()
        pid = self._fork(lambda snapshot, pipe, delay: bgsave_body(
            snapshot, self.filename, pipe, delay, config["rdb-save-incremental-fsync"]))
        if pid is None:
            self._set_bgsave_status(False)
            return False
        log.info("Background saving started by pid {pid}", pid=pid)
        return True

    def fork_aof_rewrite(self, make_body):
        """The fork of rewriteAppendOnlyFileBackground: a child running
        ``make_body(snapshot, info_pipe, key_delay)()`` over a snapshot
        fit for an AOF base. The pid, or None (logged)."""
        return self._fork(make_body, target="aof", repl_stream_db=None, aof_base=True,
                          fork_failed="Can't rewrite append only file in background: "
                                      "fork: {reason}")

    def _fork(self, make_body, keep_fds=(), target="disk",
              fork_failed="Can't save in background: fork: {reason}", **filters):
        """Fork a child running ``make_body(snapshot, info_pipe, key_delay)()``
        and keeping ``keep_fds`` open; count the fork for INFO. Returns the
        pid, or None (logged with ``fork_failed``) if the fork failed."""
        instance = self.instance
        snapshot = snapshot_of(instance, **filters)
        pipe = InfoPipe()
        body = make_body(snapshot, pipe, key_delay(self.config["rdb-key-save-delay"]))
        start = time.perf_counter_ns()
        try:
            pid = self.forker.start(body, keep_fds=(pipe.write_fd, *keep_fds))
        except OSError as error:
            pipe.close()
            log.warn(fork_failed, reason=error.strerror or str(error))  # noqa: G010
            return None
        instance.latest_fork_usec = (time.perf_counter_ns() - start) // 1000
        instance.total_forks += 1
        pipe.close_write()
        self.child = Child(pid, pipe, self.now(), snapshot.keys, target=target)
        return pid

    def kill_child(self):
        """killRDBChild plus rdbRemoveTempFile, as SHUTDOWN does first: the
        child must not rename its dump over the one about to be written.
        The cron still reaps it (as killed by SIGUSR1: no error). An AOF
        rewrite is left alone (instance.aof stops its own)."""
        child = self.child
        if child is None or child.target == "aof":
            return
        self.forker.kill(child.pid, signal.SIGUSR1)
        remove_temp_file(child.pid)

    def kill_and_reap(self):
        """Stop the running child with SIGUSR1 and wait for it, no done
        handler run (killAppendOnlyChild's kill, waitpid, resetChildState)."""
        child = self.child
        if child is None:
            return
        self.forker.kill(child.pid, signal.SIGUSR1)
        while self.forker.poll(child.pid) is None:
            time.sleep(0.001)
        child.pipe.close_read()
        self.child = None

    # -- cron ----------------------------------------------------------------------

    def cron(self):
        """serverCron's persistence part."""
        if self.child is not None:
            self._receive_child_info()
            self._check_child_done()
        else:
            self._check_save_points()
        if self.bgsave_scheduled and self.child is None and self._may_retry():
            if self.bgsave():
                self.bgsave_scheduled = False

    def _may_retry(self):
        return self.last_bgsave_ok or \
            self.now() - self.last_bgsave_try > BGSAVE_RETRY_DELAY

    def _check_save_points(self):
        instance = self.instance
        now = self.now()
        for seconds, changes in self.config["save"]:
            if instance.dirty >= changes and now - instance.lastsave > seconds \
                    and self._may_retry():
                log.info("{changes} changes in {seconds} seconds. Saving...",
                         changes=changes, seconds=seconds)
                self.bgsave()
                break

    def _receive_child_info(self):
        child = self.child
        for info in child.pipe.receive():
            child.cow_peak = max(child.cow_peak, info.cow)
            if info.kind == RDB_COW_SIZE and child.target == "aof":
                self.instance.aof.last_cow_size = child.cow_peak
            elif info.kind == RDB_COW_SIZE:
                self.last_cow_size = child.cow_peak
            else:
                child.cow = info.cow
                child.cow_updated = info.cow_updated
                child.keys_processed = info.keys

    def _check_child_done(self):
        child = self.child
        status = self.forker.poll(child.pid)
        if status is None:
            return
        exitcode, bysignal = status
        if exitcode == NOERROR_EXIT_CODE:
            exitcode, bysignal = 1, signal.SIGUSR1
        if child.target == "disk":
            self._bgsave_done(exitcode, bysignal)
        elif child.target == "aof":
            self.instance.aof.rewrite_done(exitcode, bysignal, child.pid)
        else:
            self._transfer_done(exitcode, bysignal)
        ok = not bysignal and exitcode == 0
        if ok:
            self._receive_child_info()
        child.pipe.close_read()
        self.child = None
        for callback in list(self.on_bgsave_done):
            callback(ok)

    def _bgsave_done(self, exitcode, bysignal):
        """backgroundSaveDoneHandlerDisk."""
        instance = self.instance
        if not bysignal and exitcode == 0:
            log.info("Background saving terminated with success")
            instance.dirty -= self.dirty_before_bgsave
            instance.lastsave = self.now()
            self._set_bgsave_status(True)
        elif not bysignal:
            log.warn("Background saving error")  # noqa: G010
            self._set_bgsave_status(False)
        else:
            log.warn("Background saving terminated by signal {signum}",  # noqa: G010
                     signum=bysignal)
            remove_temp_file(self.child.pid)
            # SIGUSR1 is how the server itself stops a child: not an error.
            if bysignal != signal.SIGUSR1:
                self._set_bgsave_status(False)
        self.last_bgsave_seconds = self.now() - self.child.started

    # -- SHUTDOWN ------------------------------------------------------------------

    def shutdown_save(self, save=False, nosave=False, force=False):
        """finishShutdown's persistence part: stop a running BGSAVE, then
        write the final dump when save points are set (unless NOSAVE) or
        SAVE was given. False if that save failed and FORCE was not given:
        the server must not exit."""
        if self.bgsave_in_progress:
            log.warn("There is a child saving an .rdb. Killing it!")  # noqa: G010
            self.kill_child()
        # The AOF's part (stop a rewrite, flush and fsync) comes before the
        # final dump, as in Redis's finishShutdown.
        if not self.instance.aof.shutdown(force=force):
            return False
        if self.instance.loading:
            # Never overwrite the dump with a half-loaded dataset.
            save, nosave = False, True
        if not ((self.config["save"] and not nosave) or save):
            return True
        log.info("Saving the final RDB snapshot before exiting.")
        if self.save():
            return True
        if force:
            log.warn("Error trying to save the DB. Exit anyway.")  # noqa: G010
            return True
        log.warn("Error trying to save the DB, can't exit.")  # noqa: G010
        return False

    # -- INFO ----------------------------------------------------------------------

    def info_fields(self):
        """The Persistence section's fields this module owns, in Redis's order
        (from current_cow_peak to rdb_last_cow_size)."""
        child = self.child
        instance = self.instance
        now = self.now()
        if child is not None:
            cow_age = int(time.monotonic() - child.cow_updated) if child.cow_updated else 0
            perc = child.keys_processed * 100 / child.keys_total if child.keys_total else 0
            fields = [
                f"current_cow_peak:{child.cow_peak}",
                f"current_cow_size:{child.cow}",
                f"current_cow_size_age:{cow_age}",
                f"current_fork_perc:{perc:.2f}",
                f"current_save_keys_processed:{child.keys_processed}",
                f"current_save_keys_total:{child.keys_total}",
            ]
        else:
            fields = [
                "current_cow_peak:0",
                "current_cow_size:0",
                "current_cow_size_age:0",
                "current_fork_perc:0.00",
                "current_save_keys_processed:0",
                "current_save_keys_total:0",
            ]
        fields += [
            f"rdb_changes_since_last_save:{instance.dirty}",
            f"rdb_bgsave_in_progress:{int(self.bgsave_in_progress)}",
            f"rdb_last_save_time:{instance.lastsave}",
            "rdb_last_bgsave_status:" + ("ok" if self.last_bgsave_ok else "err"),
            f"rdb_last_bgsave_time_sec:{self.last_bgsave_seconds}",
            "rdb_current_bgsave_time_sec:%d" % (
                now - child.started if self.bgsave_in_progress else -1),
            f"rdb_saves:{instance.rdb_saves}",
            f"rdb_last_cow_size:{self.last_cow_size}",
        ]
        return fields

    # -- children for replication (diskless sync) ----------------------------------

    def bgsave_to_pipe(self, make_body, keep_fds=(), **filters):
        """rdbSaveToSlavesSockets' fork: a child that streams the RDB to
        replicas instead of writing the dump file. The child runs
        ``make_body(snapshot, info_pipe, key_delay)()``; ``keep_fds`` are
        the sockets it must keep. Its end is no save: dirty, lastsave and
        the bgsave status stay (backgroundSaveDoneHandlerSocket). Returns
        the pid, or None if a child already runs or the fork failed."""
        if self.child is not None:
            return None
        return self._fork(make_body, keep_fds, target="socket", **filters)

    def _transfer_done(self, exitcode, bysignal):
        """backgroundSaveDoneHandlerSocket."""
        if not bysignal and exitcode == 0:
            log.info("Background RDB transfer terminated with success")
        elif not bysignal:
            log.warn("Background transfer error")  # noqa: G010
        else:
            log.warn("Background transfer terminated by signal {signum}",  # noqa: G010
                     signum=bysignal)
        self.last_bgsave_seconds = self.now() - self.child.started
