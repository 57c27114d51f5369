"""COMMAND and its subcommands: the command table as Redis 7.0 describes it.

COMMAND INFO and COMMAND DOCS are built from the metadata each Command carries
(captured from redis-server 7.0 as typed JSON, see table.py), converted by one
function, ``to_reply``. Only commands with a handler are described, and a
container lists only its registered subcommands: COMMAND never advertises what
this server cannot do. COMMAND GETKEYS finds keys the way Redis's
getKeysFromCommandWithSpecs does: from the key specs, falling back to the
command's own key finder where its specs cannot say.
"""

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.help import help_reply
from redisrepl.commands.table import command
from redisrepl.glob import glob_match
from redisrepl.resp.values import Map, ReplyError, Set, Status

INVALID_COMMAND = ReplyError("ERR Invalid command specified")
NO_KEY_ARGUMENTS = ReplyError("ERR The command has no key arguments")
INVALID_ARGUMENT_COUNT = ReplyError(
    "ERR Invalid number of arguments specified for command")
INVALID_ARGUMENTS = ReplyError("ERR Invalid arguments specified for command")


# -- the typed JSON metadata as reply values --------------------------------

def to_reply(node):
    """Captured RESP3-typed JSON -> reply values.

    {"+": s} is a simple string, {"%": [[k, v], ...]} a map, {"~": [...]} a
    set (the encoder flattens maps and sets to arrays in RESP2); a JSON string
    is a bulk string, a number an integer, a list an array.
    """
    if type(node) is dict:
        (kind, value), = node.items()
        if kind == "+":
            return Status(value.encode())
        if kind == "%":
            return Map([(to_reply(k), to_reply(v)) for k, v in value])
        if kind == "~":
            return Set([to_reply(item) for item in value])
        raise ValueError(f"unknown RESP3 type {kind!r} in command metadata")
    if type(node) is list:
        return [to_reply(item) for item in node]
    if type(node) is str:
        return node.encode()
    return node   # int or None


def converted(node):
    """to_reply(node), converted once: the metadata never changes, and
    redis-cli asks for all of it (COMMAND DOCS) each time it starts."""
    hit = _CONVERTED.get(id(node))
    if hit is None or hit[0] is not node:
        # Keeping the node alive keeps its id from being reused.
        hit = _CONVERTED[id(node)] = (node, to_reply(node))
    return hit[1]


_CONVERTED = {}


def command_info(cmd):
    """One command's COMMAND INFO entry (None for an unknown command)."""
    if cmd is None:
        return None
    reply = converted(cmd.info)
    if cmd.subcommands:
        # Only the registered subcommands, not all those Redis has.
        reply = reply[:9]
        reply.append([command_info(sub) for sub in subcommands_of(cmd)])
    return reply


def command_docs(cmd):
    """One command's COMMAND DOCS map."""
    docs = converted(cmd.docs)
    if cmd.subcommands:
        subcommands = Map([(sub.fullname.encode(), command_docs(sub))
                           for sub in subcommands_of(cmd)])
        docs = Map([(key, subcommands if key == b"subcommands" else value)
                    for key, value in docs])
    return docs


def subcommands_of(cmd):
    """A container's registered subcommands, in the order Redis lists them
    (its captured metadata's), so a fully served container reads the same."""
    if not cmd.subcommands:
        return []
    order = {info[0]: i for i, info in enumerate(cmd.info[9])}
    return sorted(cmd.subcommands.values(), key=lambda sub: order[sub.fullname])


# -- lookups -----------------------------------------------------------------

def lookup_by_fullname(table, name):
    """A Command by its full name (b"get", b"config|get"), as Redis's
    lookupCommandBySds: case-insensitive, exactly one level of subcommand."""
    parts = name.split(b"|")
    cmd = table.lookup(parts[0])
    if cmd is None or len(parts) == 1:
        return cmd
    if len(parts) > 2 or not cmd.subcommands:
        return None
    return table.lookup_subcommand(cmd, parts[1])


def lookup_for_argv(table, argv):
    """The Command a full command line would run, as Redis's lookupCommand."""
    cmd = table.lookup(argv[0])
    if cmd is None or len(argv) == 1 or not cmd.subcommands:
        return cmd
    return table.lookup_subcommand(cmd, argv[1])


def _walk(table):
    """Every command, each followed by its subcommands."""
    for cmd in table:
        yield cmd
        yield from subcommands_of(cmd)


# -- handlers ------------------------------------------------------------------

@command("command")
def command_(client, argv):
    return [command_info(cmd) for cmd in client.server.table]


@command("command|count")
def command_count(client, argv):
    return len(client.server.table)


