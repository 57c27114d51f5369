"""Streams in RDB: round trips of streams built by the commands, Redis's
own bytes, version 1 derivations, and corrupt input always an RdbError."""

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redisrepl.rdb import RdbDecoder, listpack, load_payload
from redisrepl.rdb.constants import TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2
from redisrepl.rdb.crc64 import crc64
from redisrepl.rdb.errors import RdbError
from redisrepl.rdb.payload import dump_payload
from redisrepl.rdb.primitives import Cursor, encode_i64_le, encode_length, encode_string
from redisrepl.rdb.streams import decode_stream, encode_node, encode_stream
from redisrepl.stream import MAX_ID, SEQ_MASK
from tests.unit.harness import Harness

# -- helpers ------------------------------------------------------------------------


def observe(stream):
    """Everything of a stream a client or a later command could tell apart."""
    nodes = [(n.master_id, n.last_id, n.live, n.deleted, n.fixed_bytes, list(n.fields))
             for n in stream.nodes]
    groups = {}
    for name, group in (stream.groups or {}).items():
        pel = [(i, nack.consumer.name, nack.delivery_time, nack.delivery_count)
               for i, nack in group.pel.items()]
        consumers = {}
        for cname, consumer in group.consumers.items():
            for i, nack in consumer.pel.items():
                assert group.pel[i] is nack and nack.consumer is consumer
            consumers[cname] = (consumer.seen_time, list(consumer.pel))
        groups[name] = (group.last_id, group.entries_read, pel, consumers)
    return (dict(stream.entries), nodes, list(stream.node_starts), stream.last_id,
            stream.first_id, stream.max_deleted_id, stream.entries_added, groups)


def round_trip(stream, compress=True, version=2):
    body = encode_stream(stream, compress)
    cur = Cursor(body)
    value = decode_stream(cur, version)
    assert cur.pos == len(body)
    return value


def payload(rdb_type, body):
    """A DUMP payload with a valid footer around any body."""
    data = bytes((rdb_type,)) + body + struct.pack("<H", 10)
    return data + struct.pack("<Q", crc64(data))


def raw_id(ms, seq=0):
    return ((ms << 64) | seq).to_bytes(16, "big")


def enc_id(ms, seq=0):
    return encode_length(ms) + encode_length(seq)


