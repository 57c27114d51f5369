"""The sorted set value, in Redis 7.0's two encodings.

A ``ZSet`` is a dict member -> score (O(1) ZSCORE, ZADD's existence test)
plus ``order``, a ``SortedList`` of (score, member) pairs: the zset order
Redis keeps in its skiplist (by score, then by member bytes), with O(log n)
insertion, removal, rank and positional access. Tuples compare exactly as
Redis orders elements: scores as doubles (-0.0 == 0.0), then members with
memcmp and the shorter first.

OBJECT ENCODING: ``listpack`` is a flag, not a layout. Handlers clear it when
Redis would convert (``zset-max-listpack-entries`` / ``-value`` exceeded) and
it never comes back on its own (sticky), except that ZUNIONSTORE & co build
their result from scratch (see ``fits_listpack``). The flag matters to
clients in three places, all mirrored here: OBJECT ENCODING, ZSCAN (a
listpack is returned whole, with cursor 0) and the scores themselves: a
listpack stores a score as text (d2string), so -0.0 comes back as 0 --
``insert`` and ``set_score`` normalize it while the flag is set.

Ranges are half-open index pairs (lo, hi) into ``order``. Score ranges
bisect. Lex ranges (ZRANGEBYLEX...) assume, as Redis does, that members
are in lexicographic order along the zset (all scores equal); when they are
not, Redis's answer depends on its layout: a listpack is scanned
linearly, which ``lex_range`` reproduces exactly for listpack zsets.
"""

from sortedcontainers import SortedList

from redisrepl.keyspace import register_type
from redisrepl.resp.encoder import format_double
from redisrepl.scan import ScanIndex


class _Top:
    """Compares greater than any member: (score, TOP) sorts after every
    element with that score."""

    __slots__ = ()

    def __lt__(self, other):
        return False

    def __gt__(self, other):
        return True


TOP = _Top()

# The bounds "-" and "+" of a lex range (Redis's shared.minstring/maxstring).
LEX_MIN = b"-"
LEX_MAX = b"+"


class LexBound:
    """One end of a lex range: ``value`` (bytes, or None for - / +) and
    whether it is exclusive."""

    __slots__ = ("exclusive", "infinite", "value")

    def __init__(self, value, exclusive, infinite=None):
        self.value = value
        self.exclusive = exclusive
        self.infinite = infinite    # None, LEX_MIN or LEX_MAX


