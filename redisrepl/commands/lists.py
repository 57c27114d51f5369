"""List commands: pushes, pops, ranges, LPOS, LMOVE, LMPOP.

Semantics, replies, errors, keyspace events and propagated forms are Redis
7.0's t_list.c. The value is ``ListValue`` (redisrepl/listtype.py). The
blocking variants (BLPOP...) are in blocking_lists.py; they share the pop
and move helpers here.

A key never holds an empty list: a command that empties one deletes the key
(and emits "del"). A command that creates one signals it ready, so clients
blocked on it are served once the command is over.

LPUSH, RPUSH, LPOP, RPOP and LRANGE are benchmarked side by side with
redis-server: they are written flat, with no option parsing on the way.
"""

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.table import command
from redisrepl.config import NOTIFY_GENERIC, NOTIFY_LIST
from redisrepl.listtype import (
    ListValue,
    normalize_range,
    pop_many,
    range_items,
)
from redisrepl.resp.values import NULL_ARRAY, OK, ReplyError

RANK_ZERO = ReplyError(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
    "second ... or use negative to start from the end of the list")
COUNT_NEGATIVE = ReplyError("ERR COUNT can't be negative")
MAXLEN_NEGATIVE = ReplyError("ERR MAXLEN can't be negative")

_LONG_MAX = (1 << 63) - 1


# -- shared helpers (the blocking commands use them too) ---------------------

def write_list(db, key):
    """The list at ``key`` for a write (lookupKeyWrite: no hit/miss
    stats); None if missing, WRONGTYPE if not a list."""
    return db.get_typed(key, ListValue)


def read_list(db, key):
    """The list at ``key`` for a read (lookupKeyRead: counts a hit or a
    miss); None if missing, WRONGTYPE if not a list."""
    return db.read_typed(key, ListValue)


def parse_side(arg):
    """LEFT or RIGHT (any case): True for the head. Syntax error otherwise
    (getListPositionFromObjectOrReply)."""
    side = arg.lower()
    if side == b"left":
        return True
    if side == b"right":
        return False
    raise errors.SYNTAX


def parse_positive(arg, error):
    """getPositiveLongFromObjectOrReply: a long >= 0; ``error`` for a
    non-integer or a negative value alike."""
    value = parse_int(arg, error)
    if value < 0:
        raise error
    return value


def parse_mpop_args(argv, numkeys_index):
    """LMPOP/BLMPOP's numkeys key... LEFT|RIGHT [COUNT count], checked in
    Redis's order: (keys, from_head, count)."""
    numkeys = parse_int(argv[numkeys_index], errors.NUMKEYS_NOT_POSITIVE)
    if numkeys < 1:
        raise errors.NUMKEYS_NOT_POSITIVE
    where_index = numkeys_index + numkeys + 1
    if where_index >= len(argv):
        raise errors.SYNTAX
    from_head = parse_side(argv[where_index])
    count = None
    i = where_index + 1
    while i < len(argv):
        if count is None and argv[i].lower() == b"count" and i + 1 < len(argv):
            count = parse_int(argv[i + 1], errors.COUNT_NOT_POSITIVE)
            if count < 1:
                raise errors.COUNT_NOT_POSITIVE
            i += 2
        else:
            raise errors.SYNTAX
    return argv[numkeys_index + 1:where_index], from_head, count or 1


def new_list(db, key):
    """Create an empty list at ``key`` (the caller fills it at once) and
    signal it ready for blocked clients, as Redis's dbAdd does."""
    value = ListValue()
    db.set(key, value)
    db.signal_ready(key)
    return value


def elements_removed(client, db, key, value, from_head, count):
    """After popping ``count`` elements from ``value`` (Redis's
    listElementsRemoved): the event, the key deleted if emptied, WATCH,
    the dirty count."""
    server = client.server
    server.notify(NOTIFY_LIST, b"lpop" if from_head else b"rpop", key, db.id)
    if not value:
        db.delete(key)
        server.notify(NOTIFY_GENERIC, b"del", key, db.id)
    elif db.watched:
        db.signal_modified(key)
    server.dirty += count


def pop_range_with_key(client, db, key, value, from_head, count):
    """LMPOP's pop: up to ``count`` elements from one end, replied as
    [key, [elements]]; the propagated form is [LR]POP key <n popped>."""
    items = pop_many(value, from_head, count)
    elements_removed(client, db, key, value, from_head, len(items))
    return [key, items], [b"LPOP" if from_head else b"RPOP", key,
                          b"%d" % len(items)]