def node_lp(master_fields, entries, count=None, deleted=0):
    """A node listpack: entries are (flags, ms_delta, seq_delta, items) with
    items the values (SAMEFIELDS) or the flat field/value list."""
    elements = [count if count is not None else len(entries), deleted,
                len(master_fields), *master_fields, 0]
    for flags, ms, seq, items in entries:
        elements += [flags, ms, seq]
        if flags & 2:
            elements += items
            elements.append(len(items) + 3)
        else:
            elements.append(len(items) // 2)
            elements += items
            elements.append(len(items) + 4)
    return listpack.encode(elements)


SIMPLE_NODE = node_lp([b"f"], [(2, 0, 0, [b"v"]), (2, 1, 0, [b"w"])])


SIMPLE_NODES = ((raw_id(1), SIMPLE_NODE),)


def stream_body(nodes=SIMPLE_NODES, length=2, last=(2, 0), groups=(),
                version=2, first=(1, 0), max_deleted=(0, 0), added=2):
    """A stream value body laid out field by field, for corrupt variants.
    groups: (name, (ms, seq), entries_read, [(raw id, time, count)],
    [(name, seen, [raw ids])])."""
    parts = [encode_length(len(nodes))]
    for key, blob in nodes:
        parts += [encode_string(key, False), encode_string(blob, False)]
    parts += [encode_length(length), enc_id(*last)]
    if version == 2:
        parts += [enc_id(*first), enc_id(*max_deleted), encode_length(added)]
    parts.append(encode_length(len(groups)))
    for name, last_id, entries_read, pel, consumers in groups:
        parts += [encode_string(name, False), enc_id(*last_id)]
        if version == 2:
            parts.append(encode_length(entries_read % (1 << 64)))
        parts.append(encode_length(len(pel)))
        for rid, when, count in pel:
            parts += [rid, encode_i64_le(when), encode_length(count)]
        parts.append(encode_length(len(consumers)))
        for cname, seen, ids in consumers:
            parts += [encode_string(cname, False), encode_i64_le(seen),
                      encode_length(len(ids)), *ids]
    return b"".join(parts)


def load_body(body, version=2):
    rdb_type = TYPE_STREAM_LISTPACKS_2 if version == 2 else TYPE_STREAM_LISTPACKS
    return load_payload(payload(rdb_type, body))


def corrupt_error(body, version=2):
    with pytest.raises(RdbError) as info:
        load_body(body, version)
    return info.value.message


# -- streams built by the commands ------------------------------------------------

FIELD_NAMES = st.sampled_from([b"f", b"g", b"temp", b"12", b"-3", b"x" * 70])
VALUES = st.one_of(
    st.integers(-(1 << 63), (1 << 63) - 1).map(lambda n: b"%d" % n),
    st.binary(max_size=70),
    st.sampled_from([b"", b"0", b"007", b"-0", b"y" * 200, b"z" * 5000]))
FIELDS = st.lists(st.tuples(FIELD_NAMES, VALUES), min_size=1, max_size=4)

ADD = st.tuples(st.just("add"), FIELDS, st.sampled_from([None, None, None, "jump", "seq"]))
OPS = st.lists(st.one_of(
    ADD, ADD, ADD,
    st.tuples(st.just("del"), st.integers(0, 1000)),
    st.tuples(st.just("trim"), st.sampled_from(["MAXLEN", "MINID"]),
              st.booleans(), st.integers(0, 30)),
    st.tuples(st.just("group"), st.integers(0, 2), st.sampled_from(["0", "$"])),
    st.tuples(st.just("read"), st.integers(0, 2), st.integers(0, 3), st.integers(1, 4)),
    st.tuples(st.just("ack"), st.integers(0, 2), st.integers(0, 1000)),
    st.tuples(st.just("claim"), st.integers(0, 2), st.integers(0, 3), st.integers(0, 1000)),
    st.tuples(st.just("delconsumer"), st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.just("tick"), st.integers(0, 5000)),
), max_size=40)
# A stream to start from: some entries and a group, so the drawn programs
# mostly work on groups, PELs and tombstones rather than on a missing key.
START = st.tuples(st.lists(ADD, min_size=1, max_size=20),
                  st.lists(st.tuples(st.just("read"), st.integers(0, 2), st.integers(0, 3),
                                     st.integers(1, 4)), max_size=3))


def run_ops(srv, key, ops):
    """Apply a drawn program to ``key`` through the command handlers."""
    for op in ops:
        kind = op[0]
        stream = srv.db.data.get(key)
        ids = list(stream.entries) if stream is not None else []
        if kind == "add":
            _, fields, how = op
            entry_id = "*"
            if how and stream is not None:
                last = stream.last_id
                ms, seq = last >> 64, last & SEQ_MASK
                entry_id = (f"{ms + 2 ** 40}-{SEQ_MASK}" if how == "jump"
                            else f"{ms}-{seq + 300}")
            flat = [x for pair in fields for x in pair]
            srv("XADD", key, entry_id, *flat)
        elif kind == "del" and ids:
            srv("XDEL", key, b"%d-%d" % divmod(ids[op[1] % len(ids)], 1 << 64))
        elif kind == "trim" and stream is not None:
            _, strategy, approx, n = op
            if strategy == "MAXLEN":
                threshold = n
            else:
                threshold = (b"%d-%d" % divmod(ids[n % len(ids)], 1 << 64)
                             if ids else "0")
            srv("XTRIM", key, strategy, "~" if approx else "=", threshold)
        elif kind == "group" and stream is not None:
            srv("XGROUP", "CREATE", key, f"g{op[1]}", op[2])
        elif kind == "read":
            srv("XREADGROUP", "GROUP", f"g{op[1]}", f"c{op[2]}", "COUNT", op[3],
                "STREAMS", key, ">")
        elif kind == "ack" and ids:
            srv("XACK", key, f"g{op[1]}", b"%d-%d" % divmod(ids[op[2] % len(ids)], 1 << 64))
        elif kind == "claim" and ids:
            srv("XCLAIM", key, f"g{op[1]}", f"c{op[2]}", "0",
                b"%d-%d" % divmod(ids[op[3] % len(ids)], 1 << 64))
        elif kind == "delconsumer":
            srv("XGROUP", "DELCONSUMER", key, f"g{op[1]}", f"c{op[2]}")
        elif kind == "tick":
            srv.advance(op[1] / 1000)


def harness(max_entries, max_bytes):
    srv = Harness()
    srv("CONFIG", "SET", "stream-node-max-entries", str(max_entries))
    srv("CONFIG", "SET", "stream-node-max-bytes", str(max_bytes))
    return srv


NODE_LIMITS = st.tuples(st.integers(0, 6), st.sampled_from([0, 40, 100, 300, 4096]))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(NODE_LIMITS, START, OPS, st.booleans(), FIELDS)
def test_round_trip_keeps_everything_observable(limits, start, ops, compress, more):
    """encode then decode keeps entries, node layout and sizes, IDs, counters,
    groups, PELs and consumers; and later XADDs split nodes identically."""
    srv = harness(*limits)
    adds, reads = start
    run_ops(srv, b"s", adds)
    srv("XGROUP", "CREATE", "s", "g0", "0")
    run_ops(srv, b"s", reads + ops)
    stream = srv.db.data.get(b"s")
    if stream is None:
        return
    copy = round_trip(stream, compress)
    assert observe(copy) == observe(stream)
    srv.db.set(b"t", copy)
    flat = [x for pair in more for x in pair]
    for _ in range(8):
        srv("XADD", "s", "*", *flat)
        srv("XADD", "t", "*", *flat)
    assert srv("XINFO", "STREAM", "t", "FULL") == srv("XINFO", "STREAM", "s", "FULL")
    assert observe(srv.db.data[b"t"]) == observe(srv.db.data[b"s"])


def test_empty_stream_with_no_groups_is_a_value(srv):
    """A stream emptied by XDEL is saved and loads back as an empty stream."""
    srv("XADD", "s", "5-1", "f", "v")
    srv("XDEL", "s", "5-1")
    stream = load_payload(dump_payload(srv.db.data[b"s"]))
    assert len(stream) == 0 and stream.nodes == []
    assert (stream.last_id, stream.max_deleted_id) == ((5 << 64) | 1, (5 << 64) | 1)
    assert stream.entries_added == 1


@pytest.mark.parametrize("value", [b"a", b"ab", b"abc", b"abcd", b"x" * 61, b"y" * 62,
                                   b"z" * 64, b"w" * 126, b"q" * 5000, b"123"], ids=len)
def test_tombstones_keep_the_node_bytes_and_its_last_id(srv, value):
    """Deleted entries are written as stand-ins the same total size, the
    deleted last entry keeping its ID, for any size of what was deleted."""
    srv("CONFIG", "SET", "stream-node-max-bytes", "0")
    srv("XADD", "s", "1-0", "f", "a", "g", "b")
    srv("XADD", "s", "2-0", "f", value)
    srv("XADD", "s", "3-0", "f", "keep", "g", "b")
    srv("XADD", "s", "9-7", "f", value, "g", value)
    srv("XDEL", "s", "1-0", "2-0", "9-7")
    stream = srv.db.data[b"s"]
    copy = round_trip(stream)
    assert observe(copy) == observe(stream)
    assert copy.nodes[0].last_id == (9 << 64) | 7


def test_minid_trim_after_reload_sees_the_deleted_last_entry(srv):
    """A node whose last entry was deleted survives a MINID trim below it,
    after a round trip as before (Redis reads the last ID, tombstone or not)."""
    for i in range(1, 4):
        srv("XADD", "s", f"{i}-0", "f", "v")
    srv("XDEL", "s", "3-0")
    srv.db.set(b"t", round_trip(srv.db.data[b"s"]))
    for key in ("s", "t"):
        assert srv("XTRIM", key, "MINID", "3") == 2
    assert observe(srv.db.data[b"t"]) == observe(srv.db.data[b"s"])
    assert len(srv.db.data[b"t"].nodes) == 1


# A DUMP of real Redis 7.0.15 (stream-node-max-entries 2): two trimmed-away
# nodes, SAMEFIELDS and other entries, a 64-bit delta, three groups
# (entries-read 5 and unknown), consumers alice (2 pending), bob (1), carol (0).
REDIS_DUMP = bytes.fromhex(
    "1303100000000000000003000000000000000040434300000012000201000102018474656d"
    "7005846e616d650500010201000100011e018873656e736f722d3309050102010101000128"
    "018873656e736f722d34090501ff10000000000000000500000000000000004043430000001200"
    "0201000102018474656d7005846e616d6505000102010001000132018873656e736f722d3509"
    "05010201010100013c018873656e736f722d36090501ff1000000000000000070000000000000003"
    "407e7e0000001300020100010101856f74686572060001020100010001dffb0204010001f4f90f"
    "a5d4e800000009dffd0202018474656d7005f4351cdcdf0200000009846e616d6505b261206c6f"
    "6e672076616c75652077697468207370616365732074686174206973206f766572207477656e74"
    "79206279746573330801ff0681000000e8d4a5100000030000000803046c617465060081ffffff"
    "ffffffffff000007726561646572730500050300000000000000030000000000000000eee33bff"
    "a10100000100000000000000040000000000000000eee33bffa101000001000000000000000500"
    "00000000000000f2e33bffa1010000010305616c696365eee33bffa10100000200000000000000"
    "0300000000000000000000000000000004000000000000000003626f62f2e33bffa10100000100"
    "000000000000050000000000000000056361726f6cf7e33bffa10100000007756e6b6e6f776e03"
    "0581ffffffffffffffff00000a002f509ba59384be4f")


def test_redis_dump_decodes_and_reencodes_byte_for_byte(srv):
    """Real Redis's DUMP loads with its entries, groups and counters, and our
    DUMP of the loaded value is the same bytes."""
    stream = load_payload(REDIS_DUMP)
    # Redis chose not to LZF these listpacks; python-lzf would compress the
    # first two (the LZF implementations differ near the 4-byte threshold).
    assert dump_payload(stream, compress=False) == REDIS_DUMP
    srv.db.set(b"s", stream)
    assert srv("XRANGE", "s", "-", "+", "COUNT", "2") == [
        [b"3-0", [b"temp", b"30", b"name", b"sensor-3"]],
        [b"4-0", [b"temp", b"40", b"name", b"sensor-4"]]]
    assert srv("XREVRANGE", "s", "+", "-", "COUNT", "1") == [
        [b"1000000000000-0", [b"temp", b"12345678901",
                              b"name", b"a long value with spaces that is over twenty bytes"]]]
    info = dict(srv("XINFO", "STREAM", "s"))
    assert (info[b"length"], info[b"radix-tree-keys"], info[b"entries-added"]) == (6, 3, 8)
    groups = {dict(g)[b"name"]: dict(g) for g in srv("XINFO", "GROUPS", "s")}
    assert groups[b"readers"][b"entries-read"] == 5
    assert groups[b"late"][b"entries-read"] is None
    consumers = [dict(c) for c in srv("XINFO", "CONSUMERS", "s", "readers")]
    assert [(c[b"name"], c[b"pending"]) for c in consumers] == [
        (b"alice", 2), (b"bob", 1), (b"carol", 0)]


# -- version 1 --------------------------------------------------------------------------

def test_version_1_derives_first_id_entries_added_and_entries_read():
    """An old stream gets first_id from its entries, entries_added = length,
    no max deleted ID, and each group's entries_read estimated as 7.0 does."""
    nodes = [(raw_id(5), node_lp([b"f"], [(2, 0, 0, [b"a"]), (2, 1, 0, [b"b"]),
                                            (3, 2, 0, [b"c"])], count=2, deleted=1))]
    groups = [(b"at-last", (7, 0), None, [], []),
              (b"at-start", (0, 0), None, [], []),
              (b"at-first", (5, 0), None, [], []),
              (b"mid", (5, 5), None, [], [])]
    stream = load_body(stream_body(nodes, length=2, last=(7, 0), groups=groups,
                                   version=1), version=1)
    assert stream.first_id == 5 << 64
    assert (stream.entries_added, stream.max_deleted_id) == (2, 0)
    read = {name: g.entries_read for name, g in stream.groups.items()}
    assert read == {b"at-last": 2, b"at-start": 0, b"at-first": 1, b"mid": -1}


def test_version_1_empty_stream_has_the_max_first_id():
    """streamGetEdgeID finds nothing in an empty old stream: first_id is the max ID."""
    stream = load_body(stream_body((), length=0, last=(3, 0), version=1), version=1)
    assert (stream.first_id, stream.entries_added) == (MAX_ID, 0)


# -- corrupt input -------------------------------------------------------------------

PEL = [(raw_id(1), 1000, 1), (raw_id(2), 2000, 3)]


OWNER = ((b"c", 500, [raw_id(1), raw_id(2)]),)


def group(pel=PEL, consumers=OWNER, name=b"g"):
    return (name, (2, 0), 2, list(pel), list(consumers))


def test_hand_built_body_is_valid():
    """The layout the corrupt variants start from loads, PEL and all."""
    stream = load_body(stream_body(groups=[group()]))
    nack = stream.groups[b"g"].pel[2 << 64]
    assert (nack.consumer.name, nack.delivery_time, nack.delivery_count) == (b"c", 2000, 3)


@pytest.mark.parametrize("body, message", [
    (stream_body(nodes=[(raw_id(1)[:15], SIMPLE_NODE)]),
     "Stream node key entry is not the size of a stream ID"),
    (stream_body(nodes=[(raw_id(1), SIMPLE_NODE[:-1] + b"\x00")]),
     "Stream listpack integrity check failed."),
    (stream_body(nodes=[(raw_id(1), node_lp([b"f"], [(2, 0, 0, [b"v"])], count=2))]),
     "Stream listpack integrity check failed."),
    (stream_body(nodes=[(raw_id(1), node_lp([b"f"], [(2, 0, 0, [b"v", b"w"])]))]),
     "Stream listpack integrity check failed."),
    (stream_body(nodes=[(raw_id(1), listpack.encode([1, 0, 1, b"f", 0, 2, 0, 0, b"v", 9]))]),
     "Stream listpack integrity check failed."),
    (stream_body(nodes=[(raw_id(1), listpack.encode([1, 0, 1, b"f", 1, 2, 0, 0, b"v", 4]))]),
     "Stream listpack integrity check failed."),
    (stream_body(nodes=[(raw_id(1), SIMPLE_NODE + b"\x00")]),
     "Stream listpack integrity check failed."),
    (stream_body(nodes=[(raw_id(1), node_lp([b"f"], [(2, 1, 0, [b"v"]), (2, 0, 0, [b"w"])]))]),
     "Stream listpack integrity check failed."),
    (stream_body(nodes=[(raw_id(1), SIMPLE_NODE), (raw_id(1), SIMPLE_NODE)], length=4),
     "Listpack re-added with existing key"),
    (stream_body(nodes=[(raw_id(1), SIMPLE_NODE), (raw_id(2), SIMPLE_NODE)], length=4,
                 last=(3, 0)),
     "Stream listpack integrity check failed."),
    (stream_body(length=3), "Stream length 3 inconsistent"),
    (stream_body(last=(1, 5)), "Stream last ID is smaller than its last entry"),
    (stream_body(groups=[group(), group()]), "Duplicated consumer group name g"),
    (stream_body(groups=[group(pel=PEL + PEL[:1])]),
     "Duplicated global PEL entry loading stream consumer group"),
    (stream_body(groups=[group(consumers=[(b"c", 1, [raw_id(1), raw_id(9)])])]),
     "Consumer entry not found in group global PEL"),
    (stream_body(groups=[group(consumers=[(b"c", 1, [raw_id(1), raw_id(2), raw_id(1)])])]),
     "Duplicated consumer PEL entry  loading a stream consumer group"),
    (stream_body(groups=[group(consumers=[(b"c", 1, [raw_id(1)]), (b"c", 1, [raw_id(2)])])]),
     "Duplicate stream consumer detected."),
    (stream_body(groups=[group(consumers=[(b"c", 1, [raw_id(1)])])]),
     "Stream CG PEL entry without consumer"),
    (stream_body(groups=[group(consumers=[(b"c", 1, [raw_id(1), raw_id(2)]),
                                          (b"d", 1, [raw_id(2)])])]),
     "Stream PEL entry owned by two consumers"),
])
def test_corrupt_streams_are_refused_with_redis_messages(body, message):
    """Each inconsistency Redis (or our model) cannot hold is an RdbError saying which."""
    assert corrupt_error(body).startswith(message)


def test_errors_name_the_offset_of_the_bad_record():
    """The offset points at the bad PEL entry inside the value."""
    body = stream_body(groups=[group(consumers=[(b"c", 1, [raw_id(1), raw_id(9)])])])
    with pytest.raises(RdbError) as info:
        decode_stream(Cursor(body, 0, 100), 2)
    assert info.value.offset == 100 + body.index(raw_id(9))


def test_every_truncation_is_an_rdb_error():
    """An RDB file cut anywhere inside a stream value is refused when the
    input ends, never with another exception."""
    body = stream_body(groups=[group()])
    head = b"REDIS0010\xfe\x00" + bytes((TYPE_STREAM_LISTPACKS_2,)) + encode_string(b"k")
    for cut in range(len(body)):
        decoder = RdbDecoder()
        decoder.feed(head + body[:cut])
        with pytest.raises(RdbError, match="truncated"):
            decoder.close()


SAMPLE_BODIES = [stream_body(groups=[group()]), REDIS_DUMP[1:-10]]


@settings(max_examples=400, deadline=2000)
@given(st.sampled_from(SAMPLE_BODIES), st.lists(
    st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)), min_size=1, max_size=4),
    st.sampled_from([None, "cut", "insert"]))
def test_mutated_streams_load_or_raise_rdb_error(body, flips, extra):
    """Random byte changes give a stream or an RdbError: no crash, no hang."""
    data = bytearray(body)
    for where, byte in flips:
        where %= len(data)
        if extra == "insert":
            data.insert(where, byte)
        elif extra == "cut":
            del data[where:]
            if not data:
                data = bytearray(b"\x00")
        else:
            data[where] = byte
    try:
        value = load_body(bytes(data))
    except RdbError:
        return
    observe(value)
    encode_stream(value)


def test_stand_in_tombstones_are_valid_node_listpacks(srv):
    """encode_node's stand-ins pass the node check and keep counts and bytes."""
    srv("CONFIG", "SET", "stream-node-max-entries", "0")
    for i in range(1, 30):
        srv("XADD", "s", f"{i}-0", "f", "v" * i)
    for i in range(2, 29, 3):
        srv("XDEL", "s", f"{i}-0")
    stream = srv.db.data[b"s"]
    node = stream.nodes[0]
    blob = encode_node(node, list(stream.entries.items()))
    assert len(blob) == node.lp_bytes()
