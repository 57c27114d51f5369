"""Forked children and what they tell the parent (Redis's redisFork,
child_info_pipe and sendChildInfo).

A BGSAVE child writes the snapshot with ``save_snapshot`` and leaves with
``os._exit``: it never returns into the caller, never runs the reactor,
atexit hooks or Twisted's shutdown. While it works it reports its progress
(keys written, copy-on-write memory) through a pipe, and at the end its
COW peak; the parent reads that pipe without blocking from its cron and
reaps the child with waitpid(WNOHANG).

The ``OsForker`` does the forking; tests hand the manager another object
with the same three methods to run the child body in-process.
"""

import gc
import os
import signal
import stat
import struct
import time
from typing import NamedTuple

from twisted.logger import Logger

from redisrepl import logs
from redisrepl.persistence.rdbsave import save_snapshot

log = Logger()

# What a child reports (Redis's childInfoType).
CURRENT_INFO = 0        # progress while working
RDB_COW_SIZE = 1        # the COW peak of a finished RDB save

# A child killed with SIGUSR1 on purpose exits with this code from its
# handler in Redis (SERVER_CHILD_NOERROR_RETVAL): it counts as that signal.
NOERROR_EXIT_CODE = 255

# Measuring COW walks the page tables: do it at most 1% of the time
# (CHILD_COW_DUTY_CYCLE), and check the clock only every 1024 keys.
COW_DUTY_CYCLE = 100
KEYS_PER_CLOCK_CHECK = 1024
REPORT_INTERVAL = 1.0

_RECORD = struct.Struct("<BQQd")


class ChildInfo(NamedTuple):
    kind: int
    keys: int
    cow: int              # bytes of private dirty memory in the child
    cow_updated: float    # time.monotonic() of that measure


def private_dirty(path="/proc/self/smaps_rollup"):
    """Bytes this process dirtied privately (its copy-on-write cost after a
    fork), as Redis's zmalloc_get_private_dirty; 0 where /proc lacks it."""
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(b"Private_Dirty:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class InfoPipe:
    """The child -> parent channel. The parent's end never blocks; the
    child's end does (it has nothing better to do)."""

    def __init__(self):
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self._pending = b""

    def send(self, info):
        os.write(self.write_fd, _RECORD.pack(*info))

    def receive(self):
        """Every complete record the child has sent so far."""
        data = self._pending
        while True:
            try:
                chunk = os.read(self.read_fd, 4096)
            except BlockingIOError:
                break
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        size = _RECORD.size
        whole = len(data) - len(data) % size
        self._pending = data[whole:]
        return [ChildInfo(*_RECORD.unpack_from(data, at)) for at in range(0, whole, size)]

    def close_read(self):
        _close(self.read_fd)

    def close_write(self):
        _close(self.write_fd)

    def close(self):
        self.close_read()
        self.close_write()


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass


class ChildReporter:
    """sendChildInfoGeneric: progress and COW from the child, throttled."""

    def __init__(self, pipe, measure=None, clock=time.monotonic, pname="RDB"):
        self.pipe = pipe
        self.pname = pname          # what the log calls the child's work
        self.measure = measure or private_dirty
        self.clock = clock
        self.keys = 0
        self.cow = 0
        self.cow_updated = 0.0
        self.cow_cost = 0.0
        self.peak = 0
        self.total = 0
        self.samples = 0
        self.last_report = clock()

    def key_saved(self):
        """Called after each key; reports about once a second."""
        self.keys += 1
        if self.keys % KEYS_PER_CLOCK_CHECK == 0:
            now = self.clock()
            if now - self.last_report >= REPORT_INTERVAL:
                self.report(CURRENT_INFO)
                self.last_report = now

    def report(self, kind, pname=None):
        now = self.clock()
        if kind != CURRENT_INFO or not self.cow_updated or \
                now - self.cow_updated > self.cow_cost * COW_DUTY_CYCLE:
            self._measure_cow(now, kind, pname or self.pname)
        self.pipe.send(ChildInfo(kind, self.keys, self.cow, self.cow_updated))

    def _measure_cow(self, started, kind, pname):
        self.cow = self.measure()
        self.cow_updated = self.clock()
        self.cow_cost = self.cow_updated - started
        self.peak = max(self.peak, self.cow)
        self.total += self.cow
        self.samples += 1
        final = kind != CURRENT_INFO
        if self.cow or final:
            emit = log.info if final else log.debug
            emit("Fork CoW for {pname}: current {current} MB, peak {peak} MB, "
                 "average {average} MB", pname=pname, current=self.cow >> 20,
                 peak=self.peak >> 20, average=(self.total // self.samples) >> 20)


def bgsave_body(snapshot, filename, pipe, key_delay=None, incremental_fsync=True):
    """What a BGSAVE child runs: save, report the COW, return the exit code."""
    reporter = ChildReporter(pipe)

    def on_key():
        if key_delay is not None:
            key_delay()
        reporter.key_saved()

    def body():
        if not save_snapshot(snapshot, filename, on_key, incremental_fsync):
            return 1
        reporter.report(RDB_COW_SIZE, "RDB")
        return 0
    return body


class OsForker:
    """Real children: os.fork, waitpid(WNOHANG), kill."""

    def start(self, body, keep_fds=()):
        """Fork; the child runs ``body()`` and exits with its result. Returns
        the child's pid in the parent (OSError if the fork failed)."""
        pid = os.fork()
        if pid == 0:
            _run_child(body, keep_fds)     # never returns
        return pid

    def poll(self, pid):
        """None while ``pid`` runs, else (exitcode, bysignal) as Redis's
        checkChildrenDone reads them; (-1, 0) if it is not our child."""
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError as error:
            log.warn("waitpid() returned an error: {reason}. child_type: RDB, "  # noqa: G010
                     "child_pid = {pid}", reason=error.strerror, pid=pid)
            return (-1, 0)
        if reaped == 0:
            return None
        if os.WIFSIGNALED(status):
            return (-1, os.WTERMSIG(status))
        return (os.waitstatus_to_exitcode(status), 0)

    def kill(self, pid, signum):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _run_child(body, keep_fds):
    code = 1
    try:
        _prepare_child(keep_fds)
        code = body()
    except BaseException:
        try:
            log.failure("Child process failed")
        except BaseException:
            pass
    finally:
        os._exit(code)


CHILD_NICENESS = 10


def _prepare_child(keep_fds):
    # The parent's reactor owns the wakeup fd and the signal handlers: the
    # child must not write to one nor run the other. SIGUSR1 (killRDBChild)
    # ends it; like Redis's child it leaves SIGINT/SIGTERM to the parent,
    # which stops it with SIGUSR1 when it shuts down.
    signal.set_wakeup_fd(-1)
    logs.mark_child()
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The collector would touch every object's header: pages copied for
    # nothing. The child is short-lived; it needs no collection.
    gc.disable()
    # Serving clients comes first: when the CPUs are busy the parent gets
    # them before the child (a save on an idle machine runs as fast).
    os.nice(CHILD_NICENESS)
    _close_sockets(keep_fds)


def _close_sockets(keep_fds):
    """closeChildUnusedResourceAfterFork: the child holds no listening port
    (or client) open, so a restart can bind while a save still runs."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd in keep_fds:
            continue
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            pass
