"""Loading the append-only directory (Redis 7.0's loadAppendOnlyFiles):
the base file, then each incr file, in manifest order.

Theory of operation. ``AofLoad.prepare()`` does what happens before the
first byte is read: the old-style single-file upgrade, the sizes of the
listed files (one missing is fatal), and raising the loading flags, so
clients get -LOADING from that moment. ``steps()`` then reads the files a
chunk at a time (a generator, so start-up can run one step per reactor turn
while clients are answered; DEBUG LOADAOF and tests run it to the end).

A file that starts with "REDIS" begins with an RDB (a base written with
``aof-use-rdb-preamble yes``, or an old single-file AOF's preamble): it goes
through RdbLoader, committed before any command after it runs. Commands
(aof_reader.AofReader) run through their handlers with a fake client whose
replies go nowhere (Redis's AOF client calls cmd->proc, skipping the checks,
stats and propagation of call()); MULTI queues until EXEC, as for any
client. Nothing loaded is propagated: consumers are detached meanwhile, as
Redis turns aof_state off while it replays.

Outcomes per file, as loadSingleAppendOnlyFile: a torn tail (or a MULTI
never closed) is cut at the last whole command when ``aof-load-truncated``
is on -- only the last file may be cut; a format error, an unknown command
or a bad RDB stops the load. Failures are logged with Redis's texts and
raised as AofLoadError; the caller exits.
"""

import errno
import os
import time

from twisted.internet import defer
from twisted.logger import Logger

from redisrepl.client import Client
from redisrepl.persistence.aof_manifest import (
    BASE,
    AofFile,
    Manifest,
    ManifestError,
    load_manifest,
    manifest_name,
    persist_manifest,
)
from redisrepl.persistence.aof_reader import AofFormatError, AofReader, AofTruncated
from redisrepl.persistence.loader import RdbLoader
from redisrepl.persistence.loading import LoadProgress, log_load_error
from redisrepl.rdb import RdbError
from redisrepl.rdb.errors import Truncated
from redisrepl.resp.values import ReplyError

log = Logger()

# loadSingleAppendOnlyFile / loadAppendOnlyFiles results (Redis's AOF_*).
AOF_OK = "ok"
AOF_NOT_EXIST = "not-exist"
AOF_EMPTY = "empty"
AOF_OPEN_ERR = "open-err"
AOF_FAILED = "failed"
AOF_TRUNCATED = "truncated"

CLIENT_ID_AOF = (1 << 64) - 1     # Redis's CLIENT_ID_AOF (UINT64_MAX)
_RDB_MAGIC = b"REDIS"


class AofLoadError(Exception):
    """The AOF could not be loaded (already logged); start-up must stop."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class _NoRdb:
    """LoadProgress's loader while no RDB preamble is read."""

    rdb_used_mem = 0


class _DiscardingConn:
    """The AOF client's connection: replies go nowhere."""

    def send(self, data):
        pass

    def close(self):
        pass

    def query_buffer_size(self):
        return 0

    def resp_changed(self, resp):
        pass

    def unblocked(self, reply):
        pass


def aof_client(instance):
    """createAOFClient: not linked to the client list, authenticated,
    never blocked (``in_exec`` makes blocking commands answer at once)."""
    client = Client(instance, _DiscardingConn(), CLIENT_ID_AOF)
    client.authenticated = True
    client.in_exec = True
    return client


def read_manifest(instance):
    """aofLoadManifestFromDisk: the manifest of ``appenddirname``, empty when
    the directory or the manifest is absent. A broken manifest is logged as
    Redis logs it and raised as AofLoadError (Redis exits, even with
    appendonly no)."""
    config = instance.config
    dirname, filename = config["appenddirname"], config["appendfilename"]
    try:
        manifest = load_manifest(dirname, filename)
    except ManifestError as error:
        log.warn("\n*** FATAL AOF MANIFEST FILE ERROR ***\n")  # noqa: G010
        if error.line is not None:
            log.warn("Reading the manifest file, at line {linenum}\n",  # noqa: G010
                     linenum=error.linenum)
            log.warn(">>> '{line}'\n", line=error.line)  # noqa: G010
        log.warn("{reason}\n", reason=error.message)  # noqa: G010
        raise AofLoadError(AOF_FAILED, error.message) from error
    except OSError as error:
        path = os.path.join(dirname, manifest_name(filename))
        log.warn("Fatal error: can't open the AOF manifest file {path} for reading: "  # noqa: G010
                 "{reason}", path=path, reason=error.strerror)
        raise AofLoadError(AOF_FAILED, str(error)) from error
    return manifest if manifest is not None else Manifest()


