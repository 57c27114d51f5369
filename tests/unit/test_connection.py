"""Connection commands: PING ECHO SELECT QUIT AUTH HELLO RESET."""

from redisrepl import REDIS_VERSION
from redisrepl.resp.values import OK, Map, ReplyError, Status
from tests.unit.harness import Harness


def test_ping_and_echo(srv):
    """PING answers PONG or its argument; ECHO returns its argument."""
    assert srv("PING") == b"+PONG\r\n"
    assert srv("PING", "hi") == b"hi"
    assert srv("ECHO", "x y") == b"x y"
    assert srv("PING", "a", "b") == ReplyError(
        "ERR wrong number of arguments for 'ping' command")


def test_select_switches_database_and_checks_range(srv):
    """SELECT changes the client's db; bad indexes get Redis's errors."""
    assert srv("SELECT", "3") is OK
    assert srv.client.db.id == 3
    assert srv("SELECT", "16") == ReplyError("ERR DB index is out of range")
    assert srv("SELECT", "-1") == ReplyError("ERR DB index is out of range")
    assert srv("SELECT", "x") == ReplyError(
        "ERR value is not an integer or out of range")


def test_quit_replies_ok_then_closes(srv):
    """QUIT marks the client to be closed after its +OK."""
    assert srv("QUIT") is OK
    assert srv.client.close_after_reply


def test_auth_without_requirepass_is_an_error(srv):
    """AUTH with no password configured gets Redis's explanatory error."""
    reply = srv("AUTH", "x")
    assert reply.message.startswith(
        b"ERR AUTH <password> called without any password configured")


def test_auth_default_user_form():
    """AUTH default <pass> works; another user name is WRONGPASS."""
    srv = Harness('requirepass pw')
    client = srv.new_client()
    assert srv("AUTH", "bob", "pw", client=client).message.startswith(b"WRONGPASS")
    assert srv("AUTH", "default", "pw", client=client) is OK
    assert client.authenticated


def test_hello_2_describes_the_server(srv):
    """HELLO 2 returns Redis's map of server facts."""
    reply = srv("HELLO", "2")
    assert isinstance(reply, Map)
    fields = dict(reply)
    assert fields[b"server"] == b"redis"
    assert fields[b"version"] == REDIS_VERSION.encode()
    assert fields[b"proto"] == 2
    assert fields[b"id"] == srv.client.id
    assert fields[b"role"] == b"master"


def test_hello_refuses_versions_other_than_2_and_3(srv):
    """HELLO 1 and 4 answer NOPROTO; a non-number is Redis's integer error."""
    for version in ("1", "4"):
        assert srv("HELLO", version) == ReplyError(
            "NOPROTO unsupported protocol version")
    assert srv("HELLO", "x") == ReplyError(
        "ERR Protocol version is not an integer or out of range")


def test_hello_auth_and_setname():
    """HELLO 2 AUTH ... SETNAME ... authenticates and names the client."""
    srv = Harness('requirepass pw')
    client = srv.new_client()
    assert srv("HELLO", "2", client=client).message.startswith(b"NOAUTH HELLO")
    reply = srv("HELLO", "2", "AUTH", "default", "pw", "SETNAME", "me",
                client=client)
    assert isinstance(reply, Map)
    assert client.authenticated and client.name == b"me"


def test_reset_restores_connection_defaults():
    """RESET goes back to db 0, no name, reply on, unauthenticated."""
    srv = Harness('requirepass pw')
    client = srv.new_client()
    srv("AUTH", "pw", client=client)
    srv("SELECT", "2", client=client)
    client.name = b"x"
    assert srv("RESET", client=client) == Status(b"RESET")
    assert client.db.id == 0 and client.name == b""
    assert not client.authenticated
