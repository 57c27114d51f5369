"""Sorted sets, part 4: ZUNION ZINTER ZDIFF, their STORE forms, and
ZINTERCARD (Redis 7.0 zunionInterDiffGenericCommand).

Inputs may be zsets or plain sets (members scoring 1). As in Redis: the
keys are looked up (and type-checked) before the options are read; union
and intersection visit the inputs from the smallest to the largest (a stable
sort, as glibc's qsort is for these sizes), which fixes the order in which
float sums are made; a weight times a score that is NaN counts as 0, and so
does a NaN sum (inf + -inf).
"""

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.table import command
from redisrepl.commands.zsets import build, scored, store
from redisrepl.commands.zsets_args import parse_double
from redisrepl.resp.values import ReplyError
from redisrepl.settype import RedisSet
from redisrepl.zset import ZSet

WEIGHT_NOT_FLOAT = ReplyError("ERR weight value is not a float")
LIMIT_NEGATIVE = ReplyError("ERR LIMIT can't be negative")

_UNION, _INTER, _DIFF = "union", "inter", "diff"
_EVENTS = {_UNION: b"zunionstore", _INTER: b"zinterstore",
           _DIFF: b"zdiffstore"}


def _sum(target, value):
    total = target + value
    return 0.0 if total != total else total


def _min(target, value):
    return value if value < target else target


def _max(target, value):
    return value if value > target else target


_AGGREGATES = {b"sum": _sum, b"min": _min, b"max": _max}


def _items(source):
    """(score, member) pairs of a zset or a set (scores 1.0)."""
    if type(source) is ZSet:
        return source.order
    return ((1.0, member) for member in source)


def _score_in(source, member):
    """The score of ``member`` in a zset or set, None if absent."""
    if type(source) is ZSet:
        return source.get(member)
    return 1.0 if member in source else None


def _setop(client, argv, numkeys_index, op, dst=None, cardinality=False):
    """The combined (member, score) pairs, or their count for ZINTERCARD;
    ``dst``: store there instead and reply with the size."""
    argc = len(argv)
    numkeys = parse_int(argv[numkeys_index])
    if numkeys < 1:
        raise ReplyError("ERR at least 1 input key is needed for '%s' command"
                         % client.cmd.fullname)
    first = numkeys_index + 1
    if numkeys > argc - first:
        raise errors.SYNTAX
    lookup_read = client.db.lookup_read
    sources = []
    for key in argv[first:first + numkeys]:
        value = lookup_read(key)
        if value is not None and type(value) is not ZSet and \
                type(value) is not RedisSet:
            raise errors.WRONGTYPE
        sources.append(value)
    weights = [1.0] * numkeys
    aggregate = _sum
    withscores = False
    limit = 0
    j = first + numkeys
    while j < argc:
        option = argv[j].lower()
        remaining = argc - j
        if op is not _DIFF and not cardinality and remaining >= numkeys + 1 \
                and option == b"weights":
            weights = [parse_double(arg, WEIGHT_NOT_FLOAT)
                       for arg in argv[j + 1:j + 1 + numkeys]]
            j += 1 + numkeys
        elif op is not _DIFF and not cardinality and remaining >= 2 and \
                option == b"aggregate":
            aggregate = _AGGREGATES.get(argv[j + 1].lower())
            if aggregate is None:
                raise errors.SYNTAX
            j += 2
        elif dst is None and not cardinality and option == b"withscores":
            withscores = True
            j += 1
        elif cardinality and remaining >= 2 and option == b"limit":
            limit = parse_int(argv[j + 1], LIMIT_NEGATIVE)
            if limit < 0:
                raise LIMIT_NEGATIVE
            j += 2
        else:
            raise errors.SYNTAX
    weighted = list(zip(weights, sources, strict=True))
    if op is _UNION:
        result = _union(weighted, aggregate)
    elif op is _INTER:
        result = _inter(weighted, aggregate, limit if cardinality else None)
    else:
        result = _diff(sources)
    if cardinality:
        return result
    if dst is not None:
        return store(client, dst, build(client, list(result.items())),
                     _EVENTS[op])
    pairs = sorted((score, member) for member, score in result.items())
    if withscores:
        return scored(client, pairs)
    return [member for _score, member in pairs]


def _by_size(weighted):
    return sorted(weighted, key=lambda pair: len(pair[1]) if pair[1] else 0)


def _union(weighted, aggregate):
    result = {}
    for weight, source in _by_size(weighted):
        if not source:
            continue
        for score, member in _items(source):
            score = weight * score
            if score != score:
                score = 0.0
            current = result.get(member)
            result[member] = score if current is None else \
                aggregate(current, score)
    return result


def _inter(weighted, aggregate, limit):
    """member -> score of the intersection; with ``limit`` not None, only
    the count (ZINTERCARD), stopping at ``limit`` if it is not 0."""
    weighted = _by_size(weighted)
    first_weight, first = weighted[0]
    result = {}
    count = 0
    if not first:
        return count if limit is not None else result
    others = weighted[1:]
    for base, member in _items(first):
        score = first_weight * base
        if score != score:
            score = 0.0
        for weight, other in others:
            if other is first:
                value = base
            else:
                value = _score_in(other, member) if other else None
                if value is None:
                    break
            score = aggregate(score, value * weight)
        else:
            if limit is not None:
                count += 1
                if limit and count >= limit:
                    break
            else:
                result[member] = score
    return count if limit is not None else result


def _diff(sources):
    first = sources[0]
    if not first:
        return {}
    others = [source for source in sources[1:] if source]
    return {member: score for score, member in _items(first)
            if not any(_score_in(other, member) is not None
                       for other in others)}


@command("zunion")
def zunion(client, argv):
    return _setop(client, argv, 1, _UNION)


@command("zinter")
def zinter(client, argv):
    return _setop(client, argv, 1, _INTER)


@command("zdiff")
def zdiff(client, argv):
    return _setop(client, argv, 1, _DIFF)


@command("zunionstore")
def zunionstore(client, argv):
    return _setop(client, argv, 2, _UNION, dst=argv[1])


@command("zinterstore")
def zinterstore(client, argv):
    return _setop(client, argv, 2, _INTER, dst=argv[1])


@command("zdiffstore")
def zdiffstore(client, argv):
    return _setop(client, argv, 2, _DIFF, dst=argv[1])


@command("zintercard")
def zintercard(client, argv):
    return _setop(client, argv, 1, _INTER, cardinality=True)