class AofLoad:
    """One load of the AOF directory into ``instance`` (see the module doc).

    After it: ``status`` (AOF_OK, AOF_TRUNCATED, AOF_EMPTY, AOF_NOT_EXIST),
    ``manifest``, ``files`` (the AofFiles loaded), ``total_size`` and
    ``base_size`` (Redis's aof_current_size and aof_rewrite_base_size
    right after loading)."""

    def __init__(self, instance, manifest):
        self.instance = instance
        self.manifest = manifest
        config = instance.config
        self.dirname = config["appenddirname"]
        self.appendfilename = config["appendfilename"]
        self.truncated_ok = config["aof-load-truncated"]
        self.chunk_size = config["loading-process-events-interval-bytes"]
        self.status = None
        self.files = []
        self.total_size = 0
        self.base_size = 0
        self.progress = None
        self._consumers = None

    # -- before reading ------------------------------------------------------

    def prepare(self):
        """Upgrade an old single file, size the files, raise the loading
        flags. Returns False when there is nothing to read (``status`` says
        why). Raises AofLoadError."""
        self._upgrade_old_style_if_needed()
        manifest = self.manifest
        if not manifest.has_data_files():
            self.status = AOF_NOT_EXIST
            return False
        total = 0
        for entry in manifest.data_files():
            try:
                size = os.stat(self._path(entry)).st_size
            except OSError as error:
                log.warn("Unable to obtain the AOF file {name} length. stat: {reason}",  # noqa: G010
                         name=entry.name, reason=error.strerror)
                # A listed file missing from the disk is fatal.
                status = AOF_FAILED if error.errno == errno.ENOENT else AOF_OPEN_ERR
                raise AofLoadError(status, str(error)) from error
            if entry.kind == BASE:
                self.base_size = size
            total += size
        self.total_size = total
        if total == 0:
            self.status = AOF_EMPTY
            return False
        instance = self.instance
        self.progress = LoadProgress(_NoRdb(), instance.clock.seconds(), total)
        instance.loading = instance.keyspace.loading = True
        instance.load_progress = self.progress
        # Nothing replayed is propagated (Redis: aof_state off meanwhile).
        self._consumers = instance.propagator.consumers
        instance.propagator.consumers = []
        return True

    def _upgrade_old_style_if_needed(self):
        """aofUpgradePrepare: an ``appendfilename`` file in ``dir`` from a
        Redis before 7.0 moves into the AOF directory as its base."""
        name, dirname, manifest = self.appendfilename, self.dirname, self.manifest
        if not os.path.isfile(name):
            return
        if not (not os.path.isdir(dirname)
                or not manifest.has_data_files()
                or (manifest.base is not None and not manifest.incrs
                    and manifest.base.name == name
                    and not os.path.exists(os.path.join(dirname, name)))):
            return
        try:
            os.makedirs(dirname, exist_ok=True)
        except OSError as error:
            log.warn("Can't open or create append-only dir {dirname}: {reason}",  # noqa: G010
                     dirname=dirname, reason=error.strerror)
            raise AofLoadError(AOF_FAILED, str(error)) from error
        manifest.base = AofFile(name, 1, BASE)
        manifest.curr_base_seq = 1
        try:
            persist_manifest(dirname, name, manifest)
            os.rename(name, os.path.join(dirname, name))
        except OSError as error:
            log.warn("Error trying to move the old AOF file {name} into dir {dirname}: "  # noqa: G010
                     "{reason}", name=name, dirname=dirname, reason=error.strerror)
            raise AofLoadError(AOF_FAILED, str(error)) from error
        log.info("Successfully migrated an old-style AOF file ({name}) into the AOF "
                 "directory ({dirname}).", name=name, dirname=dirname)

    def _path(self, entry):
        return os.path.join(self.dirname, entry.name)

    # -- reading -------------------------------------------------------------

    def steps(self):
        """The load, a chunk per step. Sets ``status``; raises AofLoadError."""
        instance = self.instance
        try:
            data_files = self.manifest.data_files()
            ret = AOF_OK
            for number, entry in enumerate(data_files, 1):
                last_file = number == len(data_files)
                started = time.monotonic()
                ret = yield from self._file_steps(entry)
                if ret == AOF_OK or (ret == AOF_TRUNCATED and last_file):
                    what = "base" if entry.kind == BASE else "incr"
                    log.info("DB loaded from {what} file {name}: {seconds:.3f} seconds",
                             what=what, name=entry.name, seconds=time.monotonic() - started)
                    self.files.append(entry)
                if ret == AOF_EMPTY:
                    # At least one file has data: an empty one is no news.
                    ret = AOF_OK
                    self.files.append(entry)
                if ret == AOF_TRUNCATED and not last_file:
                    ret = AOF_FAILED
                if ret in (AOF_OPEN_ERR, AOF_FAILED):
                    raise AofLoadError(ret, f"loading {entry.name} failed")
            self.status = ret
        finally:
            instance.loading = instance.keyspace.loading = False
            instance.load_progress = None
            if self._consumers is not None:
                instance.propagator.consumers = self._consumers
            instance.pending_ops = []

    def run(self):
        """The whole load at once. Returns the status; raises AofLoadError."""
        if self.prepare():
            for _ in self.steps():
                pass
        return self.status

    def _file_steps(self, entry):
        """loadSingleAppendOnlyFile for one file; returns its AOF_* result."""
        path = self._path(entry)
        try:
            f = open(path, "rb")  # noqa: SIM115 -- closed below
        except OSError as error:
            if os.path.exists(path) or error.errno != errno.ENOENT:
                log.warn("Fatal error: can't open the append log file {name} for "  # noqa: G010
                         "reading: {reason}", name=entry.name, reason=error.strerror)
                return AOF_OPEN_ERR
            log.warn("The append log file {name} doesn't exist: {reason}",  # noqa: G010
                     name=entry.name, reason=error.strerror)
            return AOF_NOT_EXIST
        with f:
            if os.fstat(f.fileno()).st_size == 0:
                return AOF_EMPTY
            replay = _Replay(self, entry.name)
            return (yield from replay.run(f))


