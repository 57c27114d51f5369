"""Set commands: SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SPOP
SRANDMEMBER SMOVE SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF
SDIFFSTORE SSCAN.

Replies, errors, keyspace notifications, dirty counts and propagated forms
are Redis 7.0's t_set.c; the value (intset or hashtable) is settype.RedisSet.
Where Redis builds a result set and then replies from it (SUNION, SDIFF,
SPOP or SRANDMEMBER asking for the whole set), the reply comes from a
RedisSet built the same way, so an all-integer result is in intset order.
"""

import random

from redisrepl import errors
from redisrepl.commands.args import (
    parse_int,
    parse_scan_cursor,
    parse_scan_options,
)
from redisrepl.commands.table import command
from redisrepl.config import NOTIFY_GENERIC, NOTIFY_SET
from redisrepl.glob import glob_match
from redisrepl.resp.values import ReplyError, Set
from redisrepl.settype import RedisSet

_LONG_MAX = (1 << 63) - 1

COUNT_NOT_POSITIVE = ReplyError("ERR value is out of range, must be positive")
COUNT_RANGE = ReplyError(
    "ERR value is out of range, value must between -9223372036854775807 and "
    "9223372036854775807")
NUMKEYS_NOT_POSITIVE = ReplyError("ERR numkeys should be greater than 0")
TOO_MANY_NUMKEYS = ReplyError(
    "ERR Number of keys can't be greater than number of args")
LIMIT_NEGATIVE = ReplyError("ERR LIMIT can't be negative")

# SPOP with a count: past this ratio of popped to remaining members, build
# the remainder as a new set instead of popping one by one (Redis's
# SPOP_MOVE_STRATEGY_MUL); SRANDMEMBER's threshold for "copy, then drop
# random members" (SRANDMEMBER_SUB_STRATEGY_MUL).
SPOP_MOVE_STRATEGY_MUL = 5
SRANDMEMBER_SUB_STRATEGY_MUL = 3


def _max_intset(client):
    return client.server.config["set-max-intset-entries"]


def _read_set(db, key):
    """The set at ``key`` for a read command (counts a hit or a miss);
    None if missing, WRONGTYPE if not a set."""
    return db.read_typed(key, RedisSet)


def _write_set(db, key):
    """The set at ``key`` for a write command; None if missing."""
    return db.get_typed(key, RedisSet)


def _read_sets(db, keys):
    """The sets at ``keys`` (None for a missing one), every key checked for
    its type before anything is computed, as Redis 7.0 does."""
    return [_read_set(db, key) for key in keys]


# -- single-key commands ---------------------------------------------------------


@command("sadd")
def sadd(client, argv):
    db = client.db
    key = argv[1]
    value = db.get(key)
    if value is None:
        value = RedisSet()
        added = value.add_many(argv[2:], _max_intset(client))
        db.set(key, value)
    elif type(value) is not RedisSet:
        raise errors.WRONGTYPE
    else:
        added = value.add_many(
            argv[2:], _max_intset(client) if value.ints is not None else 0)
        if not added:
            return 0
        db.signal_modified(key)
    server = client.server
    server.notify(NOTIFY_SET, b"sadd", key, db.id)
    server.dirty += added
    return added


@command("srem")
def srem(client, argv):
    db = client.db
    key = argv[1]
    value = _write_set(db, key)
    if value is None:
        return 0
    deleted = 0
    for member in argv[2:]:
        if value.remove(member):
            deleted += 1
            if not len(value):
                break
    if deleted:
        _removed(client, db, key, value, b"srem")
        client.server.dirty += deleted
    return deleted


def _removed(client, db, key, value, event):
    """After members left ``value``, the set at ``key``: the key is deleted
    if it is empty now, WATCHers are told, and the notifications sent."""
    server = client.server
    server.notify(NOTIFY_SET, event, key, db.id)
    if len(value):
        db.signal_modified(key)
    else:
        db.delete(key)
        server.notify(NOTIFY_GENERIC, b"del", key, db.id)


@command("scard")
def scard(client, argv):
    value = _read_set(client.db, argv[1])
    return 0 if value is None else len(value)


@command("sismember")
def sismember(client, argv):
    value = _read_set(client.db, argv[1])
    return 1 if value is not None and argv[2] in value else 0


@command("smismember")
def smismember(client, argv):
    value = _read_set(client.db, argv[1])
    if value is None:
        return [0] * (len(argv) - 2)
    return [1 if member in value else 0 for member in argv[2:]]


