"""Hash commands (t_hash.c): HSET HSETNX HMSET HGET HMGET HDEL HLEN HSTRLEN
HEXISTS HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN.

The value is a ``redisrepl.hashtype.Hash``. Every write applies Redis 7.0's
listpack -> hashtable rules (hashTypeTryConversion before a write's fields
and values go in, hashTypeSet's per-field check, the entry count after), so
OBJECT ENCODING answers as Redis would, and reports new fields to the hash's
scan index when HSCAN or HRANDFIELD has built one.
"""

import random

from redisrepl import errors, longdouble
from redisrepl.commands.args import (
    parse_int,
    parse_scan_cursor,
    parse_scan_options,
)
from redisrepl.commands.strings import NAN_OR_INFINITY
from redisrepl.commands.table import command
from redisrepl.config import NOTIFY_GENERIC, NOTIFY_HASH
from redisrepl.ctext import string2ll
from redisrepl.glob import glob_match
from redisrepl.hashtype import Hash
from redisrepl.resp.values import OK, Map, ReplyError
from redisrepl.scan import ScanIndex

HASH_NOT_INTEGER = ReplyError("ERR hash value is not an integer")
HASH_NOT_FLOAT = ReplyError("ERR hash value is not a float")
INCREMENT_NAN_OR_INFINITY = ReplyError("ERR value is NaN or Infinity")

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_LONG_MAX = _INT64_MAX

# HRANDFIELD's count: getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX),
# and with WITHVALUES half of that, so count * 2 cannot overflow.
COUNT_RANGE = ReplyError(
    "ERR value is out of range, value must between -9223372036854775807 "
    "and 9223372036854775807")
WITHVALUES_RANGE = ReplyError("ERR value is out of range")

# -- lookups -------------------------------------------------------------------

def read_hash(db, key):
    """The hash at ``key`` for a read (hits/misses counted), or None."""
    return db.read_typed(key, Hash)


def write_hash(db, key):
    """The hash at ``key``, created empty if missing (Redis's
    hashTypeLookupWriteOrCreate: the caller fills it before returning)."""
    value = db.get(key)
    if value is None:
        value = Hash()
        db.set(key, value)
    elif type(value) is not Hash:
        raise errors.WRONGTYPE
    return value


# -- encoding rules ----------------------------------------------------------------

class ListpackLimits:
    """hash-max-listpack-entries / hash-max-listpack-value of one server,
    kept current through config.watch. Every hash write reads them, and a
    config lookup costs about as much as the rest of an HSET."""

    __slots__ = ("entries", "value")

    def __init__(self, config):
        self.entries = config["hash-max-listpack-entries"]
        self.value = config["hash-max-listpack-value"]
        config.watch("hash-max-listpack-entries", self._set_entries)
        config.watch("hash-max-listpack-value", self._set_value)

    def _set_entries(self, old, new):
        self.entries = new

    def _set_value(self, old, new):
        self.value = new


def listpack_limits(server):
    """The server's ListpackLimits, made on first use."""
    limits = getattr(server, "hash_listpack_limits", None)
    if limits is None:
        limits = server.hash_listpack_limits = ListpackLimits(server.config)
    return limits


def _try_conversion(h, limit, args):
    """hashTypeTryConversion: a listpack hash about to receive ``args``
    (fields and values) becomes a hashtable if any is longer than
    ``limit``."""
    for arg in args:
        if len(arg) > limit:
            h.listpack = False
            return


def set_field(h, field, value, limits):
    """hashTypeSet: store one field; True if it was new."""
    if h.listpack and (len(field) > limits.value or len(value) > limits.value):
        h.listpack = False
    new = field not in h
    h[field] = value
    if new:
        if h.scan is not None:
            h.scan.added(field)
        if h.listpack and len(h) > limits.entries:
            h.listpack = False
    return new


def _scan_index(h):
    scan = h.scan
    if scan is None:
        scan = h.scan = ScanIndex(h)
    return scan


# -- writes -------------------------------------------------------------------

