"""One value per RDB type: decoded to the right data in the encoding Redis
7.0's rdbLoadObject leaves (what OBJECT ENCODING reports), and encoded as
rdbSaveObject writes it."""

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redisrepl.listtype import ListValue
from redisrepl.rdb import RdbError, dump_payload, intset, listpack, load_payload
from redisrepl.rdb import constants as C
from redisrepl.rdb.primitives import Cursor, encode_binary_double, encode_length, encode_string
from redisrepl.rdb.values import Limits, decode_value, encode_value
from redisrepl.rdb.ziplist import encode_zipmap
from tests.unit.rdb_samples import (
    encoding,
    hash_of,
    legacy_records,
    lp_string,
    modern_values,
    payload,
    plain,
    set_of,
    text_score,
    zl_string,
    zset,
)

SMALL = Limits(hash_entries=2, hash_value=4, set_intset_entries=2, zset_entries=2,
               zset_value=4)
DEFAULT = Limits()


def decode(rdb_type, body, limits=DEFAULT):
    cur = Cursor(body)
    value = decode_value(rdb_type, cur, limits)
    assert cur.pos == len(body), "the value must consume exactly its bytes"
    return value


def strings(*items):
    return b"".join(encode_string(x) for x in items)


# -- every type decodes ----------------------------------------------------------

@pytest.mark.parametrize("name", sorted(legacy_records()))
def test_every_rdb_type_decodes(name):
    """Each RDB type (plain, ziplist, quicklist 1 and 2, intset, zipmap,
    listpack; text and binary scores) gives the data that was written."""
    rdb_type, body, expected = legacy_records()[name]
    assert plain(decode(rdb_type, body)) == expected


# (name, encoding under the default limits, encoding under SMALL limits) for
# the samples of rdb_samples.legacy_records (2 or 3 small entries each).
EXPECTED_ENCODINGS = {
    "list": ("quicklist", "quicklist"),
    "list_ziplist": ("quicklist", "quicklist"),
    "quicklist": ("quicklist", "quicklist"),
    "quicklist2": ("quicklist", "quicklist"),
    "set": ("hashtable", "hashtable"),
    "set_intset": ("intset", "hashtable"),        # 3 members > 2
    "set_listpack": ("hashtable", "hashtable"),   # "a" is no integer
    "zset_text": ("listpack", "listpack"),
    "zset_binary": ("listpack", "listpack"),
    "zset_ziplist": ("listpack", "listpack"),
    "zset_listpack": ("listpack", "listpack"),
    "hash": ("listpack", "listpack"),
    "hash_zipmap": ("listpack", "listpack"),
    "hash_ziplist": ("listpack", "listpack"),
    "hash_listpack": ("listpack", "listpack"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_ENCODINGS))
def test_encoding_after_load(name):
    """Every RDB type lands in the encoding Redis 7.0 picks on load."""
    rdb_type, body, _ = legacy_records()[name]
    default, small = EXPECTED_ENCODINGS[name]
    assert encoding(decode(rdb_type, body, DEFAULT)) == default
    assert encoding(decode(rdb_type, body, SMALL)) == small


# -- thresholds ------------------------------------------------------------------

def _hash_body(rdb_type, pairs):
    flat = [x for pair in pairs for x in pair]
    if rdb_type == C.TYPE_HASH:
        return encode_length(len(pairs)) + strings(*flat)
    if rdb_type == C.TYPE_HASH_ZIPMAP:
        return encode_string(encode_zipmap(pairs), False)
    if rdb_type == C.TYPE_HASH_ZIPLIST:
        return zl_string(flat)
    return lp_string(flat)


HASH_CASES = [
    # (pairs, plain, zipmap, ziplist/listpack) encodings under SMALL limits
    ([(b"a", b"1"), (b"b", b"2")], "listpack", "listpack", "listpack"),
    ([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], "hashtable", "hashtable", "hashtable"),
    ([(b"a", b"12345")], "hashtable", "hashtable", "listpack"),   # value > 4
    ([(b"abcde", b"1")], "hashtable", "hashtable", "listpack"),   # field > 4
    ([(b"abcd", b"1234")], "listpack", "listpack", "listpack"),   # exactly 4
]


