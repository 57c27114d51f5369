"""Reading streams and consumer groups (t_stream.c): XREAD XREADGROUP (with
BLOCK), XGROUP XACK XPENDING XCLAIM XAUTOCLAIM XINFO.

What a group command changes reaches replicas as Redis 7.0 sends it: a
delivery through XREADGROUP is an ``XCLAIM ... FORCE JUSTID LASTID`` per
entry (streamPropagateXCLAIM), a NOACK read moves the group with ``XGROUP
SETID ... ENTRIESREAD`` (and creates its consumer with ``XGROUP
CREATECONSUMER``), XCLAIM/XAUTOCLAIM propagate one XCLAIM per entry they
touch. Times (delivery, seen, idle) come from the server's clock.
"""

from itertools import islice

from sortedcontainers import SortedDict

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.help import help_reply
from redisrepl.commands.streams import (
    INVALID_START,
    get_stream,
    parse_id,
    parse_interval,
    parse_range,
    parse_strict_id,
    read_stream,
)
from redisrepl.commands.table import command
from redisrepl.config import NOTIFY_STREAM
from redisrepl.ctext import string2ll
from redisrepl.resp.values import NULL_ARRAY, OK, ReplyError
from redisrepl.stream import (
    INVALID_ENTRIES_READ,
    MAX_ID,
    Consumer,
    Group,
    Nack,
    Stream,
    format_id,
)


def no_key_or_group(key, groupname, suffix=b""):
    return ReplyError(b"NOGROUP No such key '%s' or consumer group '%s'%s"
                      % (key, groupname, suffix))


def no_group(groupname, key):
    return ReplyError(b"NOGROUP No such consumer group '%s' for key name '%s'"
                      % (groupname, key))


def lookup_group(stream, groupname):
    groups = stream.groups
    return groups.get(groupname) if groups else None


def find_consumer(group, name, now):
    """Lookup that refreshes seen-time (streamLookupConsumer SLC_DEFAULT)."""
    consumer = group.consumers.get(name)
    if consumer is not None:
        consumer.seen_time = now
    return consumer


def create_consumer(client, db, key, group, name):
    """streamCreateConsumer: a change of its own (dirty, notification)."""
    server = client.server
    consumer = Consumer(name, server.now_ms())
    group.consumers[name] = consumer
    server.dirty += 1
    server.notify(NOTIFY_STREAM, b"xgroup-createconsumer", key, db.id)
    return consumer


def xclaim_op(key, groupname, group, id_arg, nack):
    """streamPropagateXCLAIM: the idempotent XCLAIM a replica replays."""
    return [b"XCLAIM", key, groupname, nack.consumer.name, b"0", id_arg,
            b"TIME", b"%d" % nack.delivery_time,
            b"RETRYCOUNT", b"%d" % nack.delivery_count,
            b"FORCE", b"JUSTID", b"LASTID", format_id(group.last_id)]


def setid_op(key, groupname, group):
    """streamPropagateGroupID."""
    return [b"XGROUP", b"SETID", key, groupname, format_id(group.last_id),
            b"ENTRIESREAD", b"%d" % group.entries_read]


# -- XGROUP ------------------------------------------------------------------------

_XGROUP_HELP = [
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
]


@command("xgroup|help")
def xgroup_help(client, argv):
    return help_reply(argv, _XGROUP_HELP)


@command("xgroup|create", "xgroup|setid", "xgroup|destroy",
         "xgroup|createconsumer", "xgroup|delconsumer")
