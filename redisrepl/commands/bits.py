"""Bit commands: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO.

Semantics, replies and errors are Redis 7.0's bitops.c, including when a
write is a no-op and so is not propagated (SETBIT that leaves the bit as it
was, BITFIELD that writes the value already there). Bit 0 is the most
significant bit of byte 0. Ranges of bits are read as one big-endian int, so
counting and searching run at C speed.
"""

from functools import reduce
from operator import and_, or_, xor

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.strings import (
    clamp_range,
    growable_string,
    read_string,
    write_string,
)
from redisrepl.commands.table import command
from redisrepl.config import NOTIFY_GENERIC, NOTIFY_STRING
from redisrepl.resp.values import ReplyError

BIT_VALUE = ReplyError("ERR bit is not an integer or out of range")
BIT_ARGUMENT = ReplyError("ERR The bit argument must be 1 or 0.")
BITOP_NOT_ARITY = ReplyError(
    "ERR BITOP NOT must be called with a single source key.")
BITFIELD_TYPE = ReplyError(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is "
    "not supported but i64 is.")
BITFIELD_OVERFLOW_TYPE = ReplyError("ERR Invalid OVERFLOW type specified")
BITFIELD_RO_WRITE = ReplyError(
    "ERR BITFIELD_RO only supports the GET subcommand")

_U64 = (1 << 64) - 1
_I64_MAX = (1 << 63) - 1


def _int64(number):
    """``number`` wrapped to a C int64, as Redis's arithmetic wraps."""
    number &= _U64
    return number - (1 << 64) if number > _I64_MAX else number


def _bit_offset(client, arg, bits=0):
    """getBitOffsetFromArgument: an offset in bits; with ``bits`` (BITFIELD)
    "#n" means the n-th field of that width."""
    use_hash = bits and arg[:1] == b"#"
    offset = parse_int(arg[1:] if use_hash else arg, errors.BIT_OFFSET)
    if use_hash:
        offset = _int64(offset * bits)
    if offset < 0 or \
            offset >> 3 >= client.server.config["proto-max-bulk-len"]:
        raise errors.BIT_OFFSET
    return offset


def _string_for_bits(db, key, max_bit):
    """lookupStringForBitCommand: the string at ``key`` as a bytearray
    zero-padded to hold ``max_bit``, created if missing. Returns
    (value, True if it was created or grown)."""
    value = write_string(db, key)
    size = (max_bit >> 3) + 1
    if value is None:
        value = bytearray(size)
        db.set(key, value)
        return value, True
    value = growable_string(db, key, value)
    if len(value) < size:
        value.extend(bytes(size - len(value)))
        return value, True
    return value, False


def _bits(value, first, last):
    """Bits ``first``..``last`` (inclusive, zeros past the end of ``value``)
    as (int, width), the first bit the most significant."""
    first_byte, last_byte = first >> 3, last >> 3
    nbytes = last_byte - first_byte + 1
    chunk = int.from_bytes(value[first_byte:last_byte + 1], "big")
    missing = nbytes - (len(value) - first_byte)
    if missing > 0:
        chunk <<= 8 * min(missing, nbytes)
    width = last - first + 1
    return (chunk >> (7 - (last & 7))) & ((1 << width) - 1), width


def _store_bits(value, first, width, number):
    """Write the low ``width`` bits of ``number`` at bit ``first``."""
    last = first + width - 1
    first_byte, last_byte = first >> 3, last >> 3
    shift = 7 - (last & 7)
    mask = ((1 << width) - 1) << shift
    chunk = int.from_bytes(value[first_byte:last_byte + 1], "big")
    chunk = (chunk & ~mask) | ((number << shift) & mask)
    value[first_byte:last_byte + 1] = chunk.to_bytes(
        last_byte - first_byte + 1, "big")


# -- single bits ----------------------------------------------------------------

@command("setbit")
def setbit(client, argv):
    offset = _bit_offset(client, argv[2])
    on = parse_int(argv[3], BIT_VALUE)
    if on & ~1:
        raise BIT_VALUE
    value, grown = _string_for_bits(client.db, argv[1], offset)
    byte = offset >> 3
    mask = 0x80 >> (offset & 7)
    old = 1 if value[byte] & mask else 0
    if grown or old != on:
        value[byte] = value[byte] | mask if on else value[byte] & ~mask
        client.db.signal_modified(argv[1])
        client.server.dirty += 1
        client.server.notify(NOTIFY_STRING, b"setbit", argv[1], client.db.id)
    return old


@command("getbit")
def getbit(client, argv):
    offset = _bit_offset(client, argv[2])
    value = read_string(client.db, argv[1])
    byte = offset >> 3
    if value is None or byte >= len(value):
        return 0
    return 1 if value[byte] & (0x80 >> (offset & 7)) else 0