@pytest.mark.parametrize("pairs, want_plain, want_zipmap, want_compact", HASH_CASES)
def test_hash_thresholds(pairs, want_plain, want_zipmap, want_compact):
    """Plain hashes and zipmaps honour entries and value limits; ziplist
    and listpack blobs only the entries limit (Redis skips the O(n) scan)."""
    for rdb_type, want in [(C.TYPE_HASH, want_plain), (C.TYPE_HASH_ZIPMAP, want_zipmap),
                           (C.TYPE_HASH_ZIPLIST, want_compact),
                           (C.TYPE_HASH_LISTPACK, want_compact)]:
        value = decode(rdb_type, _hash_body(rdb_type, pairs), SMALL)
        assert plain(value) == dict(pairs)
        assert encoding(value) == want, rdb_type


def _zset_body(rdb_type, pairs):
    if rdb_type == C.TYPE_ZSET:
        return encode_length(len(pairs)) + b"".join(
            encode_string(m) + text_score(s) for m, s in pairs)
    if rdb_type == C.TYPE_ZSET_2:
        return encode_length(len(pairs)) + b"".join(
            encode_string(m) + encode_binary_double(s) for m, s in pairs)
    flat = [x for m, s in pairs for x in (m, b"%.17g" % s)]
    return zl_string(flat) if rdb_type == C.TYPE_ZSET_ZIPLIST else lp_string(flat)


ZSET_CASES = [
    ([(b"a", 1.0), (b"b", 2.0)], "listpack", "listpack"),
    ([(b"a", 1.0), (b"b", 2.0), (b"c", 3.0)], "skiplist", "skiplist"),
    ([(b"abcde", 1.0)], "skiplist", "listpack"),      # member > 4: only plain checks
    ([(b"abcd", -1.5)], "listpack", "listpack"),
]


@pytest.mark.parametrize("pairs, want_plain, want_compact", ZSET_CASES)
def test_zset_thresholds(pairs, want_plain, want_compact):
    """Plain zsets (text or binary scores) become listpacks when they fit;
    ziplist and listpack blobs convert only when over the entries limit."""
    for rdb_type, want in [(C.TYPE_ZSET, want_plain), (C.TYPE_ZSET_2, want_plain),
                           (C.TYPE_ZSET_ZIPLIST, want_compact),
                           (C.TYPE_ZSET_LISTPACK, want_compact)]:
        value = decode(rdb_type, _zset_body(rdb_type, pairs), SMALL)
        assert plain(value) == dict(pairs)
        assert encoding(value) == want, rdb_type


@pytest.mark.parametrize("members, want_plain, want_intset", [
    ([b"1", b"2"], "intset", "intset"),
    ([b"1", b"2", b"3"], "hashtable", "hashtable"),
    ([b"-9223372036854775808", b"9223372036854775807"], "intset", "intset"),
])
def test_set_thresholds(members, want_plain, want_intset):
    """Plain sets of integers become intsets up to set-max-intset-entries;
    intsets convert to hashtables past it."""
    value = decode(C.TYPE_SET, encode_length(len(members)) + strings(*members), SMALL)
    assert plain(value) == set(members) and encoding(value) == want_plain
    ints = sorted(int(m) for m in members)
    value = decode(C.TYPE_SET_INTSET, encode_string(intset.encode(ints)), SMALL)
    assert plain(value) == set(members) and encoding(value) == want_intset


def test_plain_set_with_a_non_integer_is_a_hashtable():
    """One member that is no canonical integer makes the set a hashtable."""
    for odd in (b"x", b"007", b"9223372036854775808"):
        value = decode(C.TYPE_SET, encode_length(2) + strings(b"1", odd))
        assert encoding(value) == "hashtable"


