"""Sorted sets, part 2: ZPOPMIN ZPOPMAX ZMPOP, the blocking BZPOPMIN
BZPOPMAX BZMPOP, and ZRANDMEMBER (Redis 7.0 t_zset.c, blocked.c).

Propagation, as Redis 7.0 rewrites it: ZPOPMIN/ZPOPMAX as sent; ZMPOP as
ZPOPMIN/ZPOPMAX key <count given>; BZPOPMIN/BZPOPMAX as ZPOPMIN/ZPOPMAX
key; BZMPOP as ZPOPMIN/ZPOPMAX key <count popped>, whether it is served at
once or later, when a write fills the key it waits on.
"""

import random

from redisrepl import errors
from redisrepl.commands.args import parse_int, parse_timeout_seconds
from redisrepl.commands.table import command
from redisrepl.commands.zsets import read_zset, removed, scored, write_zset
from redisrepl.commands.zsets_args import parse_positive, parse_range_long
from redisrepl.resp.values import NULL_ARRAY, Double, ReplyError
from redisrepl.zset import ZSet

_LONG_MAX = (1 << 63) - 1
NUMKEYS = ReplyError("ERR numkeys should be greater than 0")
COUNT = ReplyError("ERR count should be greater than 0")
RANDMEMBER_RANGE = ReplyError(
    "ERR value is out of range, value must between -9223372036854775807 and "
    "9223372036854775807")
WITHSCORES_RANGE = ReplyError("ERR value is out of range")

_VERBS = {False: b"ZPOPMIN", True: b"ZPOPMAX"}


def _pop(client, db, key, zset, from_max, count):
    """Pop up to ``count`` elements, as (score, member) pairs in pop order."""
    pairs = zset.pop_ends(count, from_max)
    removed(client, db, key, zset, b"zpopmax" if from_max else b"zpopmin",
            len(pairs))
    return [(score, member) for member, score in pairs]


# -- ZPOPMIN / ZPOPMAX / ZMPOP -----------------------------------------------------


def _zpop(client, argv, from_max):
    if len(argv) > 3:
        raise errors.SYNTAX
    count = parse_positive(argv[2]) if len(argv) == 3 else -1
    db = client.db
    key = argv[1]
    zset = write_zset(db, key)
    if zset is None or count == 0:
        return []
    pairs = _pop(client, db, key, zset, from_max, 1 if count == -1 else count)
    if client.resp > 2 and count != -1:
        return scored(client, pairs)
    flat = []
    for score, member in pairs:
        flat.append(member)
        flat.append(Double(score))
    return flat


@command("zpopmin")
def zpopmin(client, argv):
    return _zpop(client, argv, False)


@command("zpopmax")
def zpopmax(client, argv):
    return _zpop(client, argv, True)


def _parse_mpop(argv, numkeys_index):
    """numkeys key [key ...] MIN|MAX [COUNT count]: (keys, from_max, count)."""
    numkeys = parse_range_long(argv[numkeys_index], 1, _LONG_MAX, NUMKEYS)
    where_index = numkeys_index + numkeys + 1
    if where_index >= len(argv):
        raise errors.SYNTAX
    where = argv[where_index].lower()
    if where not in (b"min", b"max"):
        raise errors.SYNTAX
    count = -1
    j = where_index + 1
    while j < len(argv):
        if count == -1 and argv[j].lower() == b"count" and j + 1 < len(argv):
            j += 1
            count = parse_range_long(argv[j], 1, _LONG_MAX, COUNT)
        else:
            raise errors.SYNTAX
        j += 1
    return argv[numkeys_index + 1:where_index], where == b"max", max(count, 1)


def _first_zset(db, keys):
    """The first of ``keys`` holding a zset, (key, zset), or (None, None);
    WRONGTYPE if the first existing one holds something else."""
    for key in keys:
        zset = write_zset(db, key)
        if zset is not None:
            return key, zset
    return None, None


def _nested(pairs):
    return [[member, Double(score)] for score, member in pairs]


@command("zmpop")
def zmpop(client, argv):
    keys, from_max, count = _parse_mpop(argv, 1)
    db = client.db
    key, zset = _first_zset(db, keys)
    if zset is None:
        return NULL_ARRAY
    pairs = _pop(client, db, key, zset, from_max, count)
    client.argv = [_VERBS[from_max], key, b"%d" % count]
    return [key, _nested(pairs)]


# -- blocking pops ---------------------------------------------------------------


def _blocking_pop(client, keys, timeout_ms, from_max, count):
    """Pop from the first non-empty key, or block on all of them.
    ``count`` is None for BZPOPMIN/BZPOPMAX (one element, flat reply)."""
    db = client.db
    key, zset = _first_zset(db, keys)
    if zset is not None:
        reply, client.argv = _serve_now(client, db, key, zset, from_max,
                                        count)
        return reply

    def serve(waiting, db, key):
        zset = db.get(key)
        if zset is None or type(zset) is not ZSet:
            return None
        reply, argv = _serve_now(waiting, db, key, zset, from_max, count)
        waiting.server.also_propagate(db.id, argv)
        return reply

    return client.server.blocking.block(client, keys, timeout_ms, serve,
                                        NULL_ARRAY)


def _serve_now(client, db, key, zset, from_max, count):
    """(reply, propagated argv) of a blocking pop served from ``zset``."""
    verb = _VERBS[from_max]
    if count is None:
        ((score, member),) = _pop(client, db, key, zset, from_max, 1)
        return [key, member, Double(score)], [verb, key]
    popped = min(count, len(zset))
    pairs = _pop(client, db, key, zset, from_max, popped)
    return [key, _nested(pairs)], [verb, key, b"%d" % popped]


def _timeout(client, arg):
    return parse_timeout_seconds(arg, client.server.now_ms())


@command("bzpopmin")
def bzpopmin(client, argv):
    return _blocking_pop(client, argv[1:-1], _timeout(client, argv[-1]),
                         False, None)


@command("bzpopmax")
def bzpopmax(client, argv):
    return _blocking_pop(client, argv[1:-1], _timeout(client, argv[-1]),
                         True, None)


@command("bzmpop")
def bzmpop(client, argv):
    keys, from_max, count = _parse_mpop(argv, 2)
    return _blocking_pop(client, keys, _timeout(client, argv[1]), from_max,
                         count)


# -- ZRANDMEMBER -------------------------------------------------------------------


@command("zrandmember")
def zrandmember(client, argv):
    argc = len(argv)
    if argc == 2:
        zset = read_zset(client, argv[1])
        if zset is None:
            return None
        return zset.order[random.randrange(len(zset))][1]
    count = parse_int(argv[2])
    if count < -_LONG_MAX:
        raise RANDMEMBER_RANGE
    if argc > 4 or (argc == 4 and argv[3].lower() != b"withscores"):
        raise errors.SYNTAX
    withscores = argc == 4
    if withscores and not -(_LONG_MAX // 2) <= count <= _LONG_MAX // 2:
        raise WITHSCORES_RANGE
    zset = read_zset(client, argv[1])
    if zset is None or count == 0:
        return []
    order = zset.order
    size = len(order)
    if count < 0 or count == 1:
        # Repetitions allowed: independent picks.
        picks = [order[random.randrange(size)] for _ in range(abs(count))]
    elif count >= size:
        # The whole zset, in the order Redis 7.0 returns it (reversed).
        picks = list(reversed(order))
    else:
        picks = [order[i] for i in random.sample(range(size), count)]
    if withscores:
        return scored(client, picks)
    return [member for _score, member in picks]
