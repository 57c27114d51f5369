"""HyperLogLog: Redis's string representation (redisrepl/hll.py) and the PF
commands. Byte-exactness against a live redis-server is the differential
corpus's job (tests/interop/corpus/hyperloglog.txt); here the reference is
bytes captured from redis-server 7.0.15 (tests/unit/data/hll_redis70.json)
and properties that must hold for any input."""

import json
import os
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from redisrepl import hll
from redisrepl.config import NOTIFY_KEYEVENT, NOTIFY_STRING
from redisrepl.keyspace import register_type
from redisrepl.resp.values import OK, ReplyError

DATA = os.path.join(os.path.dirname(__file__), "data", "hll_redis70.json")
with open(DATA) as _f:
    CAPTURED = json.load(_f)

MAX = 3000      # hll-sparse-max-bytes' default

# MurmurHash64A(seed 0xadc83b19) of prefixes of one sentence, from Redis's
# own C function compiled as is.
SENTENCE = b"The quick brown fox jumps over the lazy dog"
MURMUR_VECTORS = [
    (0, 0xd8dfea6585bc9732), (1, 0x54f437c0fd1dc9ea), (2, 0x33998b2ab0a8a8e8),
    (3, 0xf2de48f407e0dea2), (4, 0x00d9f9e189325c37), (5, 0x5aa75fe24f02bdf4),
    (6, 0xd4ae00145a08d272), (7, 0x43b72f8a55f3f37a), (8, 0x79054dfaf67ec472),
    (9, 0x352769a5f7d93619), (10, 0x30a817dc13d26a7c), (11, 0xc4736bc83ac7fc3e),
    (12, 0x4c5bbef7d62cdb60), (13, 0x042216901c15c50a), (14, 0x6884d19b430986c6),
    (15, 0x2f1bebcd7dbc06d1), (16, 0x25e060c74b1bbfa2), (17, 0xa9a866792a602780),
    (43, 0x51606c5c5b561ace),
]


def elements_of(case):
    return [("%s%d" % (case["prefix"], i)).encode() for i in range(case["count"])]


def built(elements, max_bytes=MAX):
    """An HLL holding ``elements``, added one by one (PFADD's loop)."""
    value = hll.new()
    changed = 0
    for element in elements:
        changed += hll.add(value, element, max_bytes)
    if changed:
        hll.invalidate_cache(value)
    return value


def dense_empty():
    value = hll.new()
    assert hll.sparse_to_dense(value)
    return value


element_sets = st.lists(st.binary(max_size=12), max_size=400)


# -- the hash and the register pattern ------------------------------------------

@pytest.mark.parametrize("length,expected", MURMUR_VECTORS)
def test_murmurhash64a_matches_redis_c_function(length, expected):
    """Every tail length (0-7 bytes after the 8-byte blocks) hashes as C does."""
    assert hll.murmurhash64a(SENTENCE[:length]) == expected


def test_murmurhash64a_of_high_bytes():
    """Bytes >= 0x80 are unsigned in the tail and in the blocks."""
    data = bytes([0xff, 0x00, 0x80, 0x7f, 0xfe, 0x01, 0x10, 0xee, 0x99])
    assert hll.murmurhash64a(data) == 0x303e86717a696696


@given(st.binary(max_size=40))
def test_pattern_is_index_and_bounded_run(element):
    """The register index is the hash's low 14 bits; the run is 1..51."""
    index, count = hll.pattern(element)
    h = hll.murmurhash64a(element)
    assert index == h & 16383
    assert 1 <= count <= 51
    # count-1 zero bits above the index, then a one (or the forced bit 50).
    rest = h >> 14
    assert rest & ((1 << (count - 1)) - 1) == 0
    assert count == 51 or rest >> (count - 1) & 1


# -- bytes captured from redis-server 7.0.15 ---------------------------------------

@pytest.mark.parametrize("case", CAPTURED["cases"], ids=lambda c: c["name"])
def test_pfadd_builds_redis_bytes(case):
    """Adding the same elements in the same batches gives Redis's exact
    bytes: sparse opcodes, promotion, dense registers, stale cache bytes."""
    value = hll.new()
    elements = elements_of(case)
    for start in range(0, len(elements), case["batch"]):
        changed = 0
        for element in elements[start:start + case["batch"]]:
            changed += hll.add(value, element, MAX)
        if changed:
            hll.invalidate_cache(value)
    assert bytes(value) == bytes.fromhex(case["bytes"])
    assert hll.is_sparse(value) == (case["encoding"] == "sparse")


