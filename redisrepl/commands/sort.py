"""SORT and SORT_RO, as Redis 7.0's sort.c.

SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
[ALPHA] [STORE destination] sorts the elements of a list, set or sorted set:

* numerically by default: every element (or the value its BY pattern points
  at) must read as a double with C's strtod, else the whole command fails;
  equal scores are ordered by the elements' bytes;
* with ALPHA, as strings: strcoll() (byte order under the C.UTF-8 locale
  Redis runs with; it stops at a NUL byte) for a reply, plain byte order for
  STORE; with BY, elements whose BY key is missing come first;
* ``BY <pattern without *>`` (Redis's "nosort") keeps the native order: a
  list's, a sorted set's by score (both reversed by DESC), a set's as it is
  stored -- except that SORT .. STORE of a set sorts ALPHA, so a replica
  stores the same list.

The full sort is stable, as glibc's merge-sort qsort() Redis calls; a BY
sort that a LIMIT narrows goes through ``pqsort``, a port of Redis's partial
quicksort, since an ALPHA comparison with ties can order the window
differently from a full sort.

SORT reads the collections through ``_READERS``: one small function a type
that turns the value class of lists.py, sets.py or zsets.py into the plain
sequence of bytes SORT works on, so nothing else here knows their internals.
"""

import math
import re
from decimal import Decimal
from fractions import Fraction
from sys import float_info

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.table import command
from redisrepl.config import NOTIFY_GENERIC, NOTIFY_LIST
from redisrepl.keyspace import TYPE_NAMES
from redisrepl.listtype import ListValue, range_items
from redisrepl.resp.values import ReplyError

NOT_A_DOUBLE = ReplyError("ERR One or more scores can't be converted into double")


# -- reading the collections ---------------------------------------------------

def _elements(value):
    """A list head to tail; a set in the order Redis iterates it (numeric
    for an intset; a hashtable's is its own: Redis's dict order cannot be
    reproduced)."""
    return list(value)


def _zset_elements(value):
    """A zset.ZSet's members by score, then by member."""
    return [member for _score, member in value.order]


def _hash_field(value, field):
    """A field of a hashtype.Hash (a dict of bytes), or None."""
    return value.get(field)


def _new_list(elements):
    return ListValue(elements)


def _list_window(value, start, end, desc):
    """BY nosort on a list: only the LIMIT window is read, from the head
    or (DESC) from the tail, as Redis does."""
    last = len(value) - 1
    if not desc:
        return range_items(value, start, end)
    items = range_items(value, last - end, last - start)
    items.reverse()
    return items


def _zset_window(value, start, end, desc):
    """BY nosort on a zset: the LIMIT window in score order (DESC: from
    the highest score)."""
    order = value.order
    if not desc:
        return [member for _score, member in order.islice(start, end + 1)]
    last = len(order) - 1
    return [member for _score, member in
            order.islice(last - end, last - start + 1, reverse=True)]


def _zset_converted(value):
    """SORT turns a listpack sorted set into a skiplist for good, as Redis's
    zsetConvert(sortval, OBJ_ENCODING_SKIPLIST) does (OBJECT ENCODING
    shows it)."""
    value.listpack = False


# Redis type name -> fn(value) giving its elements as a list of bytes.
_READERS = {b"list": _elements, b"set": _elements, b"zset": _zset_elements}
# BY nosort keeps a list's or zset's own order: read only the window.
_WINDOW_READERS = {b"list": _list_window, b"zset": _zset_window}


# -- BY and GET patterns ---------------------------------------------------------

def _c_string(data):
    """What C's string functions see of ``data``: up to the first NUL."""
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


class Pattern:
    """A BY or GET pattern, parsed once (Redis's lookupKeyByPattern).

    ``#`` is the element itself; otherwise the first ``*`` is replaced by
    the element to name a key, which must hold a string -- or, with
    ``->field`` after the ``*``, a hash whose field is read. A pattern
    without ``*`` names nothing (GET gives nil; BY means "do not sort").
    """

    __slots__ = ("is_element", "prefix", "suffix", "field")

    def __init__(self, raw):
        text = _c_string(raw)
        self.is_element = text == b"#"
        self.field = None
        star = text.find(b"*")
        if star < 0:
            self.prefix = None
            return
        self.prefix = raw[:star]
        arrow = text.find(b"->", star + 1)
        if arrow >= 0 and arrow + 2 < len(text):
            self.suffix = raw[star + 1:arrow]
            self.field = raw[arrow + 2:]
        else:
            self.suffix = raw[star + 1:]

    @property
    def names_keys(self):
        return self.prefix is not None

    def lookup(self, db, element):
        """The bytes the pattern gives for ``element``, or None."""
        if self.is_element:
            return element
        if self.prefix is None:
            return None
        value = db.lookup_read(self.prefix + element + self.suffix)
        if value is None:
            return None
        kind = value.__class__
        if self.field is None:
            if kind is bytes:
                return value
            return bytes(value) if kind is bytearray else None
        if TYPE_NAMES.get(kind) != b"hash":
            return None
        return _hash_field(value, self.field)


