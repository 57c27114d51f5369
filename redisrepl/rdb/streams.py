"""Streams in RDB (RDB_TYPE_STREAM_LISTPACKS and _2), read and written as
Redis 7.0's rdbLoadObject and rdbSaveObject do. Sans-IO.

The value: the number of nodes, then per node its key (the master ID as a
16-byte big-endian string) and its listpack; the length, the last ID and,
in version 2, the first ID, the largest deleted ID and entries-added; then
the consumer groups: name, last delivered ID, (v2) entries-read, the group
PEL (raw 16-byte ID, delivery time as u64 LE ms, delivery count) and the
consumers (name, seen time, the IDs of their PEL, which must be in the
group PEL; the consumer's PEL shares the group's entries).

A node's listpack (t_stream.c): count, deleted, the master entry's field
count, its fields, 0; then each entry: flags, ms and seq deltas from the
master ID, then either the values alone (flag SAMEFIELDS: same fields as
the master entry) or a field count and the fields and values, and last the
number of elements the entry took (lp-count), to walk it backwards.

Tombstones. Redis keeps a deleted entry in its node (flag DELETED) until the
whole node goes, and it still counts: count + deleted against
stream-node-max-entries and the listpack's bytes against
stream-node-max-bytes decide where the next XADD starts a node, and the
node's last entry, deleted or not, bounds a MINID trim. Our Stream keeps of
them only what those need (Node.deleted, Node.fixed_bytes, Node.last_id),
not their content. So the encoder writes stand-ins: field-less deleted
entries at the master ID, plus one at the node's last ID if that entry was
deleted, padded so the listpack is exactly as long as the model says. Redis
loading it behaves as with the original; only the bytes of deleted entries
differ, so the DUMP of a stream holding tombstones is not byte-identical to
Redis's (streams without tombstones are).
"""

import struct

from sortedcontainers import SortedDict

from redisrepl.ctext import string2ll
from redisrepl.rdb import listpack
from redisrepl.rdb.constants import STREAM_ITEM_FLAG_DELETED, STREAM_ITEM_FLAG_SAMEFIELDS
from redisrepl.rdb.errors import RdbError
from redisrepl.rdb.primitives import encode_i64_le, encode_length, encode_string
from redisrepl.stream import (
    MAX_ID,
    SEQ_MASK,
    Consumer,
    Group,
    Nack,
    Node,
    Stream,
    lp_int_size,
)

_U64 = 1 << 64
_LP_CHECK = "Stream listpack integrity check failed."


def _signed(value):
    """A uint64 from the file as the int64 Redis keeps it in."""
    return value - _U64 if value >= 1 << 63 else value


def _id(ms, seq):
    return (ms << 64) | seq


# -- decoding -------------------------------------------------------------------

class _BadNode(ValueError):
    """A node listpack that is not a valid stream layout."""


def _lp_int(element):
    """lpGetIntegerIfValid: the element as an int64, or the node is bad."""
    value = string2ll(element)
    if value is None:
        raise _BadNode("expected an integer")
    return value