@command("smembers")
def smembers(client, argv):
    value = _read_set(client.db, argv[1])
    return Set() if value is None else Set(value.to_list())


@command("smove")
def smove(client, argv):
    db = client.db
    source_key, dest_key, member = argv[1], argv[2], argv[3]
    source = db.get(source_key)
    dest = db.get(dest_key)
    if source is None:
        return 0
    if type(source) is not RedisSet or (
            dest is not None and type(dest) is not RedisSet):
        raise errors.WRONGTYPE
    if source is dest:
        return 1 if member in source else 0
    if not source.remove(member):
        return 0
    _removed(client, db, source_key, source, b"srem")
    server = client.server
    server.dirty += 1
    if dest is None:
        dest = RedisSet()
        dest.add(member, _max_intset(client))
        db.set(dest_key, dest)
    elif dest.add(member, _max_intset(client)):
        db.signal_modified(dest_key)
    else:
        db.signal_modified(dest_key)
        return 1
    server.dirty += 1
    server.notify(NOTIFY_SET, b"sadd", dest_key, db.id)
    return 1


# -- random members ------------------------------------------------------------


@command("spop")
def spop(client, argv):
    if len(argv) == 3:
        return _spop_count(client, argv)
    if len(argv) > 3:
        raise errors.SYNTAX
    db = client.db
    key = argv[1]
    value = _write_set(db, key)
    if value is None:
        return None
    member = value.random_member()
    value.remove(member)
    _removed(client, db, key, value, b"spop")
    client.argv = [b"SREM", key, member]
    client.server.dirty += 1
    return member


def _spop_count(client, argv):
    """SPOP key count: Redis's spopWithCountCommand, its three cases."""
    count = parse_int(argv[2], COUNT_NOT_POSITIVE)
    if count < 0:
        raise COUNT_NOT_POSITIVE
    db = client.db
    key = argv[1]
    value = _write_set(db, key)
    if value is None or count == 0:
        return Set()
    server = client.server
    size = len(value)
    server.notify(NOTIFY_SET, b"spop", key, db.id)
    if count >= size:
        # The whole set, replied as SUNION would (a counted read), and the
        # key deleted: propagated as one DEL (UNLINK with lazy server del).
        popped = _union(client, [_read_set(db, key)]).to_list()
        db.delete(key)
        server.notify(NOTIFY_GENERIC, b"del", key, db.id)
        verb = b"UNLINK" if server.config["lazyfree-lazy-server-del"] \
            else b"DEL"
        client.argv = [verb, key]
        server.dirty += 1
        return Set(popped)
    remaining = size - count
    if remaining * SPOP_MOVE_STRATEGY_MUL > count:
        # Few to pop: pick them one at a time.
        popped = []
        for _ in range(count):
            member = value.random_member()
            value.remove(member)
            popped.append(member)
    else:
        # Most of the set goes: pick the members that stay, build them into
        # a new set (which may be an intset again), pop the rest.
        max_intset = _max_intset(client)
        new = RedisSet()
        for _ in range(remaining):
            member = value.random_member()
            value.remove(member)
            new.add(member, max_intset)
        popped = value.to_list()
        value.replace_with(new)
    # Replicated as one SREM per member (MULTI/EXEC around them), never as
    # the SPOP itself.
    client.argv = None
    for member in popped:
        server.also_propagate(db.id, [b"SREM", key, member])
    db.signal_modified(key)
    server.dirty += count
    return Set(popped)


@command("srandmember")
def srandmember(client, argv):
    if len(argv) == 3:
        return _srandmember_count(client, argv)
    if len(argv) > 3:
        raise errors.SYNTAX
    value = _read_set(client.db, argv[1])
    return None if value is None else value.random_member()


def _srandmember_count(client, argv):
    """SRANDMEMBER key count: distinct members for a positive count, any
    members (repeats allowed) for a negative one."""
    count = parse_int(argv[2])
    if count < -_LONG_MAX:
        raise COUNT_RANGE
    db = client.db
    value = _read_set(db, argv[1])
    # An array, not a set, even in RESP3 (Redis 7.0 replies so).
    if value is None or count == 0:
        return []
    if count < 0:
        pick = value.random_member
        return [pick() for _ in range(-count)]
    size = len(value)
    if count >= size:
        # The whole set, as SUNION replies it (another counted read).
        return _union(client, [_read_set(db, argv[1])]).to_list()
    if count * SRANDMEMBER_SUB_STRATEGY_MUL > size:
        return random.sample(value.to_list(), count)
    chosen = {}
    pick = value.random_member
    while len(chosen) < count:
        chosen[pick()] = None
    return list(chosen)


