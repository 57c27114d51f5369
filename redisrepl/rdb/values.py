"""One value of each RDB type to and from our in-memory types. Sans-IO.

Decoding builds the value in the encoding Redis 7.0's rdbLoadObject would
leave it in (OBJECT ENCODING must agree after a load): compact blobs
(ziplist, listpack, intset, zipmap) stay compact unless they hold more
entries than the ``*-max-*-entries`` limits allow; plain collections are
made compact when they fit. Encoding writes what rdbSaveObject writes.
"""

import math
import struct
from typing import NamedTuple

from redisrepl.hashtype import Hash
from redisrepl.listtype import ListValue
from redisrepl.rdb import constants as C
from redisrepl.rdb import intset, listpack, streams
from redisrepl.rdb.errors import RdbError
from redisrepl.rdb.primitives import encode_binary_double, encode_length, encode_string
from redisrepl.rdb.ziplist import decode_ziplist, decode_zipmap
from redisrepl.settype import RedisSet
from redisrepl.stream import Stream
from redisrepl.zset import ZSet, listpack_score_text


class Limits(NamedTuple):
    """The encoding thresholds a load honours (from the config)."""

    hash_entries: int = 512
    hash_value: int = 64
    set_intset_entries: int = 512
    zset_entries: int = 128
    zset_value: int = 64
    list_fill: int = -2

    @classmethod
    def from_config(cls, config):
        return cls(config["hash-max-listpack-entries"],
                   config["hash-max-listpack-value"],
                   config["set-max-intset-entries"],
                   config["zset-max-listpack-entries"],
                   config["zset-max-listpack-value"],
                   config["list-max-listpack-size"])


DEFAULT_LIMITS = Limits()


# -- decoding ---------------------------------------------------------------------

def decode_value(rdb_type, cur, limits):
    """The value of type ``rdb_type`` at the cursor, or None for an empty
    collection (Redis skips such keys when loading, RESTORE refuses them)."""
    decoder = _DECODERS.get(rdb_type)
    if decoder is None:
        raise cur.error(f"Unknown RDB encoding type {rdb_type}")
    return decoder(cur, limits)


def _blob(cur, check, what):
    """A compact blob (a string), decoded by ``check`` or reported as
    Redis reports an integrity failure."""
    start = cur.offset()
    blob = cur.string()
    try:
        return check(blob)
    except (ValueError, IndexError, struct.error) as exc:
        raise RdbError(f"{what} integrity check failed. ({exc})", start) from None


def _string(cur, limits):
    return cur.string()


def _list_plain(cur, limits):
    count = cur.length()
    value = ListValue()
    string = cur.string
    for _ in range(count):
        value.append(string())
    return value or None


def _list_ziplist(cur, limits):
    return ListValue(_blob(cur, decode_ziplist, "Ziplist")) or None


def _list_quicklist(cur, limits):
    count = cur.length()
    value = ListValue()
    for _ in range(count):
        value.extend(_blob(cur, decode_ziplist, "Ziplist"))
    return value or None


def _list_quicklist2(cur, limits):
    count = cur.length()
    value = ListValue()
    for _ in range(count):
        start = cur.offset()
        container = cur.length()
        if container == C.QUICKLIST_NODE_PLAIN:
            value.append(cur.string())
        elif container == C.QUICKLIST_NODE_PACKED:
            value.extend(_blob(cur, listpack.decode, "Listpack"))
        else:
            raise RdbError(f"Quicklist integrity check failed: unknown node "
                           f"container {container}", start)
    return value or None


def _set_plain(cur, limits):
    start = cur.offset()
    count = cur.length()
    members = set()
    string = cur.string
    for _ in range(count):
        member = string()
        if member in members:
            raise RdbError("Duplicate set members detected", start)
        members.add(member)
    if not members:
        return None
    return RedisSet.from_members(members, limits.set_intset_entries,
                                 hashtable=count > limits.set_intset_entries)


def _set_intset(cur, limits):
    values = _blob(cur, intset.decode, "Intset")
    members = {b"%d" % v for v in values}
    return RedisSet.from_members(members, limits.set_intset_entries)


def _set_listpack(cur, limits):
    elements = _blob(cur, listpack.decode, "Set listpack")
    members = set(elements)
    if len(members) != len(elements):
        raise cur.error("Duplicate set members detected")
    if not members:
        return None
    return RedisSet.from_members(members, limits.set_intset_entries)