def xgroup(client, argv):
    sub = argv[1].lower()
    argc = len(argv)
    mkstream = False
    entries_read = INVALID_ENTRIES_READ
    i = 5
    while i < argc:
        opt = argv[i].lower()
        if sub == b"create" and opt == b"mkstream":
            mkstream = True
            i += 1
        elif sub in (b"create", b"setid") and opt == b"entriesread" \
                and i + 1 < argc:
            entries_read = parse_int(argv[i + 1])
            if entries_read < 0 and entries_read != INVALID_ENTRIES_READ:
                raise ReplyError(
                    "ERR value for ENTRIESREAD must be positive or -1")
            i += 2
        else:
            raise errors.subcommand_syntax_error(argv)
    db = client.db
    key, groupname = argv[2], argv[3]
    stream = get_stream(db, key)
    group = None
    if not mkstream:
        if stream is None:
            raise ReplyError(
                "ERR The XGROUP subcommand requires the key to exist. Note "
                "that for CREATE you may want to use the MKSTREAM option to "
                "create an empty stream automatically.")
        group = lookup_group(stream, groupname)
        if group is None and sub in (b"setid", b"createconsumer",
                                     b"delconsumer"):
            raise no_group(groupname, key)
    server = client.server
    if sub == b"create":
        if argc > 8:
            raise errors.subcommand_syntax_error(argv)
        if argv[4] == b"$":
            last_id = stream.last_id if stream is not None else 0
        else:
            last_id = parse_strict_id(argv[4])
        if stream is None:
            stream = Stream()
            db.set(key, stream)
        if stream.groups is None:
            stream.groups = SortedDict()
        if groupname in stream.groups:
            raise ReplyError("BUSYGROUP Consumer Group name already exists")
        stream.groups[groupname] = Group(last_id, entries_read)
        server.dirty += 1
        server.notify(NOTIFY_STREAM, b"xgroup-create", key, db.id)
        return OK
    if sub == b"setid":
        if argc not in (5, 7):
            raise errors.subcommand_syntax_error(argv)
        group.last_id = stream.last_id if argv[4] == b"$" \
            else parse_id(argv[4])
        group.entries_read = entries_read
        server.dirty += 1
        server.notify(NOTIFY_STREAM, b"xgroup-setid", key, db.id)
        return OK
    if argc != (4 if sub == b"destroy" else 5):
        raise errors.subcommand_syntax_error(argv)
    if sub == b"destroy":
        if group is None:
            return 0
        del stream.groups[groupname]
        server.dirty += 1
        server.notify(NOTIFY_STREAM, b"xgroup-destroy", key, db.id)
        # XREADGROUP clients blocked on it get their -NOGROUP.
        db.signal_ready(key)
        return 1
    name = argv[4]
    if sub == b"createconsumer":
        if name in group.consumers:
            return 0
        create_consumer(client, db, key, group, name)
        return 1
    consumer = group.consumers.get(name)
    if consumer is None:
        return 0
    pending = len(consumer.pel)
    group.delete_consumer(consumer)
    server.dirty += 1
    server.notify(NOTIFY_STREAM, b"xgroup-delconsumer", key, db.id)
    return pending


# -- XACK / XPENDING ---------------------------------------------------------------

@command("xack")
def xack(client, argv):
    stream = read_stream(client.db, argv[1])
    group = lookup_group(stream, argv[2]) if stream is not None else None
    if group is None:
        return 0
    ids = [parse_strict_id(arg) for arg in argv[3:]]
    acked = 0
    for entry_id in ids:
        if group.ack(entry_id):
            acked += 1
    client.server.dirty += acked
    return acked


@command("xpending")
def xpending(client, argv):
    argc = len(argv)
    if argc != 3 and not 6 <= argc <= 9:
        raise errors.SYNTAX
    key, groupname = argv[1], argv[2]
    consumername = None
    minidle = count = 0
    if argc >= 6:
        first = 3
        if argv[3].lower() == b"idle":
            minidle = parse_int(argv[4])
            if argc < 8:
                raise errors.SYNTAX
            first += 2
        count = max(parse_int(argv[first + 2]), 0)
        start, end = parse_range(argv[first], argv[first + 1])
        if first + 3 < argc:
            consumername = argv[first + 3]
    stream = read_stream(client.db, key)
    group = lookup_group(stream, groupname) if stream is not None else None
    if group is None:
        raise no_key_or_group(key, groupname)
    pel = group.pel
    if argc == 3:
        if not pel:
            return [0, None, None, NULL_ARRAY]
        owners = [[name, b"%d" % len(consumer.pel)]
                  for name, consumer in group.consumers.items()
                  if consumer.pel]
        return [len(pel), format_id(pel.peekitem(0)[0]),
                format_id(pel.peekitem(-1)[0]), owners]
    if consumername is not None:
        consumer = group.consumers.get(consumername)
        if consumer is None:
            return []
        pel = consumer.pel
    now = client.server.now_ms()
    out = []
    if start > end:
        return out
    for entry_id in pel.irange(start, end):
        if len(out) >= count:
            break
        nack = pel[entry_id]
        idle = now - nack.delivery_time
        if minidle and idle < minidle:
            continue
        out.append([format_id(entry_id), nack.consumer.name, max(idle, 0),
                    nack.delivery_count])
    return out


# -- XCLAIM / XAUTOCLAIM ------------------------------------------------------------

def _claim_lookup(client, argv):
    stream = read_stream(client.db, argv[1])
    group = lookup_group(stream, argv[2]) if stream is not None else None
    if group is None:
        raise no_key_or_group(argv[1], argv[2])
    return stream, group


def _drop_missing(client, argv, group, entry_id, id_arg, nack):
    """A pending entry deleted from the stream leaves the PEL; the XCLAIM
    propagated for it drops it on replicas too."""
    server = client.server
    server.also_propagate(client.db.id, xclaim_op(argv[1], argv[2], group,
                                                  id_arg, nack))
    server.dirty += 1
    del group.pel[entry_id]
    del nack.consumer.pel[entry_id]


def _option_int(arg, message):
    value = string2ll(arg)
    if value is None:
        raise ReplyError(message)
    return value


