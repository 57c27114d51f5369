"""Values and hand-built records of every RDB type, shared by the RDB tests.

``modern_values()`` holds each encoding Redis 7.0 keeps in memory (and so
writes); ``legacy_records()`` the types only older Redis versions wrote,
built byte by byte with the test encoders (ziplist, zipmap, text scores).
``rdb_file`` wraps records in a header, EOF and checksum of any version.
"""

import struct

from redisrepl.hashtype import Hash
from redisrepl.listtype import ListValue
from redisrepl.rdb import constants as C
from redisrepl.rdb import intset, listpack
from redisrepl.rdb.crc64 import crc64
from redisrepl.rdb.primitives import encode_binary_double, encode_length, encode_string
from redisrepl.rdb.ziplist import encode_ziplist, encode_zipmap
from redisrepl.settype import RedisSet
from redisrepl.zset import ZSet


def zset(pairs, listpack_encoded):
    return ZSet.from_pairs(list(pairs), listpack_encoded)


def hash_of(pairs, listpack_encoded):
    value = Hash(pairs)
    value.listpack = listpack_encoded
    return value


def set_of(members, max_intset=512):
    return RedisSet.from_members(set(members), max_intset)


def modern_values():
    """key -> value, one per in-memory encoding of Redis 7.0 (no streams)."""
    return {
        b"str:small": b"hello",
        b"str:int8": b"-128",
        b"str:int16": b"32767",
        b"str:int32": b"-2147483648",
        b"str:bigint": b"12345678901",
        b"str:lzf": b"abcdefgh" * 100,
        b"str:binary": bytes(range(256)),
        b"str:empty": b"",
        b"list:small": ListValue([b"a", b"1", b"-5000", b"x" * 70]),
        b"list:large": ListValue(b"element-%d" % i for i in range(3000)),
        b"hash:listpack": hash_of({b"f1": b"v1", b"n": b"42"}, True),
        b"hash:table": hash_of({b"f%d" % i: b"v" * 100 for i in range(10)}, False),
        b"set:intset": set_of([b"1", b"-70000", b"5000000000"]),
        b"set:table": set_of([b"a", b"b", b"1"]),
        b"zset:listpack": zset([(b"a", 1.0), (b"b", 2.5), (b"c", -3.0)], True),
        b"zset:skiplist": zset([(b"m%d" % i, i / 3) for i in range(200)], False),
    }


def key_record(rdb_type, key, body):
    return bytes((rdb_type,)) + encode_string(key, False) + body


def lp_string(elements):
    """A listpack of ``elements`` as an RDB string."""
    return encode_string(listpack.encode(elements), False)


def zl_string(elements):
    """A ziplist of ``elements`` as an RDB string."""
    return encode_string(encode_ziplist(elements), False)


def text_score(score):
    text = b"%.17g" % score
    return bytes((len(text),)) + text


def legacy_records():
    """name -> (rdb_type, body, expected value as plain Python data)."""
    list_items = [b"a", b"12", b"-300", b"x" * 300]
    pairs = [(b"f1", b"v1"), (b"f2", b"2")]
    flat = [x for pair in pairs for x in pair]
    zpairs = [(b"m1", 1.5), (b"m2", -2.0)]
    zflat = [x for m, s in zpairs for x in (m, b"%g" % s)]
    return {
        "list": (C.TYPE_LIST, encode_length(4) + b"".join(
            encode_string(x) for x in list_items), list_items),
        "list_ziplist": (C.TYPE_LIST_ZIPLIST, zl_string(list_items), list_items),
        "quicklist": (C.TYPE_LIST_QUICKLIST, encode_length(2) + zl_string(list_items[:2]) +
                      zl_string(list_items[2:]), list_items),
        "quicklist2": (C.TYPE_LIST_QUICKLIST_2, encode_length(2) +
                       encode_length(C.QUICKLIST_NODE_PACKED) + lp_string(list_items[:3]) +
                       encode_length(C.QUICKLIST_NODE_PLAIN) + encode_string(list_items[3]),
                       list_items),
        "set": (C.TYPE_SET, encode_length(2) + encode_string(b"x") + encode_string(b"7"),
                {b"x", b"7"}),
        "set_intset": (C.TYPE_SET_INTSET, encode_string(intset.encode([-1, 5, 70000])),
                       {b"-1", b"5", b"70000"}),
        "set_listpack": (C.TYPE_SET_LISTPACK, lp_string([b"a", b"3"]), {b"a", b"3"}),
        "zset_text": (C.TYPE_ZSET, encode_length(2) + b"".join(
            encode_string(m) + text_score(s) for m, s in zpairs), dict(zpairs)),
        "zset_binary": (C.TYPE_ZSET_2, encode_length(2) + b"".join(
            encode_string(m) + encode_binary_double(s) for m, s in zpairs), dict(zpairs)),
        "zset_ziplist": (C.TYPE_ZSET_ZIPLIST, zl_string(zflat), dict(zpairs)),
        "zset_listpack": (C.TYPE_ZSET_LISTPACK, lp_string(zflat), dict(zpairs)),
        "hash": (C.TYPE_HASH, encode_length(2) + b"".join(
            encode_string(x) for x in flat), dict(pairs)),
        "hash_zipmap": (C.TYPE_HASH_ZIPMAP, encode_string(encode_zipmap(pairs), False),
                        dict(pairs)),
        "hash_ziplist": (C.TYPE_HASH_ZIPLIST, zl_string(flat), dict(pairs)),
        "hash_listpack": (C.TYPE_HASH_LISTPACK, lp_string(flat), dict(pairs)),
    }


def rdb_file(records, version=C.RDB_VERSION, checksum=True):
    """A whole file: header, ``records`` (bytes), EOF, and for version 5
    and later the CRC64 trailer (0 when ``checksum`` is False)."""
    data = C.MAGIC + b"%04d" % version + b"".join(records) + b"\xff"
    if version < 5:
        return data
    return data + struct.pack("<Q", crc64(data) if checksum else 0)


def payload(rdb_type, body, version=C.RDB_VERSION):
    """A DUMP payload around a hand-built body."""
    data = bytes((rdb_type,)) + body + struct.pack("<H", version)
    return data + struct.pack("<Q", crc64(data))


def plain(value):
    """A decoded value as plain Python data, for comparisons."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, ListValue):
        return list(value)
    if isinstance(value, RedisSet):
        return set(value)
    if isinstance(value, ZSet):
        return dict(value)
    if isinstance(value, Hash):
        return dict(value)
    raise TypeError(type(value))


def encoding(value):
    """What OBJECT ENCODING would say for a decoded value."""
    if isinstance(value, (bytes, bytearray)):
        if len(value) <= 20 and _is_long(value):
            return "int"
        return "embstr" if len(value) <= 44 else "raw"
    if isinstance(value, ListValue):
        return "quicklist"
    if isinstance(value, RedisSet):
        return value.encoding.decode()
    if isinstance(value, ZSet):
        return "listpack" if value.listpack else "skiplist"
    if isinstance(value, Hash):
        return "listpack" if value.listpack else "hashtable"
    raise TypeError(type(value))


def _is_long(value):
    from redisrepl.ctext import string2ll
    return string2ll(bytes(value)) is not None
