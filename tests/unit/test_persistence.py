"""SAVE, BGSAVE, LASTSAVE, save points, MISCONF, FLUSHALL and SHUTDOWN saving,
INFO persistence: Redis 7.0.15's replies, state changes and log lines.

Each test runs in its own empty working directory (conftest), which is the
server's ``dir``. BGSAVE children are an ``InlineForker``: the child body
runs in this process at "fork" time (so it sees the data as of the fork,
as a real child does) and the test decides when the child is reaped and
with what status; real forks are in tests/integration/test_persistence.py.
"""

import errno
import glob
import os
import signal

import pytest

from redisrepl.persistence import bgsave as bgsave_module
from redisrepl.persistence import rdbsave
from redisrepl.persistence.snapshot import key_delay, snapshot_of
from redisrepl.rdb.decoder import Aux, End, Entry, Function, RdbDecoder
from redisrepl.resp.values import OK, QUEUED, ReplyError, Status
from tests.unit.fakeforker import FakeForker
from tests.unit.harness import EPOCH, Harness

MISCONF = ReplyError(
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable "
    "to persist to disk. Commands that may modify the data set are disabled, because "
    "this instance is configured to report errors during writes if RDB snapshotting "
    "fails (stop-writes-on-bgsave-error option). Please check the Redis logs for "
    "details about the RDB error.")
IN_PROGRESS = ReplyError("ERR Background save already in progress")






def make(config_text=""):
    srv = Harness(config_text)
    srv.forker = srv.server.persistence.forker = FakeForker()
    return srv


@pytest.fixture
def srv():
    return make()


def read_dump(path="dump.rdb"):
    decoder = RdbDecoder()
    with open(path, "rb") as f:
        events = decoder.feed(f.read())
    events += decoder.close()
    return events


def entries(events):
    return {(e.db, e.key): (e.value, e.expire_ms) for e in events if isinstance(e, Entry)}


def info_fields(srv):
    text = srv("INFO", "persistence").decode()
    return dict(line.split(":", 1) for line in text.split("\r\n")[1:] if line)


def temp_files():
    return glob.glob("temp-*.rdb")


# -- SAVE / LASTSAVE ---------------------------------------------------------------

def test_save_writes_every_db_with_expiries(srv, logged):
    """SAVE writes dump.rdb holding each key, its expiry and db number."""
    srv("SET", "a", "1")
    srv("SET", "t", "v", "PX", "5000")
    srv.server.keyspace.dbs[3].set(b"other", b"x")
    assert srv("SAVE") == OK
    assert entries(read_dump()) == {
        (0, b"a"): (b"1", None),
        (0, b"t"): (b"v", int(EPOCH * 1000) + 5000),
        (3, b"other"): (b"x", None),
    }
    assert "DB saved on disk" in logged
    assert temp_files() == []


def test_save_aux_fields_are_redis_70s(srv):
    """The aux fields are rdbSaveInfoAuxFields's, in its order; a master that
    never had a replica writes no repl-* fields (as redis-server 7.0.15)."""
    srv.advance(12)
    srv("SAVE")
    aux = [(e.name, e.value) for e in read_dump() if isinstance(e, Aux)]
    assert [name for name, _ in aux] == [
        b"redis-ver", b"redis-bits", b"ctime", b"used-mem", b"aof-base"]
    values = dict(aux)
    assert values[b"redis-ver"] == b"7.0.15"
    assert values[b"redis-bits"] == b"64"
    assert values[b"ctime"] == b"%d" % (EPOCH + 12)
    assert int(values[b"used-mem"]) > 0
    assert values[b"aof-base"] == b"0"


def test_replication_info_is_written_when_replication_provides_it(srv):
    """With a replication stream (rdb_save_info), repl-stream-db, repl-id and
    repl-offset come between used-mem and aof-base."""
    server = srv.server
    server.rdb_save_info = lambda: 2
    server.master_repl_offset = 777
    aux = snapshot_of(server).aux
    assert [name for name, _ in aux] == [
        b"redis-ver", b"redis-bits", b"ctime", b"used-mem",
        b"repl-stream-db", b"repl-id", b"repl-offset", b"aof-base"]
    values = dict(aux)
    assert (values[b"repl-stream-db"], values[b"repl-id"], values[b"repl-offset"]) == \
        (b"2", server.replid, b"777")


