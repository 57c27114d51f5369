"""Redis's HyperLogLog string representation (hyperloglog.c), sans-IO.

An HLL is an ordinary string, so it is stored, replicated and saved as the
exact bytes Redis would hold, and one written by real Redis counts the same
here. Layout, all little endian:

    "HYLL" | encoding (0 dense, 1 sparse) | 3 unused bytes | cached card (8)

The cached cardinality is valid while the top bit of its last byte is clear;
a change only sets that bit, so the stale low bytes stay (and are compared).

* Dense: 16384 registers of 6 bits, packed from each byte's low bits up.
* Sparse: run lengths of registers, purely positional:
    ZERO  00xxxxxx            1..64 zero registers
    XZERO 01xxxxxx yyyyyyyy   1..16384 zero registers
    VAL   1vvvvvxx            1..4 registers holding 1..32
  It becomes dense when a register needs more than 32 or the string would
  pass ``hll-sparse-max-bytes``.

The sparse updates below follow Redis's hllSparseSet step by step -- the
split of one opcode, then a bounded merge of equal neighbours -- because the
bytes it produces are not canonical: another correct encoder would count the
same but would not GET the same bytes.

Functions work on a ``bytearray`` (the stored value, changed in place); the
readers take any bytes-like object. Validity (``is_hll``) is the caller's
first check; a structurally broken sparse body is reported by the functions
(None / -1), as Redis's "INVALIDOBJ".
"""

import math
import re
import struct
import zlib

HEADER_SIZE = 16
REGISTERS = 1 << 14
_P_MASK = REGISTERS - 1
_Q = 64 - 14                     # hash bits left after the register index
DENSE_SIZE = HEADER_SIZE + REGISTERS * 6 // 8
DENSE = 0
SPARSE = 1
_ENCODING_AT = 4
_CARD = slice(8, 16)

_SPARSE_VAL_MAX_VALUE = 32
_SPARSE_VAL_MAX_LEN = 4
_SPARSE_ZERO_MAX_LEN = 64
_SPARSE_XZERO_MAX_LEN = 16384

# A new HLL: sparse, XZERO:16384, cached cardinality 0 (valid).
_EMPTY = b"HYLL\x01" + bytes(11) + b"\x7f\xff"


def new():
    """A fresh empty HLL (createHLLObject)."""
    return bytearray(_EMPTY)


def is_hll(value):
    """True if a string is an HLL by Redis's checks (isHLLObjectOrReply):
    magic, known encoding, exact length when dense. The sparse body is only
    checked when read."""
    if len(value) < HEADER_SIZE or value[:4] != b"HYLL":
        return False
    encoding = value[_ENCODING_AT]
    if encoding == DENSE:
        return len(value) == DENSE_SIZE
    return encoding == SPARSE


def is_sparse(hll):
    return hll[_ENCODING_AT] == SPARSE


# -- hashing ------------------------------------------------------------------

_M = 0xc6a4a7935bd1e995
_MASK64 = (1 << 64) - 1
_SEED = 0xadc83b19


def murmurhash64a(data, seed=_SEED):
    """MurmurHash64A as Redis has it (endian neutral), for bytes."""
    length = len(data)
    h = (seed ^ (length * _M)) & _MASK64
    blocks = length >> 3
    if blocks:
        for k in struct.unpack_from("<%dQ" % blocks, data):
            k = (k * _M) & _MASK64
            k = ((k ^ (k >> 47)) * _M) & _MASK64
            h = ((h ^ k) * _M) & _MASK64
    if length & 7:
        h = ((h ^ int.from_bytes(data[blocks << 3:], "little")) * _M) & _MASK64
    h ^= h >> 47
    h = (h * _M) & _MASK64
    return h ^ (h >> 47)


def pattern(element):
    """(register index, run length of the "000..1" pattern) of an element
    (hllPatLen): the low 14 hash bits pick the register, the count is the
    position of the lowest set bit above them, at most Q+1."""
    h = murmurhash64a(element)
    rest = (h >> 14) | (1 << _Q)
    return h & _P_MASK, (rest & -rest).bit_length()


