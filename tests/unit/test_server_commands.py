"""CONFIG, TIME, SHUTDOWN, DEBUG, SLOWLOG and LATENCY, with error
texts captured from redis-server 7.0.15."""

import os
from unittest.mock import Mock

import pytest

from redisrepl.commands import server as server_commands
from redisrepl.config import Config
from redisrepl.resp.values import NO_REPLY, OK, Map, ReplyError, Status
from tests.unit.harness import EPOCH, Harness


def err(text):
    return ReplyError(text)




# -- CONFIG -----------------------------------------------------------------------

def test_config_get_pairs(srv):
    """CONFIG GET answers name/value pairs; no match is empty."""
    assert srv("CONFIG", "GET", "maxclients") == Map([(b"maxclients", b"10000")])
    assert srv("CONFIG", "GET", "nonexist") == Map([])


def test_config_get_several_patterns(srv):
    """Several patterns (Redis 7.0) gather every match once."""
    reply = dict(srv("CONFIG", "GET", "maxc*", "port", "maxclients"))
    assert reply == {b"maxclients": b"10000", b"port": b"6379"}


def test_config_set_applies(srv):
    """CONFIG SET changes the value CONFIG GET and the server read."""
    assert srv("CONFIG", "SET", "maxclients", "100") == OK
    assert srv.config["maxclients"] == 100
    assert srv("CONFIG", "GET", "maxclients") == Map([(b"maxclients", b"100")])


def test_config_set_several_pairs(srv):
    """CONFIG SET takes several name/value pairs at once."""
    assert srv("CONFIG", "SET", "maxclients", "50", "hz", "20") == OK
    assert (srv.config["maxclients"], srv.config["hz"]) == (50, 20)


@pytest.mark.parametrize("args, error", [
    (["nonexist", "1"],
     "ERR Unknown option or number of arguments for CONFIG SET - 'nonexist'"),
    (["maxclients", "abc"],
     ("ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
     "argument couldn't be parsed into an integer")),
    (["maxclients", "100", "port"], "ERR syntax error"),
    (["maxclients"], "ERR wrong number of arguments for 'config|set' command"),
])
def test_config_set_errors(srv, args, error):
    """CONFIG SET errors carry Redis 7.0.15's texts and change nothing."""
    assert srv("CONFIG", "SET", *args) == err(error)
    assert srv.config["maxclients"] == 10000


def test_config_set_slowlog_threshold_applies_at_once(srv):
    """slowlog-log-slower-than 0 makes the very next command a slowlog entry."""
    assert srv("SLOWLOG", "LEN") == 0
    srv("CONFIG", "SET", "slowlog-log-slower-than", "0")
    srv("SLOWLOG", "RESET")
    srv("GET", "k")
    assert srv("SLOWLOG", "GET", "1")[0][3] == [b"GET", b"k"]
    srv("CONFIG", "SET", "slowlog-log-slower-than", "-1")
    srv("SLOWLOG", "RESET")
    srv("GET", "k")
    assert srv("SLOWLOG", "LEN") == 0


def test_config_resetstat(srv):
    """CONFIG RESETSTAT zeroes INFO's counters and the command stats."""
    srv("GET", "k")
    srv("NOSUCHCOMMAND")
    get = srv.server.table.lookup(b"get")
    assert get.calls == 1 and srv.server.total_error_replies == 1
    assert srv("CONFIG", "RESETSTAT") == OK
    assert get.calls == 0
    assert srv.server.total_error_replies == 0
    assert srv.server.errorstats == {}


def test_config_rewrite_without_a_file(srv):
    """CONFIG REWRITE with no config file is Redis's error."""
    assert srv("CONFIG", "REWRITE") == err(
        "ERR The server is running without a config file")


def test_config_rewrite_round_trip(tmp_path, logged):
    """A CONFIG SET survives CONFIG REWRITE and a reload of the file."""
    path = tmp_path / "redis.conf"
    path.write_text("# my settings\nport 6379\nmaxclients 100\n")
    srv = Harness()
    srv.config.path = str(path)
    srv("CONFIG", "SET", "maxclients", "250", "slowlog-max-len", "7")
    assert srv("CONFIG", "REWRITE") == OK
    text = path.read_text()
    assert text.startswith("# my settings\n")
    reloaded = Config()
    reloaded.load_file(str(path))
    assert reloaded["maxclients"] == 250
    assert reloaded["slowlog-max-len"] == 7
    assert "CONFIG REWRITE executed with success." in logged