@command("command|info")
def command_info_(client, argv):
    table = client.server.table
    if len(argv) == 2:
        return [command_info(cmd) for cmd in table]
    return [command_info(lookup_by_fullname(table, name)) for name in argv[2:]]


@command("command|docs")
def command_docs_(client, argv):
    table = client.server.table
    if len(argv) == 2:
        commands = list(table)
    else:
        commands = [cmd for cmd in (lookup_by_fullname(table, name)
                                    for name in argv[2:]) if cmd is not None]
    return Map([(cmd.fullname.encode(), command_docs(cmd)) for cmd in commands])


@command("command|list")
def command_list(client, argv):
    keep = None
    i = 2
    while i < len(argv):
        # FILTERBY must be the last option (Redis wants exactly 2 more args).
        if argv[i].lower() == b"filterby" and len(argv) - 1 - i == 2:
            keep = _list_filter(argv[i + 1].lower(), argv[i + 2])
            i += 3
        else:
            raise errors.SYNTAX
    return [cmd.fullname.encode() for cmd in _walk(client.server.table)
            if keep is None or keep(cmd)]


def _list_filter(kind, arg):
    """COMMAND LIST's FILTERBY predicate on a Command."""
    if kind == b"module":
        return lambda cmd: False       # no modules are loaded
    if kind == b"aclcat":
        category = "@" + arg.decode("latin-1").lower()
        return lambda cmd: any(c["+"] == category for c in cmd.info[6]["~"])
    if kind == b"pattern":
        return lambda cmd: glob_match(arg, cmd.fullname.encode(), nocase=True)
    raise errors.SYNTAX


@command("command|getkeys")
def command_getkeys(client, argv):
    return [argv[2 + pos] for pos, _ in _keys_of(client, argv)]


@command("command|getkeysandflags")
def command_getkeysandflags(client, argv):
    return [[argv[2 + pos], Set([Status(flag.encode()) for flag in flags])]
            for pos, flags in _keys_of(client, argv)]


_HELP = (
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
)


@command("command|help")
def command_help(client, argv):
    return help_reply(argv, _HELP)


# -- COMMAND GETKEYS -----------------------------------------------------------

def _keys_of(client, argv):
    """(position in the command line, key flags) of each key, or an error."""
    line = argv[2:]
    cmd = lookup_for_argv(client.server.table, line)
    if cmd is None:
        raise INVALID_COMMAND
    specs = key_specs(cmd)
    finder = _KEY_FINDERS.get(cmd.fullname)
    if finder is None and not any("not_key" not in spec[0] for spec in specs):
        raise NO_KEY_ARGUMENTS
    if not cmd.arity_ok(len(line)):
        raise INVALID_ARGUMENT_COUNT
    keys = None
    # Redis prefers the key specs unless one says its flags vary with the
    # arguments; a spec that cannot tell (incomplete, unknown) defers to the
    # command's own finder.
    if specs and not any("variable_flags" in spec[0] for spec in specs):
        keys = keys_from_specs(cmd, specs, line)
    if keys is None:
        keys = finder(line) if finder is not None else []
    if not keys and "no_mandatory_keys" not in cmd.flags:
        raise INVALID_ARGUMENTS
    return keys


def key_specs(cmd):
    """A command's key specs as (flags, begin_search, find_keys) tuples, the
    last two as (type, {field: value})."""
    specs = []
    for spec in cmd.info[8]["~"]:
        fields = dict(spec["%"])
        flags = [flag["+"] for flag in fields["flags"]["~"]]
        specs.append((flags, _search_step(fields["begin_search"]),
                      _search_step(fields["find_keys"])))
    return specs


def _search_step(node):
    fields = dict(node["%"])
    return fields["type"], dict(fields["spec"]["%"])