def _zset_plain(cur, limits, binary):
    start = cur.offset()
    count = cur.length()
    pairs = {}
    longest = 0
    read_score = cur.binary_double if binary else cur.text_double
    for _ in range(count):
        member = cur.string()
        score = read_score()
        if math.isnan(score):
            raise RdbError("Zset with NAN score detected", start)
        if member in pairs:
            raise RdbError("Duplicate zset fields detected", start)
        pairs[member] = score
        longest = max(longest, len(member))
    if not pairs:
        return None
    fits = len(pairs) <= limits.zset_entries and longest <= limits.zset_value
    return _zset_from(pairs, fits)


def _zset_from(pairs, listpack_encoded):
    zset = ZSet(listpack_encoded)
    for member, score in pairs.items():
        zset.insert(member, score)
    return zset


def _pairs_blob(cur, decode, what):
    """(offset, elements) of a blob of field/value (or member/score) pairs:
    an odd count fails its integrity check, as lpPairsValidateIntegrity."""
    start = cur.offset()
    elements = _blob(cur, decode, what)
    if len(elements) % 2:
        raise RdbError(f"{what} integrity check failed. (odd element count)",
                       start)
    return start, elements


def _zset_compact(cur, limits, decode, what):
    start, elements = _pairs_blob(cur, decode, what)
    pairs = {}
    for i in range(0, len(elements), 2):
        member = elements[i]
        try:
            score = float(elements[i + 1])
        except ValueError:
            score = math.nan
        if math.isnan(score) or member in pairs:
            raise RdbError(f"{what} integrity check failed. (bad or duplicate "
                           f"entry)", start)
        pairs[member] = score
    if not pairs:
        return None
    return _zset_from(pairs, len(pairs) <= limits.zset_entries)


def _hash_plain(cur, limits):
    start = cur.offset()
    count = cur.length()
    value = Hash()
    compact = count <= limits.hash_entries
    max_value = limits.hash_value
    string = cur.string
    for _ in range(count):
        field = string()
        data = string()
        if field in value:
            raise RdbError("Duplicate hash fields detected", start)
        if compact and (len(field) > max_value or len(data) > max_value):
            compact = False
        value[field] = data
    if not value:
        return None
    value.listpack = compact
    return value


def _hash_compact(cur, limits, decode, what):
    start, elements = _pairs_blob(cur, decode, what)
    value = Hash(zip(elements[0::2], elements[1::2], strict=True))
    if len(value) * 2 != len(elements):
        raise RdbError(f"{what} integrity check failed. (duplicate field)",
                       start)
    if not value:
        return None
    value.listpack = len(value) <= limits.hash_entries
    return value


def _hash_zipmap(cur, limits):
    start = cur.offset()
    elements = _blob(cur, decode_zipmap, "Zipmap")
    value = Hash(zip(elements[0::2], elements[1::2], strict=True))
    if len(value) * 2 != len(elements):
        raise RdbError("Zipmap integrity check failed. (duplicate field)",
                       start)
    if not value:
        return None
    longest = max(max(map(len, elements)), 0)
    value.listpack = len(value) <= limits.hash_entries and \
        longest <= limits.hash_value
    return value


def _module(cur, limits):
    start = cur.offset()
    module_id = cur.length()
    name = C.module_name(module_id)
    raise RdbError(f"The RDB file contains module data I can't load: no "
                   f"matching module type '{name}'", start)


_DECODERS = {
    C.TYPE_STRING: _string,
    C.TYPE_LIST: _list_plain,
    C.TYPE_LIST_ZIPLIST: _list_ziplist,
    C.TYPE_LIST_QUICKLIST: _list_quicklist,
    C.TYPE_LIST_QUICKLIST_2: _list_quicklist2,
    C.TYPE_SET: _set_plain,
    C.TYPE_SET_INTSET: _set_intset,
    C.TYPE_SET_LISTPACK: _set_listpack,
    C.TYPE_ZSET: lambda cur, limits: _zset_plain(cur, limits, False),
    C.TYPE_ZSET_2: lambda cur, limits: _zset_plain(cur, limits, True),
    C.TYPE_ZSET_ZIPLIST: lambda cur, limits: _zset_compact(
        cur, limits, decode_ziplist, "Zset ziplist"),
    C.TYPE_ZSET_LISTPACK: lambda cur, limits: _zset_compact(
        cur, limits, listpack.decode, "Zset listpack"),
    C.TYPE_HASH: _hash_plain,
    C.TYPE_HASH_ZIPMAP: _hash_zipmap,
    C.TYPE_HASH_ZIPLIST: lambda cur, limits: _hash_compact(
        cur, limits, decode_ziplist, "Hash ziplist"),
    C.TYPE_HASH_LISTPACK: lambda cur, limits: _hash_compact(
        cur, limits, listpack.decode, "Hash listpack"),
    C.TYPE_STREAM_LISTPACKS: lambda cur, limits: streams.decode_stream(cur, 1),
    C.TYPE_STREAM_LISTPACKS_2: lambda cur, limits: streams.decode_stream(cur, 2),
    C.TYPE_MODULE_PRE_GA: _module,
    C.TYPE_MODULE_2: _module,
}


