"""BGREWRITEAOF, the parent's side (Redis 7.0's aof.c): the steps the
server takes around a rewrite child, mixed into ``Aof`` (aof.py), whose
state they read and change (``state``, ``fd``, ``manifest``, the sizes).

The story of one rewrite:

1. **Start** (``rewrite_background``): write what is buffered, open the
   next incr file and record it in the manifest *before* the fork, so a
   crash during the rewrite loses nothing; then fork a child that writes
   the dataset as a new base (aof_rewrite.py).
2. **Child done** (``rewrite_done``, called by the persistence cron when
   it reaps the child): a failure or a kill keeps every incr and counts
   toward the back-off; success goes on to 3.
3. **Manifest switch** (``_install_new_base``): the child's temp file is
   renamed to the next base name, the old base and incrs become history
   in a new manifest persisted atomically, and the history is deleted.
4. **Automatic rewrites** (``_rewrite_cron``): a scheduled rewrite, or
   auto-aof-rewrite-percentage / min-size growth, starts one when no child
   runs; after three failures in a row they back off (aofRewriteLimited).

Turning the AOF on at runtime is a rewrite too (``start``, Redis's
startAppendOnly): state WAIT_REWRITE, writes go to a temp incr that
becomes incr 1 next to base 1 when that first rewrite succeeds. A replica
does it after each full sync (``restart_after_sync``), retrying from the
cron once a second rather than sleeping the reactor as Redis's main
thread does.
"""

import os
import signal

from twisted.logger import Logger

from redisrepl.config import ConfigError
from redisrepl.persistence.aof_manifest import TEMP_PREFIX
from redisrepl.persistence.aof_rewrite import remove_temp_files, rewrite_body, temp_bg_name
from redisrepl.persistence.aof_state import OFF, ON, WAIT_REWRITE
from redisrepl.persistence.rdbsave import strerror, unlink_quietly

log = Logger()

REWRITE_LIMIT_THRESHOLD = 3     # AOF_REWRITE_LIMITE_THRESHOLD failures
REWRITE_LIMIT_MAX_MINUTES = 60  # AOF_REWRITE_LIMITE_MAX_MINUTES
RESTART_TRIES = 10              # restartAOFAfterSYNC's max_tries, a second apart