# -- ranges ---------------------------------------------------------------------

def _bit_unit(arg):
    """True for BIT, False for BYTE, SYNTAX otherwise."""
    unit = arg.upper()
    if unit == b"BIT":
        return True
    if unit != b"BYTE":
        raise errors.SYNTAX
    return False


def _to_bit_range(start, end, length, is_bit):
    """A clamped [start, end] in bytes or bits as a range of bits, or None
    when empty."""
    start, end = clamp_range(start, end, length * 8 if is_bit else length)
    if start > end:
        return None
    return (start, end) if is_bit else (start * 8, end * 8 + 7)


@command("bitcount")
def bitcount(client, argv):
    # Redis 7.0 looks the key up first: a missing key is 0 whatever follows.
    value = read_string(client.db, argv[1])
    if value is None:
        return 0
    argc = len(argv)
    if argc == 4 or argc == 5:
        start = parse_int(argv[2])
        end = parse_int(argv[3])
        if start < 0 and end < 0 and start > end:
            return 0
        is_bit = argc == 5 and _bit_unit(argv[4])
        bit_range = _to_bit_range(start, end, len(value), is_bit)
    elif argc == 2:
        bit_range = (0, len(value) * 8 - 1) if value else None
    else:
        raise errors.SYNTAX
    if bit_range is None:
        return 0
    return _bits(value, *bit_range)[0].bit_count()


@command("bitpos")
def bitpos(client, argv):
    bit = parse_int(argv[2])
    if bit != 0 and bit != 1:
        raise BIT_ARGUMENT
    value = read_string(client.db, argv[1])
    if value is None:
        # A missing key is an endless run of zeros.
        return -1 if bit else 0
    argc = len(argv)
    end_given = argc >= 5
    if 4 <= argc <= 6:
        start = parse_int(argv[3])
        is_bit = argc == 6 and _bit_unit(argv[5])
        end = parse_int(argv[4]) if end_given else len(value) - 1
        bit_range = _to_bit_range(start, end, len(value), is_bit)
    elif argc == 3:
        bit_range = (0, len(value) * 8 - 1) if value else None
    else:
        raise errors.SYNTAX
    if bit_range is None:
        return -1
    first, last = bit_range
    chunk, width = _bits(value, first, last)
    if not bit:
        chunk ^= (1 << width) - 1
    if chunk:
        return first + width - chunk.bit_length()
    if bit or end_given:
        return -1
    # No clear bit and no explicit end: the string is zero-padded to the
    # right, so the first clear bit is just past it.
    return last + 1


@command("bitop")
def bitop(client, argv):
    op = argv[1].upper()
    if op not in _BITOPS:
        raise errors.SYNTAX
    if op == b"NOT" and len(argv) != 4:
        raise BITOP_NOT_ARITY
    db = client.db
    sources = [read_string(db, argv[i]) or b"" for i in range(3, len(argv))]
    size = max(map(len, sources))
    target = argv[2]
    if not size:
        # Every source empty: the target is deleted, not set to "".
        if db.delete(target):
            client.server.dirty += 1
            client.server.notify(NOTIFY_GENERIC, b"del", target, db.id)
        return 0
    # Shorter strings are zero-padded on the right.
    numbers = [int.from_bytes(s, "big") << (8 * (size - len(s)))
               for s in sources]
    if op == b"NOT":
        result = numbers[0] ^ ((1 << (8 * size)) - 1)
    else:
        result = reduce(_BITOPS[op], numbers)
    db.set(target, result.to_bytes(size, "big"))
    client.server.dirty += 1
    client.server.notify(NOTIFY_STRING, b"set", target, db.id)
    return size


_BITOPS = {b"AND": and_, b"OR": or_, b"XOR": xor, b"NOT": None}


# -- BITFIELD -------------------------------------------------------------------

_GET, _SET, _INCRBY = range(3)
_WRAP, _SAT, _FAIL = range(3)
_OVERFLOW_KINDS = {b"WRAP": _WRAP, b"SAT": _SAT, b"FAIL": _FAIL}
_BITFIELD_OPS = {b"GET": (_GET, 2), b"SET": (_SET, 3), b"INCRBY": (_INCRBY, 3)}


def _bitfield_type(arg):
    """(signed, bits) from i1..i64 or u1..u63 (lower case only, as Redis)."""
    kind = arg[:1]
    if kind != b"i" and kind != b"u":
        raise BITFIELD_TYPE
    signed = kind == b"i"
    bits = parse_int(arg[1:], BITFIELD_TYPE)
    if bits < 1 or bits > (64 if signed else 63):
        raise BITFIELD_TYPE
    return signed, bits


