"""A full sync's payload into a fresh dataset, while the old one serves.

Theory of operation. One ``SyncLoad`` lives for one payload. The master link
hands it the RDB bytes as they arrive (``write``), then says the payload is
complete (``complete``), which returns a Deferred:

- **disk** (``repl-diskless-load disabled``, the default): the bytes go to a
  temp file (``temp-<unixtime>.<pid>.tmp``, as Redis names it). Once complete
  the file is fsynced and loaded a chunk per reactor turn into scratch
  databases (RdbLoader) -- clients keep reading the old dataset meanwhile --
  then the new dataset is swapped in at once and the file becomes the dump
  (``dbfilename``).
- **socket** (``swapdb`` / ``on-empty-db``): the bytes are decoded as they
  arrive, straight from the socket; complete() checks the end and swaps.

Either way nothing touches the live dataset before the whole payload has
been read and verified: a broken link, a truncated or corrupt RDB raise or
fail the Deferred (RdbError, OSError) with the old data intact and the temp
file removed. ``abort()`` is for a link that died mid-way.

What the payload said of replication (the repl-* aux fields) is in
``loader.repl_info`` once loaded.
"""

import os

from twisted.internet import defer
from twisted.internet.task import Cooperator
from twisted.logger import Logger

from redisrepl.persistence.loader import RdbLoader

log = Logger()

# Bytes read from the temp file per cooperative step: 64 KiB (a socket
# read's worth, as in socket mode) decode in ~10 ms, so a client waits about
# that long behind the load; 256 KiB meant ~50 ms stalls at every step.
LOAD_CHUNK = 64 * 1024


class SyncLoad:
    def __init__(self, instance, to_disk, cooperator=None):
        self.instance = instance
        self.to_disk = to_disk
        self.loader = RdbLoader(instance)
        self.path = None
        self._fd = None
        self._task = None
        clock = instance.clock
        self._cooperator = cooperator or Cooperator(
            scheduler=lambda step: clock.callLater(0, step))
        if to_disk:
            self.path = "temp-%d.%d.tmp" % (int(clock.seconds()), os.getpid())
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def write(self, data):
        """RDB bytes of the payload, in order. Raises RdbError (socket mode)
        or OSError (disk mode)."""
        if self._fd is None:
            self.loader.feed(data)
            return
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def complete(self):
        """The payload is whole: load what needs loading and swap the dataset
        in. A Deferred firing with the committed RdbLoader."""
        if self._fd is None:
            try:
                self.loader.finish()
                self.loader.commit()
            except Exception:
                return defer.fail()
            return defer.succeed(self.loader)
        try:
            os.fsync(self._fd)
        except OSError:
            self._remove_temp()
            return defer.fail()
        os.close(self._fd)
        self._fd = None
        log.info("MASTER <-> REPLICA sync: Loading DB in memory")
        self._task = self._cooperator.cooperate(self._load_steps())
        d = self._task.whenDone()
        d.addCallbacks(self._loaded, self._load_failed)
        return d

    def _load_steps(self):
        with open(self.path, "rb") as dump:
            while True:
                chunk = dump.read(LOAD_CHUNK)
                if not chunk:
                    break
                self.loader.feed(chunk)
                yield
        self.loader.finish()
        self.loader.commit()

    def _loaded(self, _):
        self._task = None
        # The synced dataset is our dump from now on (Redis renames the
        # transfer file over dbfilename).
        try:
            os.replace(self.path, self.instance.config["dbfilename"])
        except OSError as error:
            log.warn("Failed trying to rename the temp DB into {name} in "  # noqa: G010
                     "MASTER <-> REPLICA synchronization: {reason}",
                     name=self.instance.config["dbfilename"], reason=error.strerror)
            self._remove_temp()
        self.path = None
        return self.loader

    def _load_failed(self, failure):
        self._task = None
        self._remove_temp()
        return failure

    def abort(self):
        """The link died before the load finished: drop everything."""
        if self._task is not None:
            task, self._task = self._task, None
            try:
                task.stop()
            except Exception:   # already done: nothing to stop
                pass
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._remove_temp()

    def _remove_temp(self):
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.path = None