@pytest.mark.parametrize("case", CAPTURED["cases"], ids=lambda c: c["name"])
def test_redis_bytes_count_as_redis_counted(case):
    """An HLL written by Redis decodes and estimates to Redis's PFCOUNT,
    and caching it writes Redis's header."""
    value = bytearray.fromhex(case["bytes"])
    assert hll.is_hll(value)
    assert hll.cached_count(value) is None
    card = hll.count(value)
    assert card == case["pfcount"]
    hll.store_count(value, card)
    assert bytes(value[:16]) == bytes.fromhex(case["header_after_pfcount"])
    assert hll.cached_count(value) == card


@pytest.mark.parametrize("merge", CAPTURED["merges"],
                         ids=lambda m: "+".join(m["sources"]))
def test_merge_of_redis_hlls_gives_redis_bytes(merge):
    """PFMERGE into a new key: sparse stays sparse (set register by register
    as Redis does), a dense source makes it dense."""
    by_name = {c["name"]: bytes.fromhex(c["bytes"]) for c in CAPTURED["cases"]}
    raw = bytearray(hll.REGISTERS)
    any_dense = False
    for name in merge["sources"]:
        source = by_name[name]
        any_dense |= not hll.is_sparse(source)
        assert hll.merge_into(raw, source)
    dest = hll.new()
    if any_dense:
        assert hll.sparse_to_dense(dest)
    hll.write_registers(dest, raw, MAX)
    assert bytes(dest) == bytes.fromhex(merge["bytes"])
    if "pfcount" in merge:
        assert hll.count_raw(raw) == merge["pfcount"]


# -- properties of the two encodings ---------------------------------------------

@settings(max_examples=60, deadline=None)
@given(element_sets)
def test_sparse_and_dense_count_the_same(elements):
    """The same elements in a sparse and in a dense HLL: same registers,
    same estimate, and a sparse one converted to dense equals the dense."""
    sparse = built(elements)
    dense = dense_empty()
    for element in elements:
        hll.add(dense, element, MAX)
    assert hll.count(sparse) == hll.count(dense)
    converted = bytearray(sparse)
    assert hll.sparse_to_dense(converted)
    assert converted[16:] == dense[16:]


@settings(max_examples=40, deadline=None)
@given(element_sets, st.integers(min_value=0, max_value=200))
def test_small_sparse_limit_promotes_without_changing_registers(elements, limit):
    """Promotion at any hll-sparse-max-bytes keeps every register, and a
    sparse HLL never grows past the limit."""
    limited = built(elements, limit)
    if hll.is_sparse(limited):
        assert len(limited) <= max(limit, len(hll.new()))
    reference = built(elements)
    assert hll.sparse_to_dense(reference) and hll.sparse_to_dense(limited)
    assert limited[16:] == reference[16:]


def naive_write(dest, raw):
    """PFMERGE's register loop exactly as Redis runs it: every register
    looked up from the start of the sparse body."""
    for index in range(hll.REGISTERS):
        if raw[index]:
            if hll.is_sparse(dest):
                hll._sparse_set(dest, index, raw[index], MAX)
            else:
                hll._dense_set(dest, index, raw[index])
    hll.invalidate_cache(dest)


@settings(max_examples=40, deadline=None)
@given(element_sets, element_sets)
def test_merge_resume_shortcut_matches_redis_order(first, second):
    """write_registers' resumed scans give the bytes of Redis's full scans."""
    raw = bytearray(hll.REGISTERS)
    for elements in (first, second):
        assert hll.merge_into(raw, built(elements))
    expected = hll.new()
    naive_write(expected, raw)
    got = hll.new()
    hll.write_registers(got, raw, MAX)
    assert got == expected


# Thirty registers of small values: equal neighbours make VAL opcodes merge.
window = st.lists(st.integers(min_value=0, max_value=3), min_size=30, max_size=30)


@settings(max_examples=300, deadline=None)
@given(window, window)
@example(  # the resumed scan lands on the very opcode it resumes from
    [0, 3, 2, 0, 0, 0, 3, 0, 0, 1, 2, 3, 1, 0, 3, 0, 3, 2, 1, 3, 0, 2, 2, 3, 0,
     0, 0, 3, 3, 0],
    [0, 3, 3, 1, 0, 3, 3, 3, 2, 2, 3, 3, 3, 1, 3, 1, 3, 2, 1, 3, 0, 2, 3, 3, 0,
     0, 1, 3, 3, 3])
