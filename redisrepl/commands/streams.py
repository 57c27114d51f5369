"""Streams (t_stream.c): XADD XRANGE XREVRANGE XLEN XDEL XTRIM XREAD XSETID
XINFO. Consumer groups are in stream_groups.py; XREAD and XREADGROUP share
the reading code here.

Propagation follows Redis 7.0: XADD with a generated ID (``*``, ``ms-*``)
propagates the ID it made; an approximate trim (``~``) propagates as an exact
one (``= <resulting length>`` or ``= <first id>``), so replicas trim the same
entries; XREAD/XREADGROUP propagate only what they change in groups.
"""

import weakref

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.table import command
from redisrepl.config import NOTIFY_STREAM
from redisrepl.ctext import string2ll
from redisrepl.resp.values import NULL_ARRAY, OK, ReplyError
from redisrepl.stream import (
    MAX_ID,
    SEQ_MASK,
    Stream,
    format_id,
)

INVALID_ID = ReplyError(
    "ERR Invalid stream ID specified as stream command argument")
ID_TOO_SMALL = ReplyError(
    "ERR The ID specified in XADD is equal or smaller than the target "
    "stream top item")
ID_ZERO = ReplyError("ERR The ID specified in XADD must be greater than 0-0")
EXHAUSTED = ReplyError(
    "ERR The stream has exhausted the last possible ID, unable to add more "
    "items")
TOO_LARGE = ReplyError("ERR Elements are too large to be stored")
INVALID_START = ReplyError("ERR invalid start ID for the interval")
INVALID_END = ReplyError("ERR invalid end ID for the interval")
XADD_ARITY = errors.wrong_arity("xadd")

_SPACES = b" \t\n\v\f\r"


def _string2ull(text):
    """Redis's string2ull: string2ll (negative refused), else strtoull's
    looser reading (blanks, a sign, leading zeros; '-' wraps)."""
    value = string2ll(text)
    if value is not None:
        return value if value >= 0 else None
    body = text.lstrip(_SPACES)
    negative = body[:1] == b"-"
    if body[:1] in (b"-", b"+"):
        body = body[1:]
    if not body.isdigit():
        return None
    value = int(body)
    if value > SEQ_MASK:
        return None
    return (-value) & SEQ_MASK if negative else value


def parse_id(arg, missing_seq=0, strict=False):
    """streamGenericParseIDOrReply: ``<ms>[-<seq>]``, or ``-``/``+`` unless
    ``strict``. The ID as one int."""
    stream_id, _seq_given = _parse_id(arg, missing_seq, strict, False)
    return stream_id


def parse_strict_id(arg):
    return _parse_id(arg, 0, True, False)[0]


def _parse_id(arg, missing_seq, strict, allow_auto_seq):
    if len(arg) > 127:
        raise INVALID_ID
    if arg == b"-":
        if strict:
            raise INVALID_ID
        return 0, True
    if arg == b"+":
        if strict:
            raise INVALID_ID
        return MAX_ID, True
    # C reads the argument as a NUL-terminated string.
    arg = arg.split(b"\0", 1)[0]
    ms_part, dash, seq_part = arg.partition(b"-")
    ms = _string2ull(ms_part)
    if ms is None:
        raise INVALID_ID
    if not dash:
        return ms << 64 | missing_seq, True
    if allow_auto_seq and seq_part == b"*":
        return ms << 64, False
    seq = _string2ull(seq_part)
    if seq is None:
        raise INVALID_ID
    return ms << 64 | seq, True


def parse_interval(arg, missing_seq):
    """A range bound: ``(`` makes it exclusive (and strict). (id, exclusive)."""
    if len(arg) > 1 and arg[:1] == b"(":
        return parse_id(arg[1:], missing_seq, strict=True), True
    return parse_id(arg, missing_seq), False


def parse_range(start_arg, end_arg):
    """XRANGE-style bounds with exclusive ``(`` resolved: (start, end)."""
    start, start_ex = parse_interval(start_arg, 0)
    if start_ex:
        if start == MAX_ID:
            raise INVALID_START
        start += 1
    end, end_ex = parse_interval(end_arg, SEQ_MASK)
    if end_ex:
        if end == 0:
            raise INVALID_END
        end -= 1
    return start, end


def entries_reply(items):
    """[[id, [field, value, ...]], ...]"""
    return [[format_id(entry_id), fields] for entry_id, fields in items]


def get_stream(db, key):
    """The stream at ``key`` for a write, None if missing; WRONGTYPE else."""
    return db.get_typed(key, Stream)


def read_stream(db, key):
    """As get_stream, for a read (counts keyspace hits and misses)."""
    return db.read_typed(key, Stream)


# -- XADD / XTRIM ------------------------------------------------------------------