# -- set algebra -----------------------------------------------------------------


def _intersection(sets, limit=0):
    """The members of every set (none missing), iterating the smallest as
    Redis does; stops after ``limit`` members if it is not 0."""
    sets = sorted(sets, key=len)
    first, others = sets[0], [s for s in sets[1:] if s is not sets[0]]
    found = []
    for member in first:
        for other in others:
            if member not in other:
                break
        else:
            found.append(member)
            if len(found) == limit:
                break
    return found


def _union(client, sets):
    """The union as a new RedisSet (encoded as Redis's result set)."""
    members = set()
    for value in sets:
        if value is not None:
            members.update(value.to_pyset())
    return RedisSet.from_members(members, _max_intset(client))


def _difference(client, sets):
    """The first set minus the others, as a new RedisSet.

    Redis picks one of two algorithms by the work each would do; the second
    adds the whole first set before removing, so its result keeps a
    hashtable encoding if the first set could not be an intset.
    """
    first = sets[0]
    max_intset = _max_intset(client)
    if first is None or any(value is first for value in sets[1:]):
        return RedisSet.from_members(set(), max_intset)
    others = [value for value in sets[1:] if value is not None]
    one_work = len(first) * (len(others) + 1) // 2
    two_work = len(first) + sum(len(value) for value in others)
    members = set(first.to_pyset())
    for value in others:
        members.difference_update(value.to_pyset())
    went_through_hashtable = one_work > two_work and \
        not first.fits_intset(max_intset)
    return RedisSet.from_members(members, max_intset, went_through_hashtable)


@command("sinter")
def sinter(client, argv):
    sets = _read_sets(client.db, argv[1:])
    if None in sets:
        return Set()
    return Set(_intersection(sets))


@command("sintercard")
def sintercard(client, argv):
    numkeys = parse_int(argv[1], NUMKEYS_NOT_POSITIVE)
    if numkeys < 1:
        raise NUMKEYS_NOT_POSITIVE
    if numkeys > len(argv) - 2:
        raise TOO_MANY_NUMKEYS
    limit = 0
    i = 2 + numkeys
    while i < len(argv):
        if argv[i].lower() == b"limit" and i + 1 < len(argv):
            limit = parse_int(argv[i + 1], LIMIT_NEGATIVE)
            if limit < 0:
                raise LIMIT_NEGATIVE
            i += 2
        else:
            raise errors.SYNTAX
    sets = _read_sets(client.db, argv[2:2 + numkeys])
    if None in sets:
        return 0
    return len(_intersection(sets, limit))


@command("sunion")
def sunion(client, argv):
    sets = _read_sets(client.db, argv[1:])
    return Set(_union(client, sets).to_list())


@command("sdiff")
def sdiff(client, argv):
    sets = _read_sets(client.db, argv[1:])
    return Set(_difference(client, sets).to_list())


@command("sinterstore")
def sinterstore(client, argv):
    sets = _read_sets(client.db, argv[2:])
    if None in sets:
        result = RedisSet()
    else:
        result = RedisSet.from_members(set(_intersection(sets)),
                                       _max_intset(client))
    return _store(client, argv[1], result, b"sinterstore")


@command("sunionstore")
def sunionstore(client, argv):
    sets = _read_sets(client.db, argv[2:])
    return _store(client, argv[1], _union(client, sets), b"sunionstore")


@command("sdiffstore")
def sdiffstore(client, argv):
    sets = _read_sets(client.db, argv[2:])
    return _store(client, argv[1], _difference(client, sets), b"sdiffstore")


def _store(client, key, result, event):
    """Store a result set at ``key`` (dropping its TTL), or delete ``key``
    if the result is empty. Returns the result's size."""
    db = client.db
    server = client.server
    size = len(result)
    if size:
        db.set(key, result)
        server.notify(NOTIFY_SET, event, key, db.id)
        server.dirty += 1
    elif db.delete(key):
        server.notify(NOTIFY_GENERIC, b"del", key, db.id)
        server.dirty += 1
    return size


# -- iteration -------------------------------------------------------------------


@command("sscan")
def sscan(client, argv):
    cursor = parse_scan_cursor(argv[2])
    value = _read_set(client.db, argv[1])
    if value is None:
        return [b"0", []]
    pattern, count, _type = parse_scan_options(argv, 3)
    next_cursor, found = value.scan(cursor, count)
    if pattern is not None:
        found = [member for member in found if glob_match(pattern, member)]
    return [b"%d" % next_cursor, found]
