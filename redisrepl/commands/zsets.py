"""Sorted sets, part 1: ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK
ZREVRANK ZSCAN, and the helpers the other zset modules share (Redis 7.0
t_zset.c). Ranges are in zsets_ranges.py, pops and ZRANDMEMBER in
zsets_pop.py, ZUNION/ZINTER/ZDIFF in zsets_ops.py.

Every write bumps ``server.dirty`` by the number of elements changed, so a
command that changes nothing is not propagated; the commands here are
deterministic and propagate as sent (ZADD INCR and ZINCRBY included).
"""

from redisrepl import errors
from redisrepl.commands.args import parse_scan_cursor, parse_scan_options
from redisrepl.commands.table import command
from redisrepl.commands.zsets_args import NAN_SCORE, parse_double
from redisrepl.config import NOTIFY_GENERIC, NOTIFY_ZSET
from redisrepl.glob import glob_match
from redisrepl.resp.encoder import format_double
from redisrepl.resp.values import Double, ReplyError
from redisrepl.zset import ZSet, fits_listpack, listpack_score_text

WRONGTYPE = errors.WRONGTYPE
XX_AND_NX = ReplyError(
    "ERR XX and NX options at the same time are not compatible")
GT_LT_NX = ReplyError(
    "ERR GT, LT, and/or NX options at the same time are not compatible")
INCR_ONE_PAIR = ReplyError(
    "ERR INCR option supports a single increment-element pair")

# -- shared helpers ------------------------------------------------------------


def read_zset(client, key):
    """The zset at ``key`` for a read command (hits/misses), None if
    missing, WRONGTYPE if something else."""
    return client.db.read_typed(key, ZSet)


def write_zset(db, key):
    """The zset at ``key`` for a write command, None if missing."""
    return db.get_typed(key, ZSet)


def scored(client, pairs):
    """WITHSCORES replies from (score, member) pairs: a flat array in RESP2,
    [member, score] arrays in RESP3, as Redis sends them.

    In RESP2 a double is a bulk string of its %.17g text, so the scores go
    out as bytes: the encoder's fast path for arrays of bulk strings, where
    a Double per element would cost as much as the command itself."""
    if client.resp == 2:
        out = []
        append = out.append
        for score, member in pairs:
            append(member)
            append(b"%.17g" % score)
        return out
    return [[member, Double(score)] for score, member in pairs]


def removed(client, db, key, zset, event, count):
    """After removing ``count`` elements from ``zset`` at ``key``: the
    event, the key deleted if emptied (with its "del"), dirty."""
    server = client.server
    server.notify(NOTIFY_ZSET, event, key, db.id)
    if zset:
        db.signal_modified(key)
    else:
        db.delete(key)
        server.notify(NOTIFY_GENERIC, b"del", key, db.id)
    server.dirty += count


def store(client, key, zset, event):
    """Store a computed zset at ``key`` (ZRANGESTORE, ZUNIONSTORE...): an
    empty result deletes the key instead. Returns the reply."""
    db = client.db
    server = client.server
    if zset:
        created = db.get(key) is None
        db.set(key, zset)
        server.notify(NOTIFY_ZSET, event, key, db.id)
        server.dirty += 1
        if created:
            db.signal_ready(key)
        return len(zset)
    if db.delete(key):
        server.notify(NOTIFY_GENERIC, b"del", key, db.id)
        server.dirty += 1
    return 0


def build(client, pairs):
    """A new zset from (member, score) pairs with distinct members, encoded
    as Redis encodes a computed result."""
    longest = max((len(member) for member, _score in pairs), default=0)
    return ZSet.from_pairs(
        pairs, fits_listpack(len(pairs), longest, client.server.config))


# -- ZADD / ZINCRBY ---------------------------------------------------------------

_NX, _XX, _GT, _LT, _CH, _INCR = 1, 2, 4, 8, 16, 32
_ZADD_FLAGS = {b"nx": _NX, b"xx": _XX, b"gt": _GT, b"lt": _LT, b"ch": _CH,
               b"incr": _INCR}


@command("zadd")
def zadd(client, argv):
    return _zadd(client, argv, 0)


@command("zincrby")
def zincrby(client, argv):
    # ZINCRBY is ZADD INCR; Redis even reads its increment as a flag first.
    return _zadd(client, argv, _INCR)