# -- duplicates and empty collections --------------------------------------------

@pytest.mark.parametrize("rdb_type, body", [
    (C.TYPE_SET, encode_length(2) + strings(b"a", b"a")),
    (C.TYPE_SET_LISTPACK, lp_string([b"a", b"a"])),
    (C.TYPE_SET_INTSET, encode_string(struct.pack("<IIhh", 2, 2, 1, 1))),
    (C.TYPE_ZSET_2, encode_length(2) + b"".join(
        encode_string(b"m") + encode_binary_double(s) for s in (1, 2))),
    (C.TYPE_ZSET_LISTPACK, lp_string([b"m", b"1", b"m", b"2"])),
    (C.TYPE_ZSET_ZIPLIST, zl_string([b"m", b"1", b"m", b"2"])),
    (C.TYPE_HASH, encode_length(2) + strings(b"f", b"1", b"f", b"2")),
    (C.TYPE_HASH_LISTPACK, lp_string([b"f", b"1", b"f", b"2"])),
    (C.TYPE_HASH_ZIPLIST, zl_string([b"f", b"1", b"f", b"2"])),
    (C.TYPE_HASH_ZIPMAP, encode_string(encode_zipmap([(b"f", b"1"), (b"f", b"2")]), False)),
])
def test_duplicates_are_rejected(rdb_type, body):
    """A member or field twice is corrupt data, as Redis reports it."""
    with pytest.raises(RdbError):
        decode(rdb_type, body)


@pytest.mark.parametrize("rdb_type, body", [
    (C.TYPE_ZSET_2, encode_length(1) + encode_string(b"m") +
     encode_binary_double(math.nan)),
    (C.TYPE_ZSET, encode_length(1) + encode_string(b"m") + b"\xfd"),
    (C.TYPE_ZSET_LISTPACK, lp_string([b"m", b"nan"])),
    (C.TYPE_ZSET_LISTPACK, lp_string([b"m", b"1", b"odd"])),
    (C.TYPE_HASH_LISTPACK, lp_string([b"f"])),
    (C.TYPE_LIST_QUICKLIST_2, encode_length(1) + encode_length(3) + encode_string(b"x")),
    (C.TYPE_LIST_QUICKLIST_2, encode_length(1) + encode_length(2) + encode_string(b"junk")),
    (C.TYPE_LIST_ZIPLIST, encode_string(b"not a ziplist")),
    (C.TYPE_SET_INTSET, encode_string(b"\x02\x00\x00\x00\x00\x00\x00\x00")),
])
def test_corrupt_values_are_rejected(rdb_type, body):
    """NaN scores, odd pair counts, unknown quicklist containers and bad
    blobs are RdbErrors naming the value's offset."""
    with pytest.raises(RdbError) as info:
        decode(rdb_type, body)
    assert info.value.offset is not None


@pytest.mark.parametrize("rdb_type, body", [
    (C.TYPE_LIST, encode_length(0)),
    (C.TYPE_SET, encode_length(0)),
    (C.TYPE_ZSET, encode_length(0)),
    (C.TYPE_ZSET_2, encode_length(0)),
    (C.TYPE_HASH, encode_length(0)),
    (C.TYPE_LIST_ZIPLIST, zl_string([])),
    (C.TYPE_LIST_QUICKLIST, encode_length(0)),
    (C.TYPE_LIST_QUICKLIST, encode_length(2) + zl_string([]) + zl_string([])),
    (C.TYPE_LIST_QUICKLIST_2, encode_length(1) + encode_length(2) + lp_string([])),
    (C.TYPE_HASH_ZIPLIST, zl_string([])),
    (C.TYPE_HASH_LISTPACK, lp_string([])),
    (C.TYPE_ZSET_ZIPLIST, zl_string([])),
    (C.TYPE_ZSET_LISTPACK, lp_string([])),
    (C.TYPE_SET_LISTPACK, lp_string([])),
])
def test_empty_collections_decode_to_none(rdb_type, body):
    """An empty collection decodes to None (the loader skips the key) and
    RESTORE refuses it."""
    assert decode(rdb_type, body) is None
    with pytest.raises(RdbError, match="Bad data format"):
        load_payload(payload(rdb_type, body))