def test_functions_are_written_back(srv):
    """Library code kept from a load is saved as FUNCTION2 records."""
    srv.server.functions.append(b"#!lua name=mylib\nredis.register_function('f', ...)")
    srv("SAVE")
    assert [e.code for e in read_dump() if isinstance(e, Function)] == srv.server.functions


def test_rdbchecksum_no_writes_a_zero_trailer():
    """rdbchecksum no: the CRC64 trailer is 0, as Redis writes it."""
    srv = make("rdbchecksum no")
    srv("SET", "a", "1")
    srv("SAVE")
    assert [e for e in read_dump() if isinstance(e, End)] == [End(0)]


def test_rdbcompression_follows_the_config(srv):
    """A long compressible value is LZF-compressed only with rdbcompression yes."""
    srv("SET", "k", "a" * 10000)
    srv("SAVE")
    compressed = os.path.getsize("dump.rdb")
    srv("CONFIG", "SET", "rdbcompression", "no")
    srv("SAVE")
    assert compressed < 1000 < os.path.getsize("dump.rdb")
    assert entries(read_dump())[(0, b"k")] == (b"a" * 10000, None)


def test_save_resets_dirty_and_bumps_lastsave_and_rdb_saves(srv):
    """After SAVE: no changes pending, LASTSAVE is now, rdb_saves counts it."""
    srv("SET", "a", "1")
    assert srv("LASTSAVE") == int(EPOCH)
    srv.advance(30)
    srv("SAVE")
    fields = info_fields(srv)
    assert srv("LASTSAVE") == int(EPOCH) + 30
    assert (fields["rdb_changes_since_last_save"], fields["rdb_saves"],
            fields["rdb_last_save_time"]) == ("0", "1", str(int(EPOCH) + 30))


def test_failed_save_answers_bare_err_and_keeps_state(srv, logged):
    """A SAVE that cannot rename answers "-ERR" (Redis's shared.err), logs why,
    removes its temp file and changes neither dirty, LASTSAVE nor the status."""
    os.mkdir("dump.rdb")
    srv("SET", "a", "1")
    assert srv("SAVE") == ReplyError("ERR")
    assert temp_files() == []
    assert srv.server.dirty == 1 and srv("LASTSAVE") == int(EPOCH)
    assert info_fields(srv)["rdb_last_bgsave_status"] == "ok"
    assert srv("SET", "b", "2") == OK          # no MISCONF for a failed SAVE
    tmp = rdbsave.temp_file_name(os.getpid())
    assert f"Error moving temp DB file {tmp} on the final destination dump.rdb " \
           f"(in server root dir {os.getcwd()}): Is a directory" in logged


def test_write_error_leaves_the_previous_dump_intact(srv, monkeypatch, logged):
    """ENOSPC while writing: the old dump stays as it was, the temp file goes,
    and Redis's "Write error saving DB on disk" line names the step."""
    srv("SET", "a", "1")
    srv("SAVE")
    before = open("dump.rdb", "rb").read()
    srv("SET", "b", "2")

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(rdbsave.os, "write", no_space)
    assert srv("SAVE") == ReplyError("ERR")
    assert open("dump.rdb", "rb").read() == before
    assert temp_files() == []
    assert "Write error saving DB on disk(rdbSaveRio): No space left on device" in logged


def test_temp_file_that_cannot_be_opened(srv, logged):
    """A temp file that cannot be created: Redis's "Failed opening" line."""
    tmp = rdbsave.temp_file_name(os.getpid())
    os.mkdir(tmp)
    assert srv("SAVE") == ReplyError("ERR")
    assert f"Failed opening the temp RDB file {tmp} (in server root dir " \
           f"{os.getcwd()}) for saving: Is a directory" in logged


def test_save_refused_while_bgsave_runs(srv):
    """SAVE during a BGSAVE: "Background save already in progress"."""
    srv("BGSAVE")
    assert srv("SAVE") == IN_PROGRESS


# -- BGSAVE -----------------------------------------------------------------------------