class TrimArgs:
    """streamAddTrimArgs: what XADD and XTRIM parsed."""

    __slots__ = ("maxlen", "minid", "approx", "limit", "arg_index",
                 "no_mkstream", "id", "id_given", "seq_given")

    def __init__(self):
        self.maxlen = None
        self.minid = None
        self.approx = False
        self.limit = 0
        self.arg_index = 0
        self.no_mkstream = False
        self.id = 0
        self.id_given = False
        self.seq_given = True

    @property
    def strategy(self):
        return self.maxlen is not None or self.minid is not None


def parse_add_or_trim(client, argv, xadd):
    """streamParseAddOrTrimArgsOrReply: the options, and for XADD the index
    of the ID argument."""
    args = TrimArgs()
    argc = len(argv)
    i = 2
    limit_given = False
    while i < argc:
        moreargs = argc - 1 - i
        opt = argv[i]
        lower = opt.lower()
        if xadd and opt == b"*":
            break
        if lower in (b"maxlen", b"minid") and moreargs:
            if args.strategy:
                raise ReplyError(
                    "ERR syntax error, MAXLEN and MINID options at the same "
                    "time are not compatible")
            args.approx = False
            following = argv[i + 1]
            if moreargs >= 2 and following == b"~":
                args.approx = True
                i += 1
            elif moreargs >= 2 and following == b"=":
                i += 1
            if lower == b"maxlen":
                maxlen = parse_int(argv[i + 1])
                if maxlen < 0:
                    raise ReplyError("ERR The MAXLEN argument must be >= 0.")
                args.maxlen = maxlen
            else:
                args.minid = parse_strict_id(argv[i + 1])
            i += 1
            args.arg_index = i
        elif lower == b"limit" and moreargs:
            args.limit = parse_int(argv[i + 1])
            if args.limit < 0:
                raise ReplyError("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and lower == b"nomkstream":
            args.no_mkstream = True
        elif xadd:
            args.id, args.seq_given = _parse_id(opt, 0, True, True)
            args.id_given = True
            break
        else:
            raise errors.SYNTAX
        i += 1
    if args.limit and not args.strategy:
        raise ReplyError(
            "ERR syntax error, LIMIT cannot be used without specifying a "
            "trimming strategy")
    if not xadd and not args.strategy:
        raise ReplyError(
            "ERR syntax error, XTRIM must be called with a trimming strategy")
    if limit_given:
        if not args.approx:
            raise ReplyError(
                "ERR syntax error, LIMIT cannot be used without the special "
                "~ option")
    elif args.approx:
        # Bound the work of an approximate trim: 100 nodes' worth.
        limit = 100 * client.server.config["stream-node-max-entries"]
        args.limit = 10000 if limit <= 0 else min(limit, 1000000)
    else:
        args.limit = 0
    return args, i


def _trim(stream, args):
    return stream.trim(args.maxlen, args.minid, args.approx, args.limit)


_NODE_LIMITS = weakref.WeakKeyDictionary()


def node_limits(config):
    """[stream-node-max-bytes, stream-node-max-entries], kept current by
    CONFIG SET: read once per config, not once per XADD."""
    limits = _NODE_LIMITS.get(config)
    if limits is None:
        limits = [config["stream-node-max-bytes"],
                  config["stream-node-max-entries"]]

        def set_bytes(old, new):
            limits[0] = new

        def set_entries(old, new):
            limits[1] = new
        config.watch("stream-node-max-bytes", set_bytes)
        config.watch("stream-node-max-entries", set_entries)
        _NODE_LIMITS[config] = limits
    return limits


@command("xadd")
def xadd(client, argv):
    if argv[2] == b"*":
        # The common case: no options, a generated ID.
        args = None
        idpos = 2
    else:
        args, idpos = parse_add_or_trim(client, argv, True)
    field_pos = idpos + 1
    nfields = len(argv) - field_pos
    if nfields < 2 or nfields % 2:
        raise XADD_ARITY
    if args is not None and args.id_given and args.seq_given and args.id == 0:
        raise ID_ZERO
    db = client.db
    key = argv[1]
    stream = db.get(key)
    if stream is None:
        if args is not None and args.no_mkstream:
            return None
        stream = Stream()
        db.set(key, stream)
    elif type(stream) is not Stream:
        raise errors.WRONGTYPE
    last = stream.last_id
    if last == MAX_ID:
        raise EXHAUSTED
    server = client.server
    if args is None or not args.id_given:
        entry_id = stream.next_id(server.now_ms())
    elif args.seq_given:
        entry_id = args.id
    elif last >> 64 == args.id >> 64:
        if last & SEQ_MASK == SEQ_MASK:
            # Redis 7.0 fails here without setting errno: its fallback text.
            raise TOO_LARGE
        entry_id = last + 1
    else:
        entry_id = args.id
    if entry_id <= last:
        raise ID_TOO_SMALL
    max_bytes, max_entries = node_limits(server.config)
    stream.append(entry_id, argv[field_pos:], max_bytes, max_entries)
    reply = format_id(entry_id)
    db_id = db.id
    server.notify(NOTIFY_STREAM, b"xadd", key, db_id)
    server.dirty += 1
    # Propagated with the ID it got, and an approximate trim made exact.
    rewritten = list(argv)
    if args is None or not (args.id_given and args.seq_given):
        rewritten[idpos] = reply
    if args is not None and args.strategy:
        if _trim(stream, args):
            server.notify(NOTIFY_STREAM, b"xtrim", key, db_id)
        if args.approx:
            rewritten[args.arg_index - 1] = b"="
            rewritten[args.arg_index] = _trim_result(stream, args)
    db.signal_modified(key)
    client.argv = rewritten
    db.signal_ready(key)
    return reply


def _trim_result(stream, args):
    """What an approximate trim is propagated as: the length it left, or
    the first ID (tombstones included) for MINID."""
    if args.maxlen is not None:
        return b"%d" % len(stream)
    return format_id(stream.first_id_with_tombstones())


@command("xtrim")
def xtrim(client, argv):
    args, _ = parse_add_or_trim(client, argv, False)
    db = client.db
    key = argv[1]
    stream = get_stream(db, key)
    if stream is None:
        return 0
    deleted = _trim(stream, args)
    if deleted:
        server = client.server
        server.notify(NOTIFY_STREAM, b"xtrim", key, db.id)
        if args.approx:
            rewritten = list(argv)
            rewritten[args.arg_index - 1] = b"="
            rewritten[args.arg_index] = _trim_result(stream, args)
            client.argv = rewritten
        db.signal_modified(key)
        server.dirty += deleted
    return deleted


# -- XRANGE / XREVRANGE / XLEN / XDEL ------------------------------------------------

def _xrange(client, argv, rev):
    start_arg, end_arg = (argv[3], argv[2]) if rev else (argv[2], argv[3])
    start, end = parse_range(start_arg, end_arg)
    count = -1
    i = 4
    argc = len(argv)
    while i < argc:
        if argv[i].lower() == b"count" and i + 1 < argc:
            count = max(parse_int(argv[i + 1]), 0)
            i += 2
        else:
            raise errors.SYNTAX
    stream = read_stream(client.db, argv[1])
    if stream is None:
        return []
    if count == 0:
        return NULL_ARRAY
    return entries_reply(stream.range(start, end, max(count, 0), rev))


@command("xrange")
def xrange_(client, argv):
    return _xrange(client, argv, False)


@command("xrevrange")
def xrevrange(client, argv):
    return _xrange(client, argv, True)


@command("xlen")
def xlen(client, argv):
    stream = read_stream(client.db, argv[1])
    return 0 if stream is None else len(stream)


@command("xdel")
def xdel(client, argv):
    db = client.db
    key = argv[1]
    stream = get_stream(db, key)
    if stream is None:
        return 0
    ids = [parse_strict_id(arg) for arg in argv[2:]]
    deleted = 0
    first_gone = False
    for entry_id in ids:
        if stream.delete(entry_id):
            if entry_id == stream.first_id:
                first_gone = True
            deleted += 1
    if deleted:
        if not len(stream) or first_gone:
            stream.refresh_first_id()
        db.signal_modified(key)
        client.server.notify(NOTIFY_STREAM, b"xdel", key, db.id)
        client.server.dirty += deleted
    return deleted


# -- XSETID --------------------------------------------------------------------------

@command("xsetid")
def xsetid(client, argv):
    new_id = parse_strict_id(argv[2])
    entries_added = -1
    max_deleted = 0
    i = 3
    argc = len(argv)
    while i < argc:
        opt = argv[i].lower()
        if opt == b"entriesadded" and i + 1 < argc:
            entries_added = parse_int(argv[i + 1])
            if entries_added < 0:
                raise ReplyError("ERR entries_added must be positive")
        elif opt == b"maxdeletedid" and i + 1 < argc:
            max_deleted = parse_strict_id(argv[i + 1])
            if new_id < max_deleted:
                raise ReplyError(
                    "ERR The ID specified in XSETID is smaller than the "
                    "provided max_deleted_entry_id")
        else:
            raise errors.SYNTAX
        i += 2
    db = client.db
    stream = get_stream(db, argv[1])
    if stream is None:
        raise errors.NO_SUCH_KEY
    if len(stream):
        if new_id < stream.last_valid_id():
            raise ReplyError(
                "ERR The ID specified in XSETID is smaller than the target "
                "stream top item")
        if entries_added != -1 and len(stream) > entries_added:
            raise ReplyError(
                "ERR The entries_added specified in XSETID is smaller than "
                "the target stream length")
    stream.last_id = new_id
    if entries_added != -1:
        stream.entries_added = entries_added
    if max_deleted:
        stream.max_deleted_id = max_deleted
    db.signal_modified(argv[1])
    client.server.dirty += 1
    client.server.notify(NOTIFY_STREAM, b"xsetid", argv[1], db.id)
    return OK


