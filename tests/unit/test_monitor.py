"""MONITOR: the lines Redis 7.0's replicationFeedMonitors writes."""

from hypothesis import given
from hypothesis import strategies as st

from redisrepl.commands.monitor import MONITOR_DENY_BLOCKING
from redisrepl.monitor import quote
from redisrepl.resp.values import OK
from tests.unit.harness import EPOCH, Harness


def monitoring(srv):
    watcher = srv.new_client(addr=b"127.0.0.1:40000")
    assert srv("MONITOR", client=watcher) == OK
    return watcher


def lines(watcher):
    return [line for chunk in watcher.conn.sent for line in chunk.split(b"\r\n") if line]


def test_a_command_shows_with_time_db_address_and_quoted_arguments(srv):
    """Each line is +<sec>.<usec> [<db> <addr>] then every argument quoted."""
    watcher = monitoring(srv)
    srv.advance(0.25)
    srv("SET", "k", b"a\nb\x01\"\\")
    assert lines(watcher) == [b'+%d.250000 [0 127.0.0.1:50000] "SET" "k" "a\\nb\\x01\\"\\\\"'
                              % EPOCH]


def test_the_db_is_the_one_after_the_command_and_admin_commands_are_hidden(srv):
    """SELECT 5 shows db 5 (the line is written after the command); CONFIG is not shown."""
    watcher = monitoring(srv)
    srv("SELECT", "5")
    srv("CONFIG", "GET", "maxmemory")
    srv("GET", "x")
    shown = lines(watcher)
    assert [line.split(b" ", 1)[1] for line in shown] == [
        b'[5 127.0.0.1:50000] "SELECT" "5"', b'[5 127.0.0.1:50000] "GET" "x"']


def test_errors_show_but_rejected_commands_do_not(srv):
    """A command that ran and failed shows; unknown commands and arity errors do not."""
    watcher = monitoring(srv)
    srv("SET", "s", "v")
    srv("LPUSH", "s", "x")          # WRONGTYPE: ran, shown
    srv("NOSUCH", "cmd")            # never reached a handler
    srv("GET")                      # arity error
    assert [line.split(b"] ", 1)[1] for line in lines(watcher)] == [
        b'"SET" "s" "v"', b'"LPUSH" "s" "x"']


def test_queued_commands_show_when_exec_runs_them_before_exec(srv):
    """MULTI, then the queued commands as EXEC runs them, then EXEC."""
    watcher = monitoring(srv)
    srv("MULTI")
    srv("SET", "x", "1")
    srv("GET", "x")
    assert len(lines(watcher)) == 1
    srv("EXEC")
    assert [line.split(b"] ", 1)[1] for line in lines(watcher)] == [
        b'"MULTI"', b'"SET" "x" "1"', b'"GET" "x"', b'"EXEC"']


def test_passwords_are_redacted(srv):
    """AUTH and HELLO ... AUTH show (redacted) in place of credentials, as Redis 7.0."""
    watcher = monitoring(srv)
    srv("AUTH", "secret")
    srv("HELLO", "2", "AUTH", "user", "pw")
    assert [line.split(b"] ", 1)[1] for line in lines(watcher)] == [
        b'"AUTH" "(redacted)"', b'"HELLO" "2" "AUTH" "(redacted)" "(redacted)"']


def test_original_arguments_are_shown_not_the_propagated_rewrite(srv):
    """SET .. EX shows as typed, though replicas get SET .. PXAT."""
    watcher = monitoring(srv)
    srv("SET", "k", "v", "EX", "10")
    assert lines(watcher)[0].endswith(b'"SET" "k" "v" "EX" "10"')


def test_monitor_inside_exec_is_refused_and_a_second_monitor_is_ignored(srv):
    """MONITOR run by EXEC errs as Redis's DENY BLOCKING check; MONITOR twice adds nothing."""
    srv("MULTI")
    srv("MONITOR")
    assert srv("EXEC") == [MONITOR_DENY_BLOCKING]
    watcher = monitoring(srv)
    srv("MONITOR", client=watcher)
    srv("PING")
    assert len(lines(watcher)) == 1


def test_a_monitor_that_disconnects_stops_receiving():
    """A closed monitor is forgotten: later commands go to no one."""
    srv = Harness()
    watcher = monitoring(srv)
    srv.server.remove_client(watcher)
    srv("PING")
    assert srv.server.monitors == []
    assert lines(watcher) == []


def test_client_list_flags_a_monitor_with_o(srv):
    """CLIENT LIST shows flags=O for a MONITOR client."""
    watcher = monitoring(srv)
    listing = srv("CLIENT", "LIST", "ID", str(watcher.id))
    assert b" flags=O " in listing


@given(st.binary(max_size=40))
def test_quote_matches_sdscatrepr(arg):
    """quote() escapes exactly what sdscatrepr escapes and reads back with Python's rules."""
    quoted = quote(arg)
    assert quoted[:1] == quoted[-1:] == b'"'
    body = quoted[1:-1].decode("ascii")
    decoded = body.encode("latin-1").decode("unicode_escape").encode("latin-1")
    assert decoded == arg