def test_bgsave_runs_in_a_child_and_is_reaped_from_the_cron(srv, logged):
    """BGSAVE starts a child; INFO shows it running; the cron reaps it and
    only then the changes it saved are subtracted and LASTSAVE moves."""
    srv("MSET", "a", "1", "b", "2")
    assert srv("BGSAVE") == Status(b"Background saving started")
    assert "Background saving started by pid 5000" in logged
    srv("SET", "c", "3")                 # after the fork: not in the dump
    srv.advance(3)
    fields = info_fields(srv)
    assert (fields["rdb_bgsave_in_progress"], fields["rdb_current_bgsave_time_sec"],
            fields["current_save_keys_total"], fields["rdb_saves"]) == ("1", "3", "2", "1")
    srv.server.cron()
    assert info_fields(srv)["rdb_bgsave_in_progress"] == "1"    # still running
    srv.forker.exit()
    srv.server.cron()
    fields = info_fields(srv)
    assert (fields["rdb_bgsave_in_progress"], fields["rdb_last_bgsave_status"],
            fields["rdb_last_bgsave_time_sec"], fields["rdb_changes_since_last_save"],
            fields["rdb_current_bgsave_time_sec"]) == ("0", "ok", "3", "1", "-1")
    assert srv("LASTSAVE") == int(EPOCH) + 3
    assert set(entries(read_dump())) == {(0, b"a"), (0, b"b")}
    assert "Background saving terminated with success" in logged


def test_bgsave_counts_forks_and_reports_cow(srv, monkeypatch):
    """total_forks and latest_fork_usec count the fork; the child's COW
    report becomes rdb_last_cow_size once it is reaped."""
    monkeypatch.setattr(bgsave_module, "private_dirty", lambda: 3 << 20)
    srv("SET", "a", "1")
    srv("BGSAVE")
    srv.forker.exit()
    srv.server.cron()
    assert srv.server.total_forks == 1 and srv.server.latest_fork_usec >= 0
    assert info_fields(srv)["rdb_last_cow_size"] == str(3 << 20)


def test_second_bgsave_is_refused(srv):
    """BGSAVE and BGSAVE SCHEDULE while one runs: already in progress."""
    srv("BGSAVE")
    assert srv("BGSAVE") == IN_PROGRESS
    assert srv("BGSAVE", "SCHEDULE") == IN_PROGRESS


@pytest.mark.parametrize("args", [["foo"], ["schedule", "x"]])
def test_bgsave_syntax(srv, args):
    """Anything but a lone SCHEDULE is a syntax error (checked first)."""
    srv("BGSAVE")
    assert srv("BGSAVE", *args) == ReplyError("ERR syntax error")


def test_bgsave_schedule_with_nothing_running_starts_now(srv):
    """BGSAVE SCHEDULE starts at once when no child runs."""
    assert srv("BGSAVE", "SCHEDULE") == Status(b"Background saving started")


def test_bgsave_inside_exec_is_scheduled_for_the_cron(srv):
    """BGSAVE in MULTI/EXEC is scheduled; the cron starts it after EXEC."""
    srv("MULTI")
    assert srv("BGSAVE") == QUEUED
    assert srv("EXEC") == [Status(b"Background saving scheduled")]
    assert not srv.server.persistence.bgsave_in_progress
    srv.server.cron()
    assert srv.server.persistence.bgsave_in_progress


def test_fork_failure(srv, logged):
    """A fork that fails: "-ERR", status err, Redis's log line."""
    srv.forker.fork_error = OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))
    assert srv("BGSAVE") == ReplyError("ERR")
    assert info_fields(srv)["rdb_last_bgsave_status"] == "err"
    assert "Can't save in background: fork: Resource temporarily unavailable" in logged


# -- failed background saves, MISCONF -----------------------------------------------------

def fail_a_bgsave(srv):
    os.mkdir("dump.rdb")
    srv("BGSAVE")
    srv.forker.exit()
    srv.server.cron()
    os.rmdir("dump.rdb")