def _parse_bitfield(client, argv):
    """The operations as (opcode, signed, bits, offset, number, overflow),
    and the highest bit a SET/INCRBY writes (-1 if none)."""
    ops = []
    highest_write = -1
    overflow = _WRAP
    i, argc = 2, len(argv)
    while i < argc:
        name = argv[i].upper()
        remaining = argc - i - 1
        if name == b"OVERFLOW" and remaining >= 1:
            overflow = _OVERFLOW_KINDS.get(argv[i + 1].upper())
            if overflow is None:
                raise BITFIELD_OVERFLOW_TYPE
            i += 2
            continue
        opcode, needed = _BITFIELD_OPS.get(name, (None, 0))
        if opcode is None or remaining < needed:
            raise errors.SYNTAX
        signed, bits = _bitfield_type(argv[i + 1])
        offset = _bit_offset(client, argv[i + 2], bits)
        number = 0
        if opcode != _GET:
            highest_write = max(highest_write, offset + bits - 1)
            number = parse_int(argv[i + 3])
        ops.append((opcode, signed, bits, offset, number, overflow))
        i += needed + 1
    return ops, highest_write


def _signed_overflow(value, incr, bits, overflow):
    """checkSignedBitfieldOverflow, C int64 wrap-around quirks included.
    Returns (overflowed, value to store instead)."""
    high = _I64_MAX if bits == 64 else (1 << (bits - 1)) - 1
    low = -high - 1
    max_incr = _int64(high - value)
    min_incr = _int64(low - value)
    if value > high or (bits != 64 and incr > max_incr) or \
            (value >= 0 and incr > 0 and incr > max_incr):
        limit = high
    elif value < low or (bits != 64 and incr < min_incr) or \
            (value < 0 and incr < 0 and incr < min_incr):
        limit = low
    else:
        return False, None
    if overflow == _WRAP:
        wrapped = (value + incr) & ((1 << bits) - 1)
        if wrapped >> (bits - 1):
            wrapped -= 1 << bits   # sign-extend
        limit = wrapped
    return True, limit


def _unsigned_overflow(value, incr, bits, overflow):
    """checkUnsignedBitfieldOverflow: ``value`` a C uint64, ``incr`` an
    int64. Returns (overflowed, value to store instead)."""
    high = (1 << bits) - 1
    if value > high or (incr > 0 and incr > _int64(high - value)):
        limit = high
    elif incr < 0 and incr < _int64(-value):
        limit = 0
    else:
        return False, None
    if overflow == _WRAP:
        limit = (value + incr) & high
    return True, limit


def _read_field(value, offset, bits, signed):
    field = _bits(value, offset, offset + bits - 1)[0]
    if signed and field >> (bits - 1):
        field -= 1 << bits
    return field


def _bitfield(client, argv, read_only):
    ops, highest_write = _parse_bitfield(client, argv)
    db = client.db
    key = argv[1]
    if highest_write < 0:
        value = read_string(db, key) or b""
        grown = False
    elif read_only:
        raise BITFIELD_RO_WRITE
    else:
        value, grown = _string_for_bits(db, key, highest_write)
    replies = []
    changes = 0
    for opcode, signed, bits, offset, number, overflow in ops:
        old = _read_field(value, offset, bits, signed)
        if opcode == _GET:
            replies.append(old)
            continue
        if opcode == _INCRBY:
            if signed:
                overflowed, limit = _signed_overflow(old, number, bits,
                                                     overflow)
            else:
                overflowed, limit = _unsigned_overflow(old, number, bits,
                                                       overflow)
            new = limit if overflowed else old + number
            reply = new
        else:
            new = number if signed else number & _U64
            check = _signed_overflow if signed else _unsigned_overflow
            overflowed, limit = check(new, 0, bits, overflow)
            if overflowed:
                new = limit
            reply = old
        if overflowed and overflow == _FAIL:
            replies.append(None)
            continue
        replies.append(reply)
        _store_bits(value, offset, bits, new)
        if grown or new != old:
            changes += 1
    # Redis counts only writes that changed something (or grew the string),
    # so a BITFIELD that rewrote the same values is not propagated.
    client.server.dirty += changes
    if changes:
        client.db.signal_modified(argv[1])
        client.server.notify(NOTIFY_STRING, b"setbit", argv[1], client.db.id)
    return replies


@command("bitfield")
def bitfield(client, argv):
    return _bitfield(client, argv, read_only=False)


@command("bitfield_ro")
def bitfield_ro(client, argv):
    return _bitfield(client, argv, read_only=True)