def decode_node(master_id, blob):
    """(Node, [(id, fields)] of its live entries) from one node listpack,
    checked as streamValidateListpackIntegrity(deep=1) checks it, plus what
    our model relies on: the count matches the live entries, and they lie
    in ascending order at or above the master ID."""
    try:
        elements = listpack.decode(blob)
    except (ValueError, IndexError, struct.error) as exc:
        raise _BadNode(str(exc)) from None
    size = len(elements)
    if size < 4:
        raise _BadNode("no master entry")
    count = _lp_int(elements[0])
    deleted = _lp_int(elements[1])
    num_master = _lp_int(elements[2])
    if count < 0 or deleted < 0 or num_master < 0 or 4 + num_master > size:
        raise _BadNode("bad master entry")
    master_fields = elements[3:3 + num_master]
    pos = 3 + num_master
    if _lp_int(elements[pos]) != 0:
        raise _BadNode("master entry without its zero terminator")
    pos += 1
    master_ms, master_seq = master_id >> 64, master_id & SEQ_MASK
    live = []
    last_id = master_id
    for _ in range(count + deleted):
        if pos + 4 > size:
            raise _BadNode("fewer entries than count + deleted")
        flags = _lp_int(elements[pos])
        entry_id = _id((master_ms + _lp_int(elements[pos + 1])) % _U64,
                       (master_seq + _lp_int(elements[pos + 2])) % _U64)
        pos += 3
        if flags & STREAM_ITEM_FLAG_SAMEFIELDS:
            num = num_master
            values = elements[pos:pos + num]
            pos += num
            expected = num + 3
        else:
            num = _lp_int(elements[pos])
            if num < 0:
                raise _BadNode("negative field count")
            values = elements[pos + 1:pos + 1 + 2 * num]
            pos += 1 + 2 * num
            expected = 2 * num + 4
        if pos >= size or _lp_int(elements[pos]) != expected:
            raise _BadNode("bad lp-count")
        pos += 1
        last_id = entry_id
        if flags & STREAM_ITEM_FLAG_DELETED:
            continue
        if entry_id < master_id or (live and entry_id <= live[-1][0]):
            raise _BadNode("entry IDs out of order")
        if flags & STREAM_ITEM_FLAG_SAMEFIELDS:
            fields = [None] * (2 * num)
            fields[0::2] = master_fields
            fields[1::2] = values
        else:
            fields = values
        live.append((entry_id, fields))
    if pos != size:
        raise _BadNode("elements after the last entry")
    if len(live) != count:
        raise _BadNode("count does not match the live entries")
    node = Node(master_id, master_fields)
    node.last_id = last_id
    node.live = count
    node.deleted = deleted
    node.fixed_bytes = len(blob) - lp_int_size(count) - lp_int_size(deleted)
    return node, live


def _raw_id(cur):
    return int.from_bytes(cur.take(16), "big")


def _read_id(cur):
    ms = cur.length()
    return _id(ms, cur.length())


def decode_stream(cur, version):
    """A Stream from the cursor: ``version`` 1 is RDB_TYPE_STREAM_LISTPACKS,
    2 is RDB_TYPE_STREAM_LISTPACKS_2. Corrupt input raises RdbError."""
    stream = Stream()
    nodes = _read_nodes(cur, stream)
    length_at = cur.offset()
    length = cur.length()
    stream.last_id = _read_id(cur)
    if length != len(stream.entries):
        raise RdbError(f"Stream length {length} inconsistent with the "
                       f"{len(stream.entries)} entries of its listpacks", length_at)
    if stream.entries and stream.last_id < stream.entries.peekitem(-1)[0]:
        raise RdbError("Stream last ID is smaller than its last entry", length_at)
    if version == 2:
        stream.first_id = _read_id(cur)
        stream.max_deleted_id = _read_id(cur)
        stream.entries_added = _signed(cur.length())
    else:
        # What 7.0 derives for an old stream (no tombstones known; the first
        # ID from the entries, streamGetEdgeID's max ID when there is none).
        stream.first_id = stream.entries.peekitem(0)[0] if stream.entries else MAX_ID
        stream.max_deleted_id = 0
        stream.entries_added = length
    stream.nodes = [node for _, node in nodes]
    stream.node_starts = [key for key, _ in nodes]
    _read_groups(cur, stream, version)
    return stream


def _read_nodes(cur, stream):
    """The node listpacks, into ``stream.entries``: [(master id, Node)]."""
    start = cur.offset()
    count = cur.length()
    nodes = SortedDict()
    spans = []
    for _ in range(count):
        key_at = cur.offset()
        key = cur.string()
        if len(key) != 16:
            raise RdbError("Stream node key entry is not the size of a stream ID", key_at)
        master_id = int.from_bytes(key, "big")
        blob_at = cur.offset()
        blob = cur.string()
        try:
            node, live = decode_node(master_id, blob)
        except _BadNode as exc:
            raise RdbError(f"{_LP_CHECK} ({exc})", blob_at) from None
        if master_id in nodes:
            raise RdbError("Listpack re-added with existing key", key_at)
        nodes[master_id] = node
        spans.append((master_id, live))
    # The rax sorts the nodes by key; each node's entries must lie below
    # the next node's master ID, or IDs would not map to their node.
    spans.sort(key=lambda span: span[0])
    entries = stream.entries
    for index, (_master_id, live) in enumerate(spans):
        if live and index + 1 < len(spans) and live[-1][0] >= spans[index + 1][0]:
            raise RdbError(f"{_LP_CHECK} (entries overlap the next node)", start)
        entries.update(live)
    return list(nodes.items())