def test_failed_bgsave_denies_writes_and_ping(srv, logged):
    """After a failed BGSAVE (with save points and stop-writes-on-bgsave-error
    yes) writes and PING get MISCONF; reads still work."""
    srv("SET", "k", "v")
    fail_a_bgsave(srv)
    assert "Background saving error" in logged
    assert info_fields(srv)["rdb_last_bgsave_status"] == "err"
    assert temp_files() == []
    assert srv("SET", "k", "2") == MISCONF
    assert srv("PING") == MISCONF
    assert srv("GET", "k") == b"v"


def test_misconf_follows_config_set(srv):
    """MISCONF lifts with stop-writes-on-bgsave-error no or save "", and
    comes back when they are restored."""
    fail_a_bgsave(srv)
    srv("CONFIG", "SET", "stop-writes-on-bgsave-error", "no")
    assert srv("SET", "k", "1") == OK
    srv("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes")
    assert srv("SET", "k", "2") == MISCONF
    srv("CONFIG", "SET", "save", "")
    assert srv("SET", "k", "3") == OK
    srv("CONFIG", "SET", "save", "3600 1")
    assert srv("SET", "k", "4") == MISCONF


def test_good_bgsave_clears_misconf(srv):
    """A background save that succeeds makes the server writable again."""
    fail_a_bgsave(srv)
    assert srv("BGSAVE") == Status(b"Background saving started")
    srv.forker.exit()
    srv.server.cron()
    assert srv("SET", "k", "v") == OK
    assert info_fields(srv)["rdb_last_bgsave_status"] == "ok"


def test_no_misconf_without_save_points():
    """With save "" a failed BGSAVE is reported but writes go on."""
    srv = make('save ""')
    fail_a_bgsave(srv)
    assert info_fields(srv)["rdb_last_bgsave_status"] == "err"
    assert srv("SET", "k", "v") == OK


def test_child_killed_by_sigusr1_is_not_an_error(srv, logged):
    """A child stopped with SIGUSR1 (by the server itself) is no failure;
    its temp file is removed."""
    srv("BGSAVE")
    pid = max(srv.forker.running)
    open(rdbsave.temp_file_name(pid), "wb").close()
    srv.forker.exit(bysignal=signal.SIGUSR1)
    srv.server.cron()
    assert f"Background saving terminated by signal {int(signal.SIGUSR1)}" in logged
    assert info_fields(srv)["rdb_last_bgsave_status"] == "ok"
    assert temp_files() == []


def test_child_exiting_with_255_counts_as_sigusr1(srv):
    """Exit code 255 is Redis's SERVER_CHILD_NOERROR_RETVAL: a clean kill."""
    srv("BGSAVE")
    srv.forker.exit(exitcode=255)
    srv.server.cron()
    assert info_fields(srv)["rdb_last_bgsave_status"] == "ok"


def test_child_killed_by_another_signal_is_an_error(srv):
    """A child killed by SIGKILL (OOM killer...) is a failed save."""
    srv("BGSAVE")
    srv.forker.exit(bysignal=signal.SIGKILL)
    srv.server.cron()
    assert info_fields(srv)["rdb_last_bgsave_status"] == "err"


# -- save points ------------------------------------------------------------------------

def test_save_point_starts_a_bgsave_after_its_seconds(logged):
    """"save 10 2": two changes and more than 10 seconds since the last save
    start a BGSAVE from the cron, with Redis's log line."""
    srv = make("save 10 2")
    srv("SET", "a", "1")
    srv.advance(11)
    srv.server.cron()
    assert not srv.server.persistence.bgsave_in_progress     # one change only
    srv("SET", "b", "2")
    srv.server.cron()
    assert srv.server.persistence.bgsave_in_progress
    assert "2 changes in 10 seconds. Saving..." in logged


def test_save_point_needs_strictly_more_seconds():
    """Exactly <seconds> after the last save is not enough (Redis's '>')."""
    srv = make("save 10 1")
    srv("SET", "a", "1")
    srv.advance(10)
    srv.server.cron()
    assert not srv.server.persistence.bgsave_in_progress
    srv.advance(1)
    srv.server.cron()
    assert srv.server.persistence.bgsave_in_progress