def test_config_rewrite_failure_is_an_error(tmp_path, logged):
    """A rewrite that cannot write answers the registry's ERR text."""
    srv = Harness()
    srv.config.path = str(tmp_path / "missing-dir" / "redis.conf")
    reply = srv("CONFIG", "REWRITE")
    assert isinstance(reply, ReplyError)
    assert reply.message.startswith(b"ERR Rewriting config file: ")
    assert "CONFIG REWRITE failed: No such file or directory" in logged


def test_config_help(srv):
    """CONFIG HELP is Redis's banner, lines and HELP footer."""
    reply = srv("CONFIG", "HELP")
    assert reply[0] == b"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert reply[1:3] == [b"GET <pattern>", (b"    Return parameters matching the "
                          b"glob-like <pattern> and their values.")]
    assert reply[-2:] == [b"HELP", b"    Prints this help."]
    assert len(reply) == 11
    assert all(type(line) is Status for line in reply)


# -- TIME ---------------------------------------------------------------------------

def test_time_reads_the_injected_clock(srv):
    """TIME is [seconds, microseconds] from the server's clock, as bulk strings."""
    srv.advance(1.25)
    assert srv("TIME") == [b"%d" % (EPOCH + 1), b"250000"]


# -- SHUTDOWN -------------------------------------------------------------------------

@pytest.fixture
def hooked():
    srv = Harness()
    srv.server.shutdown_hook = Mock()
    return srv


def assert_shut_down(srv, reply):
    assert reply is NO_REPLY
    srv.server.shutdown_hook.assert_called_once_with()
    assert srv.client.close_after_reply


def test_shutdown_nosave_stops_without_a_reply(hooked):
    """SHUTDOWN NOSAVE calls the hook; the connection closes with no reply."""
    assert_shut_down(hooked, hooked("SHUTDOWN", "NOSAVE"))


def test_shutdown_without_save_points_stops():
    """Plain SHUTDOWN with no save points stops at once."""
    srv = Harness('save ""')
    srv.server.shutdown_hook = Mock()
    assert_shut_down(srv, srv("SHUTDOWN", "NOW"))


def test_shutdown_that_must_save_fails(hooked, logged):
    """With save points (or SAVE) a final save that fails refuses: Redis's error."""
    os.mkdir("dump.rdb")      # the rename over dbfilename fails
    assert hooked("SHUTDOWN") == err("ERR Errors trying to SHUTDOWN. Check logs.")
    assert hooked("SHUTDOWN", "SAVE") == err("ERR Errors trying to SHUTDOWN. Check logs.")
    hooked.server.shutdown_hook.assert_not_called()
    assert not hooked.client.close_after_reply
    assert "Error trying to save the DB, can't exit." in logged


def test_shutdown_force_exits_anyway(hooked, logged):
    """FORCE ignores the failed final save, as Redis does."""
    os.mkdir("dump.rdb")
    assert_shut_down(hooked, hooked("SHUTDOWN", "SAVE", "FORCE"))
    assert "Error trying to save the DB. Exit anyway." in logged


@pytest.mark.parametrize("args", [["foo"], ["save", "nosave"], ["abort", "now"],
                                  ["nosave", "nosave", "abort"]])
def test_shutdown_syntax_errors(hooked, args):
    """Unknown options and illegal combinations are syntax errors."""
    assert hooked("SHUTDOWN", *args) == err("ERR syntax error")
    hooked.server.shutdown_hook.assert_not_called()


def test_shutdown_abort_without_a_shutdown(hooked):
    """SHUTDOWN ABORT with none in progress is Redis's error."""
    assert hooked("SHUTDOWN", "ABORT") == err("ERR No shutdown in progress.")


# -- DEBUG ------------------------------------------------------------------------------

DEBUG_REFUSED = err(
    'ERR DEBUG command not allowed. If the enable-debug-command option is set '
    'to "local", you can run it from a local connection, otherwise you need to '
    'set this option in the configuration file, and then restart the server.')


@pytest.fixture
def dbg():
    return Harness("enable-debug-command yes")


def test_debug_is_refused_by_default(srv):
    """enable-debug-command defaults to no: DEBUG is refused with Redis's text."""
    assert srv("DEBUG", "SLEEP", "0") == DEBUG_REFUSED