def _read_groups(cur, stream, version):
    count = cur.length()
    if not count:
        return
    stream.groups = groups = SortedDict()
    for _ in range(count):
        name_at = cur.offset()
        name = cur.string()
        last_id = _read_id(cur)
        if version == 2:
            entries_read = _signed(cur.length())
        else:
            entries_read = stream.estimate_distance(last_id)
        if name in groups:
            raise RdbError(f"Duplicated consumer group name "
                           f"{name.decode('utf-8', 'replace')}", name_at)
        group = groups[name] = Group(last_id, entries_read)
        _read_group_pel(cur, group)
        _read_consumers(cur, group)
        if any(nack.consumer is None for nack in group.pel.values()):
            raise RdbError("Stream CG PEL entry without consumer", name_at)


def _read_group_pel(cur, group):
    pel = group.pel
    for _ in range(cur.length()):
        entry_at = cur.offset()
        entry_id = _raw_id(cur)
        nack = Nack(None, cur.i64_le())
        nack.delivery_count = cur.length()
        if entry_id in pel:
            raise RdbError("Duplicated global PEL entry loading stream consumer group",
                           entry_at)
        pel[entry_id] = nack


def _read_consumers(cur, group):
    pel = group.pel
    consumers = group.consumers
    for _ in range(cur.length()):
        name_at = cur.offset()
        name = cur.string()
        if name in consumers:
            raise RdbError("Duplicate stream consumer detected.", name_at)
        consumer = consumers[name] = Consumer(name, cur.i64_le())
        owned = consumer.pel
        for _ in range(cur.length()):
            entry_at = cur.offset()
            entry_id = _raw_id(cur)
            nack = pel.get(entry_id)
            if nack is None:
                raise RdbError("Consumer entry not found in group global PEL", entry_at)
            if entry_id in owned:
                # Redis's text, double space included.
                raise RdbError("Duplicated consumer PEL entry  loading a stream "
                               "consumer group", entry_at)
            if nack.consumer is not None:
                # Redis would let the later consumer win and leave the entry in
                # both PELs; our shared Nack cannot be in two places.
                raise RdbError("Stream PEL entry owned by two consumers", entry_at)
            nack.consumer = consumer
            owned[entry_id] = nack


# -- encoding -------------------------------------------------------------------

def _int64(value):
    """A uint64 difference as lpAppendInteger's int64_t sees it."""
    return ((value + (1 << 63)) & SEQ_MASK) - (1 << 63)


def _entry_elements(out, entry_id, fields, master_id, master_fields):
    """Append one live entry's elements as streamAppendItem writes them."""
    names = fields[0::2]
    ms_delta = _int64((entry_id >> 64) - (master_id >> 64))
    seq_delta = _int64((entry_id & SEQ_MASK) - (master_id & SEQ_MASK))
    num = len(names)
    if list(names) == master_fields:
        out += (STREAM_ITEM_FLAG_SAMEFIELDS, ms_delta, seq_delta)
        out += fields[1::2]
        out.append(num + 3)
    else:
        out += (0, ms_delta, seq_delta, num)
        out += fields
        out.append(2 * num + 4)


def _element_size(element):
    return len(listpack.encode_element(element))


def _padding_string(size):
    """A string (never integer-like) whose listpack element takes exactly
    ``size`` bytes, or None when no length gives that size."""
    for header_and_backlen in (2, 3, 4, 6, 7, 8, 9, 10):
        n = size - header_and_backlen
        if n >= 0 and _element_size(b"x" * n) == size:
            return b"x" * n
    return None


# Flags of a stand-in tombstone that take 1, 2 or 3 more bytes than plain
# DELETED: bits Redis ignores (it tests only DELETED and SAMEFIELDS) push the
# integer into a wider listpack encoding.
_WIDER_DELETED_FLAGS = {0: STREAM_ITEM_FLAG_DELETED,
                        1: STREAM_ITEM_FLAG_DELETED | 1 << 7,
                        2: STREAM_ITEM_FLAG_DELETED | 1 << 12,
                        3: STREAM_ITEM_FLAG_DELETED | 1 << 15}