def test_merge_into_an_existing_sparse_hll_matches_redis_order(old, new):
    """Into a destination with registers of its own, write_registers'
    resumed scans still give the bytes of Redis's full scans."""
    dest_raw = bytearray(hll.REGISTERS)
    dest_raw[:30] = bytes(old)
    merged = bytearray(hll.REGISTERS)
    merged[:30] = bytes(map(max, old, new))
    dest = hll.new()
    naive_write(dest, dest_raw)
    expected, got = bytearray(dest), bytearray(dest)
    naive_write(expected, merged)
    hll.write_registers(got, merged, MAX)
    assert got == expected


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=2 ** 32), st.sampled_from([1, 3, 63]))
def test_dense_registers_round_trip(seed, top):
    """Packing 16384 six-bit registers and unpacking them is the identity,
    and single-register writes land where the bulk unpack reads them."""
    rnd = random.Random(seed)
    raw = bytes(rnd.randint(0, top) for _ in range(hll.REGISTERS))
    dense = dense_empty()
    hll.write_registers(dense, raw, MAX)
    assert hll.registers(dense) == raw
    one_by_one = dense_empty()
    for index, value in enumerate(raw):
        if value:
            hll._dense_set(one_by_one, index, value)
    assert one_by_one[16:] == dense[16:]


def test_register_past_32_promotes(monkeypatch):
    """A run longer than a sparse VAL can hold makes the HLL dense at once."""
    value = built([b"a", b"b"])
    monkeypatch.setattr(hll, "pattern", lambda element: (16383, 40))
    assert hll.add(value, b"x", MAX) == 1
    assert not hll.is_sparse(value)
    assert hll.registers(value)[16383] == 40
    assert hll.add(value, b"x", MAX) == 0


def test_empty_hll_counts_zero_and_new_has_a_valid_zero_cache():
    """A fresh HLL is XZERO:16384 with a valid cached 0."""
    value = hll.new()
    assert hll.decode(value) == b"Z:16384"
    assert hll.cached_count(value) == 0
    assert hll.count(value) == 0
    assert hll.count(dense_empty()) == 0


def test_invalidation_keeps_the_stale_cached_bytes():
    """Only the top bit is set: Redis leaves the old value's bytes there."""
    value = hll.new()
    hll.store_count(value, 0x1234)
    hll.invalidate_cache(value)
    assert bytes(value[8:16]) == b"\x34\x12\x00\x00\x00\x00\x00\x80"
    assert hll.cached_count(value) is None


@pytest.mark.parametrize("value,valid", [
    (b"", False),
    (b"HYLL", False),
    (b"HYLX\x01" + bytes(11) + b"\x7f\xff", False),
    (b"HYLL\x02" + bytes(11) + b"\x7f\xff", False),
    (b"HYLL\x00" + bytes(11) + b"\x7f\xff", False),      # dense, wrong size
    (b"HYLL\x01" + bytes(11), True),                     # body checked later
    (b"HYLL\x00" + bytes(hll.DENSE_SIZE - 5), True),
])
def test_header_checks(value, valid):
    """isHLLObjectOrReply's checks: magic, encoding, dense length."""
    assert hll.is_hll(value) is valid


BROKEN = [
    b"HYLL\x01" + bytes(11),                              # no registers
    b"HYLL\x01" + bytes(11) + b"\x7e\x7f",                # 16000 only
    b"HYLL\x01" + bytes(11) + b"\x7f\xff\x00",            # one too many
    b"HYLL\x01" + bytes(11) + b"\x7f\xff\x80",            # VAL past the end
]


@pytest.mark.parametrize("value", BROKEN)
def test_broken_sparse_bodies_are_reported_not_converted(value):
    """Runs that do not cover exactly 16384 registers are corrupt."""
    value = bytearray(value)
    before = bytes(value)
    assert hll.count(value) is None
    assert not hll.merge_into(bytearray(hll.REGISTERS), value)
    assert not hll.sparse_to_dense(value)
    assert bytes(value) == before


# -- the commands ----------------------------------------------------------------

def test_pfadd_replies_and_creates(srv):
    """PFADD: 1 when created or a register changed, 0 otherwise; a new key
    with no elements is an empty HLL."""
    assert srv("PFADD", "h") == 1
    assert srv("GET", "h") == b"HYLL\x01" + bytes(10) + b"\x80\x7f\xff"
    assert srv("PFADD", "h") == 0
    assert srv("PFADD", "h", "a", "b") == 1
    assert srv("PFADD", "h", "a") == 0
    assert srv("PFCOUNT", "h") == 2
    assert srv("OBJECT", "ENCODING", "h") == b"raw"