@command("hset")
def hset(client, argv):
    argc = len(argv)
    if argc & 1:
        raise errors.wrong_arity(client.cmd.fullname)
    db = client.db
    key = argv[1]
    h = write_hash(db, key)
    server = client.server
    if argc == 4:
        # One pair, the common case: hashTypeTryConversion + hashTypeSet.
        field, value = argv[2], argv[3]
        if h.listpack:
            limits = listpack_limits(server)
            if len(field) > limits.value or len(value) > limits.value:
                h.listpack = False
        if field in h:
            created = 0
        else:
            created = 1
            if h.scan is not None:
                h.scan.added(field)
        h[field] = value
    else:
        if h.listpack:
            _try_conversion(h, listpack_limits(server).value, argv[2:])
        created = 0
        scan = h.scan
        for i in range(2, argc, 2):
            field = argv[i]
            if field not in h:
                created += 1
                if scan is not None:
                    scan.added(field)
            h[field] = argv[i + 1]
    if created and h.listpack and len(h) > listpack_limits(server).entries:
        h.listpack = False
    if db.watched:
        db.signal_modified(key)
    if server.notify_flags & NOTIFY_HASH:
        server.notify(NOTIFY_HASH, b"hset", key, db.id)
    server.dirty += (argc - 2) >> 1
    return created


@command("hmset")
def hmset(client, argv):
    hset(client, argv)
    return OK


@command("hsetnx")
def hsetnx(client, argv):
    db = client.db
    key, field = argv[1], argv[2]
    h = write_hash(db, key)
    if field in h:
        return 0
    # set_field checks the pair's lengths, as hashTypeTryConversion would.
    set_field(h, field, argv[3], listpack_limits(client.server))
    _modified(client, db, key, b"hset")
    return 1


@command("hdel")
def hdel(client, argv):
    db = client.db
    key = argv[1]
    h = db.get(key)
    if h is None:
        return 0
    if type(h) is not Hash:
        raise errors.WRONGTYPE
    deleted = 0
    emptied = False
    for field in argv[2:]:
        if field in h:
            del h[field]
            deleted += 1
            if not h:
                db.delete(key)
                emptied = True
                break
    if deleted:
        server = client.server
        db.signal_modified(key)
        server.notify(NOTIFY_HASH, b"hdel", key, db.id)
        if emptied:
            server.notify(NOTIFY_GENERIC, b"del", key, db.id)
        server.dirty += deleted
    return deleted


@command("hincrby")
def hincrby(client, argv):
    increment = parse_int(argv[3])
    db = client.db
    key, field = argv[1], argv[2]
    h = write_hash(db, key)
    current = h.get(field)
    if current is None:
        value = 0
    else:
        value = string2ll(current)
        if value is None:
            raise HASH_NOT_INTEGER
    value += increment
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise errors.OVERFLOW
    set_field(h, field, b"%d" % value, listpack_limits(client.server))
    _modified(client, db, key, b"hincrby")
    return value


@command("hincrbyfloat")
def hincrbyfloat(client, argv):
    increment = longdouble.parse(argv[3])
    if increment is None:
        raise errors.NOT_FLOAT
    if increment is longdouble.INF:
        raise INCREMENT_NAN_OR_INFINITY
    db = client.db
    key, field = argv[1], argv[2]
    h = write_hash(db, key)
    current = h.get(field)
    if current is None:
        value = (0, 0)
    else:
        value = longdouble.parse(current)
        if value is None:
            raise HASH_NOT_FLOAT
    total = longdouble.add(value, increment)
    if total is longdouble.INF:
        raise NAN_OR_INFINITY
    result = longdouble.format_human(total)
    set_field(h, field, result, listpack_limits(client.server))
    _modified(client, db, key, b"hincrbyfloat")
    # Replicas get the result, not the sum to redo (precision, formatting).
    client.argv = [b"HSET", key, field, result]
    return result


def _modified(client, db, key, event):
    """The bookkeeping of a write that changed one field."""
    server = client.server
    db.signal_modified(key)
    server.notify(NOTIFY_HASH, event, key, db.id)
    server.dirty += 1


# -- reads --------------------------------------------------------------------

@command("hget")
def hget(client, argv):
    h = read_hash(client.db, argv[1])
    return None if h is None else h.get(argv[2])


