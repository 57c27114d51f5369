"""CLIENT: ID SETNAME GETNAME LIST INFO KILL PAUSE UNPAUSE NO-EVICT REPLY
GETREDIR TRACKINGINFO CACHING HELP (Redis 7.0's networking.c clientCommand).

Tracking (client-side caching) is not implemented: GETREDIR, TRACKINGINFO and
CACHING answer as Redis does for a client with tracking off, and TRACKING and
UNBLOCK stay unregistered, so they are unknown subcommands.
"""

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.help import help_reply
from redisrepl.commands.table import command
from redisrepl.resp.values import NO_REPLY, OK, Map, ReplyError, Set, Verbatim

BAD_NAME = ReplyError(
    "ERR Client names cannot contain spaces, newlines or special characters.")
INVALID_CLIENT_ID = ReplyError("ERR Invalid client ID")
KILL_BAD_ID = ReplyError("ERR client-id should be greater than 0")
NO_SUCH_CLIENT = ReplyError("ERR No such client")
PAUSE_BAD_MODE = ReplyError("ERR CLIENT PAUSE mode must be WRITE or ALL")
TIMEOUT_NOT_INTEGER = ReplyError(
    "ERR timeout is not an integer or out of range")
TIMEOUT_NEGATIVE = ReplyError("ERR timeout is negative")
CACHING_WITHOUT_TRACKING = ReplyError(
    "ERR CLIENT CACHING can be called only when the client is in tracking "
    "mode with OPTIN or OPTOUT mode enabled")

_INT64_MAX = (1 << 63) - 1

# getClientTypeByName: what TYPE accepts (case-insensitive).
_TYPE_NAMES = {b"normal": "normal", b"master": "master", b"replica": "replica",
               b"slave": "replica", b"pubsub": "pubsub"}

# CLIENT LIST's flag letters in the order Redis prints them. Letters other
# modules own live in client.flags (S replica, O monitor, M master, P pub/sub,
# b blocked, d dirty CAS ...); the rest are derived from client state here.
_FLAG_ORDER = "OSMPxbtRBdcuAUre"


def validate_name(name):
    """A client name as Redis accepts it: printable ASCII, no spaces."""
    if any(c < 0x21 or c > 0x7E for c in name):
        raise BAD_NAME
    return name


# -- describing clients --------------------------------------------------------

def client_type(client):
    """Redis's getClientType: master, replica, pubsub or normal."""
    flags = client.flags
    if "M" in flags:
        return "master"
    if "S" in flags:     # a MONITOR client is flagged O and counts as normal
        return "replica"
    if "P" in flags:
        return "pubsub"
    return "normal"


def flags_string(client):
    """The flags= field: derived letters plus client.flags, in Redis's order."""
    letters = set(client.flags)
    if client.multi is not None:
        letters.add("x")
    if client.close_after_reply:
        letters.add("c")
    if client.is_unix:
        letters.add("U")
    if client.no_evict:
        letters.add("e")
    return "".join(ch for ch in _FLAG_ORDER if ch in letters) or "N"


def _subscription_counts(client):
    """(channels, patterns, shard channels): pub/sub is not implemented yet."""
    return 0, 0, 0


def _args_memory(argv):
    """Redis's argv_len_sum: the bytes of the arguments."""
    return sum(len(arg) for arg in argv)


