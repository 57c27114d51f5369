"""Connection commands: PING ECHO SELECT QUIT AUTH HELLO RESET."""

from redisrepl import REDIS_VERSION, errors
from redisrepl.commands.args import parse_int, parse_int32
from redisrepl.commands.clients import validate_name
from redisrepl.commands.table import command
from redisrepl.commands.transactions import discard_transaction
from redisrepl.resp.values import OK, PONG, Map, ReplyError, Status


@command("ping")
def ping(client, argv):
    if len(argv) > 2:
        raise errors.wrong_arity("ping")
    if client.resp == 2 and client.subscribed:
        # The subscribed form, so a RESP2 reader can tell it from messages.
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    return argv[1] if len(argv) == 2 else PONG


@command("echo")
def echo(client, argv):
    return argv[1]


@command("select")
def select(client, argv):
    index = parse_int32(argv[1])
    if not 0 <= index < len(client.server.keyspace.dbs):
        raise errors.DB_INDEX_OUT_OF_RANGE
    client.select(index)
    return OK


@command("quit")
def quit_(client, argv):
    client.close_after_reply = True
    return OK


def _check_password(client, username, password):
    """AUTH for the default user; raises WRONGPASS on a mismatch."""
    server = client.server
    if username != b"default":
        raise errors.WRONGPASS
    if server.requirepass and password != server.requirepass:
        raise errors.WRONGPASS
    client.authenticated = True


@command("auth")
def auth(client, argv):
    if len(argv) > 3:
        raise errors.SYNTAX
    if len(argv) == 2:
        if not client.server.requirepass:
            raise ReplyError(
                "ERR AUTH <password> called without any password configured "
                "for the default user. Are you sure your configuration is "
                "correct?")
        _check_password(client, b"default", argv[1])
    else:
        _check_password(client, argv[1], argv[2])
    return OK


def use_protocol(client, resp):
    """Speak RESP ``resp`` (2 or 3) to the client from this reply on."""
    client.resp = resp
    # The connection binds the matching encoder once, not once per reply.
    client.conn.resp_changed(resp)


@command("hello")
def hello(client, argv):
    version = None     # HELLO without a version keeps the current one
    if len(argv) > 1:
        try:
            version = parse_int(argv[1])
        except ReplyError:
            raise ReplyError(
                "ERR Protocol version is not an integer or out of range") from None
        if version not in (2, 3):
            raise ReplyError("NOPROTO unsupported protocol version")
    i = 2
    name = None
    while i < len(argv):
        option = argv[i].lower()
        left = len(argv) - i - 1
        if option == b"auth" and left >= 2:
            _check_password(client, argv[i + 1], argv[i + 2])
            i += 3
        elif option == b"setname" and left >= 1:
            name = argv[i + 1]
            i += 2
        else:
            raise ReplyError(b"ERR Syntax error in HELLO option '%s'" % argv[i])
    if not client.authenticated:
        raise ReplyError(
            "NOAUTH HELLO must be called with the client already "
            "authenticated, otherwise the HELLO <proto> AUTH <user> <pass> "
            "option can be used to authenticate the client and select the "
            "RESP protocol version at the same time")
    if name is not None:
        client.name = validate_name(name)
    if version is not None:
        use_protocol(client, version)
    return Map([
        (b"server", b"redis"),
        (b"version", REDIS_VERSION.encode()),
        (b"proto", client.resp),
        (b"id", client.id),
        (b"mode", b"standalone"),
        (b"role", client.server.role_name()),
        (b"modules", []),
    ])


@command("reset")
def reset(client, argv):
    server = client.server
    discard_transaction(client)
    server.pubsub.remove_client(client)
    client.select(0)
    use_protocol(client, 2)
    client.name = b""
    client.reply_off = client.reply_skip = False
    client.no_evict = False
    client.authenticated = not server.requirepass
    return Status(b"RESET")
