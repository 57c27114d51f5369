"""String commands: GET/SET and their variants, counters, ranges, LCS.

Semantics, replies, errors and propagated forms are Redis 7.0's t_string.c.
A string value is ``bytes``, or a ``bytearray`` once APPEND/SETRANGE (or the
bit commands) grew it in place; replies always hand out ``bytes`` copies, so a
reply queued in MULTI never changes under a later write.

GET, SET, INCR and MSET are the benchmark's hot path: plain GET/SET/MSET are
written inline on purpose, with no option parsing, helper layers or repeated
attribute lookups.
"""

from redisrepl import errors, longdouble
from redisrepl.commands.args import parse_int
from redisrepl.commands.table import command
from redisrepl.config import NOTIFY_GENERIC, NOTIFY_STRING
from redisrepl.ctext import string2ll
from redisrepl.resp.values import OK, Map, ReplyError

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

OFFSET_OUT_OF_RANGE = ReplyError("ERR offset is out of range")
DECREMENT_OVERFLOW = ReplyError("ERR decrement would overflow")
NAN_OR_INFINITY = ReplyError("ERR increment would produce NaN or Infinity")


# -- lookups shared with the bit commands ------------------------------------

def read_string(db, key):
    """The string at ``key`` for a read command (Redis's lookupKeyRead:
    counts a keyspace hit or miss); None if missing, WRONGTYPE if not a
    string."""
    value = db.lookup_read(key)
    if value is None or value.__class__ is bytes or \
            value.__class__ is bytearray:
        return value
    raise errors.WRONGTYPE


def write_string(db, key):
    """The string at ``key`` for a write command (lookupKeyWrite: no
    hit/miss stats); None if missing, WRONGTYPE if not a string."""
    value = db.get(key)
    if value is None or value.__class__ is bytes or \
            value.__class__ is bytearray:
        return value
    raise errors.WRONGTYPE


def growable_string(db, key, value):
    """``value`` (the string at ``key``) as a bytearray stored at ``key``,
    so it can be changed in place (Redis's dbUnshareStringValue: same bytes,
    TTL kept, not itself a modification; the caller signals its change)."""
    if value.__class__ is bytes:
        value = bytearray(value)
        db.replace_value(key, value)
    return value


def check_string_length(client, size, append):
    """Redis's checkStringLength: refuse to grow past proto-max-bulk-len."""
    if size + append > client.server.config["proto-max-bulk-len"]:
        raise errors.STRING_TOO_LONG


def clamp_range(start, end, length):
    """Redis's index clamping for GETRANGE/BITCOUNT/BITPOS: negative counts
    from the end, then both are pulled into [0, length - 1]; an empty range
    comes back with start > end."""
    if start < 0:
        start = max(length + start, 0)
    if end < 0:
        # Redis 7.0 clamps a too negative end to 0: "hello" 0 -100 is "h".
        end = max(length + end, 0)
    return start, min(end, length - 1)


def _bulk(value):
    """A reply for a stored string: a bytes snapshot of a bytearray."""
    return bytes(value) if value.__class__ is bytearray else value


def _deletion_command(client, lazy_directive):
    """DEL, or UNLINK when the lazyfree directive asks Redis to free lazily."""
    return b"UNLINK" if client.server.config[lazy_directive] else b"DEL"


# -- GET / SET ----------------------------------------------------------------

@command("get")
def get(client, argv):
    value = client.db.lookup_read(argv[1])
    if value is None or value.__class__ is bytes:
        return value
    if value.__class__ is bytearray:
        return bytes(value)
    raise errors.WRONGTYPE


# The SET / GETEX options (t_string.c parseExtendedStringArgumentsOrReply).
_NX, _XX, _GET, _KEEPTTL, _PERSIST, _EX, _PX, _EXAT, _PXAT = (
    1 << bit for bit in range(9))
_EXPIRY = _EX | _PX | _EXAT | _PXAT
_IN_SECONDS = _EX | _EXAT
_RELATIVE = _EX | _PX