# -- the cached cardinality -----------------------------------------------------

def cached_count(hll):
    """The cached cardinality, or None when it was invalidated."""
    if hll[15] & 0x80:
        return None
    return int.from_bytes(hll[_CARD], "little")


def store_count(hll, card):
    hll[_CARD] = card.to_bytes(8, "little")


def invalidate_cache(hll):
    """HLL_INVALIDATE_CACHE: only the top bit; the old low bytes remain."""
    hll[15] |= 0x80


# -- dense registers ------------------------------------------------------------

def _dense_set(hll, index, count):
    """Raise dense register ``index`` to ``count`` (hllDenseSet). 1 if it
    changed, 0 if it already held as much."""
    bit = index * 6
    pos = HEADER_SIZE + (bit >> 3)
    shift = bit & 7
    if shift <= 2:
        old = (hll[pos] >> shift) & 63
        if count <= old:
            return 0
        hll[pos] = (hll[pos] & ~(63 << shift)) | (count << shift)
        return 1
    word = hll[pos] | (hll[pos + 1] << 8)
    if count <= (word >> shift) & 63:
        return 0
    word = (word & ~(63 << shift)) | (count << shift)
    hll[pos] = word & 0xff
    hll[pos + 1] = word >> 8
    return 1


def _table(fn):
    return bytes(fn(b) & 0xff for b in range(256))


# Byte maps to unpack four 6-bit registers from three bytes (and back) a
# whole column at a time: C-speed bytes.translate instead of a Python loop.
_LOW6 = _table(lambda b: b & 63)
_HIGH2 = _table(lambda b: b >> 6)
_LOW4_UP2 = _table(lambda b: (b & 15) << 2)
_HIGH4 = _table(lambda b: b >> 4)
_LOW2_UP4 = _table(lambda b: (b & 3) << 4)
_HIGH6 = _table(lambda b: b >> 2)
_LOW2_UP6 = _table(lambda b: b << 6)
_SHIFT2 = _table(lambda b: b >> 2)
_LOW4_UP4 = _table(lambda b: b << 4)
_UP2 = _table(lambda b: b << 2)


def _or(a, b):
    """Bytewise OR of two equal-length byte strings with disjoint bits."""
    n = len(a)
    return (int.from_bytes(a, "big") | int.from_bytes(b, "big")).to_bytes(n, "big")


def _dense_to_raw(hll):
    """The dense registers, one byte each (16384 bytes)."""
    body = bytes(hll[HEADER_SIZE:DENSE_SIZE])
    b0, b1, b2 = body[0::3], body[1::3], body[2::3]
    raw = bytearray(REGISTERS)
    raw[0::4] = b0.translate(_LOW6)
    raw[1::4] = _or(b0.translate(_HIGH2), b1.translate(_LOW4_UP2))
    raw[2::4] = _or(b1.translate(_HIGH4), b2.translate(_LOW2_UP4))
    raw[3::4] = b2.translate(_HIGH6)
    return raw