def keys_from_specs(cmd, specs, argv):
    """Redis's getKeysUsingKeySpecs: the keys, or None if a spec cannot say."""
    argc = len(argv)
    keys = []
    for flags, (begin, begin_spec), (find, find_spec) in specs:
        if "not_key" in flags:
            continue
        if begin == "index":
            first = begin_spec["index"]
        elif begin == "keyword":
            first = _after_keyword(argv, begin_spec["keyword"],
                                   begin_spec["startfrom"])
            if not first:
                continue
        else:
            return None
        if find == "range":
            step = find_spec["keystep"]
            lastkey, limit = find_spec["lastkey"], find_spec["limit"]
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + ((argc - first) // limit + lastkey)
        elif find == "keynum":
            step = find_spec["keystep"]
            if find_spec["keynumidx"] >= argc:
                return None
            numkeys = _string2ll(argv[first + find_spec["keynumidx"]])
            if numkeys is None or numkeys < 0:
                return None
            first += find_spec["firstkey"]
            last = first + numkeys - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        keys.extend((pos, flags) for pos in range(first, last + 1, step))
        if "incomplete" in flags:
            return None
    return keys


def _after_keyword(argv, keyword, startfrom):
    """Index after ``keyword``, searched from ``startfrom`` (backwards when
    negative); 0 when absent."""
    argc = len(argv)
    keyword = keyword.encode().lower()
    if startfrom > 0:
        positions = range(startfrom, argc - 1)
    else:
        positions = range(argc + startfrom, 1, -1)
    for i in positions:
        if i >= argc or i < 1:
            break
        if argv[i].lower() == keyword:
            return i + 1
    return 0


def _string2ll(arg):
    try:
        return parse_int(arg)
    except ReplyError:
        return None


# Redis's getkeys_proc functions, for the commands whose specs can fail.

def _counted_keys(store_at, count_at, first_at):
    """genericGetKeys: [STORE] <numkeys> <key> ... (atoi, as Redis)."""
    def find(argv):
        num = _atoi(argv[count_at])
        if num < 1 or num > len(argv) - first_at:
            return []
        keys = [(first_at + i, ()) for i in range(num)]
        if store_at:
            keys.append((store_at, ()))
        return keys
    return find


def _atoi(arg):
    """C's atoi: leading blanks, a sign, digits; anything else ends it."""
    text = arg.lstrip(b" \t\n\v\f\r")
    sign = 1
    if text[:1] in (b"+", b"-"):
        sign = -1 if text[:1] == b"-" else 1
        text = text[1:]
    digits = len(text) - len(text.lstrip(b"0123456789"))
    return sign * int(text[:digits]) if digits else 0


def _set_keys(argv):
    for arg in argv[3:]:
        if arg.lower() == b"get":
            return [(1, ("RW", "access", "update"))]
    return [(1, ("OW", "update"))]


def _bitfield_keys(argv):
    readonly = True
    i = 2
    while i < len(argv):
        remaining = len(argv) - i - 1
        arg = argv[i].lower()
        if arg == b"get" and remaining >= 2:
            i += 2
        elif arg in (b"set", b"incrby") and remaining >= 3:
            readonly = False
            break
        elif arg == b"overflow" and remaining >= 1:
            i += 1
        else:
            readonly = False   # a syntax error: safer to assume a write
            break
        i += 1
    flags = ("RO", "access") if readonly else ("RW", "access", "update")
    return [(1, flags)]


def _sort_keys(argv):
    keys = [(1, ("RO", "access"))]
    store = None
    skip = {b"limit": 2, b"get": 1, b"by": 1}
    i = 2
    while i < len(argv):
        arg = argv[i].lower()
        if arg in skip:
            i += skip[arg]
        elif arg == b"store" and i + 1 < len(argv):
            # The last STORE wins, as in SORT itself.
            store = (i + 1, ("OW", "update"))
        i += 1
    if store is not None:
        keys.append(store)
    return keys


def _sort_ro_keys(argv):
    return [(1, ("RO", "access"))]


def _migrate_keys(argv):
    first, num = 3, 1
    skip = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}
    i = 6
    while i < len(argv):
        arg = argv[i].lower()
        if arg == b"keys":
            if argv[3]:
                num = 0    # a syntax error MIGRATE will report
            else:
                first, num = i + 1, len(argv) - i - 1
            break
        i += skip.get(arg, 0) + 1
    return [(first + i, ("RW", "access", "delete")) for i in range(num)]


_KEY_FINDERS = {
    "set": _set_keys,
    "bitfield": _bitfield_keys,
    "sort": _sort_keys,
    "sort_ro": _sort_ro_keys,
    "migrate": _migrate_keys,
    "zunionstore": _counted_keys(1, 2, 3),
    "zinterstore": _counted_keys(1, 2, 3),
    "zdiffstore": _counted_keys(1, 2, 3),
    "zunion": _counted_keys(0, 1, 2),
    "zinter": _counted_keys(0, 1, 2),
    "zdiff": _counted_keys(0, 1, 2),
    "zintercard": _counted_keys(0, 1, 2),
    "sintercard": _counted_keys(0, 1, 2),
    "lmpop": _counted_keys(0, 1, 2),
    "zmpop": _counted_keys(0, 1, 2),
    "blmpop": _counted_keys(0, 2, 3),
    "bzmpop": _counted_keys(0, 2, 3),
    "eval": _counted_keys(0, 2, 3),
    "evalsha": _counted_keys(0, 2, 3),
    "eval_ro": _counted_keys(0, 2, 3),
    "evalsha_ro": _counted_keys(0, 2, 3),
    "fcall": _counted_keys(0, 2, 3),
    "fcall_ro": _counted_keys(0, 2, 3),
}
