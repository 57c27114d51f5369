"""Whole RDB files through the streaming decoder: headers of every version,
opcodes, checksums, chunked input, and the errors for bad input."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redisrepl.listtype import ListValue
from redisrepl.rdb import (
    Aux,
    DbSnapshot,
    End,
    Entry,
    Function,
    Options,
    RdbDecoder,
    RdbError,
    ResizeDb,
    SelectDb,
    encode_all,
    encode_rdb,
)
from redisrepl.rdb import constants as C
from redisrepl.rdb.primitives import encode_length, encode_string
from tests.unit.rdb_samples import key_record, legacy_records, modern_values, plain, rdb_file


def decode_all(data, verify=True):
    decoder = RdbDecoder(verify_checksum=verify)
    events = decoder.feed(data) + decoder.close()
    assert decoder.done
    return events


def comparable(events):
    """Events with values as plain data (value objects do not compare)."""
    return [e._replace(value=plain(e.value) if e.value is not None else None)
            if isinstance(e, Entry) else e for e in events]


def entries(events):
    return {e.key: e for e in events if isinstance(e, Entry)}


def string_record(key, value):
    return key_record(C.TYPE_STRING, key, encode_string(value))


# -- headers ---------------------------------------------------------------------

@pytest.mark.parametrize("version", range(1, 11))
def test_every_version_loads(version):
    """RDB versions 1..10 load; before 5 there is no checksum trailer."""
    records = [string_record(b"k", b"v")]
    records += [key_record(t, name.encode(), body)
                for name, (t, body, _) in legacy_records().items()]
    data = rdb_file(records, version=version)
    if version < 5:
        assert data.endswith(b"\xff")
    events = decode_all(data)
    assert events[-1] == End(0) if version < 5 else isinstance(events[-1], End)
    got = entries(events)
    assert got[b"k"].value == b"v"
    for name, (_, _, expected) in legacy_records().items():
        assert plain(got[name.encode()].value) == expected


@pytest.mark.parametrize("header, message, offset", [
    (b"REDIS0011", "Can't handle RDB format version 11", 5),
    (b"REDIS0000", "Can't handle RDB format version 0", 5),
    (b"REDIX0010", "Wrong signature", 0),
    (b"REDIS00a1", "Wrong signature", 0),
])
def test_bad_headers(header, message, offset):
    """A newer version or a wrong signature is refused, naming the problem."""
    with pytest.raises(RdbError) as info:
        RdbDecoder().feed(header + b"\xff" + b"\x00" * 8)
    assert message in str(info.value) and info.value.offset == offset


# -- opcodes ---------------------------------------------------------------------

def test_opcodes_become_events():
    """AUX, SELECTDB, RESIZEDB, FUNCTION2 are events; EXPIRETIME (s),
    EXPIRETIME_MS, IDLE and FREQ attach to the next key only."""
    records = [
        b"\xfa" + encode_string(b"redis-ver") + encode_string(b"7.0.15"),
        b"\xfa" + encode_string(b"repl-offset") + encode_string(b"12345"),
        b"\xf5" + encode_string(b"#!lua name=mylib\nreturn 1"),
        b"\xfe" + encode_length(0),
        b"\xfb" + encode_length(3) + encode_length(2),
        b"\xfd" + struct.pack("<i", 1_700_000_000), string_record(b"sec", b"1"),
        b"\xfc" + struct.pack("<q", 1_700_000_000_123), string_record(b"ms", b"2"),
        b"\xf8" + encode_length(300), string_record(b"idle", b"3"),
        b"\xf9\x07", string_record(b"freq", b"4"),
        string_record(b"plain", b"5"),
        b"\xfe" + encode_length(15),
        b"\xfc" + struct.pack("<q", -1), string_record(b"db15", b"6"),
    ]
    events = decode_all(rdb_file(records))
    assert events[:5] == [Aux(b"redis-ver", b"7.0.15"), Aux(b"repl-offset", b"12345"),
                          Function(b"#!lua name=mylib\nreturn 1"), SelectDb(0), ResizeDb(3, 2)]
    got = entries(events)
    assert got[b"sec"] == Entry(0, b"sec", b"1", 1_700_000_000_000, None, None)
    assert got[b"ms"] == Entry(0, b"ms", b"2", 1_700_000_000_123, None, None)
    assert got[b"idle"] == Entry(0, b"idle", b"3", None, 300, None)
    assert got[b"freq"] == Entry(0, b"freq", b"4", None, None, 7)
    assert got[b"plain"] == Entry(0, b"plain", b"5", None, None, None)
    assert got[b"db15"] == Entry(15, b"db15", b"6", -1, None, None)
    assert SelectDb(15) in events


def _module_id(name, version=1):
    module_id = 0
    for ch in name:
        module_id = (module_id << 6) | C.MODULE_CHARSET.index(ch)
    return (module_id << 10) | version


@pytest.mark.parametrize("record, message", [
    (b"\xf7" + encode_length(_module_id(b"ReJSON-RL")) + b"\x02\x02",
     "AUX module data I can't load: no matching module 'ReJSON-RL'"),
    (bytes((C.TYPE_MODULE_2,)) + encode_string(b"k") + encode_length(_module_id(b"MBbloom--")),
     "module data I can't load: no matching module type 'MBbloom--'"),
    (b"\xf6" + encode_string(b"code"), "Pre-release function format not supported"),
    (b"\xf4", "Unknown RDB encoding type 244"),
    (b"\x08" + encode_string(b"k"), "Unknown RDB encoding type 8"),
])
def test_refused_records_name_the_problem_and_offset(record, message):
    """Module data (naming the module), pre-GA functions and unknown
    opcodes stop the load with the record's offset."""
    prefix = [string_record(b"first", b"x")]
    data = rdb_file(prefix + [record])
    with pytest.raises(RdbError) as info:
        decode_all(data)
    assert message in str(info.value)
    start = 9 + len(prefix[0])
    assert start <= info.value.offset < start + len(record)
    assert f"offset {info.value.offset}" in str(info.value)


