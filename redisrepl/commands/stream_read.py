"""XREAD and XREADGROUP (t_stream.c xreadCommand), BLOCK included.

A read that can serve answers at once; otherwise, with BLOCK, the client
waits in the blocking registry and is served (serveClientsBlockedOnStreamKey)
when an XADD moves the stream past the ID it waits for -- for XREADGROUP ``>``,
past its group's last delivered ID. Neither command is propagated itself:
a group read propagates its effects (see stream_groups.py).
"""

from redisrepl import errors
from redisrepl.commands.args import parse_int, parse_timeout_ms
from redisrepl.commands.stream_groups import (
    create_consumer,
    find_consumer,
    lookup_group,
    no_key_or_group,
    setid_op,
    xclaim_op,
)
from redisrepl.commands.streams import entries_reply, parse_strict_id, read_stream
from redisrepl.commands.table import command
from redisrepl.resp.values import NULL_ARRAY, Map, ReplyError
from redisrepl.stream import MAX_ID, Nack, Stream, format_id

XREAD_BLOCKED_DEFAULT_COUNT = 1000
GROUP_GONE = ReplyError(
    "NOGROUP the consumer group this client was blocked on no longer exists")


# -- XREAD / XREADGROUP ------------------------------------------------------------

def _deliver(client, db, key, stream, start, count, group, consumer, noack,
             groupname):
    """streamReplyWithRange for new entries: the entries from ``start``;
    with a group, advance it and record (and propagate) the deliveries."""
    items = stream.range(start, MAX_ID, count)
    if group is None:
        return entries_reply(items)
    server = client.server
    now = server.now_ms()
    propagate_last_id = False
    propagated = False
    out = []
    for entry_id, fields in items:
        if entry_id > group.last_id:
            stream.advance_group(group, entry_id)
            if noack:
                propagate_last_id = True
        id_text = format_id(entry_id)
        out.append([id_text, fields])
        if noack:
            continue
        nack = group.pel.get(entry_id)
        if nack is None:
            nack = Nack(consumer, now)
            group.pel[entry_id] = nack
        else:
            del nack.consumer.pel[entry_id]
            nack.consumer = consumer
            nack.delivery_time = now
            nack.delivery_count = 1
        consumer.pel[entry_id] = nack
        server.also_propagate(db.id, xclaim_op(key, groupname, group, id_text,
                                               nack))
        propagated = True
    if propagate_last_id:
        server.also_propagate(db.id, setid_op(key, groupname, group))
        propagated = True
    if propagated:
        server.dirty += 1
    return out


def _history(client, stream, start, count, consumer):
    """streamReplyWithRangeFromConsumerPEL: this consumer's pending entries
    from ``start``; a deleted entry shows as [id, nil]."""
    now = client.server.now_ms()
    out = []
    for entry_id in consumer.pel.irange(minimum=start):
        if count and len(out) >= count:
            break
        fields = stream.entries.get(entry_id)
        if fields is None:
            out.append([format_id(entry_id), NULL_ARRAY])
        else:
            nack = consumer.pel[entry_id]
            nack.delivery_time = now
            nack.delivery_count += 1
            out.append([format_id(entry_id), fields])
    return out


def _serve_consumer(client, db, key, group, groupname, consumername, noack):
    """The consumer a read serves, created if new (NOACK propagates that)."""
    server = client.server
    consumer = find_consumer(group, consumername, server.now_ms())
    if consumer is None:
        consumer = create_consumer(client, db, key, group, consumername)
        if noack:
            server.also_propagate(db.id, [b"XGROUP", b"CREATECONSUMER", key,
                                          groupname, consumername])
    return consumer


def keyed_reply(client, items):
    """[[key, entries], ...] in RESP2, a map in RESP3."""
    if client.resp == 2:
        return [[key, entries] for key, entries in items]
    return Map(items)