def test_empty_quicklist_nodes_are_skipped():
    """Empty listpack nodes inside a quicklist are dropped, others kept."""
    body = encode_length(3) + b"".join(
        encode_length(2) + lp_string(items) for items in ([b"a"], [], [b"b"]))
    assert plain(decode(C.TYPE_LIST_QUICKLIST_2, body)) == [b"a", b"b"]


@pytest.mark.parametrize("rdb_type, body", [
    (C.TYPE_SET_INTSET, encode_string(struct.pack("<II", 2, 0))),
    (C.TYPE_HASH_ZIPMAP, encode_string(b"\x00\xff", False)),
])
def test_empty_intset_or_zipmap_is_corrupt(rdb_type, body):
    """Redis's integrity checks refuse an empty intset or zipmap outright."""
    with pytest.raises(RdbError, match="integrity"):
        decode(rdb_type, body)


def test_module_value_names_the_module():
    """A module value is refused with the module type's name (ReJSON-RL)."""
    name = b"ReJSON-RL"
    module_id = 0
    for ch in name:
        module_id = (module_id << 6) | C.MODULE_CHARSET.index(ch)
    module_id = (module_id << 10) | 3
    assert C.module_name(module_id) == "ReJSON-RL"
    with pytest.raises(RdbError, match="no matching module type 'ReJSON-RL'"):
        decode(C.TYPE_MODULE_2, encode_length(module_id) + b"\x00" * 10)


def test_unknown_type():
    """Type 8 (and anything past 20) is an unknown encoding type."""
    for rdb_type in (8, 21, 100):
        with pytest.raises(RdbError, match=f"Unknown RDB encoding type {rdb_type}"):
            decode(rdb_type, b"\x00")


# -- encoding --------------------------------------------------------------------

@pytest.mark.parametrize("key, rdb_type", [
    (b"str:small", C.TYPE_STRING), (b"list:small", C.TYPE_LIST_QUICKLIST_2),
    (b"hash:listpack", C.TYPE_HASH_LISTPACK), (b"hash:table", C.TYPE_HASH),
    (b"set:intset", C.TYPE_SET_INTSET), (b"set:table", C.TYPE_SET),
    (b"zset:listpack", C.TYPE_ZSET_LISTPACK), (b"zset:skiplist", C.TYPE_ZSET_2)])
def test_encode_picks_redis_70_types(key, rdb_type):
    """Each encoding is saved as the RDB type Redis 7.0 writes for it."""
    assert encode_value(modern_values()[key])[0] == rdb_type


@pytest.mark.parametrize("key", sorted(modern_values()))
@pytest.mark.parametrize("compress", [True, False])
def test_modern_values_round_trip(key, compress):
    """Every in-memory encoding survives encode and decode, encoding included."""
    value = modern_values()[key]
    rdb_type, body = encode_value(value, compress)
    decoded = decode(rdb_type, body)
    assert plain(decoded) == plain(value)
    assert encoding(decoded) == encoding(value)


def test_skiplist_written_highest_score_first():
    """A skiplist zset is written from the tail, as Redis walks it."""
    value = zset([(b"a", 1.0), (b"b", 3.0), (b"c", 2.0)], False)
    _, body = encode_value(value)
    cur = Cursor(body)
    assert cur.length() == 3
    order = []
    for _ in range(3):
        order.append(cur.string())
        cur.binary_double()
    assert order == [b"b", b"c", b"a"]


def _nodes(body):
    cur = Cursor(body)
    nodes = []
    for _ in range(cur.length()):
        assert cur.length() == C.QUICKLIST_NODE_PACKED
        nodes.append(listpack.decode(cur.string()))
    return nodes


