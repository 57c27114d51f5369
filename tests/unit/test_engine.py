"""engine.call: lookup, arity, auth, pause, stats, slowlog and propagation."""

from redisrepl import engine
from redisrepl.resp.values import OK, ReplyError
from tests.unit.harness import Harness


def test_unknown_command_error_quotes_the_arguments():
    """An unknown command gets Redis 7.0's text, listing its first arguments."""
    srv = Harness()
    assert srv("FOO") == ReplyError(
        "ERR unknown command 'FOO', with args beginning with: ")
    assert srv("FOO", "a", "b") == ReplyError(
        "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")


def test_unknown_command_arguments_are_cut_at_128_chars():
    """Quoted arguments stop once 128 characters have been quoted."""
    srv = Harness()
    reply = srv("FOO", "x" * 200, "y")
    assert reply.message == (
        b"ERR unknown command 'FOO', with args beginning with: '"
        + b"x" * 128 + b"' ")


def test_wrong_arity_names_the_command_in_lower_case():
    """GET a b is rejected with Redis's arity error before any handler runs."""
    srv = Harness()
    assert srv("GET", "a", "b") == ReplyError(
        "ERR wrong number of arguments for 'get' command")


def test_subcommand_arity_and_unknown_subcommand():
    """Container commands check the subcommand and report it as Redis does."""
    srv = Harness()
    assert srv("CONFIG") == ReplyError(
        "ERR wrong number of arguments for 'config' command")
    assert srv("config", "nope") == ReplyError(
        "ERR unknown subcommand 'nope'. Try CONFIG HELP.")
    assert srv("CONFIG", "GET") == ReplyError(
        "ERR wrong number of arguments for 'config|get' command")


def test_rejections_are_counted_as_errors():
    """Rejected commands bump rejected_calls and the error stats."""
    srv = Harness()
    srv("GET", "a", "b")
    get = srv.server.table.lookup(b"get")
    assert get.rejected_calls == 1 and get.calls == 0
    assert srv.server.errorstats == {"ERR": 1}
    assert srv.server.total_error_replies == 1


def test_noauth_until_authenticated():
    """With requirepass, only no-auth commands run before AUTH."""
    srv = Harness('requirepass "s3cret"')
    client = srv.new_client()
    assert srv("PING", client=client) == ReplyError(
        "NOAUTH Authentication required.")
    assert srv("AUTH", "wrong", client=client) == ReplyError(
        "WRONGPASS invalid username-password pair or user is disabled.")
    assert srv("AUTH", "s3cret", client=client) is OK
    assert srv("PING", client=client) == b"+PONG\r\n"


def test_handler_stats_and_failed_calls():
    """Calls, failures and total_commands are counted per command."""
    srv = Harness()
    srv("PING")
    srv("SELECT", "99")
    assert srv.server.table.lookup(b"ping").calls == 1
    select = srv.server.table.lookup(b"select")
    assert select.calls == 1 and select.failed_calls == 1
    assert srv.server.total_commands == 2


def test_slowlog_records_commands_over_the_threshold():
    """slowlog-log-slower-than 0 records every command, newest first."""
    srv = Harness("slowlog-log-slower-than 0")
    srv("ECHO", "hello")
    entry = srv.server.slowlog.entries[0]
    assert entry[3] == [b"ECHO", b"hello"]
    assert entry[4] == srv.client.addr


def test_writes_propagate_their_argv_with_the_db():
    """A command that bumps dirty propagates its argv in its db."""
    srv = Harness()
    srv("SELECT", "5")
    srv("SET", "k", "v")
    assert srv.propagated_with_db == [(5, [b"SET", b"k", b"v"])]


def test_commands_that_change_nothing_do_not_propagate():
    """Reads (dirty unchanged) propagate nothing."""
    srv = Harness()
    srv("PING")
    srv("ECHO", "x")
    assert srv.propagated == []


def test_lazily_expired_key_propagates_del_before_the_command():
    """Touching an expired key deletes it and propagates DEL first."""
    srv = Harness()
    srv.db.set(b"gone", b"v")
    srv.db.set_expire(b"gone", srv.server.now_ms() + 1000)
    srv.advance(2)
    srv("SET", "gone", "new")
    assert srv.propagated == [
        [b"MULTI"], [b"DEL", b"gone"], [b"SET", b"gone", b"new"], [b"EXEC"]]


def test_client_pause_write_holds_writes_only():
    """CLIENT PAUSE WRITE makes call() hold writes and run reads."""
    srv = Harness()
    srv.server.pause(srv.server.now_ms() + 1000, pause_all=False)
    assert srv("SET", "k", "v") is engine.PAUSED
    assert srv("PING") == b"+PONG\r\n"
    srv.advance(2)
    assert srv("SET", "k", "v") is OK


def test_rename_command_hides_the_old_name():
    """rename-command makes the new name work and the old one unknown."""
    srv = Harness('rename-command ECHO SHOUT')
    assert srv("SHOUT", "x") == b"x"
    assert srv("ECHO", "x").message.startswith(b"ERR unknown command 'ECHO'")


def test_expired_keys_propagate_unlink_with_lazyfree_lazy_expire():
    """lazyfree-lazy-expire yes makes expiry propagate UNLINK, as Redis."""
    srv = Harness("lazyfree-lazy-expire yes")
    srv.db.set(b"gone", b"v")
    srv.db.set_expire(b"gone", srv.server.now_ms() + 10)
    srv.advance(1)
    assert srv("GET", "gone") is None
    assert srv.propagated == [[b"UNLINK", b"gone"]]


def test_select_beyond_int32_uses_redis_range_error(srv):
    """SELECT past 32 bits reports Redis's int range text."""
    assert srv("SELECT", "4294967296") == ReplyError(
        "ERR value is out of range, value must between -2147483648 and 2147483647")