# -- encoding ---------------------------------------------------------------------

# Node sizes for a negative list-max-listpack-size (quicklist.c's
# optimization_level) and the size cap of a count-limited node.
_NODE_BYTES = (4096, 8192, 16384, 32768, 65536)
_SIZE_SAFETY_LIMIT = 8192
# Elements at least this big get a plain node of their own (1 GB).
_PACKED_THRESHOLD = 1 << 30
_SIZE_ESTIMATE_OVERHEAD = 8
_LISTPACK_EMPTY_BYTES = 7      # header (6) and end byte


def _list_nodes(value, fill):
    """Split a list into quicklist nodes as RPUSHes would have in Redis:
    (container, payload) pairs."""
    if fill < 0:
        max_bytes = _NODE_BYTES[min(-fill, 5) - 1]
        max_count = 1 << 62
    else:
        max_bytes = _SIZE_SAFETY_LIMIT
        max_count = fill or 1
    nodes = []
    current = []
    size = _LISTPACK_EMPTY_BYTES
    for element in value:
        if len(element) >= _PACKED_THRESHOLD:
            if current:
                nodes.append((C.QUICKLIST_NODE_PACKED, listpack.encode(current)))
                current, size = [], _LISTPACK_EMPTY_BYTES
            nodes.append((C.QUICKLIST_NODE_PLAIN, bytes(element)))
            continue
        # _quicklistNodeAllowInsert's estimate (node bytes + the element's
        # raw length + 8), so a list built by pushes splits where Redis's did
        # and its DUMP payload is byte for byte Redis's.
        if current and (len(current) >= max_count or
                        size + len(element) + _SIZE_ESTIMATE_OVERHEAD > max_bytes):
            nodes.append((C.QUICKLIST_NODE_PACKED, listpack.encode(current)))
            current, size = [], _LISTPACK_EMPTY_BYTES
        current.append(element)
        size += listpack.encoded_size(element)
    if current:
        nodes.append((C.QUICKLIST_NODE_PACKED, listpack.encode(current)))
    return nodes


def encode_value(value, compress=True, list_fill=-2):
    """(rdb_type, body) for a stored value, as rdbSaveObject writes it."""
    kind = type(value)
    if kind is bytes or kind is bytearray:
        return C.TYPE_STRING, encode_string(bytes(value), compress)
    if kind is ListValue:
        nodes = _list_nodes(value, list_fill)
        parts = [encode_length(len(nodes))]
        for container, payload in nodes:
            parts.append(encode_length(container))
            parts.append(encode_string(payload, compress))
        return C.TYPE_LIST_QUICKLIST_2, b"".join(parts)
    if kind is Hash:
        if value.listpack:
            flat = [x for pair in value.items() for x in pair]
            return C.TYPE_HASH_LISTPACK, encode_string(listpack.encode(flat),
                                                       compress)
        parts = [encode_length(len(value))]
        for field, data in value.items():
            parts.append(encode_string(field, compress))
            parts.append(encode_string(data, compress))
        return C.TYPE_HASH, b"".join(parts)
    if kind is RedisSet:
        if value.ints is not None:
            return C.TYPE_SET_INTSET, encode_string(intset.encode(value.ints),
                                                    compress)
        parts = [encode_length(len(value))]
        parts.extend(encode_string(member, compress) for member in value.members)
        return C.TYPE_SET, b"".join(parts)
    if kind is ZSet:
        if value.listpack:
            flat = []
            for score, member in value.order:
                flat.append(member)
                flat.append(listpack_score_text(score))
            return C.TYPE_ZSET_LISTPACK, encode_string(listpack.encode(flat),
                                                       compress)
        # Highest score first, as Redis walks its skiplist from the tail.
        parts = [encode_length(len(value))]
        for score, member in reversed(value.order):
            parts.append(encode_string(member, compress))
            parts.append(encode_binary_double(score))
        return C.TYPE_ZSET_2, b"".join(parts)
    if kind is Stream:
        return C.TYPE_STREAM_LISTPACKS_2, streams.encode_stream(value, compress)
    raise TypeError(f"no RDB encoding for {kind.__name__}")