class BackgroundRewrite:
    """The rewrite's parent-side steps; a mixin of ``Aof``."""

    def _init_rewrite_state(self):
        self.rewrite_scheduled = False
        self.rewrite_time_start = -1
        self.rewrite_time_last = -1
        self.last_bgrewrite_ok = True
        self.rewrites = 0
        self.consecutive_failures = 0
        self.last_cow_size = 0
        self._next_delay_minutes = 0
        self._next_rewrite_time = 0
        self._restart_tries = 0
        self._restart_retry_at = None   # clock seconds of restart_after_sync's next try

    def _temp_incr_name(self):
        return TEMP_PREFIX + self.filename + ".incr"

    # -- switching on ------------------------------------------------------------------

    def _appendonly_changed(self, old, new):
        """CONFIG SET appendonly (updateAppendonly)."""
        if not new and self.state != OFF:
            self.stop()
        elif new and self.state == OFF and not self.start():
            raise ConfigError("Unable to turn on AOF. Check server logs.")

    def start(self):
        """startAppendOnly: turn the AOF on at runtime. It is on for real
        once a rewrite has written the base; until then WAIT_REWRITE. False
        (logged, still off) if the rewrite could not start."""
        self.state = WAIT_REWRITE
        self._consume(True)
        child = self.persistence.child
        if child is not None and child.target != "aof":
            self.rewrite_scheduled = True
            log.warn("AOF was enabled but there is already another background "  # noqa: G010
                     "operation. An AOF background was scheduled to start when possible.")
        elif self.instance.call_depth > 1:
            # Inside EXEC: a fork now would cut the transaction in two.
            self.rewrite_scheduled = True
            log.warn("AOF was enabled during a transaction. An AOF background was "  # noqa: G010
                     "scheduled to start when possible.")
        else:
            if child is not None:
                # That child is not collecting the writes: start over.
                log.warn("AOF was enabled but there is already an AOF rewriting in "  # noqa: G010
                         "background. Stopping background AOF and starting a rewrite now.")
                self.kill_rewrite_child()
            if not self.rewrite_background():
                self.state = OFF
                self._consume(False)
                log.warn("Redis needs to enable the AOF but can't trigger a background "  # noqa: G010
                         "AOF rewrite operation. Check the above logs for more info about "
                         "the error.")
                return False
        self.last_fsync = self.now()
        if not self.worker.status_ok:
            log.warn("AOF reopen, just ignore the AOF fsync error in bio job")  # noqa: G010
            self.worker.status_ok = True
        if not self.last_write_ok:
            log.warn("AOF reopen, just ignore the last error.")  # noqa: G010
            self.last_write_ok = True
        self.persistence.update_write_denied()
        return True

    def restart_after_sync(self):
        """restartAOFAfterSYNC: a replica that loaded its master's RDB turns
        its AOF back on (a rewrite of the new dataset). A failed start is
        tried again from the cron a second later, ten tries in all, then the
        process gives up as Redis's does."""
        if not self.config["appendonly"]:
            return
        if self.state != OFF:
            self.stop()
        self._restart_tries = 0
        self._try_restart()

    def _try_restart(self):
        self._restart_retry_at = None
        if self.start():
            return
        log.warn("Failed enabling the AOF after successful master synchronization! "  # noqa: G010
                 "Trying it again in one second.")
        self._restart_tries += 1
        if self._restart_tries < RESTART_TRIES:
            self._restart_retry_at = self.clock.seconds() + 1
            return
        log.warn("FATAL: this replica instance finished the synchronization with its "  # noqa: G010
                 "master, but the AOF can't be turned on. Exiting now.")
        self.exit(1)

    # -- 1. start ------------------------------------------------------------------------

    def rewrite_background(self):
        """rewriteAppendOnlyFileBackground: switch to a new incr file and
        fork a child that writes the new base. False (logged) if not."""
        if self.persistence.child is not None:
            return False
        try:
            os.makedirs(self.dirname, exist_ok=True)
        except OSError as error:
            log.warn("Can't open or create append-only dir {dirname}: {reason}",  # noqa: G010
                     dirname=self.dirname, reason=strerror(error))
            self.last_bgrewrite_ok = False
            return False
        self.stream.force_select()
        self._flush(force=True)
        if not self._open_new_incr():
            self.last_bgrewrite_ok = False
            return False
        self.rewrites += 1
        preamble = self.config["aof-use-rdb-preamble"]
        incremental = self.config["aof-rewrite-incremental-fsync"]
        pid = self.persistence.fork_aof_rewrite(
            lambda snapshot, pipe, delay: rewrite_body(snapshot, pipe, delay, preamble,
                                                       incremental))
        if pid is None:
            self.last_bgrewrite_ok = False
            return False
        log.info("Background append only file rewriting started by pid {pid}", pid=pid)
        self.rewrite_scheduled = False
        self.rewrite_time_start = self.now()
        return True

    def _open_new_incr(self):
        """openNewIncrAofForAppend: from now on write to a new incr file,
        recorded in the manifest first (a temp incr while WAIT_REWRITE:
        the manifest learns of it only once the base exists)."""
        if self.state == OFF:
            return True
        manifest = self._load_manifest()
        if manifest is None:
            return False
        if self.state == WAIT_REWRITE:
            new_manifest, name = None, self._temp_incr_name()
        else:
            new_manifest = manifest.copy()
            name = new_manifest.next_incr_name(self.filename).name
        try:
            fd = os.open(self._path(name), os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
        except OSError as error:
            log.warn("Can't open the append-only file {name}: {reason}",  # noqa: G010
                     name=name, reason=strerror(error))
            return False
        if new_manifest is not None and not self._persist(new_manifest):
            os.close(fd)
            return False
        log.info("Creating AOF incr file {name} on background rewrite", name=name)
        if self.fd is not None:
            # everysec may fsync it late, as long as it happens; always has.
            self.worker.fsync_and_close(self.fd)
            self.fsync_offset = self.current_size
            self.last_fsync = self.now()
        self.fd = fd
        self.last_incr_size = 0
        if new_manifest is not None:
            self.manifest = new_manifest
        return True

    def kill_rewrite_child(self):
        """killAppendOnlyChild: stop a running rewrite and wait for it."""
        child = self.persistence.child
        if child is None or child.target != "aof":
            return
        log.info("Killing running AOF rewrite child: {pid}", pid=child.pid)
        self.persistence.kill_and_reap()
        remove_temp_files(child.pid)
        self.rewrite_time_start = -1

    # -- 2. child done ---------------------------------------------------------------------

    def rewrite_done(self, exitcode, bysignal, pid):
        """backgroundRewriteDoneHandler: the persistence cron reaped the
        rewrite child ``pid``."""
        if not bysignal and exitcode == 0:
            log.info("Background AOF rewrite terminated with success")
            self._install_new_base(pid)
        elif not bysignal:
            self._rewrite_failed()
            log.warn("Background AOF rewrite terminated with error")  # noqa: G010
        else:
            # SIGUSR1: the server stopped it on purpose, not a failure.
            if bysignal != signal.SIGUSR1:
                self._rewrite_failed()
            log.warn("Background AOF rewrite terminated by signal {signum}",  # noqa: G010
                     signum=bysignal)
        remove_temp_files(pid)
        if self.state == WAIT_REWRITE:
            # The temp incr served a rewrite that failed: the next one
            # starts it over.
            self.buffer = bytearray()
            name = self._temp_incr_name()
            log.info("Removing the temp incr aof file {name} in the background", name=name)
            try:
                os.unlink(self._path(name))
            except OSError:
                pass
        if self.rewrite_time_start != -1:
            self.rewrite_time_last = self.now() - self.rewrite_time_start
        self.rewrite_time_start = -1
        if self.state == WAIT_REWRITE:
            self.rewrite_scheduled = True

    def _rewrite_failed(self):
        self.last_bgrewrite_ok = False
        self.consecutive_failures += 1

    # -- 3. manifest switch ----------------------------------------------------------------

    def _install_new_base(self, pid):
        manifest = self._load_manifest()
        if manifest is None:
            self._rewrite_failed()
            return
        tmpfile = temp_bg_name(pid)
        new_manifest = manifest.copy()
        base = new_manifest.next_base_name(self.filename, self.config["aof-use-rdb-preamble"])
        try:
            os.rename(tmpfile, self._path(base.name))
        except OSError as error:
            log.warn("Error trying to rename the temporary AOF base file {tmpfile} into "  # noqa: G010
                     "{name}: {reason}", tmpfile=tmpfile, name=self._path(base.name),
                     reason=strerror(error))
            self._rewrite_failed()
            return
        log.info("Successfully renamed the temporary AOF base file {tmpfile} into {name}",
                 tmpfile=tmpfile, name=base.name)
        new_incr = None
        if self.state == WAIT_REWRITE:
            temp_incr = self._temp_incr_name()
            new_incr = new_manifest.next_incr_name(self.filename).name
            try:
                os.rename(self._path(temp_incr), self._path(new_incr))
            except OSError as error:
                log.warn("Error trying to rename the temporary AOF incr file {temp} into "  # noqa: G010
                         "{name}: {reason}", temp=self._path(temp_incr),
                         name=self._path(new_incr), reason=strerror(error))
                unlink_quietly(self._path(base.name))
                self._rewrite_failed()
                return
            log.info("Successfully renamed the temporary AOF incr file {temp} into {name}",
                     temp=temp_incr, name=new_incr)
        new_manifest.mark_incrs_as_history(keep_last=self.fd is not None)
        if not self._persist(new_manifest):
            unlink_quietly(self._path(base.name))
            if new_incr is not None:
                unlink_quietly(self._path(new_incr))
            self._rewrite_failed()
            return
        self.manifest = new_manifest
        if self.fd is not None:
            self.stream.force_select()
            self.current_size = self._file_size(base.name) + self.last_incr_size
            self.rewrite_base_size = self.current_size
            self.fsync_offset = self.current_size
            self.last_fsync = self.now()
        self._delete_history()
        self.last_bgrewrite_ok = True
        self.consecutive_failures = 0
        log.info("Background AOF rewrite finished successfully")
        if self.state == WAIT_REWRITE:
            self.state = ON

    # -- 4. automatic rewrites -------------------------------------------------------------

    def _rewrite_limited(self, now):
        """aofRewriteLimited: after 3 failures in a row, automatic rewrites
        wait 1, 2, 4 ... up to 60 minutes (BGREWRITEAOF still runs)."""
        if self.consecutive_failures < REWRITE_LIMIT_THRESHOLD:
            self._next_delay_minutes = 0
            self._next_rewrite_time = 0
            return False
        if self._next_rewrite_time:
            if now < self._next_rewrite_time:
                return True
            self._next_rewrite_time = 0
            return False
        self._next_delay_minutes = min(max(1, self._next_delay_minutes * 2),
                                       REWRITE_LIMIT_MAX_MINUTES)
        self._next_rewrite_time = now + self._next_delay_minutes * 60
        log.warn("Background AOF rewrite has repeatedly failed and triggered the limit, "  # noqa: G010
                 "will retry in {minutes} minutes", minutes=self._next_delay_minutes)
        return True

    def _rewrite_cron(self, now):
        """serverCron's rewrite part: restart_after_sync's retry, a
        scheduled rewrite, or the automatic one on growth."""
        if self._restart_retry_at is not None and self.clock.seconds() >= self._restart_retry_at:
            if self.config["appendonly"] and self.state == OFF:
                self._try_restart()
            else:
                self._restart_retry_at = None
        if self.persistence.child is not None:
            return
        if self.rewrite_scheduled and not self._rewrite_limited(now):
            self.rewrite_background()
        elif self.state == ON:
            growth = self._growth_due()
            if growth is not None and not self._rewrite_limited(now):
                log.info("Starting automatic rewriting of AOF on {growth}% growth",
                         growth=growth)
                self.rewrite_background()

    def _growth_due(self):
        """The growth in percent when auto-aof-rewrite-percentage and
        auto-aof-rewrite-min-size call for a rewrite, else None."""
        percentage = self.config["auto-aof-rewrite-percentage"]
        if not percentage or self.current_size <= self.config["auto-aof-rewrite-min-size"]:
            return None
        growth = self.current_size * 100 // (self.rewrite_base_size or 1) - 100
        return growth if growth >= percentage else None