def test_list_nodes_follow_list_max_listpack_size():
    """Positive fill caps entries per node; negative fill caps node bytes."""
    items = ListValue(b"%d" % i for i in range(10))
    _, body = encode_value(items, list_fill=3)
    assert [len(n) for n in _nodes(body)] == [3, 3, 3, 1]
    big = ListValue(b"x" * 1000 for _ in range(20))
    _, body = encode_value(big, compress=False, list_fill=-1)   # 4 KB nodes
    nodes = _nodes(body)
    assert sum(map(len, nodes)) == 20 and all(len(n) <= 4 for n in nodes)
    assert [x for n in nodes for x in n] == list(big)


def test_listpack_zset_scores_as_text():
    """A listpack zset holds scores as Redis's d2string text (ints bare)."""
    _, body = encode_value(zset([(b"a", 1.0), (b"b", 0.1)], True), compress=False)
    assert listpack.decode(Cursor(body).string()) == [b"b", b"0.10000000000000001", b"a", b"1"]


BYTES = st.binary(max_size=80)


@given(st.dictionaries(BYTES, BYTES, min_size=1, max_size=20), st.booleans(),
       st.booleans())
def test_hash_round_trip(data, listpack_encoded, compress):
    """Hashes survive encode/decode; a listpack one stays listpack under the limits."""
    value = hash_of(data, listpack_encoded)
    decoded = decode(*encode_value(value, compress))
    assert plain(decoded) == data
    if listpack_encoded:
        assert decoded.listpack


@given(st.sets(st.one_of(BYTES, st.integers(-(2**63), 2**63 - 1).map(b"%d".__mod__)),
               min_size=1, max_size=40))
def test_set_round_trip(members):
    """Sets survive encode/decode in the same encoding."""
    value = set_of(members)
    decoded = decode(*encode_value(value))
    assert plain(decoded) == members and encoding(decoded) == encoding(value)


@given(st.dictionaries(BYTES, st.floats(allow_nan=False), min_size=1, max_size=40),
       st.booleans())
def test_zset_round_trip(pairs, listpack_encoded):
    """Zsets survive encode/decode, scores exactly (-0.0 aside in a listpack)."""
    value = zset(pairs.items(), listpack_encoded)
    decoded = decode(*encode_value(value), Limits(zset_entries=1000, zset_value=1000))
    assert plain(decoded) == plain(value)


@given(st.lists(BYTES, min_size=1, max_size=300), st.sampled_from([-5, -2, -1, 1, 7, 128]))
def test_list_round_trip(items, fill):
    """Lists survive encode/decode at any list-max-listpack-size."""
    value = ListValue(items)
    assert plain(decode(*encode_value(value, list_fill=fill))) == items


# -- DUMP payloads ---------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(modern_values()))
def test_payload_round_trip(key):
    """dump_payload / load_payload carry every encoding (version 10 footer)."""
    value = modern_values()[key]
    data = dump_payload(value)
    assert data[-10:-8] == b"\x0a\x00"
    assert plain(load_payload(data)) == plain(value)


def test_payload_checks():
    """Wrong CRC, newer version, short payload: the DUMP error; a CRC
    mismatch passes when verification is off."""
    data = bytearray(dump_payload(b"hello"))
    data[-1] ^= 1
    with pytest.raises(RdbError, match="DUMP payload version or checksum are wrong"):
        load_payload(bytes(data))
    assert load_payload(bytes(data), verify_checksum=False) == b"hello"
    with pytest.raises(RdbError, match="version or checksum"):
        load_payload(payload(C.TYPE_STRING, encode_string(b"x"), version=11))
    with pytest.raises(RdbError):
        load_payload(b"\x00" * 9)


@pytest.mark.parametrize("version", [6, 7, 8, 9])
def test_legacy_payload_versions_load(version):
    """Payloads from older Redis versions (footer 6..9) load."""
    for rdb_type, body, expected in legacy_records().values():
        assert plain(load_payload(payload(rdb_type, body, version))) == expected