@command("hmget")
def hmget(client, argv):
    h = read_hash(client.db, argv[1])
    fields = argv[2:]
    if h is None:
        return [None] * len(fields)
    get = h.get
    return [get(field) for field in fields]


@command("hlen")
def hlen(client, argv):
    h = read_hash(client.db, argv[1])
    return 0 if h is None else len(h)


@command("hstrlen")
def hstrlen(client, argv):
    h = read_hash(client.db, argv[1])
    value = None if h is None else h.get(argv[2])
    return 0 if value is None else len(value)


@command("hexists")
def hexists(client, argv):
    h = read_hash(client.db, argv[1])
    return int(h is not None and argv[2] in h)


@command("hkeys")
def hkeys(client, argv):
    h = read_hash(client.db, argv[1])
    return [] if h is None else list(h)


@command("hvals")
def hvals(client, argv):
    h = read_hash(client.db, argv[1])
    return [] if h is None else list(h.values())


@command("hgetall")
def hgetall(client, argv):
    h = read_hash(client.db, argv[1])
    return Map() if h is None else Map(h.items())


# -- HRANDFIELD ---------------------------------------------------------------

@command("hrandfield")
def hrandfield(client, argv):
    argc = len(argv)
    if argc < 3:
        h = read_hash(client.db, argv[1])
        if h is None:
            return None
        return _random_fields(h, 1)[0]
    count = parse_int(argv[2])
    if count < -_LONG_MAX:
        raise COUNT_RANGE
    withvalues = argc == 4
    if argc > 4 or (withvalues and argv[3].lower() != b"withvalues"):
        raise errors.SYNTAX
    if withvalues and not -(_LONG_MAX // 2) <= count <= _LONG_MAX // 2:
        raise WITHVALUES_RANGE
    h = read_hash(client.db, argv[1])
    if h is None or count == 0:
        return []
    if count < 0 or count == 1:
        fields = _random_fields(h, -count if count < 0 else 1)
    elif count >= len(h):
        fields = list(h)   # the whole hash, in its order
    else:
        fields = _distinct_random_fields(h, count)
    if not withvalues:
        return fields
    if client.resp == 2:
        flat = []
        for field in fields:
            flat.append(field)
            flat.append(h[field])
        return flat
    return [(field, h[field]) for field in fields]


def _random_fields(h, count):
    """``count`` fields picked independently (repeats allowed)."""
    size = len(h)
    try:
        picks = [None] * count
    except MemoryError:
        # Redis would start replying and exhaust its memory; refuse instead.
        raise WITHVALUES_RANGE from None
    if h.listpack or count >= size:
        fields = list(h)
        for i in range(count):
            picks[i] = fields[random.randrange(size)]
    else:
        # A hashtable: O(1) picks from the scan index, as dictGetFairRandomKey.
        pick = _scan_index(h).random
        for i in range(count):
            picks[i] = pick()
    return picks


def _distinct_random_fields(h, count):
    """``count`` distinct fields, 0 < count < len(h)."""
    size = len(h)
    if h.listpack:
        # lpRandomPairsUnique keeps the listpack's order.
        fields = list(h)
        return [fields[i] for i in sorted(random.sample(range(size), count))]
    if count * 3 > size:
        # Redis's "copy and remove" case: a sizeable share of the hash.
        return random.sample(list(h), count)
    picked = {}
    pick = _scan_index(h).random
    while len(picked) < count:
        picked[pick()] = None
    return list(picked)


# -- HSCAN --------------------------------------------------------------------

@command("hscan")
def hscan(client, argv):
    cursor = parse_scan_cursor(argv[2])
    h = read_hash(client.db, argv[1])
    if h is None:
        return [b"0", []]
    pattern, count, _type = parse_scan_options(argv, 3)
    if h.listpack:
        # A listpack is returned whole, whatever the cursor and COUNT.
        next_cursor, fields = 0, h
    else:
        next_cursor, fields = _scan_index(h).scan(cursor, count)
    flat = []
    for field in fields:
        if pattern is None or glob_match(pattern, field):
            flat.append(field)
            flat.append(h[field])
    return [b"%d" % next_cursor, flat]