def mpop(client, keys, from_head, count):
    """The first non-empty list of ``keys`` popped as LMPOP does, or None
    if there is none. WRONGTYPE for a non-list met on the way."""
    db = client.db
    for key in keys:
        value = write_list(db, key)
        if value:
            reply, client.argv = pop_range_with_key(
                client, db, key, value, from_head, count)
            return reply
    return None


def move(client, db, src, value, dst, from_head, to_head):
    """LMOVE's work (lmoveGenericCommand): pop one element of ``value``
    (the non-empty list at ``src``), push it into ``dst``; returns it.
    WRONGTYPE, with nothing changed, if ``dst`` holds something else."""
    dst_value = write_list(db, dst)
    element = value.popleft() if from_head else value.pop()
    # lmoveHandlePush
    if dst_value is None:
        dst_value = new_list(db, dst)
    elif db.watched:
        db.signal_modified(dst)
    if to_head:
        dst_value.appendleft(element)
    else:
        dst_value.append(element)
    server = client.server
    server.notify(NOTIFY_LIST, b"lpush" if to_head else b"rpush", dst, db.id)
    server.notify(NOTIFY_LIST, b"lpop" if from_head else b"rpop", src, db.id)
    if not value:
        db.delete(src)
        server.notify(NOTIFY_GENERIC, b"del", src, db.id)
    elif db.watched:
        db.signal_modified(src)
    return element


# -- pushes -------------------------------------------------------------------

def _push(client, argv, to_head, create):
    """LPUSH/RPUSH, and with ``create`` False LPUSHX/RPUSHX (a missing key
    stays missing)."""
    db = client.db
    key = argv[1]
    value = write_list(db, key)
    if value is None:
        if not create:
            return 0
        value = new_list(db, key)
    elif db.watched:
        db.signal_modified(key)
    if to_head:
        value.extendleft(argv[2:])
    else:
        value.extend(argv[2:])
    server = client.server
    server.dirty += len(argv) - 2
    server.notify(NOTIFY_LIST, b"lpush" if to_head else b"rpush", key, db.id)
    return len(value)


@command("lpush")
def lpush(client, argv):
    return _push(client, argv, True, True)


@command("rpush")
def rpush(client, argv):
    return _push(client, argv, False, True)


@command("lpushx")
def lpushx(client, argv):
    return _push(client, argv, True, False)


@command("rpushx")
def rpushx(client, argv):
    return _push(client, argv, False, False)


@command("linsert")
def linsert(client, argv):
    where = argv[2].lower()
    if where != b"after" and where != b"before":
        raise errors.SYNTAX
    db = client.db
    key = argv[1]
    value = write_list(db, key)
    if value is None:
        return 0
    try:
        index = value.index(argv[3])
    except ValueError:
        return -1
    value.insert(index + 1 if where == b"after" else index, argv[4])
    db.signal_modified(key)
    client.server.notify(NOTIFY_LIST, b"linsert", key, db.id)
    client.server.dirty += 1
    return len(value)


# -- pops ----------------------------------------------------------------------

def _pop(client, argv, from_head):
    if len(argv) == 2:
        db = client.db
        key = argv[1]
        value = db.get(key)
        if value is None:
            return None
        if value.__class__ is not ListValue:
            raise errors.WRONGTYPE
        element = value.popleft() if from_head else value.pop()
        elements_removed(client, db, key, value, from_head, 1)
        return element
    if len(argv) > 3:
        raise errors.wrong_arity(client.cmd.fullname)
    count = parse_positive(argv[2], errors.MUST_BE_POSITIVE)
    db = client.db
    key = argv[1]
    value = write_list(db, key)
    if value is None:
        return NULL_ARRAY
    if not count:
        return []
    items = pop_many(value, from_head, count)
    elements_removed(client, db, key, value, from_head, len(items))
    return items


@command("lpop")
def lpop(client, argv):
    return _pop(client, argv, True)


@command("rpop")
def rpop(client, argv):
    return _pop(client, argv, False)


@command("lmpop")
def lmpop(client, argv):
    keys, from_head, count = parse_mpop_args(argv, 1)
    reply = mpop(client, keys, from_head, count)
    return NULL_ARRAY if reply is None else reply


@command("lmove")
def lmove(client, argv):
    from_head = parse_side(argv[3])
    to_head = parse_side(argv[4])
    return _lmove(client, argv, from_head, to_head)


@command("rpoplpush")
def rpoplpush(client, argv):
    return _lmove(client, argv, False, True)


def _lmove(client, argv, from_head, to_head):
    db = client.db
    value = write_list(db, argv[1])
    if value is None:
        return None
    element = move(client, db, argv[1], value, argv[2], from_head, to_head)
    client.server.dirty += 1
    return element