def client_info_line(client, caller):
    """One CLIENT LIST line (no newline), fields as Redis 7.0.15 prints them.

    Buffer and memory fields Redis measures in its allocator are approximated
    from what we know: qbuf is the bytes waiting in the parser, argv-mem the
    caller's current arguments, multi-mem the queued MULTI commands counted as
    Redis does (argument bytes plus one pointer each); the read and output
    buffers belong to Twisted and are reported as 0.
    """
    now_s = client.server.now_ms() // 1000
    qbuf = client.conn.query_buffer_size()
    argv_mem = _args_memory(client.argv) if client is caller and client.argv else 0
    if client.multi is None:
        multi, multi_mem = -1, 0
    else:
        multi = len(client.multi)
        multi_mem = sum(_args_memory(argv) + 8 * len(argv)
                        for _cmd, argv in client.multi)
    sub, psub, ssub = _subscription_counts(client)
    # Redis sets lastcmd before running a command: the caller shows itself.
    last = client.cmd
    return (
        b"id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d "
        b"sub=%d psub=%d ssub=%d multi=%d qbuf=%d qbuf-free=0 argv-mem=%d "
        b"multi-mem=%d rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=%d events=r "
        b"cmd=%s user=%s redir=-1 resp=%d" % (
            client.id, client.addr, client.laddr, client.fd, client.name,
            now_s - client.created_ms // 1000,
            now_s - client.last_interaction_ms // 1000,
            flags_string(client).encode(), client.db.id, sub, psub, ssub,
            multi, qbuf, argv_mem, multi_mem, qbuf + argv_mem + multi_mem,
            last.fullname.encode() if last is not None else b"NULL",
            # A replica's master client runs as no user at all (Redis's
            # NULL user, shown so).
            b"(superuser)" if client.is_master else b"default",
            client.resp))


def _parse_type(name):
    kind = _TYPE_NAMES.get(name.lower())
    if kind is None:
        raise ReplyError(b"ERR Unknown client type '%s'" % name)
    return kind


# -- handlers --------------------------------------------------------------------

@command("client|id")
def client_id(client, argv):
    return client.id


@command("client|setname")
def client_setname(client, argv):
    client.name = validate_name(argv[2])
    return OK


@command("client|getname")
def client_getname(client, argv):
    return client.name or None


@command("client|list")
def client_list(client, argv):
    clients = client.server.clients
    if len(argv) == 4 and argv[2].lower() == b"type":
        kind = _parse_type(argv[3])
        chosen = [c for c in clients.values() if client_type(c) == kind]
    elif len(argv) > 3 and argv[2].lower() == b"id":
        # Every id is parsed before any is looked up; a repeated id repeats.
        ids = [parse_int(arg, INVALID_CLIENT_ID) for arg in argv[3:]]
        chosen = [clients[i] for i in ids if i in clients]
    elif len(argv) != 2:
        raise errors.SYNTAX
    else:
        chosen = list(clients.values())
    return Verbatim(b"".join(client_info_line(c, client) + b"\n" for c in chosen))


@command("client|info")
def client_info(client, argv):
    return Verbatim(client_info_line(client, client) + b"\n")


class _KillFilter:
    """CLIENT KILL's criteria (clientKillCommand)."""

    def __init__(self):
        self.addr = self.laddr = self.kind = None
        self.id = 0
        self.skipme = True

    def matches(self, other, caller):
        return not (
            (self.addr is not None and other.addr != self.addr)
            or (self.laddr is not None and other.laddr != self.laddr)
            or (self.kind is not None and client_type(other) != self.kind)
            or (self.id and other.id != self.id)
            or (other is caller and self.skipme))


def _parse_kill_filter(argv):
    kill = _KillFilter()
    if len(argv) == 3:
        # The old form, CLIENT KILL ip:port, may kill the caller itself.
        kill.addr = argv[2]
        kill.skipme = False
        return kill
    i = 2
    while i < len(argv):
        option = argv[i].lower()
        if i + 1 >= len(argv):
            raise errors.SYNTAX
        value = argv[i + 1]
        if option == b"id":
            kill.id = parse_int(value, KILL_BAD_ID)
            if kill.id < 1:
                raise KILL_BAD_ID
        elif option == b"type":
            kill.kind = _parse_type(value)
        elif option == b"addr":
            kill.addr = value
        elif option == b"laddr":
            kill.laddr = value
        elif option == b"user":
            # No ACLs: every connection is the default user.
            if value != b"default":
                raise ReplyError(b"ERR No such user '%s'" % value)
        elif option == b"skipme":
            skip = value.lower()
            if skip not in (b"yes", b"no"):
                raise errors.SYNTAX
            kill.skipme = skip == b"yes"
        else:
            raise errors.SYNTAX
        i += 2
    return kill


@command("client|kill")
def client_kill(client, argv):
    server = client.server
    kill = _parse_kill_filter(argv)
    killed = 0
    for other in list(server.clients.values()):
        if not kill.matches(other, client):
            continue
        killed += 1
        if other is client:
            # The caller gets its reply first, then the connection closes.
            client.close_after_reply = True
        else:
            # Gone at once, as Redis's freeClient: no longer listed or matched.
            other.close()
            server.remove_client(other)
    if len(argv) == 3:
        if not killed:
            raise NO_SUCH_CLIENT
        return OK
    return killed