def test_pfadd_propagates_only_changes(srv):
    """A PFADD that changed nothing is not propagated."""
    srv("PFADD", "h", "a")
    srv("PFADD", "h", "a")
    assert srv.propagated == [[b"PFADD", b"h", b"a"]]


def test_pfcount_that_refreshes_the_cache_is_propagated(srv):
    """PFCOUNT writes the cache into the string, so replicas get it too;
    a cached answer or a multi-key count writes nothing."""
    srv("PFADD", "h", "a", "b", "c")
    before = srv("GET", "h")
    assert srv("PFCOUNT", "h") == 3
    after = srv("GET", "h")
    assert after[16:] == before[16:] and after[8:16] == b"\x03" + bytes(7)
    assert srv("PFCOUNT", "h") == 3
    assert srv("PFCOUNT", "h", "missing") == 3
    assert srv.propagated == [[b"PFADD", b"h", b"a", b"b", b"c"],
                              [b"PFCOUNT", b"h"]]


def test_pfcount_of_missing_keys(srv):
    """A missing key counts 0, alone or in a union."""
    assert srv("PFCOUNT", "nothing") == 0
    assert srv("PFCOUNT", "nothing", "else") == 0
    assert srv.propagated == []


def test_pfmerge_unions_and_always_writes(srv):
    """PFMERGE: the union, created when missing, propagated as is."""
    srv("PFADD", "a", "1", "2", "3")
    srv("PFADD", "b", "3", "4")
    assert srv("PFMERGE", "m", "a", "b") == OK
    assert srv("PFCOUNT", "m") == 4
    assert srv("PFDEBUG", "ENCODING", "m") == b"sparse"
    assert srv("PFMERGE", "m") == OK
    assert srv.propagated[-1] == [b"PFMERGE", b"m"]


def test_a_dense_source_makes_the_merge_dense(srv):
    """Any dense source converts the destination first, as Redis 7.0."""
    srv("PFADD", "a", "x")
    srv("PFADD", "d", "y")
    assert srv("PFDEBUG", "TODENSE", "d") == 1
    srv("PFMERGE", "a", "d")
    assert srv("PFDEBUG", "ENCODING", "a") == b"dense"
    assert srv("PFCOUNT", "a") == 2


def test_hll_written_by_set_counts_and_stays_a_string(srv):
    """Redis's bytes stored with SET are an HLL; GET returns them intact."""
    case = CAPTURED["cases"][1]
    data = bytes.fromhex(case["bytes"])
    srv("SET", "k", data)
    assert srv("GET", "k") == data
    assert srv("PFCOUNT", "k") == case["pfcount"]
    assert srv("PFADD", "k", *elements_of(case)[:50]) == 0
    assert srv("TYPE", "k") == b"string"


def test_pfadd_keeps_the_ttl(srv):
    """Updates happen in place: the key keeps its time to live."""
    srv("PFADD", "h", "a")
    srv("EXPIRE", "h", 100)
    srv("PFADD", "h", "b")
    srv("PFCOUNT", "h")
    srv("PFMERGE", "h", "h")
    assert srv("TTL", "h") == 100


def test_not_an_hll(srv):
    """A plain string is refused with Redis's own WRONGTYPE text."""
    srv("SET", "s", "hello")
    for args in (("PFADD", "s", "a"), ("PFCOUNT", "s"), ("PFCOUNT", "x", "s"),
                 ("PFMERGE", "d", "s"), ("PFDEBUG", "ENCODING", "s")):
        reply = srv(*args)
        assert isinstance(reply, ReplyError)
        assert reply == ReplyError("WRONGTYPE Key is not a valid HyperLogLog string value.")
    assert srv("EXISTS", "d") == 0


class _OtherType:
    pass


register_type(_OtherType, b"othertype")


def test_other_types_get_the_generic_wrongtype(srv):
    """A non-string value gets the usual WRONGTYPE (checkType)."""
    srv.db.set(b"o", _OtherType())
    for args in (("PFADD", "o", "a"), ("PFCOUNT", "o"), ("PFMERGE", "o")):
        assert srv(*args).message.startswith(
            b"WRONGTYPE Operation against a key holding the wrong kind")


