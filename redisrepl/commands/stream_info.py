"""XINFO STREAM / GROUPS / CONSUMERS / HELP (t_stream.c xinfoCommand)."""

from itertools import islice

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.help import help_reply
from redisrepl.commands.stream_groups import lookup_group, no_group
from redisrepl.commands.streams import entries_reply, read_stream
from redisrepl.commands.table import command
from redisrepl.resp.values import Map
from redisrepl.stream import INVALID_ENTRIES_READ, MAX_ID, format_id

# -- XINFO --------------------------------------------------------------------------

_XINFO_HELP = [
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
]


@command("xinfo|help")
def xinfo_help(client, argv):
    return help_reply(argv, _XINFO_HELP)


def _xinfo_stream_of(client, argv):
    stream = read_stream(client.db, argv[2])
    if stream is None:
        raise errors.NO_SUCH_KEY
    return stream


@command("xinfo|consumers")
def xinfo_consumers(client, argv):
    stream = _xinfo_stream_of(client, argv)
    group = lookup_group(stream, argv[3])
    if group is None:
        raise no_group(argv[3], argv[2])
    now = client.server.now_ms()
    return [Map([(b"name", name), (b"pending", len(consumer.pel)),
                 (b"idle", max(now - consumer.seen_time, 0))])
            for name, consumer in group.consumers.items()]


def _lag(stream, group):
    return stream.group_lag(group)


def _entries_read(group):
    read = group.entries_read
    return None if read == INVALID_ENTRIES_READ else read


@command("xinfo|groups")
def xinfo_groups(client, argv):
    stream = _xinfo_stream_of(client, argv)
    if not stream.groups:
        return []
    return [Map([(b"name", name), (b"consumers", len(group.consumers)),
                 (b"pending", len(group.pel)),
                 (b"last-delivered-id", format_id(group.last_id)),
                 (b"entries-read", _entries_read(group)),
                 (b"lag", _lag(stream, group))])
            for name, group in stream.groups.items()]


@command("xinfo|stream")
def xinfo_stream(client, argv):
    stream = _xinfo_stream_of(client, argv)
    options = argv[3:]
    count = 10
    if options:
        if len(options) not in (1, 3) or options[0].lower() != b"full":
            raise errors.subcommand_syntax_error(argv)
        if len(options) == 3:
            if options[1].lower() != b"count":
                raise errors.subcommand_syntax_error(argv)
            count = parse_int(options[2])
            if count < 0:
                count = 10
    fields = [
        (b"length", len(stream)),
        (b"radix-tree-keys", len(stream.nodes)),
        (b"radix-tree-nodes", stream.radix_tree_nodes()),
        (b"last-generated-id", format_id(stream.last_id)),
        (b"max-deleted-entry-id", format_id(stream.max_deleted_id)),
        (b"entries-added", stream.entries_added),
        (b"recorded-first-entry-id", format_id(stream.first_id)),
    ]
    if not options:
        first = entries_reply(stream.range(0, MAX_ID, 1))
        last = entries_reply(stream.range(0, MAX_ID, 1, rev=True))
        fields += [
            (b"groups", len(stream.groups) if stream.groups else 0),
            (b"first-entry", first[0] if first else None),
            (b"last-entry", last[0] if last else None),
        ]
        return Map(fields)
    fields.append((b"entries", entries_reply(stream.range(0, MAX_ID, count))))
    fields.append((b"groups", [_full_group(stream, name, group, count)
                               for name, group in (stream.groups or {}).items()]))
    return Map(fields)


def _full_group(stream, name, group, count):
    pending = [[format_id(entry_id), nack.consumer.name, nack.delivery_time,
                nack.delivery_count]
               for entry_id, nack in islice(group.pel.items(), count or None)]
    consumers = []
    for cname, consumer in group.consumers.items():
        cpending = [[format_id(entry_id), nack.delivery_time,
                     nack.delivery_count]
                    for entry_id, nack in islice(consumer.pel.items(),
                                                 count or None)]
        consumers.append(Map([(b"name", cname),
                              (b"seen-time", consumer.seen_time),
                              (b"pel-count", len(consumer.pel)),
                              (b"pending", cpending)]))
    return Map([(b"name", name),
                (b"last-delivered-id", format_id(group.last_id)),
                (b"entries-read", _entries_read(group)),
                (b"lag", _lag(stream, group)),
                (b"pel-count", len(group.pel)),
                (b"pending", pending),
                (b"consumers", consumers)])
