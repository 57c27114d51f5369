"""The AOF writer (redisrepl/persistence/aof.py): files and manifest as Redis
7.0.15 writes them, the fsync policies, BGREWRITEAOF with the manifest
switch, CONFIG SET appendonly, automatic rewrites, write errors, INFO
persistence and SHUTDOWN.

Each test runs in its own empty working directory (conftest), the server's
``dir``. Rewrite children are a FakeForker: the child body runs in this
process at "fork" time and the test decides when it is reaped; the fsync
thread is a FakeWorker whose pending count the test sets. Real forks, real
fsyncs and kill -9 are in tests/integration/test_aof.py.
"""

import errno
import os

import pytest

from redisrepl.persistence import aof as aof_module
from redisrepl.persistence import aof_rewrite
from redisrepl.persistence.aof import ON, WAIT_REWRITE
from redisrepl.persistence.aof_loader import load_aof_dir
from redisrepl.rdb.decoder import Aux, RdbDecoder
from redisrepl.resp.values import OK, ReplyError, Status
from tests.unit.fakeforker import FakeForker
from tests.unit.harness import Harness

DIR = "appendonlydir"
MANIFEST = os.path.join(DIR, "appendonly.aof.manifest")
SELECT0 = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"


class FakeWorker:
    """The fsync thread: records jobs; ``pending_fsyncs`` is the test's."""

    def __init__(self):
        self.pending_fsyncs = 0
        self.status_ok = True
        self.errno = 0
        self.fsyncs = []

    def fsync(self, fd):
        self.fsyncs.append(fd)

    def fsync_and_close(self, fd):
        os.close(fd)


@pytest.fixture
def forker(monkeypatch):
    forker = FakeForker()
    # The in-process "child" names its temp file after the pid it was given.
    monkeypatch.setattr(aof_rewrite, "child_pid", lambda: forker.started[-1])
    return forker


@pytest.fixture
def fsyncs(monkeypatch):
    """The fds fsynced synchronously (appendfsync always, stop, shutdown)."""
    done = []
    monkeypatch.setattr(aof_module, "redis_fsync", done.append)
    return done


def make(forker, config_text="", appendonly=True, open_files=True):
    srv = Harness(("appendonly yes\n" if appendonly else "") + config_text)
    srv.forker = srv.server.persistence.forker = forker
    srv.aof = srv.server.aof
    srv.aof.worker = FakeWorker()
    srv.exits = []
    srv.aof.exit = srv.exits.append
    if open_files:
        srv.aof.open_at_startup()
    return srv


@pytest.fixture
def srv(forker):
    return make(forker)


def read(name):
    with open(os.path.join(DIR, name), "rb") as f:
        return f.read()


def manifest_text():
    with open(MANIFEST) as f:
        return f.read()


def info_fields(srv):
    text = srv("INFO", "persistence").decode()
    return dict(line.split(":", 1) for line in text.split("\r\n")[1:] if line)


def reap(srv, exitcode=None, bysignal=0):
    """The rewrite child exits; the persistence cron reaps it."""
    srv.forker.exit(exitcode=exitcode, bysignal=bysignal)
    srv.server.persistence.cron()


def rdb_aux(data):
    decoder = RdbDecoder()
    events = decoder.feed(data) + decoder.close()
    return {e.name: e.value for e in events if isinstance(e, Aux)}


def dataset(server):
    """Every key's type-normalised value and expiry, per db."""
    out = {}
    for db in server.keyspace.dbs:
        for key, value in db.data.items():
            out[(db.id, key)] = (_plain(value), db.expires.get(key))
    return out


def _plain(value):
    kind = type(value).__name__
    if kind == "RedisSet":
        return kind, frozenset(aof_rewrite._set_members(value))
    if kind == "ZSet":
        return kind, dict(value)
    if kind == "Hash":
        return kind, dict(value)
    if kind == "ListValue":
        return kind, list(value)
    if kind == "Stream":
        groups = {name: (g.last_id, g.entries_read,
                         {i: (n.consumer.name, n.delivery_time, n.delivery_count)
                          for i, n in g.pel.items()}, list(g.consumers))
                  for name, g in (value.groups or {}).items()}
        return kind, (dict(value.entries), value.last_id, value.entries_added,
                      value.max_deleted_id, groups)
    return kind, bytes(value)