def test_corrupted_hll_is_invalidobj_and_nothing_propagated(srv):
    """A broken sparse body: INVALIDOBJ, nothing written or propagated."""
    srv("SET", "bad", b"HYLL\x01" + bytes(10) + b"\x80\x7e\x7f")
    srv.recorder.ops.clear()
    for args in (("PFCOUNT", "bad"), ("PFCOUNT", "bad", "x"),
                 ("PFMERGE", "d", "bad"), ("PFDEBUG", "TODENSE", "bad")):
        assert srv(*args) == ReplyError("INVALIDOBJ Corrupted HLL object detected")
    assert srv.propagated == []
    assert srv("EXISTS", "d") == 0


def test_sparse_limit_comes_from_config(srv):
    """hll-sparse-max-bytes decides when PFADD goes dense."""
    srv("CONFIG", "SET", "hll-sparse-max-bytes", "0")
    srv("PFADD", "h", "a")
    assert srv("PFDEBUG", "ENCODING", "h") == b"dense"
    srv("CONFIG", "SET", "hll-sparse-max-bytes", "3000")
    srv("PFADD", "s", "a")
    assert srv("PFDEBUG", "ENCODING", "s") == b"sparse"


def watcher(srv, key):
    client = srv.new_client()
    srv("WATCH", key, client=client)
    return client


def test_watch_sees_real_changes_only(srv):
    """PFADD that changes nothing or a cached PFCOUNT leave WATCH alone,
    even on a value that first has to be made writable."""
    srv("SET", "h", bytes(hll.new()))       # a bytes value, as SET stores it
    client = watcher(srv, "h")
    srv("PFADD", "h")
    srv("PFCOUNT", "h")
    assert not client.dirty_cas
    srv("PFADD", "h", "a")
    assert client.dirty_cas
    client = watcher(srv, "h")
    srv("PFCOUNT", "h")                     # refreshes the cache
    assert client.dirty_cas


def test_pfadd_and_pfmerge_notify_pfadd(srv):
    """Both notify the "pfadd" string event, only when they write."""
    srv.server.notify_flags = NOTIFY_KEYEVENT | NOTIFY_STRING
    events = []
    srv.server.pubsub.notify = lambda cls, event, key, db: events.append(
        (event, key))
    srv("PFADD", "h", "a")
    srv("PFADD", "h", "a")
    srv("PFMERGE", "m", "h")
    srv("PFCOUNT", "m")
    assert events == [(b"pfadd", b"h"), (b"pfadd", b"m")]


def test_pfdebug(srv):
    """GETREG (converts, propagated), DECODE, ENCODING, TODENSE, errors."""
    srv("PFADD", "h", "a")
    index, count = hll.pattern(b"a")
    assert srv("PFDEBUG", "DECODE", "h") == (
        b"Z:%d v:%d,1 Z:%d" % (index, count, 16383 - index))
    assert srv("PFDEBUG", "encoding", "h") == b"sparse"
    srv.recorder.ops.clear()
    registers = srv("PFDEBUG", "GETREG", "h")
    assert len(registers) == 16384 and registers[index] == count
    assert sum(registers) == count
    assert srv.propagated == [[b"PFDEBUG", b"GETREG", b"h"]]
    assert srv("PFDEBUG", "ENCODING", "h") == b"dense"
    assert srv("PFDEBUG", "TODENSE", "h") == 0
    assert srv("PFDEBUG", "DECODE", "h") == ReplyError("ERR HLL encoding is not sparse")
    assert srv("PFDEBUG", "Nope", "h") == ReplyError("ERR Unknown PFDEBUG subcommand 'Nope'")
    assert srv("PFDEBUG", "ENCODING", "missing") == \
        ReplyError("ERR The specified key does not exist")


def test_pfselftest_passes(srv):
    """The scaled-down self test runs clean on this implementation."""
    assert srv("PFSELFTEST") == OK


def test_reads_count_keyspace_hits_and_misses(srv):
    """PFCOUNT and PFMERGE look their sources up as reads (lookupKeyRead)."""
    srv("PFADD", "h", "a")
    ks = srv.server.keyspace
    hits, misses = ks.hits, ks.misses
    srv("PFCOUNT", "h", "missing", "h")
    assert (ks.hits - hits, ks.misses - misses) == (2, 1)
    srv("PFMERGE", "new", "h", "missing")
    assert (ks.hits - hits, ks.misses - misses) == (3, 3)
    srv("PFCOUNT", "h")
    assert (ks.hits - hits, ks.misses - misses) == (4, 3)