# -- numbers: C's strtod ---------------------------------------------------------

_C_SPACE = b" \t\n\v\f\r"
_DECIMAL = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HEX = re.compile(
    rb"([+-]?)0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))"
    rb"(?:[pP]([+-]?\d+))?")
_INFINITY = re.compile(rb"[+-]?inf(?:inity)?", re.IGNORECASE)


def parse_score(data):
    """The double SORT reads from ``data``, or None where Redis fails with
    "One or more scores can't be converted into double".

    Redis calls strtod() and refuses the value when it did not stop at the
    terminating NUL, set ERANGE (overflow, or an underflow that lost
    precision) or gave NaN. So leading spaces, hex floats and "inf" are
    fine, "" is 0, and anything after an embedded NUL is never looked at.
    """
    text = _c_string(data)
    start = 0
    while start < len(text) and text[start] in _C_SPACE:
        start += 1
    text = text[start:]
    if not text:
        # No number at all: strtod leaves its end pointer at the start,
        # which is the terminating NUL only for an empty string.
        return 0.0 if start == 0 else None
    if _DECIMAL.fullmatch(text):
        value = float(text)
        if value in (_INF, -_INF):
            return None          # overflow
        if value == 0:
            # Zero is exact only if every digit of the mantissa is 0.
            if any(c in b"123456789" for c in text.lower().split(b"e")[0]):
                return None
        elif abs(value) <= _DBL_MIN:
            exact = abs(Fraction(Decimal(text.decode())))
            if exact < _DBL_MIN:
                tiny = _glibc_tiny(exact, hexadecimal=False)
                return None if tiny is None else math.copysign(tiny, value)
        return value
    match = _HEX.fullmatch(text)
    if match:
        return _hex_score(match)
    if _INFINITY.fullmatch(text):
        return float(text)
    return None                  # NaN, or not a number


_INF = float("inf")
_DBL_MIN = float_info.min
_NAN = float("nan")
# Most scores: short plain decimals, which float() reads exactly as strtod.
_PLAIN_DECIMAL = re.compile(rb"-?\d{1,15}(?:\.\d{1,15})?").fullmatch


def _score_or_nan(data):
    """parse_score, with NaN for a refused value (strtod never gives one)."""
    if _PLAIN_DECIMAL(data):
        return float(data)
    score = parse_score(data)
    return _NAN if score is None else score


def _hex_score(match):
    sign, whole, fraction, only_fraction, exponent = match.groups()
    digits = (whole or b"") + (fraction or only_fraction or b"")
    mantissa = int(digits, 16)
    if mantissa == 0:
        return -0.0 if sign == b"-" else 0.0
    shift = int(exponent or b"0") - 4 * len(fraction or only_fraction or b"")
    magnitude = shift + mantissa.bit_length()
    # Far out of range: overflow, or underflow to 0 (never exact).
    if magnitude > 1100 or magnitude < -1200:
        return None
    exact = Fraction(mantissa) * Fraction(2) ** shift
    if exact < _DBL_MIN:
        value = _glibc_tiny(exact, hexadecimal=True)
        if value is None:
            return None
    else:
        try:
            value = float(exact)  # correctly rounded, as glibc
        except OverflowError:
            return None
    return -value if sign == b"-" else value


def _glibc_tiny(exact, hexadecimal):
    """What glibc's strtod returns for an exact value 0 < ``exact`` <
    DBL_MIN (round_and_return): the subnormal, or None for ERANGE.

    Modelled bit for bit, quirk included: for a hex float the bit just
    below the 53rd is dropped once the mantissa is shifted for a subnormal,
    so it counts as neither inexact nor a reason to round up. Tininess is
    judged after rounding to 53 bits.
    """
    top = exact.numerator.bit_length() - exact.denominator.bit_length()
    if Fraction(2) ** top > exact:
        top -= 1                  # now 2**top <= exact < 2**(top + 1)
    if top < -1075:
        return None
    shift = -1022 - top
    scaled = exact * Fraction(2) ** (52 - top)
    mantissa = scaled.numerator // scaled.denominator      # 53 bits
    rest = scaled - mantissa
    half = rest >= Fraction(1, 2)                           # the 54th bit
    below = (rest * 2).denominator != 1                     # bits after it
    tiny = True
    if shift == 1 and half and (below or mantissa & 1) and \
            mantissa + 1 == 1 << 53:
        tiny = False              # rounds up to DBL_MIN: not tiny
    round_bit = (mantissa >> (shift - 1)) & 1
    sticky = below or (half and not hexadecimal and shift > 1) or \
        mantissa & ((1 << (shift - 1)) - 1) != 0
    result = mantissa >> shift
    if round_bit and (sticky or result & 1):
        result += 1
    if tiny and (round_bit or sticky):
        return None
    return result * 2.0 ** -1074


