"""Sorted sets, part 3: ranges by rank, score and lex (Redis 7.0 t_zset.c
zrangeGenericCommand and zremrangeGenericCommand): ZRANGE ZRANGESTORE
ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZCOUNT
ZLEXCOUNT ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX.

All of them find their range with O(log n) bisections over the zset order;
only the elements returned or removed are visited. Everything is
deterministic, so everything propagates as sent.
"""

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.table import command
from redisrepl.commands.zsets import (
    build,
    read_zset,
    removed,
    scored,
    store,
    write_zset,
)
from redisrepl.commands.zsets_args import parse_lex_range, parse_score_range
from redisrepl.resp.values import ReplyError

_RANK, _SCORE, _LEX = "rank", "score", "lex"

LIMIT_NEEDS_SCORE_OR_LEX = ReplyError(
    "ERR syntax error, LIMIT is only supported in combination with either "
    "BYSCORE or BYLEX")
WITHSCORES_WITH_LEX = ReplyError(
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX")


def _rank_bounds(start, end, size):
    """Redis's clamping of rank arguments: (lo, hi) positions, half-open."""
    if start < 0:
        start += size
    if end < 0:
        end += size
    if start < 0:
        start = 0
    if start > end or start >= size:
        return 0, 0
    return start, min(end, size - 1) + 1


def _zrange(client, argv, first, store_to, rangetype, reverse):
    """The one ZRANGE: ``first`` is the index of the source key; None for
    ``rangetype`` / ``reverse`` means "chosen by the options" (ZRANGE and
    ZRANGESTORE), anything else is fixed by the command."""
    argc = len(argv)
    withscores = False
    offset, limit = 0, -1
    j = first + 3
    while j < argc:
        option = argv[j].lower()
        if store_to is None and option == b"withscores":
            withscores = True
        elif option == b"limit" and argc - j - 1 >= 2:
            offset = parse_int(argv[j + 1])
            limit = parse_int(argv[j + 2])
            j += 2
        elif reverse is None and option == b"rev":
            reverse = True
        elif rangetype is None and option == b"bylex":
            rangetype = _LEX
        elif rangetype is None and option == b"byscore":
            rangetype = _SCORE
        else:
            raise errors.SYNTAX
        j += 1
    reverse = bool(reverse)
    rangetype = rangetype or _RANK
    if limit != -1 and rangetype is _RANK:
        raise LIMIT_NEEDS_SCORE_OR_LEX
    if withscores and rangetype is _LEX:
        raise WITHSCORES_WITH_LEX
    low, high = argv[first + 1], argv[first + 2]
    if reverse and rangetype is not _RANK:
        low, high = high, low     # given as max, min
    if rangetype is _RANK:
        start, end = parse_int(low), parse_int(high)
    elif rangetype is _SCORE:
        bounds = parse_score_range(low, high)
    else:
        lex_low, lex_high = parse_lex_range(low, high)
    zset = read_zset(client, argv[first])
    if zset is None:
        return [] if store_to is None else store(client, store_to, None, b"")
    order = zset.order
    if rangetype is _RANK:
        lo, hi = _rank_bounds(start, end, len(order))
        if reverse:
            lo, hi = len(order) - hi, len(order) - lo
    else:
        if rangetype is _SCORE:
            lo, hi = zset.score_range(*bounds)
        else:
            lo, hi = zset.lex_range(lex_low, lex_high, reverse)
        # Skip ``offset`` then take ``limit`` (negative: all) from the
        # start of the walk; a negative offset skips everything, as the
        # C loop does.
        if offset < 0:
            lo = hi
        elif reverse:
            hi = max(lo, hi - offset)
            if limit >= 0:
                lo = max(lo, hi - limit)
        else:
            lo = min(hi, lo + offset)
            if limit >= 0:
                hi = min(hi, lo + limit)
    pairs = order[lo:hi]
    if reverse:
        pairs.reverse()
    if store_to is not None:
        result = build(client, [(member, score) for score, member in pairs])
        return store(client, store_to, result, b"zrangestore")
    if withscores:
        return scored(client, pairs)
    return [member for _score, member in pairs]


@command("zrange")
def zrange(client, argv):
    return _zrange(client, argv, 1, None, None, None)


@command("zrangestore")
def zrangestore(client, argv):
    return _zrange(client, argv, 2, argv[1], None, None)


@command("zrevrange")
def zrevrange(client, argv):
    return _zrange(client, argv, 1, None, _RANK, True)


@command("zrangebyscore")
def zrangebyscore(client, argv):
    return _zrange(client, argv, 1, None, _SCORE, False)


@command("zrevrangebyscore")
def zrevrangebyscore(client, argv):
    return _zrange(client, argv, 1, None, _SCORE, True)


@command("zrangebylex")
def zrangebylex(client, argv):
    return _zrange(client, argv, 1, None, _LEX, False)


@command("zrevrangebylex")
def zrevrangebylex(client, argv):
    return _zrange(client, argv, 1, None, _LEX, True)


# -- counting ----------------------------------------------------------------------


@command("zcount")
def zcount(client, argv):
    bounds = parse_score_range(argv[2], argv[3])
    zset = read_zset(client, argv[1])
    if zset is None:
        return 0
    lo, hi = zset.score_range(*bounds)
    return hi - lo


@command("zlexcount")
def zlexcount(client, argv):
    low, high = parse_lex_range(argv[2], argv[3])
    zset = read_zset(client, argv[1])
    if zset is None:
        return 0
    lo, hi = zset.lex_range(low, high)
    return hi - lo


# -- removing ranges ---------------------------------------------------------------


def _zremrange(client, argv, event, find):
    db = client.db
    key = argv[1]
    zset = write_zset(db, key)
    if zset is None:
        return 0
    lo, hi = find(zset)
    if hi <= lo:
        return 0
    deleted = zset.delete_range(lo, hi)
    removed(client, db, key, zset, event, deleted)
    return deleted


@command("zremrangebyrank")
def zremrangebyrank(client, argv):
    start, end = parse_int(argv[2]), parse_int(argv[3])
    return _zremrange(client, argv, b"zremrangebyrank",
                      lambda zset: _rank_bounds(start, end, len(zset)))


@command("zremrangebyscore")
def zremrangebyscore(client, argv):
    bounds = parse_score_range(argv[2], argv[3])
    return _zremrange(client, argv, b"zremrangebyscore",
                      lambda zset: zset.score_range(*bounds))


@command("zremrangebylex")
def zremrangebylex(client, argv):
    low, high = parse_lex_range(argv[2], argv[3])
    return _zremrange(client, argv, b"zremrangebylex",
                      lambda zset: zset.lex_range(low, high))