def test_empty_collection_key_is_an_entry_without_value():
    """An empty collection in a file is an Entry with value None (to skip)."""
    data = rdb_file([key_record(C.TYPE_SET, b"empty", encode_length(0)),
                     string_record(b"k", b"v")])
    got = entries(decode_all(data))
    assert got[b"empty"].value is None and got[b"k"].value == b"v"


# -- checksums -------------------------------------------------------------------

def test_checksum_zero_skips_verification():
    """A file saved with rdbchecksum no (CRC 0) loads."""
    data = rdb_file([string_record(b"k", b"v")], checksum=False)
    assert data.endswith(b"\x00" * 8)
    assert decode_all(data)[-1] == End(0)


def test_flipped_byte_is_a_checksum_error_at_the_trailer():
    """A flipped data byte is caught by the CRC, reported at the trailer's offset;
    with verification off the file loads."""
    data = bytearray(rdb_file([string_record(b"key", b"value")]))
    data[data.index(b"value")] ^= 0x20
    with pytest.raises(RdbError, match="Wrong RDB checksum") as info:
        decode_all(bytes(data))
    assert info.value.offset == len(data) - 8
    assert entries(decode_all(bytes(data), verify=False))[b"key"].value == b"Value"


def test_encoder_checksum_matches_and_can_be_off():
    """encode_rdb's CRC verifies; Options(checksum=False) writes zero."""
    dbs = [DbSnapshot(0, modern_values(), {})]
    assert isinstance(decode_all(encode_all(dbs))[-1], End)
    data = encode_all(dbs, options=Options(checksum=False))
    assert data[-8:] == b"\x00" * 8
    assert decode_all(data)[-1] == End(0)


# -- truncation and wrong lengths ------------------------------------------------

def test_every_truncation_is_reported_at_close():
    """A file cut anywhere raises RdbError at close(), naming where it ended."""
    data = rdb_file([string_record(b"k", b"v" * 30),
                     key_record(C.TYPE_HASH, b"h", legacy_records()["hash"][1])])
    for cut in range(len(data)):
        decoder = RdbDecoder()
        decoder.feed(data[:cut])
        with pytest.raises(RdbError, match="truncated") as info:
            decoder.close()
        assert info.value.offset == cut


def test_length_beyond_the_data():
    """A string length past the end of the file is a truncation error, not a hang."""
    data = bytearray(rdb_file([string_record(b"k", b"value")]))
    at = data.index(b"value") - 1
    data[at] = 0x3F
    with pytest.raises(RdbError, match="truncated"):
        decode_all(bytes(data))
    data[at] = 0x80
    data[at + 1:at + 1] = b"\x7f\xff\xff\xff"
    with pytest.raises(RdbError, match="truncated"):
        decode_all(bytes(data))


def test_corrupt_value_names_its_offset():
    """A bad blob inside a value reports the blob's offset in the file."""
    bad = encode_string(b"not a listpack at all")
    record = bytes((C.TYPE_HASH_LISTPACK,)) + encode_string(b"h") + bad
    first = string_record(b"a", b"b")
    with pytest.raises(RdbError, match="integrity") as info:
        decode_all(rdb_file([first, record]))
    assert info.value.offset == 9 + len(first) + 1 + 2


def test_trailing_bytes_are_kept_aside():
    """Bytes after the checksum do not disturb the load; they are kept."""
    data = rdb_file([string_record(b"k", b"v")])
    decoder = RdbDecoder()
    events = decoder.feed(data + b"extra") + decoder.close()
    assert decoder.trailing == b"extra" and isinstance(events[-1], End)
    decoder.feed(b"more")
    assert decoder.trailing == b"extramore"