def _tombstone(ms_delta, seq_delta, extra):
    """A field-less deleted entry, ``extra`` bytes longer than the least it
    can take (by wider flags, or by one field/value pair of filler)."""
    if extra in _WIDER_DELETED_FLAGS:
        return [_WIDER_DELETED_FLAGS[extra], ms_delta, seq_delta, 0, 4]
    for value_size in range(2, 80):
        field = _padding_string(extra - value_size)
        value = _padding_string(value_size)
        if field is not None and value is not None:
            return [STREAM_ITEM_FLAG_DELETED, ms_delta, seq_delta, 1, field, value, 6]
    return [STREAM_ITEM_FLAG_DELETED, ms_delta, seq_delta, 0, 4]


def encode_node(node, live):
    """The listpack of ``node`` holding the ``live`` (id, fields) entries,
    with stand-in tombstones for its deleted ones (see the module doc)."""
    master_id = node.master_id
    master_fields = list(node.fields)
    deleted = node.deleted
    head = [len(live), deleted, len(master_fields), *master_fields, 0]
    body = []
    for entry_id, fields in live:
        _entry_elements(body, entry_id, fields, master_id, master_fields)
    if not deleted:
        return listpack.encode(head + body)
    stones = [[STREAM_ITEM_FLAG_DELETED, 0, 0, 0, 4] for _ in range(deleted)]
    last_live = live[-1][0] if live else -1
    tail = []
    if node.last_id > last_live:
        # The node's last entry was deleted: it still bounds MINID trims.
        last = node.last_id
        tail = stones.pop()
        tail[1] = _int64((last >> 64) - (master_id >> 64))
        tail[2] = _int64((last & SEQ_MASK) - (master_id & SEQ_MASK))
    bare = listpack.encode(head + body)
    wanted = node.fixed_bytes + lp_int_size(len(live)) + lp_int_size(deleted)
    extra = wanted - len(bare) - sum(map(_element_size, tail))
    extra -= sum(_element_size(x) for stone in stones for x in stone)
    target = stones[0] if stones else tail
    if extra > 0:
        target[:] = _tombstone(target[1], target[2], extra)
    elements = head
    for stone in stones:
        elements += stone
    elements += body
    elements += tail
    return listpack.encode(elements)


def _encode_id(stream_id):
    return encode_length(stream_id >> 64) + encode_length(stream_id & SEQ_MASK)


def encode_stream(stream, compress=True):
    """The body of an RDB_TYPE_STREAM_LISTPACKS_2 value, as rdbSaveObject
    writes it; each listpack as rdbSaveRawString writes it."""
    parts = [encode_length(len(stream.nodes))]
    entries = stream.entries
    starts = stream.node_starts
    for index, node in enumerate(stream.nodes):
        end = starts[index + 1] - 1 if index + 1 < len(starts) else MAX_ID
        live = [(entry_id, entries[entry_id])
                for entry_id in entries.irange(node.master_id, end)]
        parts.append(encode_string(node.master_id.to_bytes(16, "big"), compress))
        parts.append(encode_string(encode_node(node, live), compress))
    parts.append(encode_length(len(entries)))
    parts.append(_encode_id(stream.last_id))
    parts.append(_encode_id(stream.first_id))
    parts.append(_encode_id(stream.max_deleted_id))
    parts.append(encode_length(stream.entries_added % _U64))
    groups = stream.groups or {}
    parts.append(encode_length(len(groups)))
    for name, group in groups.items():
        parts.append(encode_string(name, compress))
        parts.append(_encode_id(group.last_id))
        parts.append(encode_length(group.entries_read % _U64))
        parts.append(encode_length(len(group.pel)))
        for entry_id, nack in group.pel.items():
            parts.append(entry_id.to_bytes(16, "big"))
            parts.append(encode_i64_le(nack.delivery_time))
            parts.append(encode_length(nack.delivery_count))
        parts.append(encode_length(len(group.consumers)))
        for cname, consumer in group.consumers.items():
            parts.append(encode_string(cname, compress))
            parts.append(encode_i64_le(consumer.seen_time))
            parts.append(encode_length(len(consumer.pel)))
            parts.extend(entry_id.to_bytes(16, "big") for entry_id in consumer.pel)
    return b"".join(parts)