# -- reads ---------------------------------------------------------------------

@command("llen")
def llen(client, argv):
    value = read_list(client.db, argv[1])
    return 0 if value is None else len(value)


@command("lrange")
def lrange(client, argv):
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    value = client.db.lookup_read(argv[1])
    if value is None:
        return []
    if value.__class__ is not ListValue:
        raise errors.WRONGTYPE
    bounds = normalize_range(start, end, len(value))
    if bounds is None:
        return []
    return range_items(value, bounds[0], bounds[1])


@command("lindex")
def lindex(client, argv):
    value = read_list(client.db, argv[1])
    if value is None:
        return None
    index = parse_int(argv[2])
    try:
        return value[index]
    except IndexError:
        return None


@command("lpos")
def lpos(client, argv):
    element = argv[2]
    rank, count, maxlen = 1, None, 0
    i = 3
    while i < len(argv):
        option = argv[i].lower()
        if i + 1 >= len(argv):
            raise errors.SYNTAX
        if option == b"rank":
            rank = parse_int(argv[i + 1])
            if rank == 0:
                raise RANK_ZERO
        elif option == b"count":
            count = parse_positive(argv[i + 1], COUNT_NEGATIVE)
        elif option == b"maxlen":
            maxlen = parse_positive(argv[i + 1], MAXLEN_NEGATIVE)
        else:
            raise errors.SYNTAX
        i += 2
    value = read_list(client.db, argv[1])
    if value is None:
        return [] if count is not None else None
    from_tail = rank < 0
    if from_tail:
        # -LONG_MIN wraps to itself in C: it stays negative, so every
        # match counts as reaching the rank.
        rank = -rank if rank != -(1 << 63) else rank
    length = len(value)
    items = reversed(value) if from_tail else value
    if maxlen and maxlen < length:
        length_seen = maxlen
    else:
        length_seen = length
    matches = []
    seen = 0
    for index, item in enumerate(items):
        if index >= length_seen:
            break
        if item == element:
            seen += 1
            if seen >= rank:
                position = length - 1 - index if from_tail else index
                if count is None:
                    return position
                matches.append(position)
                if count and len(matches) >= count:
                    break
    return matches if count is not None else None


# -- in-place edits ----------------------------------------------------------

@command("lset")
def lset(client, argv):
    db = client.db
    key = argv[1]
    value = write_list(db, key)
    if value is None:
        raise errors.NO_SUCH_KEY
    index = parse_int(argv[2])
    try:
        value[index] = argv[3]
    except IndexError:
        raise errors.OUT_OF_RANGE from None
    db.signal_modified(key)
    client.server.notify(NOTIFY_LIST, b"lset", key, db.id)
    client.server.dirty += 1
    return OK


@command("lrem")
def lrem(client, argv):
    count = parse_int(argv[2])
    db = client.db
    key = argv[1]
    value = write_list(db, key)
    if value is None:
        return 0
    element = argv[3]
    occurrences = value.count(element)
    if not occurrences:
        return 0
    limit = min(abs(count), occurrences) if count else occurrences
    if limit == occurrences:
        kept = [item for item in value if item != element]
    else:
        kept = []
        removed = 0
        for item in (reversed(value) if count < 0 else value):
            if removed < limit and item == element:
                removed += 1
            else:
                kept.append(item)
        if count < 0:
            kept.reverse()
    value.clear()
    value.extend(kept)
    server = client.server
    server.dirty += limit
    server.notify(NOTIFY_LIST, b"lrem", key, db.id)
    if not value:
        db.delete(key)
        server.notify(NOTIFY_GENERIC, b"del", key, db.id)
    else:
        db.signal_modified(key)
    return limit


@command("ltrim")
def ltrim(client, argv):
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    db = client.db
    key = argv[1]
    value = write_list(db, key)
    if value is None:
        return OK
    length = len(value)
    bounds = normalize_range(start, end, length)
    if bounds is None:
        removed = length
        value.clear()
    else:
        start, end = bounds
        removed = length - (end - start + 1)
        if removed * 2 > length:
            # Keeping the smaller part: copy it out rather than pop the rest.
            kept = range_items(value, start, end)
            value.clear()
            value.extend(kept)
        else:
            for _ in range(start):
                value.popleft()
            for _ in range(length - end - 1):
                value.pop()
    server = client.server
    server.notify(NOTIFY_LIST, b"ltrim", key, db.id)
    if not value:
        db.delete(key)
        server.notify(NOTIFY_GENERIC, b"del", key, db.id)
    else:
        db.signal_modified(key)
    server.dirty += removed
    return OK
