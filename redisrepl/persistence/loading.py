"""Loading the dump file: all at once (DEBUG RELOAD) or one chunk per reactor
turn (start-up), with the progress INFO persistence shows meanwhile.

While a load runs, ``instance.loading`` and ``keyspace.loading`` are set (the
engine answers -LOADING to commands without the ``loading`` flag; nothing
expires) and ``instance.load_progress`` holds a ``LoadProgress``. The
RdbLoader does the work; this module only reads the file and keeps time.
"""

import os
import time

from twisted.internet import defer
from twisted.logger import Logger

from redisrepl.persistence.loader import RdbLoader
from redisrepl.rdb import RdbError
from redisrepl.rdb.errors import Truncated

log = Logger()


class LoadProgress:
    """What INFO persistence reports while loading (Redis's loading_* fields)."""

    def __init__(self, loader, start_time, total_bytes):
        self.loader = loader
        self.start_time = int(start_time)    # loading_start_time
        self.total_bytes = total_bytes       # loading_total_bytes (file size)
        self.loaded_bytes = 0                # loading_loaded_bytes (bytes read)

    def info_fields(self, now):
        """The loading_* lines, computed as Redis 7.0's genRedisInfoString."""
        loaded = self.loaded_bytes
        used_mem = self.loader.rdb_used_mem
        perc = 0.0
        remaining = 1
        if self.total_bytes:
            perc = loaded / self.total_bytes * 100
            remaining = self.total_bytes - loaded
        elif used_mem:
            # used-mem only estimates the size: never claim to be done.
            perc = min(loaded / used_mem * 100, 99.99)
            remaining = max(used_mem - loaded, 1)
        elapsed = int(now) - self.start_time
        eta = 1 if elapsed == 0 else elapsed * remaining // (loaded + 1)
        return [
            f"loading_start_time:{self.start_time}",
            f"loading_total_bytes:{self.total_bytes}",
            f"loading_rdb_used_mem:{used_mem}",
            f"loading_loaded_bytes:{loaded}",
            f"loading_loaded_perc:{perc:.2f}",
            f"loading_eta_seconds:{eta}",
        ]


def _chunk_size(instance):
    # Redis serves events every loading-process-events-interval-bytes.
    return instance.config["loading-process-events-interval-bytes"]


def _steps(instance, dump, loader, progress, chunk_size):
    """Feed the file a chunk per step; the last step checks the end and swaps
    the dataset in. The loading flags (raised by _begin) come down after."""
    keyspace = instance.keyspace
    try:
        while True:
            chunk = dump.read(chunk_size)
            if not chunk:
                break
            progress.loaded_bytes += len(chunk)
            loader.feed(chunk)
            yield
        loader.finish()
        loader.commit()
    finally:
        instance.loading = keyspace.loading = False
        instance.load_progress = None
        dump.close()


def _begin(instance, path, merge=False, flush=True):
    """Open ``path`` (OSError if it cannot be) and prepare the steps."""
    dump = open(path, "rb")  # noqa: SIM115 -- closed by _steps
    total = os.fstat(dump.fileno()).st_size
    loader = RdbLoader(instance, merge=merge, flush=flush)
    progress = LoadProgress(loader, instance.clock.seconds(), total)
    # Up from now, not from the first step: a client served before that
    # would see an empty dataset instead of -LOADING.
    instance.loading = instance.keyspace.loading = True
    instance.load_progress = progress
    return loader, _steps(instance, dump, loader, progress, _chunk_size(instance))


def load_file(instance, path, merge=False, flush=True):
    """rdbLoad: load ``path`` now, start to end. Returns the committed
    RdbLoader; raises OSError or RdbError with the live data untouched."""
    loader, steps = _begin(instance, path, merge, flush)
    for _ in steps:
        pass
    return loader


def load_file_cooperatively(instance, path, cooperator):
    """Load ``path`` a chunk per turn of ``cooperator`` (a
    twisted.internet.task.Cooperator), so clients are served meanwhile.
    Returns a Deferred firing with the committed RdbLoader, or failing with
    OSError / RdbError (the live data untouched)."""
    loader, steps = _begin(instance, path)
    d = cooperator.cooperate(steps).whenDone()
    return d.addCallback(lambda _: loader)


def log_load_error(error):
    """Log why a load failed, naming the offset, as Redis's rdbLoadRio and
    rdbReportError do."""
    if isinstance(error, RdbError):
        if isinstance(error, Truncated):
            log.warn("Short read or OOM loading DB. Unrecoverable error, "  # noqa: G010
                     "aborting now.")
        log.warn("Internal error in RDB reading offset {offset} -> {reason}",  # noqa: G010
                 offset=error.offset if error.offset is not None else 0,
                 reason=error.message)
    else:
        log.warn("Fatal error loading the DB: {reason}. Exiting.",  # noqa: G010
                 reason=getattr(error, "strerror", None) or str(error))


def load_at_startup(instance, cooperator):
    """Redis's main(): aofLoadManifestFromDisk (always: a broken manifest
    stops start-up even with appendonly no), then loadDataFromDisk: with
    ``appendonly yes`` the AOF directory, else dir/dbfilename. Returns a
    Deferred firing with True (something loaded) or False (nothing to load),
    or failing (the error already logged) if start-up must stop. What the
    AOF load found is left in ``instance.aof_load`` (an AofLoad: manifest,
    files, sizes) for the AOF writer to open the right incr file."""
    # Imported here: aof_loader builds on this module's LoadProgress.
    from redisrepl.persistence.aof_loader import AofLoad, AofLoadError, read_manifest

    try:
        manifest = read_manifest(instance)
    except AofLoadError as error:   # logged
        return defer.fail(error)
    if instance.config["appendonly"]:
        return _load_aof_at_startup(instance, cooperator, AofLoad(instance, manifest))
    instance.aof_load = AofLoad(instance, manifest)
    return _load_rdb_at_startup(instance, cooperator)


def _load_aof_at_startup(instance, cooperator, load):
    from redisrepl.persistence.aof_loader import AOF_NOT_EXIST, AofLoadError

    instance.aof_load = load
    started = time.monotonic()
    try:
        prepared = load.prepare()
    except AofLoadError as error:   # logged
        return defer.fail(error)
    if prepared:
        d = cooperator.cooperate(load.steps()).whenDone()
    else:
        d = defer.succeed(None)

    def loaded(_):
        if load.status == AOF_NOT_EXIST:
            return False
        log.info("DB loaded from append only file: {seconds:.3f} seconds",
                 seconds=time.monotonic() - started)
        return True

    return d.addCallback(loaded)


def _load_rdb_at_startup(instance, cooperator):
    """rdbLoad at start-up: dir/dbfilename if it is there."""
    path = instance.config["dbfilename"]
    started = time.monotonic()
    try:
        d = load_file_cooperatively(instance, path, cooperator)
    except FileNotFoundError:
        return defer.succeed(False)
    except OSError as error:
        log_load_error(error)
        return defer.fail(error)

    def loaded(_loader):
        log.info("DB loaded from disk: {seconds:.3f} seconds",
                 seconds=time.monotonic() - started)
        return True

    def failed(failure):
        log_load_error(failure.value)
        return failure

    return d.addCallbacks(loaded, failed)