# -- start-up ----------------------------------------------------------------------

def test_empty_dir_gets_base_incr_and_manifest_as_redis_70(logged, srv):
    """An empty dir at start-up: base 1 (an RDB marked aof-base), empty incr 1,
    the manifest line for line as redis-server 7.0.15 writes it."""
    assert sorted(os.listdir(DIR)) == ["appendonly.aof.1.base.rdb",
                                      "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"]
    assert manifest_text() == ("file appendonly.aof.1.base.rdb seq 1 type b\n"
                               "file appendonly.aof.1.incr.aof seq 1 type i\n")
    base = read("appendonly.aof.1.base.rdb")
    assert base.startswith(b"REDIS0010")
    aux = rdb_aux(base)
    assert aux[b"aof-base"] == b"1" and b"repl-id" not in aux
    assert read("appendonly.aof.1.incr.aof") == b""
    assert "Creating AOF base file appendonly.aof.1.base.rdb on server start" in logged
    assert "Creating AOF incr file appendonly.aof.1.incr.aof on server start" in logged
    assert info_fields(srv)["aof_current_size"] == "0"    # as 7.0.15 reports it


def test_existing_dir_is_appended_to(forker, logged):
    """A restart opens the manifest's last incr for append, keeps its bytes
    and counts the loaded sizes."""
    first = make(forker)
    first("SET", "k", "v")
    os.close(first.aof.fd)
    second = make(forker)
    second("SET", "k2", "v2")
    incr = read("appendonly.aof.1.incr.aof")
    assert incr.count(b"SELECT") == 2 and incr.endswith(b"$2\r\nk2\r\n$2\r\nv2\r\n")
    assert "Opening AOF incr file appendonly.aof.1.incr.aof on server start" in logged
    fields = info_fields(second)
    base_size = os.path.getsize(os.path.join(DIR, "appendonly.aof.1.base.rdb"))
    assert fields["aof_base_size"] == str(base_size)
    assert int(fields["aof_current_size"]) == base_size + len(incr)


def test_preamble_no_base_is_commands(forker):
    """aof-use-rdb-preamble no: the start-up base is a .base.aof of commands."""
    srv = make(forker, "aof-use-rdb-preamble no\n", open_files=False)
    srv.server.keyspace.dbs[0].data[b"k"] = b"v"
    srv.aof.open_at_startup()
    assert read("appendonly.aof.1.base.aof") == \
        SELECT0 + b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"


def test_appendonly_no_records_nothing(forker):
    """With the AOF off nothing is consumed and no directory appears."""
    srv = make(forker, appendonly=False)
    srv("SET", "k", "v")
    assert not os.path.exists(DIR)
    assert srv.aof not in srv.server.propagator.consumers
    assert "aof_current_size" not in info_fields(srv)


# -- feeding -----------------------------------------------------------------------