class ZSet(dict):
    """member -> score, plus the (score, member) order. Never empty in a
    keyspace: whoever empties one deletes its key."""

    __slots__ = ("_index", "listpack", "order")

    def __init__(self, listpack=True):
        self.order = SortedList()
        self.listpack = listpack
        self._index = None      # ScanIndex, once ZSCAN needs it

    # -- writes --------------------------------------------------------------

    def insert(self, member, score):
        """Add a member that is not there yet."""
        if self.listpack and score == 0.0:
            score = 0.0     # a listpack keeps "0" for -0.0
        self[member] = score
        self.order.add((score, member))
        if self._index is not None:
            self._index.added(member)

    def set_score(self, member, old, new):
        """Move an existing member from score ``old`` to ``new``."""
        if self.listpack and new == 0.0:
            new = 0.0
        order = self.order
        order.remove((old, member))
        order.add((new, member))
        self[member] = new

    def discard(self, member):
        """Remove ``member``; True if it was there."""
        score = self.pop(member, None)
        if score is None:
            return False
        self.order.remove((score, member))
        return True

    def pop_ends(self, count, from_max):
        """Remove and return up to ``count`` (member, score) pairs from the
        low end (ZPOPMIN) or the high end, in pop order."""
        order = self.order
        count = min(count, len(order))
        if from_max:
            taken = order[len(order) - count:]
            taken.reverse()
            del order[len(order) - count:]
        else:
            taken = order[:count]
            del order[:count]
        for _score, member in taken:
            del self[member]
        return [(member, score) for score, member in taken]

    def delete_range(self, lo, hi):
        """Remove the elements at positions lo..hi-1; returns how many."""
        order = self.order
        for _score, member in order.islice(lo, hi):
            del self[member]
        del order[lo:hi]
        return hi - lo

    # -- queries -------------------------------------------------------------

    def rank(self, member):
        """0-based position of ``member`` in the zset order, or None."""
        score = self.get(member)
        if score is None:
            return None
        return self.order.bisect_left((score, member))

    def score_range(self, low, low_ex, high, high_ex):
        """(lo, hi) of the elements whose score is within the bounds."""
        order = self.order
        lo = order.bisect_left((low, TOP) if low_ex else (low,))
        hi = order.bisect_left((high,) if high_ex else (high, TOP))
        return lo, max(lo, hi)

    def lex_range(self, low, high, reverse=False):
        """(lo, hi) of the elements within the lex bounds (LexBound)."""
        if _lex_range_empty(low, high):
            return 0, 0
        order = self.order
        n = len(order)
        if not n or not _gte_min(order[n - 1][1], low) or \
                not _lte_max(order[0][1], high):
            return 0, 0
        if not self.listpack:
            # Ordered members assumed: two bisections.
            lo = _first_index(order, 0, n, lambda m: _gte_min(m, low))
            hi = _first_index(order, lo, n, lambda m: not _lte_max(m, high))
            return lo, hi
        # A listpack is walked as Redis walks it: from the first element
        # past the low bound (or, reversed, the last under the high one).
        members = [member for _score, member in order]
        if reverse:
            hi = n
            while hi and not _lte_max(members[hi - 1], high):
                hi -= 1
            lo = hi
            while lo and _gte_min(members[lo - 1], low):
                lo -= 1
            return lo, hi
        lo = 0
        while lo < n and not _gte_min(members[lo], low):
            lo += 1
        hi = lo
        while hi < n and _lte_max(members[hi], high):
            hi += 1
        return lo, hi

    def scan(self, cursor, count):
        """(next cursor, members) for ZSCAN of a skiplist zset."""
        if self._index is None:
            self._index = ScanIndex(self)
        return self._index.scan(cursor, count)

    # -- whole values ----------------------------------------------------------

    @classmethod
    def from_pairs(cls, pairs, listpack):
        """A zset holding ``pairs`` ((member, score), members distinct)."""
        zset = cls(listpack)
        if listpack:
            pairs = [(m, 0.0 if s == 0.0 else s) for m, s in pairs]
        zset.update(pairs)
        zset.order = SortedList((s, m) for m, s in pairs)
        return zset

    def copy(self):
        """An independent copy, same encoding (COPY)."""
        twin = ZSet(self.listpack)
        twin.update(self)
        twin.order = self.order.copy()
        return twin

    def __repr__(self):
        encoding = "listpack" if self.listpack else "skiplist"
        return f"<ZSet {encoding} {list(self.order)!r}>"


def fits_listpack(length, longest_member, config):
    """Whether a zset built whole (ZUNIONSTORE, ZRANGESTORE...) is a
    listpack (Redis's zsetConvertToListpackIfNeeded)."""
    return length <= config["zset-max-listpack-entries"] and \
        longest_member <= config["zset-max-listpack-value"]


def _first_index(order, lo, hi, predicate):
    """The first position in [lo, hi) whose member satisfies ``predicate``,
    assuming it is false then true along the range (hi if never)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if predicate(order[mid][1]):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _gte_min(member, low):
    if low.infinite is not None:
        return low.infinite is LEX_MIN
    return member > low.value if low.exclusive else member >= low.value


def _lte_max(member, high):
    if high.infinite is not None:
        return high.infinite is LEX_MAX
    return member < high.value if high.exclusive else member <= high.value


def _lex_range_empty(low, high):
    """Redis's zslIsInLexRange test on the bounds alone (sdscmplex)."""
    if low.infinite is not None and low.infinite is high.infinite:
        return True     # "- -" and "+ +": equal bounds, both exclusive
    if low.infinite is LEX_MAX or high.infinite is LEX_MIN:
        return True
    if low.infinite is not None or high.infinite is not None:
        return False
    if low.value > high.value:
        return True
    return low.value == high.value and (low.exclusive or high.exclusive)


_HALF_LLONG = float((1 << 62) - 1)   # (double)(LLONG_MAX / 2)


def listpack_score_text(score):
    """A score as a listpack holds it (d2string): an integer when the
    double is one (within half the long long range), else %.17g."""
    if -_HALF_LLONG <= score <= _HALF_LLONG and score == int(score):
        return b"%d" % score
    return format_double(score)


def _encoding(zset):
    return b"listpack" if zset.listpack else b"skiplist"


register_type(ZSet, b"zset", copier=ZSet.copy, encoding=_encoding)