def test_failed_save_point_retries_after_five_seconds():
    """After a failed BGSAVE the save point waits more than 5 seconds
    (CONFIG_BGSAVE_RETRY_DELAY) before trying again."""
    srv = make("save 1 1\nstop-writes-on-bgsave-error no")
    srv("SET", "a", "1")
    os.mkdir("dump.rdb")
    srv.advance(2)
    srv.server.cron()
    srv.forker.exit()
    srv.server.cron()
    assert srv.server.total_forks == 1
    srv.advance(5)
    srv.server.cron()
    assert srv.server.total_forks == 1
    srv.advance(1)
    srv.server.cron()
    assert srv.server.total_forks == 2


# -- FLUSHALL ---------------------------------------------------------------------------

def test_flushall_with_save_points_writes_an_empty_dump(srv):
    """FLUSHALL with save points rewrites the dump empty at once; dirty is
    then 0 (as redis-server 7.0.15 reports) and FLUSHALL still propagates."""
    srv("MSET", "a", "1", "b", "2")
    srv("SAVE")
    assert srv("FLUSHALL") == OK
    assert entries(read_dump()) == {}
    assert srv.server.dirty == 0
    assert srv.propagated[-1] == [b"FLUSHALL"]


def test_flushall_without_save_points_leaves_the_dump():
    """With save "" FLUSHALL writes nothing to disk."""
    srv = make('save ""')
    srv("SET", "a", "1")
    srv("SAVE")
    srv("FLUSHALL")
    assert set(entries(read_dump())) == {(0, b"a")}


def test_flushall_stops_a_running_bgsave(srv):
    """A BGSAVE running at FLUSHALL is killed with SIGUSR1 (no error)."""
    srv("SET", "a", "1")
    srv("BGSAVE")
    pid = max(srv.forker.running)
    srv("FLUSHALL")
    assert srv.forker.killed == [(pid, signal.SIGUSR1)]
    srv.server.cron()
    assert info_fields(srv)["rdb_last_bgsave_status"] == "ok"
    assert not srv.server.persistence.bgsave_in_progress


# -- SHUTDOWN ---------------------------------------------------------------------------

def shut(srv, *args):
    from unittest.mock import Mock
    srv.server.shutdown_hook = Mock()
    reply = srv("SHUTDOWN", *args)
    return reply, srv.server.shutdown_hook.called


def test_shutdown_saves_with_save_points(srv, logged):
    """SHUTDOWN with save points writes the final dump, then stops."""
    srv("SET", "a", "1")
    _, stopped = shut(srv)
    assert stopped and set(entries(read_dump())) == {(0, b"a")}
    assert logged[:3] == ["User requested shutdown...",
                          "Saving the final RDB snapshot before exiting.", "DB saved on disk"]


def test_shutdown_nosave_writes_nothing(srv):
    """SHUTDOWN NOSAVE stops without writing a dump."""
    srv("SET", "a", "1")
    _, stopped = shut(srv, "NOSAVE")
    assert stopped and not os.path.exists("dump.rdb")


def test_shutdown_save_without_save_points():
    """SHUTDOWN SAVE writes the dump even with save ""."""
    srv = make('save ""')
    srv("SET", "a", "1")
    _, stopped = shut(srv, "SAVE")
    assert stopped and os.path.exists("dump.rdb")


def test_shutdown_kills_a_running_bgsave_first(srv, logged):
    """A BGSAVE child is killed (SIGUSR1) and its temp file removed before
    the final save, so it cannot rename an older dump over it."""
    srv("SET", "a", "1")
    srv("BGSAVE")
    pid = max(srv.forker.running)
    open(rdbsave.temp_file_name(pid), "wb").close()
    _, stopped = shut(srv)
    assert stopped and srv.forker.killed == [(pid, signal.SIGUSR1)]
    assert not os.path.exists(rdbsave.temp_file_name(pid))
    assert "There is a child saving an .rdb. Killing it!" in logged


def test_shutdown_while_loading_never_saves(srv):
    """SHUTDOWN during a load does not overwrite the dump with half the data."""
    srv.server.loading = True
    srv.server.keyspace.dbs[0].set(b"a", b"1")
    _, stopped = shut(srv, "SAVE")
    assert stopped and not os.path.exists("dump.rdb")


# -- the child's side -------------------------------------------------------------------