# -- ordering ----------------------------------------------------------------------

def _limit_window(offset, count, length):
    """Redis's LIMIT clamping: (start, end) inclusive, empty if end < start."""
    start = min(max(offset, 0), length)
    count = min(max(count, -1), length)
    end = length - 1 if count < 0 else start + count - 1
    if start >= length:
        start, end = length - 1, length - 2
    if end >= length:
        end = length - 1
    return start, end


def pqsort(items, keys, first, last):
    """Sort ``items`` in place by ``keys`` (parallel, ints or anything
    ordered) exactly as Redis's pqsort() does: only positions
    ``first..last`` are sure to hold their sorted elements, and equal keys
    end up in the order this quicksort leaves them, which is what a client
    of Redis sees."""
    _pqsort(items, keys, 0, len(items), first, last)


def _pqsort(items, keys, a, n, first, last):
    def swap(i, j):
        items[i], items[j] = items[j], items[i]
        keys[i], keys[j] = keys[j], keys[i]

    def cmp(i, j):
        ki, kj = keys[i], keys[j]
        return (ki > kj) - (ki < kj)

    def med3(i, j, k):
        if cmp(i, j) < 0:
            return j if cmp(j, k) < 0 else (k if cmp(i, k) < 0 else i)
        return j if cmp(j, k) > 0 else (i if cmp(i, k) < 0 else k)

    def insertion_sort():
        for m in range(a + 1, a + n):
            i = m
            while i > a and cmp(i - 1, i) > 0:
                swap(i, i - 1)
                i -= 1

    def overlaps(lo, size):
        # The window first..last meets lo..lo+size-1.
        hi = lo + size - 1
        return not ((first < lo and last < lo) or (first > hi and last > hi))

    while True:
        swapped = False
        if n < 7:
            insertion_sort()
            return
        pm = a + n // 2
        if n > 7:
            pl, pn = a, a + n - 1
            if n > 40:
                d = n // 8
                pl = med3(pl, pl + d, pl + 2 * d)
                pm = med3(pm - d, pm, pm + d)
                pn = med3(pn - 2 * d, pn - d, pn)
            pm = med3(pl, pm, pn)
        swap(a, pm)
        pa = pb = a + 1
        pc = pd = a + n - 1
        while True:
            while pb <= pc:
                result = cmp(pb, a)
                if result > 0:
                    break
                if result == 0:
                    swapped = True
                    swap(pa, pb)
                    pa += 1
                pb += 1
            while pb <= pc:
                result = cmp(pc, a)
                if result < 0:
                    break
                if result == 0:
                    swapped = True
                    swap(pc, pd)
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            swap(pb, pc)
            swapped = True
            pb += 1
            pc -= 1
        if not swapped:
            insertion_sort()
            return
        pn = a + n
        r = min(pa - a, pb - pa)
        for i in range(r):
            swap(a + i, pb - r + i)
        r = min(pd - pc, pn - pd - 1)
        for i in range(r):
            swap(pb + i, pn - r + i)
        r = pb - pa
        if r > 1 and overlaps(a, r):
            _pqsort(items, keys, a, r, first, last)
        r = pd - pc
        if r <= 1:
            return
        a, n = pn - r, r
        if not overlaps(a, n):
            return


def _rank(values):
    """Each value replaced by its rank among the distinct values: small ints
    compare fast and the same way."""
    order = {value: rank for rank, value in enumerate(sorted(set(values)))}
    return [order[value] for value in values]


class SortRequest:
    """The parsed options of one SORT / SORT_RO call."""

    __slots__ = ("by", "gets", "offset", "count", "desc", "alpha", "store")

    def __init__(self, argv, readonly):
        self.by = None          # Pattern
        self.gets = []          # Patterns
        self.offset, self.count = 0, -1
        self.desc = self.alpha = False
        self.store = None       # destination key
        i, argc = 2, len(argv)
        while i < argc:
            option = argv[i].lower()
            left = argc - i - 1
            if option == b"asc":
                self.desc = False
            elif option == b"desc":
                self.desc = True
            elif option == b"alpha":
                self.alpha = True
            elif option == b"limit" and left >= 2:
                self.offset = parse_int(argv[i + 1])
                self.count = parse_int(argv[i + 2])
                i += 2
            elif option == b"store" and left >= 1 and not readonly:
                self.store = argv[i + 1]
                i += 1
            elif option == b"by" and left >= 1:
                self.by = Pattern(argv[i + 1])
                i += 1
            elif option == b"get" and left >= 1:
                self.gets.append(Pattern(argv[i + 1]))
                i += 1
            else:
                raise errors.SYNTAX
            i += 1