# -- streaming -------------------------------------------------------------------

def _sample_file():
    dbs = [DbSnapshot(0, modern_values(), {b"str:small": 1 << 41}),
           DbSnapshot(5, {b"x": b"y"}, {})]
    return encode_all(dbs, aux=[(b"redis-ver", b"7.0.15")], functions=[b"code"])


SAMPLE = _sample_file()
WHOLE = comparable(decode_all(SAMPLE))


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1000, 4096])
def test_fixed_chunk_sizes_give_the_same_events(chunk):
    """Fed in chunks of any size, the file decodes to the same events."""
    decoder = RdbDecoder()
    events = []
    for i in range(0, len(SAMPLE), chunk):
        events += decoder.feed(SAMPLE[i:i + chunk])
    events += decoder.close()
    assert comparable(events) == WHOLE


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 3000), min_size=1, max_size=40),
       st.sampled_from([bytes, bytearray, memoryview]))
def test_random_chunking_gives_the_same_events(sizes, kind):
    """Any split of the file, as bytes, bytearray or memoryview, gives the same events."""
    decoder = RdbDecoder()
    events = []
    pos = 0
    i = 0
    while pos < len(SAMPLE):
        size = sizes[i % len(sizes)]
        events += decoder.feed(kind(SAMPLE[pos:pos + size]))
        pos += size
        i += 1
    events += decoder.close()
    assert comparable(events) == WHOLE
    assert all(type(e.key) is bytes for e in events if isinstance(e, Entry))


def test_every_chunk_size_for_a_small_file():
    """Chunks of every size 1..N give the events of the whole file."""
    data = rdb_file([string_record(b"k%d" % i, b"v" * i) for i in range(12)])
    whole = comparable(decode_all(data))
    for chunk in range(1, len(data) + 1):
        decoder = RdbDecoder()
        events = []
        for i in range(0, len(data), chunk):
            events += decoder.feed(data[i:i + chunk])
        assert comparable(events + decoder.close()) == whole, chunk


def _count_attempts(data, chunk):
    """(parse attempts, bytes scanned by them) when fed ``chunk`` bytes at a time."""
    decoder = RdbDecoder()
    attempts = []
    parse = decoder._parse

    def counting():
        attempts.append(decoder._buffered)
        return parse()
    decoder._parse = counting
    events = []
    for i in range(0, len(data), chunk):
        events += decoder.feed(data[i:i + chunk])
    events += decoder.close()
    return events, len(attempts), sum(attempts)


@pytest.mark.parametrize("value", [
    b"x" * 2_000_000,                                       # one big string
    ListValue(b"item-%d" % i for i in range(200_000)),     # many small elements
])
def test_big_record_is_not_reparsed_per_chunk(value):
    """A record far larger than the chunks is parsed O(log n) times, the
    bytes scanned staying within a small multiple of its size."""
    data = encode_all([DbSnapshot(0, {b"big": value}, {})],
                      options=Options(compress=False))
    events, attempts, scanned = _count_attempts(data, 512)
    assert plain(entries(events)[b"big"].value) == plain(value)
    assert attempts < 60, attempts
    assert scanned < 5 * len(data), (scanned, len(data))


def test_record_completed_by_the_last_chunk_decodes_at_close():
    """A big record whose last bytes arrive before the next doubling point
    still decodes: close() makes the last attempt and returns its events."""
    data = rdb_file([string_record(b"big", b"z" * 10_000)])
    decoder = RdbDecoder()
    events = decoder.feed(data[:3000])
    events += decoder.feed(data[3000:])
    events += decoder.close()
    assert entries(events)[b"big"].value == b"z" * 10_000


def test_encoder_yields_bounded_chunks():
    """encode_rdb streams: many keys come out in several chunks of ~64 KB."""
    data = {b"key:%d" % i: b"v" * 100 for i in range(3000)}
    chunks = list(encode_rdb([DbSnapshot(0, data, {})], options=Options(compress=False)))
    assert len(chunks) > 3
    assert max(map(len, chunks)) < 2 * 65536
    got = entries(decode_all(b"".join(chunks)))
    assert {k: e.value for k, e in got.items()} == data


def test_encoder_record_order():
    """Header, aux fields, functions, then per non-empty db SELECTDB and
    RESIZEDB before its keys, as rdbSaveRio writes."""
    dbs = [DbSnapshot(0, {}, {}), DbSnapshot(2, {b"a": b"1", b"b": b"2"}, {b"a": 99})]
    events = decode_all(encode_all(dbs, aux=[(b"redis-bits", b"64")], functions=[b"f"]))
    assert events[:4] == [Aux(b"redis-bits", b"64"), Function(b"f"), SelectDb(2),
                          ResizeDb(2, 1)]
    assert entries(events)[b"a"].expire_ms == 99
    assert SelectDb(0) not in events