def test_debug_local_allows_only_local_clients():
    """enable-debug-command local: loopback and unix socket yes, others no."""
    srv = Harness("enable-debug-command local")
    assert srv("DEBUG", "SLEEP", "0") == OK
    remote = srv.new_client(addr=b"10.1.2.3:5000")
    assert srv("DEBUG", "SLEEP", "0", client=remote) == DEBUG_REFUSED
    unix = srv.new_client(addr=b"/tmp/redis.sock:0")
    unix.is_unix = True
    assert srv("DEBUG", "SLEEP", "0", client=unix) == OK
    ipv6 = srv.new_client(addr=b"[::1]:5000")
    assert srv("DEBUG", "SLEEP", "0", client=ipv6) == OK


@pytest.mark.parametrize("arg, seconds", [
    (b"0", None), (b"abc", None), (b"-1", None), (b"0.25", 0.25),
    (b"1e-3", 0.001), (b"2", 2.0), (b" 1.5xyz", 1.5), (b"0.0000001", None),
    (b"0x1p-2", 0.25), (b"inf", None),
])
def test_debug_sleep_blocks_like_strtod(dbg, monkeypatch, arg, seconds):
    """DEBUG SLEEP reads its time as strtod and blocks the server (time.sleep)."""
    slept = []
    monkeypatch.setattr(server_commands.time, "sleep", slept.append)
    assert dbg("DEBUG", "sleep", arg) == OK
    assert slept == ([] if seconds is None else [seconds])


def test_debug_set_active_expire_stops_the_cron(dbg):
    """SET-ACTIVE-EXPIRE 0 stops background expiry; 1 brings it back."""
    dbg.db.set(b"k", b"v")
    dbg.db.set_expire(b"k", dbg.server.now_ms() + 10)
    assert dbg("DEBUG", "SET-ACTIVE-EXPIRE", "0") == OK
    dbg.advance(1)
    dbg.server.cron()
    assert b"k" in dbg.db.data
    assert dbg("DEBUG", "set-active-expire", "1") == OK
    dbg.server.cron()
    assert b"k" not in dbg.db.data


def test_debug_set_active_expire_reads_like_atoi(dbg):
    """Any non-zero leading integer enables, anything else disables (atoi)."""
    for arg, enabled in [("2", True), ("abc", False), ("-1", True), ("0x1", False)]:
        dbg("DEBUG", "SET-ACTIVE-EXPIRE", arg)
        assert dbg.server.keyspace.active_expire_enabled is enabled


@pytest.mark.parametrize("args, name", [
    (["foo"], "foo"), (["sleep"], "sleep"), (["sleep", "0", "1"], "sleep"),
    (["set-active-expire", "1", "2"], "set-active-expire"), (["help", "x"], "help"),
])
def test_debug_unknown_or_malformed_subcommand(dbg, args, name):
    """Unknown DEBUG subcommands and wrong counts get Redis's subcommand error."""
    assert dbg("DEBUG", *args) == err(
        f"ERR unknown subcommand or wrong number of arguments for '{name}'. "
        "Try DEBUG HELP.")


def test_debug_help(dbg):
    """DEBUG HELP is Redis 7.0.15's 106 status lines."""
    reply = dbg("DEBUG", "HELP")
    assert len(reply) == 106
    assert reply[0] == b"DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"SLEEP <seconds>" in reply
    assert reply[-2:] == [b"HELP", b"    Prints this help."]


# -- SLOWLOG ----------------------------------------------------------------------------

@pytest.fixture
def slow():
    """A server that logs every command."""
    return Harness("slowlog-log-slower-than 0")


def test_slowlog_entry_format(slow):
    """An entry is id, timestamp, microseconds, args, client addr, client name."""
    slow("CLIENT", "SETNAME", "nm")
    slow.advance(7)
    slow("GET", "k")
    entry = slow("SLOWLOG", "GET", "1")[0]
    assert len(entry) == 6
    entry_id, stamp, micros, args, addr, name = entry
    assert entry_id == 1
    assert stamp == int(EPOCH) + 7
    assert isinstance(micros, int) and micros >= 0
    assert args == [b"GET", b"k"]
    assert (addr, name) == (b"127.0.0.1:50000", b"nm")