@command("xclaim")
def xclaim(client, argv):
    stream, group = _claim_lookup(client, argv)
    minidle = max(_option_int(
        argv[4], "ERR Invalid min-idle-time argument for XCLAIM"), 0)
    argc = len(argv)
    ids = []
    j = 5
    while j < argc:
        try:
            ids.append(parse_strict_id(argv[j]))
        except ReplyError:
            break
        j += 1
    server = client.server
    now = server.now_ms()
    retrycount = delivery = -1
    force = justid = False
    last_id = 0
    while j < argc:
        opt = argv[j].lower()
        moreargs = j + 1 < argc
        if opt == b"force":
            force = True
        elif opt == b"justid":
            justid = True
        elif opt == b"idle" and moreargs:
            j += 1
            delivery = now - _option_int(
                argv[j], "ERR Invalid IDLE option argument for XCLAIM")
        elif opt == b"time" and moreargs:
            j += 1
            delivery = _option_int(
                argv[j], "ERR Invalid TIME option argument for XCLAIM")
        elif opt == b"retrycount" and moreargs:
            j += 1
            retrycount = _option_int(
                argv[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")
        elif opt == b"lastid" and moreargs:
            j += 1
            last_id = parse_strict_id(argv[j])
        else:
            raise ReplyError(b"ERR Unrecognized XCLAIM option '%s'" % argv[j])
        j += 1
    propagate_last_id = False
    if last_id > group.last_id:
        group.last_id = last_id
        propagate_last_id = True
    if delivery == -1 or delivery < 0 or delivery > now:
        delivery = now
    client.argv = None
    db = client.db
    consumer = None
    out = []
    for index, entry_id in enumerate(ids):
        id_arg = argv[5 + index]
        nack = group.pel.get(entry_id)
        fields = stream.entries.get(entry_id)
        if fields is None:
            if nack is not None:
                _drop_missing(client, argv, group, entry_id, id_arg, nack)
                propagate_last_id = False
            continue
        if force and nack is None:
            nack = Nack(None, now)
            group.pel[entry_id] = nack
        if nack is None:
            continue
        if nack.consumer is not None and minidle and \
                now - nack.delivery_time < minidle:
            continue
        if consumer is None:
            consumer = find_consumer(group, argv[3], now) or \
                create_consumer(client, db, argv[1], group, argv[3])
        if nack.consumer is not consumer and nack.consumer is not None:
            del nack.consumer.pel[entry_id]
        nack.delivery_time = delivery
        if retrycount >= 0:
            nack.delivery_count = retrycount
        elif not justid:
            nack.delivery_count += 1
        nack.consumer = consumer
        consumer.pel[entry_id] = nack
        out.append(format_id(entry_id) if justid
                   else [format_id(entry_id), fields])
        server.also_propagate(db.id, xclaim_op(argv[1], argv[2], group,
                                               id_arg, nack))
        propagate_last_id = False
        server.dirty += 1
    if propagate_last_id:
        server.also_propagate(db.id, setid_op(argv[1], argv[2], group))
        server.dirty += 1
    return out


_XAUTOCLAIM_MAX_COUNT = ((1 << 63) - 1) // 16


@command("xautoclaim")
def xautoclaim(client, argv):
    minidle = max(_option_int(
        argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM"), 0)
    start, exclusive = parse_interval(argv[5], 0)
    if exclusive:
        if start == MAX_ID:
            raise INVALID_START
        start += 1
    count = 100
    justid = False
    argc = len(argv)
    j = 6
    while j < argc:
        opt = argv[j].lower()
        if opt == b"count" and j + 1 < argc:
            count = string2ll(argv[j + 1])
            if count is None or not 1 <= count <= _XAUTOCLAIM_MAX_COUNT:
                raise ReplyError("ERR COUNT must be > 0")
            j += 1
        elif opt == b"justid":
            justid = True
        else:
            raise errors.SYNTAX
        j += 1
    stream, group = _claim_lookup(client, argv)
    client.argv = None
    server = client.server
    db = client.db
    now = server.now_ms()
    attempts = count * 10
    consumer = None
    claimed = []
    deleted = []
    last = None
    pel = group.pel
    for entry_id in list(islice(pel.irange(minimum=start), attempts)):
        if not count:
            break
        last = entry_id
        nack = pel[entry_id]
        id_text = format_id(entry_id)
        fields = stream.entries.get(entry_id)
        if fields is None:
            _drop_missing(client, argv, group, entry_id, id_text, nack)
            deleted.append(id_text)
            count -= 1
            continue
        if minidle and now - nack.delivery_time < minidle:
            continue
        if consumer is None:
            consumer = find_consumer(group, argv[3], now) or \
                create_consumer(client, db, argv[1], group, argv[3])
        if nack.consumer is not consumer:
            del nack.consumer.pel[entry_id]
            nack.consumer = consumer
            consumer.pel[entry_id] = nack
        nack.delivery_time = now
        if not justid:
            nack.delivery_count += 1
        claimed.append(id_text if justid else [id_text, fields])
        count -= 1
        server.also_propagate(db.id, xclaim_op(argv[1], argv[2], group,
                                               id_text, nack))
        server.dirty += 1
    cursor = 0
    if last is not None:
        following = next(pel.irange(minimum=last, inclusive=(False, True)),
                         None)
        cursor = following or 0
    return [format_id(cursor), claimed, deleted]