def _raw_to_dense_body(raw):
    """Pack one-byte registers (each < 64) into the dense 6-bit layout."""
    raw = bytes(raw)
    r0, r1, r2, r3 = raw[0::4], raw[1::4], raw[2::4], raw[3::4]
    body = bytearray(REGISTERS * 6 // 8)
    body[0::3] = _or(r0, r1.translate(_LOW2_UP6))
    body[1::3] = _or(r1.translate(_SHIFT2), r2.translate(_LOW4_UP4))
    body[2::3] = _or(r2.translate(_HIGH4), r3.translate(_UP2))
    return body


# -- sparse opcodes ---------------------------------------------------------------

def _val(value, length):
    return 0x80 | (value - 1) << 2 | (length - 1)


def _zeros(length):
    """The shortest opcode for a run of zero registers."""
    if length > _SPARSE_ZERO_MAX_LEN:
        length -= 1
        return bytes((0x40 | length >> 8, length & 0xff))
    return bytes((length - 1,))


def _ops(hll):
    """Yield (kind, run length, value) for each opcode of a sparse body;
    kind is 'z', 'Z' or 'v' as PFDEBUG DECODE prints them. A truncated XZERO
    reads a 0 past the end, as Redis reads the sds terminator."""
    end = len(hll)
    p = HEADER_SIZE
    while p < end:
        b = hll[p]
        if b < 0x40:
            yield "z", b + 1, 0
            p += 1
        elif b < 0x80:
            low = hll[p + 1] if p + 1 < end else 0
            yield "Z", ((b & 0x3f) << 8 | low) + 1, 0
            p += 2
        else:
            yield "v", (b & 3) + 1, ((b >> 2) & 0x1f) + 1
            p += 1


def _sparse_runs(hll):
    """(run length, value) pairs of a sparse body, or None if they do not
    cover exactly the 16384 registers (Redis's overflow checks)."""
    runs = []
    index = 0
    for _, runlen, value in _ops(hll):
        index += runlen
        if index > REGISTERS:
            return None
        runs.append((runlen, value))
    return runs if index == REGISTERS else None


def decode(hll):
    """PFDEBUG DECODE's text for a sparse HLL."""
    return " ".join(
        "v:%d,%d" % (value, runlen) if kind == "v" else "%s:%d" % (kind, runlen)
        for kind, runlen, value in _ops(hll)).encode()


def sparse_to_dense(hll):
    """Convert a sparse HLL in place to dense (hllSparseToDense), keeping
    the header's other bytes. False (and unchanged) if the body is broken."""
    if hll[_ENCODING_AT] == DENSE:
        return True
    runs = _sparse_runs(hll)
    if runs is None:
        return False
    raw = bytearray(REGISTERS)
    index = 0
    for runlen, value in runs:
        if value:
            raw[index:index + runlen] = bytes((value,)) * runlen
        index += runlen
    header = hll[:HEADER_SIZE]
    header[_ENCODING_AT] = DENSE
    hll[:] = header + _raw_to_dense_body(raw)
    return True


# Every byte as a one-byte opcode's run length (ZERO or VAL; an XZERO lead
# byte is never looked up).
_ONE_BYTE_SPANS = _table(lambda b: b + 1 if b < 0x40 else (b & 3) + 1)
_XZERO_LEAD = re.compile(rb"[\x40-\x7f]")
# Spans summed at once stay below adler32's modulus: 1023 * 64 < 65521.
_CHUNK = 1023
# Shorter runs of one-byte opcodes are walked one by one.
_SHORT = 24


def _span_sum(spans):
    """The sum of the bytes of ``spans``, at C speed: adler32's low half is
    1 + that sum modulo 65521, and a chunk never reaches the modulus."""
    return (zlib.adler32(spans) & 0xffff) - 1


def _locate(hll, index, p, first):
    """Step 1 of hllSparseSet: the opcode covering register ``index``,
    scanning from the opcode at offset ``p``, which starts at register
    ``first``. Returns (offset, first register, span, offset of the opcode
    before or -1, its first register); span is 0 when the body ends first.

    Runs of one-byte opcodes (all but XZERO) are summed a chunk at a time
    instead of one opcode per Python step: the body of a sparse HLL near
    its size limit holds thousands of opcodes.
    """
    end = len(hll)
    prev = prev_first = -1
    while p < end:
        lead = _XZERO_LEAD.search(hll, p)
        stop = min(lead.start() if lead is not None else end, p + _CHUNK)
        if stop - p < _SHORT:
            # A few opcodes before the next XZERO: cheaper one by one.
            while p < stop:
                span = _ONE_BYTE_SPANS[hll[p]]
                if index < first + span:
                    return p, first, span, prev, prev_first
                prev, prev_first = p, first
                p += 1
                first += span
            if p >= end:
                break
        else:
            spans = hll[p:stop].translate(_ONE_BYTE_SPANS)
            total = _span_sum(spans)
            target = index - first
            if target < total:
                # Binary search the opcode where the running sum passes it.
                lo, hi = 0, stop - p - 1
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if _span_sum(spans[:mid + 1]) > target:
                        hi = mid
                    else:
                        lo = mid + 1
                found_first = first + _span_sum(spans[:lo])
                if lo:
                    prev, prev_first = p + lo - 1, found_first - spans[lo - 1]
                return p + lo, found_first, spans[lo], prev, prev_first
            prev, prev_first = stop - 1, first + total - spans[-1]
            first += total
            p = stop
            continue
        # An XZERO (a truncated one reads a 0 past the end, as Redis reads
        # the sds terminator).
        low = hll[p + 1] if p + 1 < end else 0
        span = ((hll[p] & 0x3f) << 8 | low) + 1
        if index < first + span:
            return p, first, span, prev, prev_first
        prev, prev_first = p, first
        p += 2
        first += span
    return p, first, 0, prev, prev_first


def _sparse_set(hll, index, count, max_bytes, resume=None):
    """Raise register ``index`` of a sparse HLL to ``count`` (hllSparseSet).

    Returns (result, resume): result is 1 if the register changed, 0 if
    not, -1 if the body is broken; the HLL may have become dense. ``resume``
    is an (offset, first register) opcode boundary that stays valid for a
    later call with a higher index (PFMERGE sets registers in order, and
    rescanning from the start each time would be quadratic).
    """
    if count > _SPARSE_VAL_MAX_VALUE:
        return _promote(hll, index, count), None

    # Step 1: find the opcode covering ``index``.
    start, first = resume if resume is not None else (HEADER_SIZE, 0)
    p, first, span, prev, prev_first = _locate(hll, index, start, first)
    end = len(hll)
    if span == 0 or p >= end:
        return -1, None
    if prev < 0 and start != HEADER_SIZE:
        # The opcode found is the resume point itself: its predecessor,
        # where the merge below must start, is unknown. Scan from the top.
        return _sparse_set(hll, index, count, max_bytes)
    resume = (prev, prev_first) if prev >= 0 else None

    # Step 2: the easy in-place updates, else the split sequence.
    b = hll[p]
    if b & 0x80:
        current = ((b >> 2) & 0x1f) + 1
        if current >= count:
            return 0, resume
        if b & 3 == 0:
            hll[p] = _val(count, 1)
            return _merge_neighbours(hll, prev, end), resume
    elif b == 0:        # ZERO of length 1
        hll[p] = _val(count, 1)
        return _merge_neighbours(hll, prev, end), resume

    last = first + span - 1
    before = index - first
    after = last - index
    if b & 0x80:
        seq = bytearray()
        if before:
            seq.append(_val(current, before))
        seq.append(_val(count, 1))
        if after:
            seq.append(_val(current, after))
        oldlen = 1
    else:
        seq = (_zeros(before) if before else b"") + bytes((_val(count, 1),)) \
            + (_zeros(after) if after else b"")
        oldlen = 1 if b < 0x40 else 2

    # Step 3: put the sequence in place of the opcode, unless the string
    # would grow past hll-sparse-max-bytes.
    delta = len(seq) - oldlen
    if delta > 0 and end + delta > max_bytes:
        return _promote(hll, index, count), None
    hll[p:p + oldlen] = seq
    return _merge_neighbours(hll, prev, end + delta), resume


def _merge_neighbours(hll, prev, end):
    """Step 4 of hllSparseSet: from the opcode before the change, look at up
    to 5 opcodes and fuse adjacent VALs of one value (at most 4 long).
    Invalidates the cache. Returns 1 (the register changed)."""
    p = prev if prev >= 0 else HEADER_SIZE
    scan = 5
    while p < end and scan:
        scan -= 1
        b = hll[p]
        if b < 0x40:
            p += 1
            continue
        if not b & 0x80:
            p += 2
            continue
        if p + 1 < end:
            nb = hll[p + 1]
            if nb & 0x80 and (b ^ nb) & 0x7c == 0:
                length = (b & 3) + (nb & 3) + 2
                if length <= _SPARSE_VAL_MAX_LEN:
                    hll[p + 1] = (b & 0xfc) | (length - 1)
                    del hll[p]
                    end -= 1
                    continue
        p += 1
    invalidate_cache(hll)
    return 1


def _promote(hll, index, count):
    """Make a sparse HLL dense, then set the register (Redis asserts this
    changes it). -1 if the sparse body was broken."""
    if not sparse_to_dense(hll):
        return -1
    return _dense_set(hll, index, count)


# -- the operations ---------------------------------------------------------------

def add(hll, element, max_bytes):
    """PFADD one element (hllAdd): 1 if a register changed, 0 if not, -1
    for a broken sparse body. ``max_bytes`` is hll-sparse-max-bytes."""
    index, count = pattern(element)
    if hll[_ENCODING_AT] == DENSE:
        return _dense_set(hll, index, count)
    return _sparse_set(hll, index, count, max_bytes)[0]


def merge_into(raw, hll):
    """raw[i] = max(raw[i], register i of ``hll``) (hllMerge). False if
    the HLL's sparse body is broken."""
    if hll[_ENCODING_AT] == DENSE:
        other = _dense_to_raw(hll)
        raw[:] = bytes(map(max, raw, other))
        return True
    runs = _sparse_runs(hll)
    if runs is None:
        return False
    index = 0
    for runlen, value in runs:
        if value:
            for i in range(index, index + runlen):
                if raw[i] < value:
                    raw[i] = value
        index += runlen
    return True


def write_registers(hll, raw, max_bytes):
    """PFMERGE's write of merged registers into the destination. A sparse
    one goes register by register through hllSparseSet, as Redis does (its
    bytes depend on that order); once dense (from the start or promoted on
    the way) the rest is one bulk max. Invalidates the cache."""
    if hll[_ENCODING_AT] == SPARSE:
        resume = None
        for index in range(REGISTERS):
            count = raw[index]
            if count:
                resume = _sparse_set(hll, index, count, max_bytes, resume)[1]
                if hll[_ENCODING_AT] == DENSE:
                    break
    if hll[_ENCODING_AT] == DENSE:
        merged = bytes(map(max, raw, _dense_to_raw(hll)))
        hll[HEADER_SIZE:] = _raw_to_dense_body(merged)
    invalidate_cache(hll)


def registers(hll):
    """All registers as 16384 bytes (PFDEBUG GETREG on a dense HLL)."""
    return bytes(_dense_to_raw(hll))


def count(hll):
    """The estimated cardinality (hllCount), or None for a broken sparse
    body. Ignores the cache."""
    if hll[_ENCODING_AT] == DENSE:
        return count_raw(_dense_to_raw(hll))
    runs = _sparse_runs(hll)
    if runs is None:
        return None
    histogram = [0] * 64
    for runlen, value in runs:
        histogram[value] += runlen
    return _estimate(histogram)


def count_raw(raw):
    """The estimated cardinality of one-byte registers."""
    raw = bytes(raw)
    return _estimate([raw.count(value) for value in range(64)])


# -- the estimator ------------------------------------------------------------------

_ALPHA_INF = 0.721347520444481703680     # 0.5 / ln(2)


def _sigma(x):
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        z_prime = z
        z += x * y
        y += y
        if z_prime == z:
            return z


def _tau(x):
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        z_prime = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if z_prime == z:
            return z / 3


def _estimate(histogram):
    """Otmar Ertl's estimator from the register histogram, in Redis's exact
    double arithmetic (so the rounding matches), rounded half away from 0
    as llroundl."""
    m = float(REGISTERS)
    z = m * _tau((m - histogram[_Q + 1]) / m)
    for j in range(_Q, 0, -1):
        z += histogram[j]
        z *= 0.5
    z += m * _sigma(histogram[0] / m)
    estimate = _ALPHA_INF * m * m / z
    whole = int(estimate)
    return whole + 1 if estimate - whole >= 0.5 else whole