def xread_generic(client, argv, group_mode):
    server = client.server
    timeout = -1
    count = 0
    streams_arg = 0
    noack = False
    groupname = consumername = None
    argc = len(argv)
    i = 1
    while i < argc:
        moreargs = argc - i - 1
        opt = argv[i].lower()
        if opt == b"block" and moreargs:
            i += 1
            timeout = parse_timeout_ms(argv[i], server.now_ms())
        elif opt == b"count" and moreargs:
            i += 1
            count = max(parse_int(argv[i]), 0)
        elif opt == b"streams" and moreargs:
            streams_arg = i + 1
            if (argc - streams_arg) % 2:
                # 7.0 names XREAD and '$' for XREADGROUP too.
                raise ReplyError(
                    "ERR Unbalanced XREAD list of streams: for each stream "
                    "key an ID or '$' must be specified.")
            break
        elif opt == b"group" and moreargs >= 2:
            if not group_mode:
                raise ReplyError(
                    "ERR The GROUP option is only supported by XREADGROUP. "
                    "You called XREAD instead.")
            groupname, consumername = argv[i + 1], argv[i + 2]
            i += 2
        elif opt == b"noack":
            if not group_mode:
                raise ReplyError(
                    "ERR The NOACK option is only supported by XREADGROUP. "
                    "You called XREAD instead.")
            noack = True
        else:
            raise errors.SYNTAX
        i += 1
    if not streams_arg:
        raise errors.SYNTAX
    if group_mode and groupname is None:
        raise ReplyError("ERR Missing GROUP option for XREADGROUP")
    # Whatever it changes, the command propagates as its effects only.
    client.argv = None
    nstreams = (argc - streams_arg) // 2
    keys = argv[streams_arg:streams_arg + nstreams]
    db = client.db
    ids = []
    groups = []
    for key, arg in zip(keys, argv[streams_arg + nstreams:], strict=True):
        stream = read_stream(db, key)
        group = None
        if groupname is not None:
            group = lookup_group(stream, groupname) if stream is not None else None
            if group is None:
                raise no_key_or_group(key, groupname,
                                       b" in XREADGROUP with GROUP option")
        groups.append(group)
        if arg == b"$":
            if group_mode:
                raise ReplyError(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: "
                    "you want to read the history of this consumer by "
                    "specifying a proper ID, or use the > ID to get new "
                    "messages. The $ ID would just return an empty result set.")
            ids.append(stream.last_id if stream is not None else 0)
        elif arg == b">":
            if not group_mode:
                raise ReplyError(
                    "ERR The > ID can be specified only when calling "
                    "XREADGROUP using the GROUP <group> <consumer> option.")
            ids.append(MAX_ID)
        else:
            ids.append(parse_strict_id(arg))
    served = []
    for index, key in enumerate(keys):
        stream = read_stream(db, key)
        if stream is None:
            continue
        gt = ids[index]
        group = groups[index]
        serve_now = history = False
        consumer = None
        if group is not None:
            if gt != MAX_ID:
                serve_now = history = True
            elif len(stream) and stream.last_valid_id() > group.last_id:
                serve_now = True
                gt = group.last_id
        elif len(stream) and stream.last_valid_id() > gt:
            serve_now = True
        if not serve_now:
            continue
        if group is not None:
            # Only a read that serves something meets its consumer (7.0).
            consumer = _serve_consumer(client, db, key, group, groupname,
                                       consumername, noack)
        start = (gt + 1) & MAX_ID
        if history:
            entries = _history(client, stream, start, count, consumer)
        else:
            entries = _deliver(client, db, key, stream, start, count, group,
                               consumer, noack, groupname)
        served.append((key, entries))
    if served:
        return keyed_reply(client, served)
    if timeout == -1:
        return NULL_ARRAY
    waiting = {}
    for key, gt in zip(keys, ids, strict=True):
        waiting.setdefault(key, gt)
    serve = _blocked_reader(waiting, count or XREAD_BLOCKED_DEFAULT_COUNT,
                            groupname, consumername, noack)
    return server.blocking.block(client, keys, timeout, serve, NULL_ARRAY)


def _blocked_reader(waiting, count, groupname, consumername, noack):
    """serve() for a blocked XREAD/XREADGROUP (serveClientsBlockedOnStreamKey):
    new entries past the ID it waits for, or past its group's last ID."""
    def serve(client, db, key):
        stream = db.get(key)
        if type(stream) is not Stream:
            return None
        gt = waiting[key]
        group = consumer = None
        if groupname is not None:
            group = lookup_group(stream, groupname)
            if group is None:
                return GROUP_GONE
            gt = group.last_id
        if stream.last_id <= gt:
            return None
        if group is not None:
            consumer = _serve_consumer(client, db, key, group, groupname,
                                       consumername, noack)
        entries = _deliver(client, db, key, stream, gt + 1, count, group,
                           consumer, noack, groupname)
        return keyed_reply(client, [(key, entries)])
    return serve


@command("xread")
def xread(client, argv):
    return xread_generic(client, argv, False)


@command("xreadgroup")
def xreadgroup(client, argv):
    return xread_generic(client, argv, True)