def test_slowlog_get_count(slow):
    """GET defaults to 10 newest first; -1 is all; 0 is none."""
    for i in range(12):
        slow("ECHO", str(i))
    assert [e[3][1] for e in slow("SLOWLOG", "GET")] == \
        [b"%d" % i for i in range(11, 1, -1)]
    assert len(slow("SLOWLOG", "GET", "-1")) == 13     # + the first GET
    assert slow("SLOWLOG", "GET", "0") == []


@pytest.mark.parametrize("args, error", [
    (["GET", "abc"], "ERR count should be greater than or equal to -1"),
    (["GET", "-2"], "ERR count should be greater than or equal to -1"),
    (["GET", "1", "2"], ("ERR unknown subcommand or wrong number of arguments "
                        "for 'GET'. Try SLOWLOG HELP.")),
    (["LEN", "x"], "ERR wrong number of arguments for 'slowlog|len' command"),
])
def test_slowlog_errors(srv, args, error):
    """SLOWLOG's errors carry Redis 7.0.15's texts."""
    assert srv("SLOWLOG", *args) == err(error)


def test_slowlog_len_and_reset(slow):
    """LEN counts entries; RESET empties the log but ids keep counting."""
    slow("PING")
    assert slow("SLOWLOG", "LEN") == 1
    assert slow("SLOWLOG", "RESET") == OK
    slow("PING")
    assert slow("SLOWLOG", "LEN") == 2          # the RESET and the PING
    assert slow("SLOWLOG", "GET", "1")[0][0] == 4


def test_slowlog_max_len_trims_at_the_next_entry(slow):
    """A smaller slowlog-max-len keeps the newest entries, from the next one on."""
    for i in range(5):
        slow("ECHO", str(i))
    slow("CONFIG", "SET", "slowlog-log-slower-than", "-1")
    slow("CONFIG", "SET", "slowlog-max-len", "2")
    assert slow("SLOWLOG", "LEN") == 5          # as Redis: not trimmed yet
    slow("CONFIG", "SET", "slowlog-log-slower-than", "0")
    entries = slow("SLOWLOG", "GET", "-1")
    assert [e[3][:2] for e in entries] == [[b"CONFIG", b"SET"], [b"ECHO", b"4"]]


def test_slowlog_trims_long_commands(slow):
    """Past 32 arguments and 128 bytes an entry is shortened as Redis does."""
    slow("ECHO", "x" * 130)
    assert slow("SLOWLOG", "GET", "1")[0][3][1] == b"x" * 128 + b"... (2 more bytes)"
    slow("CLIENT", "LIST", "ID", *range(1, 39))        # 41 arguments
    args = slow("SLOWLOG", "GET", "1")[0][3]
    assert len(args) == 32
    assert args[:4] == [b"CLIENT", b"LIST", b"ID", b"1"]
    assert args[-1] == b"... (10 more arguments)"


def test_slowlog_help(srv):
    """SLOWLOG HELP is Redis's text."""
    reply = srv("SLOWLOG", "HELP")
    assert reply[0] == b"SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert reply[1] == b"GET [<count>]"
    assert len(reply) == 12


# -- LATENCY ----------------------------------------------------------------------------

def test_latency_has_no_samples(srv):
    """LATEST and HISTORY are empty, RESET resets nothing, GRAPH has no samples."""
    assert srv("LATENCY", "LATEST") == []
    assert srv("LATENCY", "HISTORY", "command") == []
    assert srv("LATENCY", "RESET") == 0
    assert srv("LATENCY", "RESET", "command", "fork") == 0
    assert srv("LATENCY", "GRAPH", "command") == err(
        "ERR No samples available for event 'command'")


def test_latency_doctor_texts(srv):
    """DOCTOR's text for a disabled monitor, then for one with no spikes."""
    assert srv("LATENCY", "DOCTOR").startswith(
        b"I'm sorry, Dave, I can't do that. Latency monitoring is disabled")
    assert len(srv("LATENCY", "DOCTOR")) == 288       # Redis 7.0.15's $288
    srv("CONFIG", "SET", "latency-monitor-threshold", "100")
    doctor = srv("LATENCY", "DOCTOR")
    assert doctor.startswith(b"Dave, no latency spike was observed")
    assert len(doctor) == 196                          # Redis 7.0.15's $196


def test_latency_help(srv):
    """LATENCY HELP is Redis's text."""
    reply = srv("LATENCY", "HELP")
    assert reply[0] == b"LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert len(reply) == 17
