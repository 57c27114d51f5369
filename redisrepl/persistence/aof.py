"""The append-only file, writer side (Redis 7.0's aof.c): ``instance.aof``.

Theory of operation
-------------------
The AOF is a propagation consumer: while it is on, every op the propagator
fans out (the same record the replicas get: SELECT when the db changes,
MULTI/EXEC, deterministic rewrites, DEL of expired keys) is encoded into
``buffer`` (Redis's aof_buf) and written at once -- Redis writes it in
beforeSleep, before any reply of that turn reaches a socket; here the
write happens at the end of the propagation, inside ``engine.call``, so
before the command's reply is even produced. ``appendfsync``:

- ``always``: write and fdatasync right there, synchronously: one fsync per
  write command (Redis batches one per event-loop turn), the price of "an
  acknowledged write is on disk".
- ``everysec``: the fsync goes to a worker thread (aof_fsync.FsyncWorker)
  at most once a second; while one is still running the write is
  postponed up to two seconds, then forced (``aof_delayed_fsync``), as
  Redis's flushAppendOnlyFile. The cron retries postponed writes and
  fsyncs the tail once writes stop.
- ``no``: never fsync. ``no-appendfsync-on-rewrite`` skips fsyncs while any
  child runs.

Files (multi-part AOF, aof_manifest.py): the manifest in ``appenddirname``
lists one base and the incr files after it; writes go to the last incr.
``BGREWRITEAOF`` and turning the AOF on at runtime are the parent-side
steps in aof_bgrewrite.py (mixed into ``Aof``); the child's half, writing
a base, is aof_rewrite.py.

``state`` is Redis's aof_state (aof_state.py: OFF, ON, WAIT_REWRITE).
"""

import errno
import os

from twisted.logger import Logger

from redisrepl.persistence.aof_bgrewrite import BackgroundRewrite
from redisrepl.persistence.aof_fsync import FsyncWorker, redis_fsync
from redisrepl.persistence.aof_manifest import (
    Manifest,
    ManifestError,
    delete_history,
    load_manifest,
    persist_manifest,
)
from redisrepl.persistence.aof_rewrite import write_base
from redisrepl.persistence.aof_state import OFF, ON, WAIT_REWRITE
from redisrepl.persistence.rdbsave import strerror
from redisrepl.persistence.snapshot import snapshot_of
from redisrepl.propagation import AOF, CommandStream
from redisrepl.resp.values import ReplyError

__all__ = ["OFF", "ON", "WAIT_REWRITE", "Aof", "misconf"]

log = Logger()

WRITE_ERROR_LOG_RATE = 30       # AOF_WRITE_LOG_ERROR_RATE, seconds
POSTPONE_SECONDS = 2            # the longest a write waits for an fsync

ALREADY_REWRITING = ReplyError("ERR Background append only file rewriting already in progress")


def misconf(error_number):
    """The -MISCONF reply while the AOF cannot be written."""
    return ReplyError("MISCONF Errors writing to the AOF file: " + os.strerror(error_number))



def _exit_now(status):
    # Imported here: service.py imports the Instance, which imports us.
    from redisrepl.service import exit_now
    exit_now(status)