def test_info_pipe_carries_whole_records():
    """Records cross the pipe intact and a read never blocks."""
    pipe = bgsave_module.InfoPipe()
    try:
        assert pipe.receive() == []
        info = bgsave_module.ChildInfo(bgsave_module.CURRENT_INFO, 1024, 4096, 12.5)
        pipe.send(info)
        pipe.send(info._replace(kind=bgsave_module.RDB_COW_SIZE))
        assert pipe.receive() == [info, info._replace(kind=bgsave_module.RDB_COW_SIZE)]
    finally:
        pipe.close()


def test_child_reports_progress_about_once_a_second():
    """The child checks the clock every 1024 keys and reports when a second
    has passed, with the keys written so far."""
    now = [100.0]
    sent = []

    class Pipe:
        def send(self, info):
            sent.append(info)
    reporter = bgsave_module.ChildReporter(Pipe(), measure=lambda: 8192,
                                           clock=lambda: now[0])
    for _ in range(2048):
        reporter.key_saved()
    assert sent == []
    now[0] += 1.5
    for _ in range(1024):
        reporter.key_saved()
    assert [(i.kind, i.keys, i.cow) for i in sent] == [(bgsave_module.CURRENT_INFO, 3072, 8192)]


def test_key_delay_is_debug_delay():
    """rdb-key-save-delay: N>0 sleeps N us a key; N<0 sleeps 1us once in -N."""
    slept = []
    assert key_delay(0) is None
    key_delay(250, sleep=slept.append)()
    draws = iter([3, 0])
    rare = key_delay(-5, sleep=slept.append, randrange=lambda n: next(draws))
    rare()
    rare()
    assert slept == [0.00025, 0.000001]


def test_private_dirty_reads_smaps_rollup(tmp_path):
    """Private_Dirty (kB) from smaps_rollup, in bytes; 0 when unreadable."""
    path = tmp_path / "smaps_rollup"
    path.write_text("Rss:  100 kB\nPrivate_Dirty:  12 kB\n")
    assert bgsave_module.private_dirty(str(path)) == 12 * 1024
    assert bgsave_module.private_dirty(str(tmp_path / "missing")) == 0


def test_bgsave_done_callbacks_hear_the_outcome(srv):
    """on_bgsave_done callbacks (replication's hook) get True, then False."""
    outcomes = []
    srv.server.persistence.on_bgsave_done.append(outcomes.append)
    srv("BGSAVE")
    srv.forker.exit()
    srv.server.cron()
    srv("BGSAVE")
    srv.forker.exit(exitcode=1)
    srv.server.cron()
    assert outcomes == [True, False]


# -- SIGTERM / SIGINT of the daemon ---------------------------------------------------

def daemon_service(config_text):
    from twisted.internet.testing import MemoryReactorClock

    from redisrepl.config import Config
    from redisrepl.service import RedisService
    config = Config(chdir=lambda path: None)
    config.load_text(config_text)
    reactor = MemoryReactorClock()
    service = RedisService(config, reactor)
    service.server.keyspace.dbs[0].set(b"a", b"1")
    return service, reactor


def test_sigterm_saves_then_stops(logged):
    """SIGTERM with save points writes the dump and schedules the stop."""
    service, reactor = daemon_service("")
    service.signal_shutdown(signal.SIGTERM)
    assert set(entries(read_dump())) == {(0, b"a")}
    assert len(reactor.getDelayedCalls()) == 1
    assert logged[:2] == ["Received SIGTERM scheduling shutdown...", "User requested shutdown..."]


def test_signals_follow_shutdown_on_sigterm_and_sigint():
    """shutdown-on-sigint nosave: SIGINT stops without saving."""
    service, reactor = daemon_service("shutdown-on-sigint nosave")
    service.signal_shutdown(signal.SIGINT)
    assert not os.path.exists("dump.rdb") and len(reactor.getDelayedCalls()) == 1


def test_sigterm_whose_save_fails_keeps_running(logged):
    """A final save that fails on SIGTERM: the daemon does not stop."""
    service, reactor = daemon_service("")
    os.mkdir("dump.rdb")
    service.signal_shutdown(signal.SIGTERM)
    assert reactor.getDelayedCalls() == []
    assert "Errors trying to shut down the server. Check the logs for more information." \
        in logged