# option -> (flag, flags that make it a syntax error, takes a value)
_SET_OPTIONS = {
    b"NX": (_NX, _XX, False),
    b"XX": (_XX, _NX, False),
    b"GET": (_GET, 0, False),
    b"KEEPTTL": (_KEEPTTL, _PERSIST | _EXPIRY, False),
}
_GETEX_OPTIONS = {
    b"PERSIST": (_PERSIST, _KEEPTTL | _EXPIRY, False),
}
for _name, _flag in ((b"EX", _EX), (b"PX", _PX), (b"EXAT", _EXAT),
                     (b"PXAT", _PXAT)):
    _SET_OPTIONS[_name] = _GETEX_OPTIONS[_name] = (
        _flag, (_KEEPTTL | _PERSIST | _EXPIRY) & ~_flag, True)
del _name, _flag


def _parse_options(argv, first, options):
    """(flags, expire argument or None) from argv[first:]; SYNTAX on a bad
    or conflicting option, or on an expiry missing its value."""
    flags = 0
    expire = None
    i = first
    argc = len(argv)
    while i < argc:
        option = options.get(argv[i].upper())
        if option is None:
            raise errors.SYNTAX
        flag, conflicts, takes_value = option
        if flags & conflicts:
            raise errors.SYNTAX
        if takes_value:
            if i + 1 == argc:
                raise errors.SYNTAX
            i += 1
            expire = argv[i]
        flags |= flag
        i += 1
    return flags, expire


def _invalid_expire(client):
    return ReplyError(
        f"ERR invalid expire time in '{client.cmd.fullname}' command")