def test_writes_are_recorded_as_propagated(srv):
    """The incr file holds the propagation record: SELECT on db change,
    deterministic rewrites, MULTI/EXEC around a transaction; reads nothing."""
    srv("SET", "a", "1")
    srv("GET", "a")
    srv("SELECT", "3")
    srv("SET", "b", "2", "EX", "100")
    srv("MULTI")
    srv("INCR", "c")
    srv("INCR", "c")
    srv("EXEC")
    data = read("appendonly.aof.1.incr.aof")
    assert data.startswith(SELECT0 + b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
                           b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n")
    assert b"PXAT" in data and b"GET" not in data
    assert data.endswith(b"*1\r\n$5\r\nMULTI\r\n" + b"*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n" * 2
                         + b"*1\r\n$4\r\nEXEC\r\n")
    assert int(info_fields(srv)["aof_current_size"]) == len(data)


def test_commands_replayed_while_loading_are_not_recorded(srv):
    """A loader's replay (instance.loading) is never written back."""
    srv.server.loading = True
    srv.aof.feed([(0, [b"SET", b"x", b"y"], 3)])
    srv.server.loading = False
    assert read("appendonly.aof.1.incr.aof") == b""


# -- fsync policies ----------------------------------------------------------------

def test_always_fsyncs_before_the_reply(forker, fsyncs):
    """appendfsync always: written and fsynced by the time call() returns."""
    srv = make(forker, "appendfsync always\n")
    assert srv("SET", "k", "v") == OK
    assert fsyncs == [srv.aof.fd]
    assert read("appendonly.aof.1.incr.aof").endswith(b"$1\r\nv\r\n")
    assert srv.aof.worker.fsyncs == []


def test_everysec_fsyncs_in_the_worker_once_a_second(srv, fsyncs):
    """everysec: at most one background fsync a second, none on the reactor
    thread; the tail is fsynced by the cron when writes stop."""
    srv.advance(1)
    srv("SET", "a", "1")
    srv("SET", "b", "2")
    assert srv.aof.worker.fsyncs == [srv.aof.fd]
    srv.advance(1)
    srv("SET", "c", "3")
    assert len(srv.aof.worker.fsyncs) == 2
    srv("SET", "d", "4")                # same second: no fsync
    srv.server.cron()
    assert len(srv.aof.worker.fsyncs) == 2
    srv.advance(1)
    srv.server.cron()                   # nothing written since: the tail
    assert len(srv.aof.worker.fsyncs) == 3
    assert fsyncs == []


def test_everysec_postpones_writes_behind_a_slow_fsync(logged, srv):
    """While a background fsync runs the write waits, up to two seconds;
    then it is forced and aof_delayed_fsync counts it."""
    srv.aof.worker.pending_fsyncs = 1
    srv("SET", "a", "1")
    assert read("appendonly.aof.1.incr.aof") == b""
    assert info_fields(srv)["aof_buffer_length"] != "0"
    srv.advance(1)
    srv.server.cron()
    assert read("appendonly.aof.1.incr.aof") == b""
    srv.advance(1)
    srv.server.cron()
    assert read("appendonly.aof.1.incr.aof").endswith(b"$1\r\na\r\n$1\r\n1\r\n")
    assert info_fields(srv)["aof_delayed_fsync"] == "1"
    assert any("Asynchronous AOF fsync is taking too long" in line for line in logged)


def test_postponed_write_goes_out_when_the_fsync_ends(srv):
    """The cron writes a postponed buffer as soon as the fsync is done."""
    srv.aof.worker.pending_fsyncs = 1
    srv("SET", "a", "1")
    srv.aof.worker.pending_fsyncs = 0
    srv.server.cron()
    assert read("appendonly.aof.1.incr.aof").endswith(b"$1\r\n1\r\n")
    assert info_fields(srv)["aof_delayed_fsync"] == "0"


def test_appendfsync_no_never_fsyncs(forker, fsyncs):
    """appendfsync no: writes, never an fsync."""
    srv = make(forker, "appendfsync no\n")
    for second in range(3):
        srv("SET", "k", str(second))
        srv.advance(1)
        srv.server.cron()
    assert fsyncs == [] and srv.aof.worker.fsyncs == []
    assert read("appendonly.aof.1.incr.aof").count(b"SET") == 3


def test_no_appendfsync_on_rewrite(forker, fsyncs):
    """no-appendfsync-on-rewrite yes: no fsync while a child runs."""
    srv = make(forker, "appendfsync always\nno-appendfsync-on-rewrite yes\n")
    srv("BGREWRITEAOF")
    srv("SET", "k", "v")
    assert fsyncs == []
    reap(srv)
    srv("SET", "k", "w")
    assert len(fsyncs) == 1


# -- write errors ------------------------------------------------------------------

def test_write_error_denies_writes_until_it_clears(logged, srv, monkeypatch):
    """A failed write keeps the buffer, answers -MISCONF to writes (and PING),
    INFO says err; the cron's retry clears it."""
    real_write = os.write

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(aof_module.os, "write", no_space)
    assert srv("SET", "a", "1") == OK
    misconf = ReplyError("MISCONF Errors writing to the AOF file: No space left on device")
    assert srv("SET", "b", "2") == misconf
    assert srv("PING") == misconf
    assert srv("GET", "a") == b"1"
    assert info_fields(srv)["aof_last_write_status"] == "err"
    assert "Error writing to the AOF file: No space left on device" in logged
    monkeypatch.setattr(aof_module.os, "write", real_write)
    srv.server.cron()
    assert srv("SET", "b", "2") == OK
    assert info_fields(srv)["aof_last_write_status"] == "ok"
    assert "AOF write error looks solved, Redis can write again." in logged
    assert read("appendonly.aof.1.incr.aof").count(b"SET") == 2


def test_write_error_with_always_exits(forker, monkeypatch, logged):
    """appendfsync always: a write that failed must not be acknowledged."""
    srv = make(forker, "appendfsync always\n")

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(aof_module.os, "write", no_space)
    srv("SET", "a", "1")
    assert srv.exits == [1]
    assert any("Can't recover from AOF write error when the AOF fsync policy is 'always'"
               in line for line in logged)


def test_background_fsync_error_denies_writes(srv):
    """A failed background fsync: -MISCONF with its errno until one succeeds."""
    srv.aof.worker.status_ok = False
    srv.aof.worker.errno = errno.EIO
    srv.server.cron()
    assert srv("SET", "a", "1") == \
        ReplyError("MISCONF Errors writing to the AOF file: Input/output error")
    srv.aof.worker.status_ok = True
    srv.server.cron()
    assert srv("SET", "a", "1") == OK


# -- BGREWRITEAOF ------------------------------------------------------------------

def test_bgrewriteaof_switches_incr_at_fork_and_base_at_the_end(logged, srv):
    """The new incr is in the manifest from the fork on; the new base, the
    manifest swap and the history deletion come when the child is reaped."""
    srv("SET", "a", "1")
    assert srv("BGREWRITEAOF") == Status(b"Background append only file rewriting started")
    assert manifest_text() == ("file appendonly.aof.1.base.rdb seq 1 type b\n"
                               "file appendonly.aof.1.incr.aof seq 1 type i\n"
                               "file appendonly.aof.2.incr.aof seq 2 type i\n")
    srv("SET", "b", "2")
    assert read("appendonly.aof.2.incr.aof") == \
        SELECT0 + b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n"
    fields = info_fields(srv)
    assert fields["aof_rewrite_in_progress"] == "1" and fields["aof_rewrites"] == "1"
    reap(srv)
    assert manifest_text() == ("file appendonly.aof.2.base.rdb seq 2 type b\n"
                               "file appendonly.aof.2.incr.aof seq 2 type i\n")
    assert sorted(os.listdir(DIR)) == ["appendonly.aof.2.base.rdb",
                                      "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]
    assert not [n for n in os.listdir(".") if n.startswith("temp-")]
    for line in ("Creating AOF incr file appendonly.aof.2.incr.aof on background rewrite",
                 "Background append only file rewriting started by pid 5000",
                 "Successfully created the temporary AOF base file temp-rewriteaof-bg-5000.aof",
                 "Background AOF rewrite terminated with success",
                 "Successfully renamed the temporary AOF base file temp-rewriteaof-bg-5000.aof"
                 " into appendonly.aof.2.base.rdb",
                 "Removing the history file appendonly.aof.1.incr.aof in the background",
                 "Removing the history file appendonly.aof.1.base.rdb in the background",
                 "Background AOF rewrite finished successfully"):
        assert line in logged
    fields = info_fields(srv)
    base = os.path.getsize(os.path.join(DIR, "appendonly.aof.2.base.rdb"))
    incr = len(read("appendonly.aof.2.incr.aof"))
    assert (fields["aof_current_size"], fields["aof_base_size"]) == (str(base + incr),) * 2
    assert fields["aof_rewrite_in_progress"] == "0"
    assert fields["aof_last_rewrite_time_sec"] == "0"


def test_rewritten_dir_loads_back_the_same_data(forker):
    """Base (RDB or commands) plus incr written across a rewrite load back,
    through the AOF loader, into the same dataset."""
    for preamble in ("yes", "no"):
        for name in os.listdir("."):
            if name == DIR:
                for inner in os.listdir(DIR):
                    os.unlink(os.path.join(DIR, inner))
        srv = make(forker, f"aof-use-rdb-preamble {preamble}\n")
        _fill(srv)
        srv("BGREWRITEAOF")
        srv("SET", "after", "fork")
        srv("RPUSH", "list", "more")
        reap(srv)
        srv("SELECT", "5")
        srv("INCRBYFLOAT", "f", "1.5")
        os.close(srv.aof.fd)
        other = Harness()
        load_aof_dir(other.server)
        assert dataset(other.server) == dataset(srv.server), preamble


def _fill(srv):
    srv("SET", "s", "text")
    srv("SET", "n", "12345", "PX", "100000")
    srv("RPUSH", "list", *[str(i) for i in range(150)])
    srv("SADD", "ints", *[str(i) for i in range(100)])
    srv("SADD", "words", "a", "b", "c")
    srv("ZADD", "z", "1.5", "a", "-inf", "b", "3e100", "c")
    srv("HSET", "h", *[x for i in range(70) for x in (f"f{i}", f"v{i}")])
    srv("XADD", "st", "1-1", "a", "1")
    srv("XADD", "st", "2-1", "b", "2")
    srv("XADD", "empty", "5-5", "x", "y")
    srv("XDEL", "empty", "5-5")
    srv("XGROUP", "CREATE", "st", "g", "0")
    srv("XGROUP", "CREATECONSUMER", "st", "g", "idle")
    srv("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "st", ">")
    srv("FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', "
        "function() return 1 end)")
    srv("SELECT", "2")
    srv("SET", "other", "db")
    srv("SELECT", "0")


def test_dataset_as_commands_batches_64_items(srv):
    """Variadic commands carry at most 64 items (AOF_REWRITE_ITEMS_PER_CMD),
    TTLs follow as PEXPIREAT, functions come first."""
    value = srv.server.keyspace
    srv("RPUSH", "l", *[str(i) for i in range(130)])
    srv("PEXPIREAT", "l", "4102444800123")
    commands = aof_rewrite.value_commands(b"l", value.dbs[0].data[b"l"])
    assert [len(argv) - 2 for argv in commands] == [64, 64, 2]
    from redisrepl.persistence.snapshot import snapshot_of
    text = b"".join(aof_rewrite.dataset_commands(snapshot_of(srv.server)))
    assert text.endswith(b"*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nl\r\n$13\r\n4102444800123\r\n")


def test_bgrewriteaof_replies_while_children_run(srv):
    """BGREWRITEAOF and BGSAVE against each other, Redis's replies."""
    srv("BGREWRITEAOF")
    assert srv("BGREWRITEAOF") == \
        ReplyError("ERR Background append only file rewriting already in progress")
    assert srv("BGSAVE") == ReplyError(
        "ERR Another child process is active (AOF?): can't BGSAVE right now. "
        "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
    assert srv("BGSAVE", "SCHEDULE") == Status(b"Background saving scheduled")
    assert srv("SAVE") == OK           # SAVE runs in the server: allowed
    assert info_fields(srv)["rdb_bgsave_in_progress"] == "0"
    reap(srv)
    srv.server.persistence.cron()      # the scheduled BGSAVE starts now
    assert info_fields(srv)["rdb_bgsave_in_progress"] == "1"
    assert srv("BGREWRITEAOF") == \
        Status(b"Background append only file rewriting scheduled")
    assert info_fields(srv)["aof_pending_rewrite"] == "1"
    reap(srv)
    srv.server.cron()
    fields = info_fields(srv)
    assert fields["aof_rewrite_in_progress"] == "1" and fields["aof_rewrite_scheduled"] == "0"


def test_bgrewriteaof_inside_exec_is_scheduled(srv):
    """Inside EXEC the fork would split the transaction: scheduled."""
    srv("MULTI")
    srv("BGREWRITEAOF")
    assert srv("EXEC") == [Status(b"Background append only file rewriting scheduled")]
    srv.server.cron()
    assert info_fields(srv)["aof_rewrite_in_progress"] == "1"


def test_failed_rewrite_keeps_every_incr(logged, srv):
    """A child that fails leaves the old base and both incrs listed (nothing
    lost), status err, the temp file gone."""
    srv("SET", "a", "1")
    srv("BGREWRITEAOF")
    srv("SET", "b", "2")
    reap(srv, exitcode=1)
    assert manifest_text().count("type i") == 2
    fields = info_fields(srv)
    assert fields["aof_last_bgrewrite_status"] == "err"
    assert fields["aof_rewrites_consecutive_failures"] == "1"
    assert "Background AOF rewrite terminated with error" in logged
    assert not os.path.exists("temp-rewriteaof-bg-5000.aof")
    srv("BGREWRITEAOF")
    reap(srv)
    assert manifest_text() == ("file appendonly.aof.2.base.rdb seq 2 type b\n"
                               "file appendonly.aof.3.incr.aof seq 3 type i\n")
    assert info_fields(srv)["aof_last_bgrewrite_status"] == "ok"


def test_killed_by_sigusr1_is_no_failure(logged, srv):
    """SIGUSR1 is how the server stops a rewrite: not an error."""
    srv("BGREWRITEAOF")
    reap(srv, bysignal=10)
    assert info_fields(srv)["aof_last_bgrewrite_status"] == "ok"
    assert "Background AOF rewrite terminated by signal 10" in logged


def test_fork_failure(logged, srv):
    """A fork that fails: Redis's reply and log, status err."""
    srv.forker.fork_error = OSError(errno.EAGAIN, "Resource temporarily unavailable")
    assert srv("BGREWRITEAOF") == ReplyError(
        "ERR Can't execute an AOF background rewriting. Please check the server logs "
        "for more information.")
    assert "Can't rewrite append only file in background: fork: " \
        "Resource temporarily unavailable" in logged
    assert info_fields(srv)["aof_last_bgrewrite_status"] == "err"


def test_rewrite_with_the_aof_off_writes_a_base_only(forker):
    """BGREWRITEAOF with appendonly no: a base and a manifest, no incr."""
    srv = make(forker, appendonly=False)
    srv("SET", "k", "v")
    srv("BGREWRITEAOF")
    reap(srv)
    assert manifest_text() == "file appendonly.aof.1.base.rdb seq 1 type b\n"


# -- automatic rewrites ------------------------------------------------------------

def test_auto_rewrite_on_growth(forker, logged):
    """auto-aof-rewrite-percentage / min-size: the cron starts a rewrite
    once the AOF has grown past both."""
    srv = make(forker, "auto-aof-rewrite-min-size 1kb\nauto-aof-rewrite-percentage 100\n")
    srv.server.cron()
    assert not srv.forker.started
    srv("SET", "k", "x" * 1100)
    srv.server.cron()
    assert srv.forker.started
    assert any(line.startswith("Starting automatic rewriting of AOF on ") for line in logged)


def test_auto_rewrite_backs_off_after_three_failures(forker, logged):
    """After three failed rewrites in a row the automatic one waits 1 minute
    (then 2, 4 ...); BGREWRITEAOF resets the count."""
    srv = make(forker, "auto-aof-rewrite-min-size 1kb\n")
    srv("SET", "k", "x" * 1100)
    for _ in range(3):
        srv.server.cron()
        reap(srv, exitcode=1)
    srv.server.cron()
    assert len(srv.forker.started) == 3
    assert "Background AOF rewrite has repeatedly failed and triggered the limit, " \
        "will retry in 1 minutes" in logged
    srv.advance(61)
    srv.server.cron()
    assert len(srv.forker.started) == 4


# -- CONFIG SET appendonly ---------------------------------------------------------

def test_config_set_appendonly_yes_rewrites_first(forker, logged):
    """Turned on at runtime: a rewrite starts, writes meanwhile go to a temp
    incr that becomes incr 1 with base 1 when the rewrite ends."""
    srv = make(forker, appendonly=False)
    srv("SET", "before", "1")
    assert srv("CONFIG", "SET", "appendonly", "yes") == OK
    assert srv.aof.state == WAIT_REWRITE
    assert not os.path.exists(MANIFEST)
    srv("SET", "during", "2")
    assert read("temp-appendonly.aof.incr").endswith(b"$6\r\nduring\r\n$1\r\n2\r\n")
    assert info_fields(srv)["aof_enabled"] == "1"
    reap(srv)
    assert srv.aof.state == ON
    assert manifest_text() == ("file appendonly.aof.1.base.rdb seq 1 type b\n"
                               "file appendonly.aof.1.incr.aof seq 1 type i\n")
    assert "Successfully renamed the temporary AOF incr file temp-appendonly.aof.incr " \
        "into appendonly.aof.1.incr.aof" in logged
    srv("SET", "after", "3")
    assert read("appendonly.aof.1.incr.aof").endswith(b"$5\r\nafter\r\n$1\r\n3\r\n")


def test_config_set_appendonly_yes_waits_for_a_bgsave(forker, logged):
    """A BGSAVE running: the rewrite is scheduled, writes not recorded yet."""
    srv = make(forker, appendonly=False)
    srv("BGSAVE")
    srv("CONFIG", "SET", "appendonly", "yes")
    assert "AOF was enabled but there is already another background operation. An AOF " \
        "background was scheduled to start when possible." in logged
    assert info_fields(srv)["aof_rewrite_scheduled"] == "1"
    srv("SET", "k", "v")
    reap(srv)
    srv.server.cron()
    assert info_fields(srv)["aof_rewrite_in_progress"] == "1"
    reap(srv)
    assert srv.aof.state == ON


def test_failed_first_rewrite_is_retried(forker):
    """The rewrite that turns the AOF on failed: the temp incr goes and a
    new rewrite is scheduled."""
    srv = make(forker, appendonly=False)
    srv("CONFIG", "SET", "appendonly", "yes")
    reap(srv, exitcode=1)
    assert srv.aof.state == WAIT_REWRITE
    assert not os.path.exists(os.path.join(DIR, "temp-appendonly.aof.incr"))
    assert info_fields(srv)["aof_rewrite_scheduled"] == "1"
    srv.server.cron()
    reap(srv)
    assert srv.aof.state == ON


def test_config_set_appendonly_fails_when_the_fork_fails(forker):
    """Redis's CONFIG SET error when the first rewrite cannot start."""
    srv = make(forker, appendonly=False)
    srv.forker.fork_error = OSError(errno.ENOMEM, "Cannot allocate memory")
    assert srv("CONFIG", "SET", "appendonly", "yes") == ReplyError(
        "ERR CONFIG SET failed (possibly related to argument 'appendonly') - "
        "Unable to turn on AOF. Check server logs.")
    assert srv.server.config["appendonly"] is False
    assert not srv.aof.enabled


def test_config_set_appendonly_no_stops_recording(srv, fsyncs):
    """stopAppendOnly: flushed, fsynced, closed; writes no longer recorded."""
    srv("SET", "a", "1")
    srv("BGREWRITEAOF")
    srv("CONFIG", "SET", "appendonly", "no")
    assert srv.forker.killed == [(5000, 10)]
    assert len(fsyncs) == 1 and srv.aof.fd is None
    srv("SET", "b", "2")
    assert b"$1\r\nb\r\n" not in read("appendonly.aof.2.incr.aof")
    fields = info_fields(srv)
    assert fields["aof_enabled"] == "0" and "aof_current_size" not in fields


def test_restart_after_sync_is_a_rewrite(srv):
    """restartAOFAfterSYNC (replica after a full sync): stop, then on again
    through a rewrite of the new dataset."""
    srv.aof.stop()
    srv.aof.restart_after_sync()
    assert srv.aof.state == WAIT_REWRITE and srv.forker.started
    reap(srv)
    assert srv.aof.state == ON


def test_restart_after_sync_retries_from_the_cron(forker, logged):
    """restartAOFAfterSYNC whose rewrite cannot fork: no sleep on the
    reactor; the cron tries again a second later, and ten failures in a
    row end the process as Redis's do."""
    srv = make(forker)
    srv.forker.fork_error = OSError(errno.EAGAIN, "Resource temporarily unavailable")
    srv.aof.restart_after_sync()
    warning = "Failed enabling the AOF after successful master synchronization! " \
        "Trying it again in one second."
    assert logged.count(warning) == 1 and not srv.aof.enabled
    srv.server.cron()
    assert logged.count(warning) == 1       # not before the second is up
    srv.forker.fork_error = None
    srv.advance(1)
    srv.server.cron()
    assert srv.aof.state == WAIT_REWRITE and srv.forker.started
    reap(srv)
    assert srv.aof.state == ON and srv.exits == []

    srv.forker.fork_error = OSError(errno.EAGAIN, "Resource temporarily unavailable")
    srv.aof.restart_after_sync()
    for _ in range(12):
        srv.advance(1)
        srv.server.cron()
    assert logged.count(warning) == 11 and srv.exits == [1]
    assert "FATAL: this replica instance finished the synchronization with its master, " \
        "but the AOF can't be turned on. Exiting now." in logged


# -- DEBUG LOADAOF -----------------------------------------------------------------

def test_debug_loadaof_replaces_the_dataset_with_the_aof(logged, srv):
    """DEBUG LOADAOF writes a postponed buffer first, empties the dataset
    (a key never recorded goes) and loads the directory back, dirty 0."""
    srv.server.config.assign("enable-debug-command", "yes")
    srv.aof.worker.pending_fsyncs = 1       # everysec: the next write waits
    srv("SET", "a", "1")
    assert srv.aof.buffer
    srv.server.propagator.remove(srv.aof)
    srv("SET", "ghost", "x")
    srv.server.propagator.add(srv.aof)
    assert srv("DEBUG", "LOADAOF") == OK
    assert srv("KEYS", "*") == [b"a"]
    assert srv.server.dirty == 0 and srv.exits == []
    assert "Append Only File loaded by DEBUG LOADAOF" in logged
    srv.aof.worker.pending_fsyncs = 0
    srv("SET", "b", "2")                    # still recording where it was
    assert read("appendonly.aof.1.incr.aof").endswith(b"$1\r\nb\r\n$1\r\n2\r\n")


def test_debug_loadaof_that_cannot_load_ends_the_process(forker, logged):
    """As Redis 7.0: a corrupt AOF, or none at all, and the server exits."""
    srv = make(forker, "enable-debug-command yes\n")
    srv("SET", "a", "1")
    with open(os.path.join(DIR, "appendonly.aof.1.incr.aof"), "ab") as f:
        f.write(b"garbage\r\n")
    srv("DEBUG", "LOADAOF")
    assert srv.exits == [1]
    assert any(line.startswith("Bad file format reading the append only file "
                               "appendonly.aof.1.incr.aof") for line in logged)
    none = make(forker, "enable-debug-command yes\n", appendonly=False)
    os.rename(DIR, DIR + ".gone")
    none("DEBUG", "LOADAOF")
    assert none.exits == [1]


def test_mem_aof_buffer_is_the_unwritten_buffer(srv):
    """INFO memory mem_aof_buffer: the bytes waiting behind a slow fsync."""
    def mem_aof_buffer():
        text = srv("INFO", "memory").decode()
        return int(text.split("mem_aof_buffer:")[1].split("\r\n")[0])
    assert mem_aof_buffer() == 0
    srv.aof.worker.pending_fsyncs = 1
    srv("SET", "k", "v")
    assert mem_aof_buffer() == len(srv.aof.buffer) > 0


def test_rewrite_child_names_itself_in_the_cow_log(srv, monkeypatch):
    """The child's CoW reports say "AOF rewrite", not "RDB" (rdbSaveRio's
    and rewriteAppendOnlyFileRio's pname)."""
    from redisrepl.persistence import bgsave
    lines = []
    monkeypatch.setattr(bgsave, "private_dirty", lambda: 1 << 20)
    monkeypatch.setattr(bgsave.log, "info", lambda fmt, **kw: lines.append(fmt.format(**kw)))
    monkeypatch.setattr(bgsave.log, "debug", lambda fmt, **kw: lines.append(fmt.format(**kw)))
    monkeypatch.setattr(bgsave, "REPORT_INTERVAL", 0)
    monkeypatch.setattr(bgsave, "KEYS_PER_CLOCK_CHECK", 1)
    srv("SET", "k", "v")
    srv("BGREWRITEAOF")
    assert lines and all(line.startswith("Fork CoW for AOF rewrite: ") for line in lines)


# -- SHUTDOWN ----------------------------------------------------------------------

def test_shutdown_writes_a_postponed_buffer_and_fsyncs(logged, srv, fsyncs):
    """SHUTDOWN writes what waited behind a slow fsync, then fsyncs."""
    srv.server.shutdown_hook = lambda: None
    srv.aof.worker.pending_fsyncs = 1
    srv("SET", "a", "1")
    srv("SHUTDOWN", "NOSAVE")
    assert read("appendonly.aof.1.incr.aof").endswith(b"$1\r\na\r\n$1\r\n1\r\n")
    assert fsyncs == [srv.aof.fd]
    assert "Calling fsync() on the AOF file." in logged


def test_shutdown_refused_while_the_first_rewrite_runs(forker, logged):
    """Turned on at runtime and not written yet: SHUTDOWN would lose the
    dataset, so it fails unless FORCE."""
    srv = make(forker, appendonly=False)
    srv.server.shutdown_hook = lambda: None
    srv("CONFIG", "SET", "appendonly", "yes")
    assert srv("SHUTDOWN") == ReplyError("ERR Errors trying to SHUTDOWN. Check logs.")
    assert "Writing initial AOF, can't exit." in logged
    srv("SHUTDOWN", "FORCE")
    assert "Writing initial AOF. Exit anyway." in logged
    assert "There is a child rewriting the AOF. Killing it!" in logged