def _zadd(client, argv, flags):
    argc = len(argv)
    i = 2
    get_flag = _ZADD_FLAGS.get
    while i < argc:
        flag = get_flag(argv[i].lower())
        if flag is None:
            break
        flags |= flag
        i += 1
    pairs = argc - i
    if pairs % 2 or not pairs:
        raise errors.SYNTAX
    nx, xx, gt, lt = flags & _NX, flags & _XX, flags & _GT, flags & _LT
    incr = flags & _INCR
    if nx and xx:
        raise XX_AND_NX
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise GT_LT_NX
    if incr and pairs > 2:
        raise INCR_ONE_PAIR
    # Every score is checked before anything changes.
    scores = [parse_double(argv[j]) for j in range(i, argc, 2)]
    db = client.db
    key = argv[1]
    zset = db.get(key)
    if zset is None:
        if xx:
            return None if incr else 0
        config = client.server.config
        zset = ZSet(config["zset-max-listpack-entries"] != 0 and
                    len(argv[i + 1]) <= config["zset-max-listpack-value"])
        db.set(key, zset)
        db.signal_ready(key)
    elif type(zset) is not ZSet:
        raise WRONGTYPE
    added = updated = 0
    processed = False
    score = 0.0
    limits = None
    for n, score in enumerate(scores):
        member = argv[i + 2 * n + 1]
        current = zset.get(member)
        if current is not None:
            if nx:
                continue
            if incr:
                score += current
                if score != score:
                    raise NAN_SCORE
            if (lt and score >= current) or (gt and score <= current):
                continue
            processed = True
            if score != current:
                zset.set_score(member, current, score)
                updated += 1
        elif not xx:
            if zset.listpack:
                if limits is None:
                    config = client.server.config
                    limits = (config["zset-max-listpack-entries"],
                              config["zset-max-listpack-value"])
                if len(zset) + 1 > limits[0] or len(member) > limits[1]:
                    zset.listpack = False
            zset.insert(member, score)
            added += 1
            processed = True
    if added or updated:
        server = client.server
        server.dirty += added + updated
        db.signal_modified(key)
        server.notify(NOTIFY_ZSET, b"zincr" if incr else b"zadd", key, db.id)
    if incr:
        return Double(score) if processed else None
    return added + updated if flags & _CH else added


# -- removing and reading members ----------------------------------------------


@command("zrem")
def zrem(client, argv):
    db = client.db
    key = argv[1]
    zset = write_zset(db, key)
    if zset is None:
        return 0
    deleted = 0
    for member in argv[2:]:
        if zset.discard(member):
            deleted += 1
            if not zset:
                break
    if deleted:
        removed(client, db, key, zset, b"zrem", deleted)
    return deleted


@command("zcard")
def zcard(client, argv):
    zset = read_zset(client, argv[1])
    return 0 if zset is None else len(zset)


@command("zscore")
def zscore(client, argv):
    zset = read_zset(client, argv[1])
    if zset is None:
        return None
    score = zset.get(argv[2])
    return None if score is None else Double(score)


@command("zmscore")
def zmscore(client, argv):
    zset = read_zset(client, argv[1])
    if zset is None:
        return [None] * (len(argv) - 2)
    get = zset.get
    return [None if score is None else Double(score)
            for score in map(get, argv[2:])]


@command("zrank")
def zrank(client, argv):
    zset = read_zset(client, argv[1])
    return None if zset is None else zset.rank(argv[2])


@command("zrevrank")
def zrevrank(client, argv):
    zset = read_zset(client, argv[1])
    if zset is None:
        return None
    rank = zset.rank(argv[2])
    return None if rank is None else len(zset) - 1 - rank


# -- ZSCAN ------------------------------------------------------------------------

@command("zscan")
def zscan(client, argv):
    cursor = parse_scan_cursor(argv[2])
    zset = read_zset(client, argv[1])
    if zset is None:
        return [b"0", []]
    pattern, count, _type = parse_scan_options(argv, 3)
    if zset.listpack:
        # A listpack is small: all of it in one call, in zset order.
        next_cursor = 0
        found = [(member, listpack_score_text(score))
                 for score, member in zset.order]
    else:
        next_cursor, members = zset.scan(cursor, count)
        found = [(member, format_double(zset[member])) for member in members]
    flat = []
    for member, text in found:
        if pattern is None or glob_match(pattern, member):
            flat.append(member)
            flat.append(text)
    return [b"%d" % next_cursor, flat]