class _Replay:
    """One file's bytes: the RDB preamble if any, then the commands."""

    def __init__(self, load, name):
        self.load = load
        self.instance = load.instance
        self.name = name
        self.client = aof_client(load.instance)
        self.valid_up_to = 0          # end of the last whole command
        self.valid_before_multi = 0   # where the open MULTI began

    def run(self, f):
        load = self.load
        progress = load.progress
        head = f.read(len(_RDB_MAGIC))
        progress.loaded_bytes += len(head)
        rest = head
        start = 0
        if head == _RDB_MAGIC:
            result = yield from self._rdb_preamble(f, head)
            if isinstance(result, str):
                return result
            rest, start = result
            self.valid_up_to = start
        reader = AofReader(start)
        try:
            self._run_commands(reader.feed(rest))
            while True:
                chunk = f.read(load.chunk_size)
                if not chunk:
                    break
                progress.loaded_bytes += len(chunk)
                self._run_commands(reader.feed(chunk))
                yield
            self._run_commands(reader.close())
        except AofTruncated as error:
            self._run_commands(error.commands)
            return self._short_read()
        except AofFormatError as error:
            self._run_commands(error.commands)
            log.warn("Bad file format at offset {offset} of the append only file {name}",  # noqa: G010
                     offset=error.offset, name=self.name)
            log.warn("Bad file format reading the append only file {name}: make a backup "  # noqa: G010
                     "of your AOF file, then use ./redis-check-aof --fix "
                     "<filename.manifest>", name=self.name)
            return AOF_FAILED
        except _UnknownCommand as error:
            log.warn("Unknown command '{command}' reading the append only file {name}",  # noqa: G010
                     command=error.name, name=self.name)
            return AOF_FAILED
        if self.client.multi is not None:
            # Whole commands, but the transaction never ended: a short read.
            log.warn("Revert incomplete MULTI/EXEC transaction in AOF file {name}",  # noqa: G010
                     name=self.name)
            self.valid_up_to = self.valid_before_multi
            return self._short_read()
        return AOF_OK

    def _rdb_preamble(self, f, head):
        """Load the RDB at the start of the file. Returns (the bytes after
        it, its length) or, if it is bad, an AOF_* result."""
        load = self.load
        old_style = self.name == load.appendfilename
        if old_style:
            log.info("Reading RDB preamble from AOF file...")
        else:
            log.info("Reading RDB base file on AOF loading...")
        # An AOF's RDB keeps keys already expired: the commands after it
        # were logged against exactly that keyspace (RDBFLAGS_AOF_PREAMBLE).
        rdb = RdbLoader(self.instance, keep_expired=True)
        load.progress.loader = rdb
        try:
            rdb.feed(head)
            while not rdb.decoder.done:
                chunk = f.read(load.chunk_size)
                if not chunk:
                    break
                load.progress.loaded_bytes += len(chunk)
                rdb.feed(chunk)
                yield
            rdb.finish()
            rdb.commit()
        except RdbError as error:
            log_load_error(error)
            what = "RDB preamble of the AOF file" if old_style else "RDB base file"
            log.warn("Error reading the {what} {name}, AOF loading aborted",  # noqa: G010
                     what=what, name=self.name)
            if isinstance(error, Truncated):
                return self._short_read()
            return AOF_FAILED
        finally:
            load.progress.loader = _NoRdb()
        if old_style:
            log.info("Reading the remaining AOF tail...")
        return rdb.decoder.trailing, rdb.loaded_bytes

    def _run_commands(self, commands):
        for command in commands:
            self._run(command.argv)
            self.valid_up_to = command.end

    def _run(self, argv):
        """One command, as loadSingleAppendOnlyFile runs it."""
        instance = self.instance
        client = self.client
        table = instance.table
        cmd = instance.commands_by_name.get(argv[0]) or table.lookup(argv[0])
        if cmd is not None and cmd.subcommands and len(argv) > 1:
            cmd = table.lookup_subcommand(cmd, argv[1])
        if cmd is None:
            raise _UnknownCommand(argv[0].decode("utf-8", "backslashreplace"))
        if cmd.fullname == "multi":
            self.valid_before_multi = self.valid_up_to
        if client.multi is not None and cmd.fullname != "exec":
            client.multi.append((cmd, argv))
            return
        client.argv = argv
        client.cmd = cmd
        instance.call_depth += 1
        try:
            cmd.handler(client, argv)
        except ReplyError:
            pass            # the reply would have gone nowhere
        except Exception:
            log.failure("Command {command} failed loading the AOF", command=cmd.fullname)
        finally:
            instance.call_depth -= 1
        instance.pending_ops = []

    def _short_read(self):
        """uxeof: cut the file at the last whole command, or give up."""
        name = self.name
        if self.load.truncated_ok:
            log.warn("!!! Warning: short read while loading the AOF file {name}!!!",  # noqa: G010
                     name=name)
            log.warn("!!! Truncating the AOF {name} at offset {offset} !!!",  # noqa: G010
                     name=name, offset=self.valid_up_to)
            try:
                os.truncate(os.path.join(self.load.dirname, name), self.valid_up_to)
            except OSError as error:
                log.warn("Error truncating the AOF file {name}: {reason}",  # noqa: G010
                         name=name, reason=error.strerror)
            else:
                log.warn("AOF {name} loaded anyway because aof-load-truncated is "  # noqa: G010
                         "enabled", name=name)
                return AOF_TRUNCATED
        log.warn("Unexpected end of file reading the append only file {name}. You can: "  # noqa: G010
                 "1) Make a backup of your AOF file, then use ./redis-check-aof --fix "
                 "<filename.manifest>. 2) Alternatively you can set the "
                 "'aof-load-truncated' configuration option to yes and restart the "
                 "server.", name=name)
        return AOF_FAILED


class _UnknownCommand(Exception):
    def __init__(self, name):
        super().__init__(name)
        self.name = name


def load_aof_dir(instance, manifest=None):
    """loadAppendOnlyFiles, all at once (DEBUG LOADAOF, tests): load the AOF
    directory into ``instance``. Returns the finished AofLoad (``status``,
    ``files``, sizes); raises AofLoadError (logged)."""
    if manifest is None:
        manifest = read_manifest(instance)
    load = AofLoad(instance, manifest)
    load.run()
    return load


def load_aof_dir_cooperatively(instance, cooperator, manifest):
    """The same, a chunk per turn of ``cooperator``: returns a Deferred
    firing with the finished AofLoad, or failing with AofLoadError. The
    loading flags are up when this returns (if there is anything to read);
    AofLoadError from the sizing is raised at once."""
    load = AofLoad(instance, manifest)
    if not load.prepare():
        return defer.succeed(load)
    d = cooperator.cooperate(load.steps()).whenDone()
    return d.addCallback(lambda _: load)