def _expire_at_ms(client, arg, flags):
    """The absolute expiry in ms an EX/PX/EXAT/PXAT argument asks for
    (getExpireMillisecondsOrReply)."""
    when = parse_int(arg)
    in_seconds = flags & _IN_SECONDS
    if when <= 0 or (in_seconds and when > _INT64_MAX // 1000):
        raise _invalid_expire(client)
    if in_seconds:
        when *= 1000
    if flags & _RELATIVE:
        when += client.server.now_ms()
        if when > _INT64_MAX:   # Redis's long long wraps negative here
            raise _invalid_expire(client)
    return when


def _set_generic(client, flags, key, value, expire, ok_reply, abort_reply):
    """setGenericCommand: SET with options, SETNX, SETEX, PSETEX."""
    when = _expire_at_ms(client, expire, flags) if expire is not None \
        else None
    db = client.db
    if flags & _GET:
        ok_reply = abort_reply = _bulk(read_string(db, key))
    found = db.get(key) is not None   # also expires a stale key, as Redis
    if (flags & _NX and found) or (flags & _XX and not found):
        return abort_reply
    db.set(key, value, keepttl=bool(flags & _KEEPTTL))
    client.server.dirty += 1
    client.server.notify(NOTIFY_STRING, b"set", key, db.id)
    if when is not None:
        db.set_expire(key, when)
        client.server.notify(NOTIFY_GENERIC, b"expire", key, db.id)
        # Relative times become absolute, so a replica or the AOF expires
        # the key at the same moment.
        client.argv = [b"SET", key, value, b"PXAT", b"%d" % when]
    elif flags & _GET:
        # GET only shapes the reply: replicas are sent the plain SET.
        argv = client.argv
        client.argv = argv[:3] + [a for a in argv[3:] if a.upper() != b"GET"]
    return ok_reply


@command("set")
def set_(client, argv):
    if len(argv) == 3:
        client.db.set(argv[1], argv[2])
        client.server.dirty += 1
        client.server.notify(NOTIFY_STRING, b"set", argv[1], client.db.id)
        return OK
    flags, expire = _parse_options(argv, 3, _SET_OPTIONS)
    return _set_generic(client, flags, argv[1], argv[2], expire, OK, None)


@command("setnx")
def setnx(client, argv):
    return _set_generic(client, _NX, argv[1], argv[2], None, 1, 0)


@command("setex")
def setex(client, argv):
    return _set_generic(client, _EX, argv[1], argv[3], argv[2], OK, None)


@command("psetex")
def psetex(client, argv):
    return _set_generic(client, _PX, argv[1], argv[3], argv[2], OK, None)


@command("getset")
def getset(client, argv):
    db = client.db
    key, value = argv[1], argv[2]
    old = _bulk(read_string(db, key))
    db.set(key, value)
    client.server.dirty += 1
    client.server.notify(NOTIFY_STRING, b"set", key, db.id)
    client.argv = [b"SET", key, value]
    return old


@command("getdel")
def getdel(client, argv):
    db = client.db
    key = argv[1]
    value = read_string(db, key)
    if value is None:
        return None
    db.delete(key)
    client.server.dirty += 1
    client.server.notify(NOTIFY_GENERIC, b"del", key, db.id)
    client.argv = [_deletion_command(client, "lazyfree-lazy-user-del"), key]
    return _bulk(value)


@command("getex")
def getex(client, argv):
    flags, expire = _parse_options(argv, 2, _GETEX_OPTIONS)
    db = client.db
    key = argv[1]
    value = read_string(db, key)
    if value is None:
        return None
    reply = _bulk(value)
    server = client.server
    if expire is not None:
        when = _expire_at_ms(client, expire, flags)
        if flags & (_EXAT | _PXAT) and when <= server.now_ms() \
                and not server.keyspace.is_replica:
            # Already in the past: delete now (a replica waits for the DEL).
            db.delete(key)
            server.notify(NOTIFY_GENERIC, b"del", key, db.id)
            client.argv = [_deletion_command(client, "lazyfree-lazy-expire"),
                           key]
        else:
            db.set_expire(key, when)
            server.notify(NOTIFY_GENERIC, b"expire", key, db.id)
            client.argv = [b"PEXPIREAT", key, b"%d" % when]
        server.dirty += 1
    elif flags & _PERSIST and db.persist(key):
        server.notify(NOTIFY_GENERIC, b"persist", key, db.id)
        client.argv = [b"PERSIST", key]
        server.dirty += 1
    return reply


@command("mget")
def mget(client, argv):
    lookup = client.db.lookup_read
    values = []
    append = values.append
    for i in range(1, len(argv)):
        value = lookup(argv[i])
        if value.__class__ is bytes:
            append(value)
        elif value.__class__ is bytearray:
            append(bytes(value))
        else:
            append(None)   # missing, or not a string
    return values


@command("mset")
def mset(client, argv):
    argc = len(argv)
    if not argc & 1:
        raise errors.wrong_arity("mset")
    db_set = client.db.set
    for i in range(1, argc, 2):
        db_set(argv[i], argv[i + 1])
        client.server.notify(NOTIFY_STRING, b"set", argv[i], client.db.id)
    client.server.dirty += argc >> 1
    return OK


@command("msetnx")
def msetnx(client, argv):
    argc = len(argv)
    if not argc & 1:
        raise errors.wrong_arity("msetnx")
    db = client.db
    for i in range(1, argc, 2):
        if db.get(argv[i]) is not None:
            return 0
    for i in range(1, argc, 2):
        db.set(argv[i], argv[i + 1])
        client.server.notify(NOTIFY_STRING, b"set", argv[i], db.id)
    client.server.dirty += argc >> 1
    return 1


# -- in-place edits -----------------------------------------------------------

@command("append")
def append(client, argv):
    db = client.db
    key, tail = argv[1], argv[2]
    value = write_string(db, key)
    if value is None:
        db.set(key, tail)
        length = len(tail)
    else:
        check_string_length(client, len(value), len(tail))
        value = growable_string(db, key, value)
        value += tail
        length = len(value)
    db.signal_modified(key)   # grown in place: WATCH must see it
    client.server.dirty += 1
    client.server.notify(NOTIFY_STRING, b"append", key, db.id)
    return length


@command("setrange")
def setrange(client, argv):
    offset = parse_int(argv[2])
    if offset < 0:
        raise OFFSET_OUT_OF_RANGE
    db = client.db
    key, patch = argv[1], argv[3]
    value = write_string(db, key)
    if value is None:
        if not patch:
            return 0
        check_string_length(client, offset, len(patch))
        value = bytearray(offset + len(patch))
        db.set(key, value)
    else:
        if not patch:
            return len(value)
        check_string_length(client, offset, len(patch))
        value = growable_string(db, key, value)
    end = offset + len(patch)
    if len(value) < end:
        value.extend(bytes(end - len(value)))   # zero padding, as sdsgrowzero
    value[offset:end] = patch
    db.signal_modified(key)
    client.server.dirty += 1
    client.server.notify(NOTIFY_STRING, b"setrange", key, db.id)
    return len(value)


# -- counters -------------------------------------------------------------------

def _incr_by(client, key, delta):
    """incrDecrCommand: the TTL survives, the value must be a strict int64."""
    db = client.db
    value = db.get(key)
    if value is None:
        current = 0
    elif value.__class__ is bytes or value.__class__ is bytearray:
        current = string2ll(value)   # parse_int without a call layer: hot
        if current is None:
            raise errors.NOT_INTEGER
    else:
        raise errors.WRONGTYPE
    result = current + delta
    if result > _INT64_MAX or result < _INT64_MIN:
        raise errors.OVERFLOW
    db.set(key, b"%d" % result, value is not None)   # keepttl
    client.server.dirty += 1
    client.server.notify(NOTIFY_STRING, b"incrby", key, db.id)
    return result


@command("incr")
def incr(client, argv):
    return _incr_by(client, argv[1], 1)


@command("decr")
def decr(client, argv):
    return _incr_by(client, argv[1], -1)


@command("incrby")
def incrby(client, argv):
    return _incr_by(client, argv[1], parse_int(argv[2]))


@command("decrby")
def decrby(client, argv):
    delta = parse_int(argv[2])
    if delta == _INT64_MIN:
        raise DECREMENT_OVERFLOW
    return _incr_by(client, argv[1], -delta)


@command("incrbyfloat")
def incrbyfloat(client, argv):
    db = client.db
    key = argv[1]
    value = write_string(db, key)
    current = longdouble.parse(value) if value is not None else (0, 0)
    if current is None:
        raise errors.NOT_FLOAT
    increment = longdouble.parse(argv[2])
    if increment is None:
        raise errors.NOT_FLOAT
    total = longdouble.add(current, increment)
    if total is longdouble.INF:
        raise NAN_OR_INFINITY
    result = longdouble.format_human(total)
    db.set(key, result, keepttl=value is not None)
    client.server.dirty += 1
    client.server.notify(NOTIFY_STRING, b"incrbyfloat", key, db.id)
    # The replica gets the result, not the sum to redo: float formatting
    # could differ there.
    client.argv = [b"SET", key, result, b"KEEPTTL"]
    return result


# -- reads ----------------------------------------------------------------------

@command("getrange", "substr")
def getrange(client, argv):
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    value = read_string(client.db, argv[1])
    if value is None:
        return b""
    if start < 0 and end < 0 and start > end:
        return b""
    start, end = clamp_range(start, end, len(value))
    if start > end:
        return b""
    return bytes(value[start:end + 1])


@command("strlen")
def strlen(client, argv):
    value = read_string(client.db, argv[1])
    return 0 if value is None else len(value)


# -- LCS ------------------------------------------------------------------------

LCS_WRONGTYPE = ReplyError("ERR The specified keys must contain string values")
LCS_LEN_AND_IDX = ReplyError(
    "ERR If you want both the length and indexes, please just use IDX.")
LCS_TOO_BIG = ReplyError(
    "ERR Insufficient memory, transient memory for LCS exceeds "
    "proto-max-bulk-len")


@command("lcs")
def lcs(client, argv):
    db = client.db
    a = db.lookup_read(argv[1])
    b = db.lookup_read(argv[2])
    for value in (a, b):
        if value is not None and value.__class__ is not bytes and \
                value.__class__ is not bytearray:
            raise LCS_WRONGTYPE
    a = bytes(a or b"")
    b = bytes(b or b"")
    want_len = want_idx = with_match_len = False
    min_match_len = 0
    i = 3
    while i < len(argv):
        option = argv[i].upper()
        if option == b"IDX":
            want_idx = True
        elif option == b"LEN":
            want_len = True
        elif option == b"WITHMATCHLEN":
            with_match_len = True
        elif option == b"MINMATCHLEN" and i + 1 < len(argv):
            i += 1
            min_match_len = max(parse_int(argv[i]), 0)
        else:
            raise errors.SYNTAX
        i += 1
    if want_idx and want_len:
        raise LCS_LEN_AND_IDX
    # Redis refuses when its (len(a)+1) x (len(b)+1) table of uint32 would
    # outgrow proto-max-bulk-len; ours is smaller, but the limit is Redis's.
    if (len(a) + 1) * (len(b) + 1) * 4 > \
            client.server.config["proto-max-bulk-len"]:
        raise LCS_TOO_BIG
    table = _LcsTable(a, b)
    if want_len:
        return table.length(len(a), len(b))
    common, ranges = table.walk(min_match_len, with_match_len)
    if not want_idx:
        return common
    return Map([(b"matches", ranges), (b"len", len(common))])


class _LcsTable:
    """LCS lengths of every prefix pair, kept as one bit vector per prefix
    of ``a`` (Hyyro's bit-parallel LCS): bit j of row i is set when
    LCS(a[:i], b[:j+1]) == LCS(a[:i], b[:j]). Pure Python stays fast on
    long strings this way, while the walk below reads the same LCS(i, j)
    values as Redis's dynamic-programming table."""

    def __init__(self, a, b):
        self.a, self.b = a, b
        full = (1 << len(b)) - 1
        masks = {}
        reversed_b = b[::-1]
        for char in set(b):
            # Bit j set where b[j] == char (j = 0 is the lowest bit): map
            # char to "1", every other byte to "0", read it in base 2.
            table = bytearray(_ALL_ZEROS)
            table[char] = 49
            masks[char] = int(reversed_b.translate(table), 2)
        row = full
        rows = [row]
        for char in a:
            matches = row & masks.get(char, 0)
            row = ((row + matches) | (row - matches)) & full
            rows.append(row)
        self.rows = rows

    def length(self, i, j):
        """LCS(a[:i], b[:j])."""
        return j - (self.rows[i] & ((1 << j) - 1)).bit_count()

    def walk(self, min_match_len, with_match_len):
        """The common subsequence and its matching ranges, found by walking
        back from the end exactly as Redis's lcsCommand does (same tie
        breaks, so the same ranges)."""
        a, b = self.a, self.b
        length = self.length
        i, j = len(a), len(b)
        common = bytearray(length(i, j))
        idx = len(common)
        ranges = []
        in_range = False
        a_start = a_end = b_start = b_end = 0
        while i > 0 and j > 0:
            emit = False
            if a[i - 1] == b[j - 1]:
                common[idx - 1] = a[i - 1]
                if not in_range:
                    in_range = True
                    a_start = a_end = i - 1
                    b_start = b_end = j - 1
                elif a_start == i and b_start == j:
                    a_start -= 1   # the range grows backwards
                    b_start -= 1
                else:
                    emit = True
                if a_start == 0 or b_start == 0:
                    emit = True
                idx -= 1
                i -= 1
                j -= 1
            else:
                if length(i - 1, j) > length(i, j - 1):
                    i -= 1
                else:
                    j -= 1
                emit = in_range
            if emit:
                match_len = a_end - a_start + 1
                if min_match_len == 0 or match_len >= min_match_len:
                    match = [[a_start, a_end], [b_start, b_end]]
                    if with_match_len:
                        match.append(match_len)
                    ranges.append(match)
                in_range = False
        return bytes(common), ranges


_ALL_ZEROS = b"0" * 256
