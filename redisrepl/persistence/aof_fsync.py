"""fsync off the reactor thread (Redis's bio thread for BIO_AOF_FSYNC and
BIO_CLOSE_FILE jobs).

With ``appendfsync everysec`` the server writes the AOF on the reactor
thread and hands the fsync to this worker, at most once a second. While an
fsync is pending the writer may postpone its next write (a write(2) behind
a running fsync blocks anyway): ``pending_fsyncs`` is what it asks. The
worker records the outcome of each fsync as Redis's aof_bio_fsync_status;
the reactor thread reads it (plain attributes: one writer, atomic under
the GIL).
"""

import errno
import os
import queue
import threading

from twisted.logger import Logger

log = Logger()

_FSYNC, _CLOSE = "fsync", "close"


def redis_fsync(fd):
    """redis_fsync: fdatasync on Linux, fsync elsewhere."""
    sync = getattr(os, "fdatasync", os.fsync)
    sync(fd)


class FsyncWorker:
    """One daemon thread running fsync and close jobs in order."""

    def __init__(self, sync=redis_fsync):
        self.sync = sync
        self.status_ok = True        # aof_bio_fsync_status
        self.errno = 0               # aof_bio_fsync_errno
        self._jobs = queue.Queue()
        self._lock = threading.Lock()
        self._pending_fsyncs = 0
        self._thread = None

    @property
    def pending_fsyncs(self):
        """bioPendingJobsOfType(BIO_AOF_FSYNC)."""
        return self._pending_fsyncs

    def fsync(self, fd):
        """bioCreateFsyncJob."""
        with self._lock:
            self._pending_fsyncs += 1
        self._submit((_FSYNC, fd))

    def fsync_and_close(self, fd):
        """bioCreateCloseJob(fd, need_fsync=1): the file just replaced."""
        self._submit((_CLOSE, fd))

    def drain(self):
        """Wait until every job submitted so far has run (tests, shutdown)."""
        self._jobs.join()

    def _submit(self, job):
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="aof-fsync", daemon=True)
            self._thread.start()
        self._jobs.put(job)

    def _run(self):
        while True:
            kind, fd = self._jobs.get()
            try:
                self._fsync(fd)
                if kind == _CLOSE:
                    os.close(fd)
            except OSError:
                pass
            finally:
                if kind == _FSYNC:
                    with self._lock:
                        self._pending_fsyncs -= 1
                self._jobs.task_done()

    def _fsync(self, fd):
        try:
            self.sync(fd)
        except OSError as error:
            # A closed fd (the file was switched meanwhile) is not a failure.
            if error.errno in (errno.EBADF, errno.EINVAL):
                self.status_ok = True
                return
            if self.status_ok:
                log.warn("Fail to fsync the AOF file: {reason}",  # noqa: G010
                         reason=error.strerror or str(error))
            self.errno = error.errno
            self.status_ok = False
            return
        self.status_ok = True