def _sorted_elements(db, request, elements, start, end):
    """``elements`` ordered by the request (BY, ALPHA, DESC, STORE), the
    window ``start..end`` sure to be final."""
    by, desc = request.by, request.desc
    if not request.alpha:
        if by is None:
            sources = elements
        else:
            # A missing weight counts as 0 ("" reads as 0).
            lookup = by.lookup
            sources = [lookup(db, element) or b"" for element in elements]
        scores = [_score_or_nan(source) for source in sources]
        if any(score != score for score in scores):
            raise NOT_A_DOUBLE
        # Equal scores fall back to the elements' bytes: a total order, so
        # a full sort gives the window pqsort would.
        pairs = sorted(zip(scores, elements, strict=True), reverse=desc)
        return [element for _score, element in pairs]
    plain_bytes = request.store is not None   # compareStringObjects, not strcoll
    if by is None:
        return sorted(elements, key=None if plain_bytes else _c_string,
                      reverse=desc)
    keys = []
    for element in elements:
        value = by.lookup(db, element)
        # A missing value sorts before any string.
        if value is None:
            keys.append((False, b""))
        else:
            keys.append((True, value if plain_bytes else _c_string(value)))
    if end < start:
        return elements               # nothing to show: no need to sort
    if start != 0 or end != len(elements) - 1:
        ranks = _rank(keys)
        if desc:
            ranks = [-rank for rank in ranks]
        items = list(elements)
        pqsort(items, ranks, start, end)
        return items
    order = sorted(range(len(elements)), key=keys.__getitem__, reverse=desc)
    return [elements[i] for i in order]


def _sort(client, argv, readonly):
    request = SortRequest(argv, readonly)
    db = client.db
    value = db.lookup_read(argv[1])
    if value is None:
        kind, value = b"list", _EMPTY_LIST    # Redis sorts an empty list
    else:
        kind = TYPE_NAMES.get(value.__class__)
        if kind not in _READERS:
            raise errors.WRONGTYPE
        if kind == b"zset":
            _zset_converted(value)
    dontsort = request.by is not None and not request.by.names_keys
    if dontsort and kind == b"set" and request.store is not None:
        # Stored ALPHA-sorted, so that a replica stores the same list.
        dontsort = False
        request.alpha = True
        request.by = None
    start, end = _limit_window(request.offset, request.count, len(value))
    if dontsort and kind in _WINDOW_READERS:
        window = _WINDOW_READERS[kind](value, start, end, request.desc) \
            if end >= start else []
    else:
        elements = _READERS[kind](value)
        if not dontsort:
            # Even for an empty window: every weight is read and checked.
            elements = _sorted_elements(db, request, elements, start, end)
        # (A set's order, unsorted, ignores DESC.)
        window = elements[start:end + 1] if end >= start else []
    if request.store is None:
        return _reply(db, request.gets, window)
    return _store(client, db, request, window)


_EMPTY_LIST = ListValue()


def _reply(db, gets, window):
    if not gets:
        return window
    reply = []
    for element in window:
        for pattern in gets:
            reply.append(pattern.lookup(db, element))
    return reply


def _store(client, db, request, window):
    """STORE: the result becomes a list at the destination; an empty
    result deletes it."""
    key = request.store
    if request.gets:
        stored = []
        for element in window:
            for pattern in request.gets:
                found = pattern.lookup(db, element)
                stored.append(b"" if found is None else found)
    else:
        stored = window
    server = client.server
    if stored:
        created = db.get(key) is None
        db.set(key, _new_list(stored))
        if created:
            db.signal_ready(key)     # Redis's dbAdd wakes blocked clients
        server.notify(NOTIFY_LIST, b"sortstore", key, db.id)
        server.dirty += len(stored)
    elif db.delete(key):
        server.notify(NOTIFY_GENERIC, b"del", key, db.id)
        server.dirty += 1
    return len(stored)


@command("sort")
def sort(client, argv):
    return _sort(client, argv, readonly=False)


@command("sort_ro")
def sort_ro(client, argv):
    return _sort(client, argv, readonly=True)