class Aof(BackgroundRewrite):
    def __init__(self, instance, worker=None):
        self.instance = instance
        self.config = instance.config
        self.clock = instance.clock
        self.persistence = instance.persistence
        self.worker = worker or FsyncWorker()
        self.exit = _exit_now             # fatal AOF errors end the process
        self.state = ON if self.config["appendonly"] else OFF
        self.fd = None                     # the incr file written to (aof_fd)
        self.buffer = bytearray()          # aof_buf
        self.stream = CommandStream(self._append, targets=AOF)
        self.manifest = None               # read from disk on first need
        self.consuming = False
        # Sizes in bytes: base + incrs, the last incr, at the last rewrite
        # (or the base loaded at start-up), and what is known fsynced.
        self.current_size = 0
        self.last_incr_size = 0
        self.rewrite_base_size = 0
        self.fsync_offset = 0
        self.last_fsync = self.now()
        self.flush_postponed_start = 0
        self.delayed_fsync = 0
        self.last_write_ok = True
        self.last_write_errno = 0
        self._last_write_error_log = 0
        # BGREWRITEAOF state and stats (aof_bgrewrite.py).
        self._init_rewrite_state()
        self.config.watch("appendonly", self._appendonly_changed)

    # -- small things ----------------------------------------------------------------

    def now(self):
        return int(self.clock.seconds())

    @property
    def enabled(self):
        """appendonly is on (Redis's aof_state != AOF_OFF)."""
        return self.state != OFF

    @property
    def dirname(self):
        return self.config["appenddirname"]

    @property
    def filename(self):
        return self.config["appendfilename"]

    def _path(self, name):
        return os.path.join(self.dirname, name)

    def _file_size(self, name):
        try:
            return os.stat(self._path(name)).st_size
        except OSError as error:
            log.warn("Unable to obtain the AOF file {name} length. stat: {reason}",  # noqa: G010
                     name=name, reason=strerror(error))
            return 0

    def _consume(self, on):
        """Be (or stop being) a propagation consumer."""
        if on != self.consuming:
            propagator = self.instance.propagator
            (propagator.add if on else propagator.remove)(self)
            self.consuming = on

    def _load_manifest(self):
        """The manifest, read on first need; None (logged) if unreadable."""
        if self.manifest is None:
            try:
                self.manifest = load_manifest(self.dirname, self.filename) or Manifest()
            except (ManifestError, OSError) as error:
                log.warn("Can't read the AOF manifest: {reason}",  # noqa: G010
                         reason=getattr(error, "message", None) or strerror(error))
                return None
        return self.manifest

    def _persist(self, manifest):
        """persistAofManifest; False (logged) on failure."""
        try:
            persist_manifest(self.dirname, self.filename, manifest)
        except OSError as error:
            log.warn("Error trying to write the AOF manifest file: {reason}",  # noqa: G010
                     reason=strerror(error))
            return False
        return True

    def _rewrite_in_progress(self):
        child = self.persistence.child
        return child is not None and child.target == "aof"

    # -- start-up --------------------------------------------------------------------

    def open_at_startup(self):
        """aofOpenIfNeededOnServerStart, then aofDelHistoryFiles: called once
        the dataset is loaded, before the first client is served. An empty
        directory gets a base (the dataset now) and a first incr; else the
        last incr is opened for append. Any failure ends the process. The
        start-up load (aof_loader) leaves its manifest and sizes in
        ``instance.aof_load``; without one they are read here."""
        loaded = getattr(self.instance, "aof_load", None)
        if loaded is not None and self.manifest is None:
            self.manifest = loaded.manifest
        if self.state != ON:
            self._delete_history()
            return
        manifest = self._load_manifest()
        if manifest is None:
            self.exit(1)
            return
        try:
            os.makedirs(self.dirname, exist_ok=True)
        except OSError as error:
            log.warn("Can't open or create append-only dir {dirname}: {reason}",  # noqa: G010
                     dirname=self.dirname, reason=strerror(error))
            self.exit(1)
            return
        # What loadAppendOnlyFiles leaves: the loaded files' sizes.
        if loaded is not None and loaded.status is not None:
            self.current_size, self.rewrite_base_size = loaded.total_size, loaded.base_size
        else:
            self.current_size = sum(self._file_size(f.name) for f in manifest.data_files())
            self.rewrite_base_size = \
                self._file_size(manifest.base.name) if manifest.base else 0
        self.fsync_offset = self.current_size
        had_incr = bool(manifest.incrs)
        if manifest.base is None and not had_incr:
            preamble = self.config["aof-use-rdb-preamble"]
            base = manifest.next_base_name(self.filename, preamble)
            if not write_base(self._snapshot(), self._path(base.name), preamble,
                              self.config["aof-rewrite-incremental-fsync"]):
                self.exit(1)
                return
            log.info("Creating AOF base file {name} on server start", name=base.name)
        incr = manifest.last_incr_name(self.filename)
        try:
            fd = os.open(self._path(incr.name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            log.warn("Can't open the append-only file {name}: {reason}",  # noqa: G010
                     name=incr.name, reason=strerror(error))
            self.exit(1)
            return
        if not had_incr and not self._persist(manifest):
            os.close(fd)
            self.exit(1)
            return
        self.fd = fd
        self.last_incr_size = self._file_size(incr.name)
        self.last_fsync = self.now()
        self.stream.force_select()
        self._consume(True)
        verb = "Opening" if had_incr else "Creating"
        log.info("{verb} AOF incr file {name} on server start", verb=verb, name=incr.name)
        self._delete_history()

    def _snapshot(self):
        # A base carries no replication info (rdbSaveRio with rsi NULL).
        return snapshot_of(self.instance, repl_stream_db=None, aof_base=True)

    def _delete_history(self):
        """aofDelHistoryFiles (unless aof-disable-auto-gc); failures only logged."""
        if self.config["aof-disable-auto-gc"] or self.manifest is None:
            return
        try:
            delete_history(self.dirname, self.manifest, self.filename, log)
        except OSError as error:
            log.warn("Error deleting the AOF history files: {reason}",  # noqa: G010
                     reason=strerror(error))

    def adopt_manifest(self, manifest):
        """The manifest just read back from disk (DEBUG LOADAOF's
        aofLoadManifestFromDisk), then aofDelHistoryFiles."""
        self.manifest = manifest
        self._delete_history()

    # -- feeding and writing -------------------------------------------------------------

    def feed(self, ops):
        """Propagation consumer: encode ``ops`` and write them now."""
        if self.instance.loading:
            # A loader replaying commands: they are already on disk.
            return
        if self.state == WAIT_REWRITE and not self._rewrite_in_progress():
            # The rewrite that turns the AOF on will hold these writes.
            return
        self.stream.feed(ops)
        self._flush()

    def _append(self, data):
        if data:
            self.buffer += data

    def flush(self, force_fsync=False):
        """Write the buffer now, even behind a pending fsync (SHUTDOWN,
        stop); with ``force_fsync`` also fsync before returning."""
        self._flush(force=True)
        if force_fsync and self.fd is not None:
            try:
                redis_fsync(self.fd)
            except OSError as error:
                log.warn("Fail to fsync the AOF file: {reason}.",  # noqa: G010
                         reason=strerror(error))
                return
            self.fsync_offset = self.current_size
            self.last_fsync = self.now()

    def _flush(self, force=False):
        """flushAppendOnlyFile: write the buffer, then fsync as the policy says."""
        now = self.now()
        everysec = self.config["appendfsync"] == "everysec"
        if not self.buffer:
            # everysec: the last writes still need their fsync once a
            # second has passed, even if no write follows them.
            if everysec and self.fd is not None and self.fsync_offset != self.current_size \
                    and now > self.last_fsync and not self.worker.pending_fsyncs:
                self._fsync_if_needed(now, False)
            return
        if self.fd is None:
            return
        sync_in_progress = everysec and self.worker.pending_fsyncs != 0
        if sync_in_progress and not force:
            if not self.flush_postponed_start:
                self.flush_postponed_start = now
                return
            if now - self.flush_postponed_start < POSTPONE_SECONDS:
                return
            self.delayed_fsync += 1
            log.info("Asynchronous AOF fsync is taking too long (disk is busy?). Writing "
                     "the AOF buffer without waiting for fsync to complete, this may slow "
                     "down Redis.")
        written, error_number = self._write(self.buffer)
        self.flush_postponed_start = 0
        if written != len(self.buffer):
            self._write_failed(now, written, error_number)
            return
        if not self.last_write_ok:
            log.warn("AOF write error looks solved, Redis can write again.")  # noqa: G010
            self.last_write_ok = True
            self.persistence.update_write_denied()
        self.current_size += written
        self.last_incr_size += written
        self.buffer = bytearray()
        self._fsync_if_needed(now, sync_in_progress)

    def _write(self, data):
        """aofWrite: (bytes written, errno of the failure or 0)."""
        view = memoryview(data)
        total = 0
        while total < len(data):
            try:
                total += os.write(self.fd, view[total:])
            except InterruptedError:
                continue
            except OSError as error:
                return total, error.errno
        return total, 0

    def _write_failed(self, now, written, error_number):
        can_log = now - self._last_write_error_log > WRITE_ERROR_LOG_RATE
        if can_log:
            self._last_write_error_log = now
        if written == 0 and error_number:
            if can_log:
                log.warn("Error writing to the AOF file: {reason}",  # noqa: G010
                         reason=os.strerror(error_number))
            self.last_write_errno = error_number
        else:
            if can_log:
                log.warn("Short write while writing to the AOF file: (nwritten={written}, "  # noqa: G010
                         "expected={expected})", written=written, expected=len(self.buffer))
            try:
                os.ftruncate(self.fd, self.last_incr_size)
            except OSError as error:
                if can_log:
                    log.warn("Could not remove short write from the append-only file.  "  # noqa: G010
                             "Redis may refuse to load the AOF the next time it starts.  "
                             "ftruncate: {reason}", reason=strerror(error))
            else:
                written = 0     # nothing partial left in the file
            self.last_write_errno = errno.ENOSPC
        if self.config["appendfsync"] == "always":
            # The reply cannot be withdrawn and the change not undone: a
            # write that may not be on disk must not be acknowledged.
            log.warn("Can't recover from AOF write error when the AOF fsync policy is "  # noqa: G010
                     "'always'. Exiting...")
            self.exit(1)
            return
        self.last_write_ok = False
        self.persistence.update_write_denied()
        if written > 0:
            self.current_size += written
            self.last_incr_size += written
            del self.buffer[:written]

    def _fsync_if_needed(self, now, sync_in_progress):
        if self.config["no-appendfsync-on-rewrite"] and self.persistence.child is not None:
            return
        policy = self.config["appendfsync"]
        if policy == "always":
            try:
                redis_fsync(self.fd)
            except OSError as error:
                log.warn("Can't persist AOF for fsync error when the AOF fsync policy is "  # noqa: G010
                         "'always': {reason}. Exiting...", reason=strerror(error))
                self.exit(1)
                return
            self.fsync_offset = self.current_size
            self.last_fsync = now
        elif policy == "everysec" and now > self.last_fsync:
            if not sync_in_progress:
                self.worker.fsync(self.fd)
                self.fsync_offset = self.current_size
            self.last_fsync = now

    def write_error(self):
        """The errno that stops writes (-MISCONF), or None: a failed write,
        or a failed background fsync (writeCommandsDeniedByDiskError)."""
        if self.state == OFF:
            return None
        if not self.last_write_ok:
            return self.last_write_errno
        if not self.worker.status_ok:
            self.last_write_errno = self.worker.errno
            return self.last_write_errno
        return None

    # -- switching off ------------------------------------------------------------------

    def stop(self):
        """stopAppendOnly: write and fsync what is buffered, close the file,
        stop recording and stop a running rewrite."""
        if self.state == OFF:
            return
        self.flush(force_fsync=True)
        if self.fd is not None:
            os.close(self.fd)
        self.fd = None
        self.stream.force_select()
        self.state = OFF
        self.rewrite_scheduled = False
        self.last_incr_size = 0
        self.kill_rewrite_child()
        self.buffer = bytearray()
        self._consume(False)
        self.persistence.update_write_denied()

    def shutdown(self, force=False):
        """finishShutdown's AOF part: stop a rewrite, write and fsync the
        buffer. False when the server must not exit: the first rewrite after
        turning the AOF on still runs (unless ``force``)."""
        if self.state == OFF:
            return True
        if self._rewrite_in_progress():
            if self.state == WAIT_REWRITE:
                if not force:
                    log.warn("Writing initial AOF, can't exit.")  # noqa: G010
                    return False
                log.warn("Writing initial AOF. Exit anyway.")  # noqa: G010
            log.warn("There is a child rewriting the AOF. Killing it!")  # noqa: G010
            self.kill_rewrite_child()
        log.info("Calling fsync() on the AOF file.")
        self.flush(force_fsync=True)
        return True

    # -- cron ------------------------------------------------------------------------

    def cron(self):
        """serverCron's AOF part: rewrites to start (aof_bgrewrite.py),
        postponed writes, retries after a write error, everysec's fsync."""
        self._rewrite_cron(self.now())
        if self.state != OFF:
            self._flush()
            self.persistence.update_write_denied()

    # -- INFO ------------------------------------------------------------------------

    def info_fields(self):
        """INFO persistence, aof_enabled .. aof_last_cow_size."""
        rewriting = self._rewrite_in_progress()
        current = self.now() - self.rewrite_time_start if rewriting else -1
        write_ok = self.last_write_ok and self.worker.status_ok
        return [
            f"aof_enabled:{int(self.state != OFF)}",
            f"aof_rewrite_in_progress:{int(rewriting)}",
            f"aof_rewrite_scheduled:{int(self.rewrite_scheduled)}",
            f"aof_last_rewrite_time_sec:{self.rewrite_time_last}",
            f"aof_current_rewrite_time_sec:{current}",
            "aof_last_bgrewrite_status:" + ("ok" if self.last_bgrewrite_ok else "err"),
            f"aof_rewrites:{self.rewrites}",
            f"aof_rewrites_consecutive_failures:{self.consecutive_failures}",
            "aof_last_write_status:" + ("ok" if write_ok else "err"),
            f"aof_last_cow_size:{self.last_cow_size}",
        ]

    def info_state_fields(self):
        """The lines INFO persistence adds while the AOF is on."""
        if self.state == OFF:
            return []
        return [
            f"aof_current_size:{self.current_size}",
            f"aof_base_size:{self.rewrite_base_size}",
            f"aof_pending_rewrite:{int(self.rewrite_scheduled)}",
            f"aof_buffer_length:{len(self.buffer)}",
            f"aof_pending_bio_fsync:{self.worker.pending_fsyncs}",
            f"aof_delayed_fsync:{self.delayed_fsync}",
        ]