@command("client|pause")
def client_pause(client, argv):
    if len(argv) > 4:
        raise errors.subcommand_syntax_error(argv)
    pause_all = True
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode == b"write":
            pause_all = False
        elif mode != b"all":
            raise PAUSE_BAD_MODE
    timeout = parse_int(argv[2], TIMEOUT_NOT_INTEGER)
    if timeout < 0:
        raise TIMEOUT_NEGATIVE
    server = client.server
    # Redis 7.0 adds the timeout to now unchecked: an end past INT64_MAX wraps
    # into the past, and a 0 timeout ends at once; neither pauses anything.
    if timeout:
        end = server.now_ms() + timeout
        if end <= _INT64_MAX:
            server.pause(end, pause_all)
    return OK


@command("client|unpause")
def client_unpause(client, argv):
    client.server.unpause()
    return OK


def _on_off(arg):
    """True for ON, False for OFF (any case), else a syntax error."""
    value = arg.lower()
    if value == b"on":
        return True
    if value == b"off":
        return False
    raise errors.SYNTAX


@command("client|no-evict")
def client_no_evict(client, argv):
    client.no_evict = _on_off(argv[2])
    return OK


@command("client|reply")
def client_reply(client, argv):
    mode = argv[2].lower()
    if mode == b"on":
        client.reply_off = client.reply_skip = False
        return OK
    if mode == b"off":
        client.reply_off = True
        return NO_REPLY
    if mode == b"skip":
        # Nothing now, and the next command's reply is dropped too.
        if not client.reply_off:
            client.reply_skip = True
        return NO_REPLY
    raise errors.SYNTAX


@command("client|getredir")
def client_getredir(client, argv):
    return -1


@command("client|trackinginfo")
def client_trackinginfo(client, argv):
    return Map([(b"flags", Set([b"off"])), (b"redirect", -1), (b"prefixes", [])])


@command("client|caching")
def client_caching(client, argv):
    raise CACHING_WITHOUT_TRACKING


_CLIENT_HELP = (
    'CACHING (YES|NO)',
    '    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.',
    'GETREDIR',
    '    Return the client ID we are redirecting to when tracking is enabled.',
    'GETNAME',
    '    Return the name of the current connection.',
    'ID',
    '    Return the ID of the current connection.',
    'INFO',
    '    Return information about the current client connection.',
    'KILL <ip:port>',
    '    Kill connection made from <ip:port>.',
    'KILL <option> <value> [<option> <value> [...]]',
    '    Kill connections. Options are:',
    '    * ADDR (<ip:port>|<unixsocket>:0)',
    '      Kill connections made from the specified address',
    '    * LADDR (<ip:port>|<unixsocket>:0)',
    '      Kill connections made to specified local address',
    '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
    '      Kill connections by type.',
    '    * USER <username>',
    '      Kill connections authenticated by <username>.',
    '    * SKIPME (YES|NO)',
    '      Skip killing current connection (default: yes).',
    'LIST [options ...]',
    '    Return information about client connections. Options:',
    '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
    '      Return clients of specified type.',
    'UNPAUSE',
    '    Stop the current client pause, resuming traffic.',
    'PAUSE <timeout> [WRITE|ALL]',
    '    Suspend all, or just write, clients for <timeout> milliseconds.',
    'REPLY (ON|OFF|SKIP)',
    '    Control the replies sent to the current connection.',
    'SETNAME <name>',
    '    Assign the name <name> to the current connection.',
    'UNBLOCK <clientid> [TIMEOUT|ERROR]',
    '    Unblock the specified blocked client.',
    'TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]',
    '         [OPTIN] [OPTOUT] [NOLOOP]',
    '    Control server assisted client side caching.',
    'TRACKINGINFO',
    '    Report tracking status for the current connection.',
    'NO-EVICT (ON|OFF)',
    '    Protect current client connection from eviction.',
)


@command("client|help")
def client_help(client, argv):
    return help_reply(argv, _CLIENT_HELP)
