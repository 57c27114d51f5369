"""The stream value (Redis 7.0's t_stream.c data model). Sans-IO.

Entries live in a SortedDict keyed by the ID as one 128-bit int
(``ms << 64 | seq``), so ranges are bisections and the IDs sort as Redis's
big-endian rax keys do. Redis stores entries in listpack nodes of a radix
tree, and that layout shows through: approximate trimming (``~``) only drops
whole nodes, and XINFO reports the tree's size. So each stream also keeps a
light model of its nodes -- first ID, last ID, live and deleted counts, and
the listpack's byte size as listpack.c would encode it -- enough to decide
node boundaries exactly as streamAppendItem does.

Consumer groups keep the PEL (pending entries, by ID) both in the group and
in each consumer, sharing one Nack per entry, as Redis does.
"""

from bisect import bisect_right

from sortedcontainers import SortedDict

from redisrepl.ctext import string2ll
from redisrepl.keyspace import register_type

SEQ_MASK = (1 << 64) - 1
MAX_ID = (1 << 128) - 1
INVALID_ENTRIES_READ = -1        # SCG_INVALID_ENTRIES_READ
STREAM_LISTPACK_MAX_SIZE = 1 << 30


def format_id(stream_id):
    return b"%d-%d" % (stream_id >> 64, stream_id & SEQ_MASK)


# -- listpack sizes (listpack.c), for the node-full test -----------------------

def backlen_size(length):
    """Bytes a listpack element's backlen takes for an entry of ``length``."""
    if length <= 127:
        return 1
    if length < 16383:
        return 2
    if length < 2097151:
        return 3
    if length < 268435455:
        return 4
    return 5


def lp_int_size(value):
    """Bytes one integer element takes in a listpack (encoding + backlen)."""
    if 0 <= value <= 127:
        return 2
    if -4096 <= value <= 4095:
        return 3
    if -32768 <= value <= 32767:
        return 4
    if -8388608 <= value <= 8388607:
        return 5
    if -2147483648 <= value <= 2147483647:
        return 6
    return 10


_INT_START = frozenset(b"-0123456789")


def lp_str_size(data):
    """Bytes one string element takes: integers-looking strings are stored
    as integers, as lpAppend does."""
    n = len(data)
    if n and n <= 20 and data[0] in _INT_START:
        value = string2ll(data)
        if value is not None:
            return lp_int_size(value)
    if n < 64:
        return n + 2
    if n < 4096:
        return n + 2 + (1 if n + 2 <= 127 else 2)
    return n + 5 + backlen_size(n + 5)


def _int64(value):
    """A uint64 difference as lpAppendInteger's int64_t sees it."""
    return ((value + (1 << 63)) & SEQ_MASK) - (1 << 63)


class Node:
    """One listpack node of the radix tree, as far as sizes and counts go."""

    __slots__ = ("master_id", "last_id", "live", "deleted", "fixed_bytes",
                 "fields")

    def __init__(self, master_id, fields):
        self.master_id = master_id
        self.last_id = master_id
        self.live = 0
        self.deleted = 0
        self.fields = fields
        # Header and end byte, the master entry's num-fields, its fields and
        # its zero terminator; count and deleted are added by lp_bytes().
        self.fixed_bytes = 7 + lp_int_size(len(fields)) + 2 + \
            sum(lp_str_size(f) for f in fields)

    def lp_bytes(self):
        return self.fixed_bytes + lp_int_size(self.live) + \
            lp_int_size(self.deleted)


# -- consumer groups -------------------------------------------------------------

class Nack:
    """A pending entry: delivered, not yet acknowledged (streamNACK)."""

    __slots__ = ("delivery_time", "delivery_count", "consumer")

    def __init__(self, consumer, now_ms):
        self.consumer = consumer
        self.delivery_time = now_ms
        self.delivery_count = 1


class Consumer:
    __slots__ = ("name", "seen_time", "pel")

    def __init__(self, name, now_ms):
        self.name = name
        self.seen_time = now_ms
        self.pel = SortedDict()


class Group:
    __slots__ = ("last_id", "entries_read", "pel", "consumers")

    def __init__(self, last_id, entries_read):
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel = SortedDict()          # id -> Nack
        self.consumers = SortedDict()    # name -> Consumer (rax order)

    def delete_consumer(self, consumer):
        for entry_id in consumer.pel:
            del self.pel[entry_id]
        del self.consumers[consumer.name]

    def ack(self, entry_id):
        nack = self.pel.pop(entry_id, None)
        if nack is None:
            return False
        del nack.consumer.pel[entry_id]
        return True


# -- the stream ------------------------------------------------------------------

class Stream:
    __slots__ = ("entries", "nodes", "node_starts", "last_id", "first_id",
                 "max_deleted_id", "entries_added", "groups")

    def __init__(self):
        self.entries = SortedDict()   # id -> [field, value, ...]
        self.nodes = []               # Node, oldest first
        self.node_starts = []         # their master ids, for bisection
        self.last_id = 0
        self.first_id = 0
        self.max_deleted_id = 0
        self.entries_added = 0
        self.groups = None            # SortedDict name -> Group, on demand

    def __len__(self):
        return len(self.entries)

    # -- adding --------------------------------------------------------------

    def next_id(self, now_ms):
        """The ID ``*`` stands for now (streamNextID)."""
        last = self.last_id
        if now_ms > last >> 64:
            return now_ms << 64
        return last + 1

    def append(self, entry_id, fields, max_bytes, max_entries):
        """Add an entry whose ID the caller has checked is > last_id.
        ``fields`` is the flat field/value list; ``max_bytes`` and
        ``max_entries`` are stream-node-max-bytes / -entries. A new node
        starts where streamAppendItem would start one."""
        names = fields[0::2]
        nodes = self.nodes
        node = nodes[-1] if nodes else None
        if node is not None:
            if max_entries and node.live + node.deleted >= max_entries:
                node = None
            else:
                if max_bytes == 0 or max_bytes > STREAM_LISTPACK_MAX_SIZE:
                    max_bytes = STREAM_LISTPACK_MAX_SIZE
                if node.lp_bytes() + sum(map(len, fields)) >= max_bytes:
                    node = None
        if node is None:
            node = Node(entry_id, names)
            nodes.append(node)
            self.node_starts.append(entry_id)
            same = True
        else:
            same = node.fields == names
        master = node.master_id
        ms_diff = (entry_id >> 64) - (master >> 64)
        seq_diff = (entry_id & SEQ_MASK) - (master & SEQ_MASK)
        # flags, then the ID as deltas from the master entry's.
        size = 2 + (2 if 0 <= ms_diff <= 127 else lp_int_size(_int64(ms_diff)))
        size += 2 if 0 <= seq_diff <= 127 else lp_int_size(_int64(seq_diff))
        numfields = len(names)
        if same:
            for value in fields[1::2]:
                size += lp_str_size(value)
            size += lp_int_size(numfields + 3)
        else:
            size += lp_int_size(numfields)
            for item in fields:
                size += lp_str_size(item)
            size += lp_int_size(2 * numfields + 4)
        node.fixed_bytes += size
        node.live += 1
        node.last_id = entry_id
        self.entries[entry_id] = fields
        self.entries_added += 1
        self.last_id = entry_id
        if len(self.entries) == 1:
            self.first_id = entry_id

    # -- deleting ------------------------------------------------------------

    def _node_index(self, entry_id):
        return bisect_right(self.node_starts, entry_id) - 1

    def _drop_node(self, index):
        del self.nodes[index]
        del self.node_starts[index]

    def delete(self, entry_id):
        """XDEL one ID: True if it was there."""
        if self.entries.pop(entry_id, None) is None:
            return False
        index = self._node_index(entry_id)
        node = self.nodes[index]
        if node.live == 1:
            self._drop_node(index)
        else:
            node.live -= 1
            node.deleted += 1
        if entry_id > self.max_deleted_id:
            self.max_deleted_id = entry_id
        return True

    def refresh_first_id(self):
        """first_id after entries went away (streamGetEdgeID, no tombstones)."""
        self.first_id = self.entries.peekitem(0)[0] if self.entries else 0

    def trim(self, maxlen=None, minid=None, approx=False, limit=0):
        """streamTrim: by MAXLEN (``maxlen``) or MINID (``minid``); whole
        nodes only when ``approx``; at most ``limit`` entries if non-zero.
        Returns the number of entries removed."""
        entries = self.entries
        deleted = 0
        while self.nodes:
            if maxlen is not None and len(entries) <= maxlen:
                break
            node = self.nodes[0]
            live = node.live
            if limit and deleted + live > limit:
                break
            if maxlen is not None:
                remove_node = len(entries) - live >= maxlen
            else:
                remove_node = node.last_id < minid
            if remove_node:
                for _ in range(live):
                    entries.popitem(0)
                self._drop_node(0)
                deleted += live
                continue
            if approx:
                break
            # Mark entries of this node deleted, oldest first.
            removed = 0
            while entries:
                first = entries.peekitem(0)[0]
                if first > node.last_id:
                    break
                if maxlen is not None:
                    if len(entries) <= maxlen:
                        break
                elif first >= minid:
                    break
                entries.popitem(0)
                removed += 1
            node.live -= removed
            node.deleted += removed
            deleted += removed
            break
        if deleted:
            self.refresh_first_id()
        return deleted

    # -- reading -------------------------------------------------------------

    def range(self, start, end, count=0, rev=False):
        """[(id, fields)] with start <= id <= end, at most ``count`` (0: all)."""
        if start > end:
            return []
        entries = self.entries
        ids = entries.irange(start, end, reverse=rev)
        out = []
        for entry_id in ids:
            out.append((entry_id, entries[entry_id]))
            if len(out) == count:
                break
        return out

    def last_valid_id(self):
        """The last entry's ID (not a deleted one); 0 when empty."""
        return self.entries.peekitem(-1)[0] if self.entries else 0

    def first_id_with_tombstones(self):
        """streamGetEdgeID(first, with tombstones): MAX_ID when no node."""
        return self.nodes[0].master_id if self.nodes else MAX_ID

    def radix_tree_nodes(self):
        """rax numnodes for the node keys (16-byte big-endian IDs): the root,
        each key, each branching prefix and each of its children."""
        keys = [node_id.to_bytes(16, "big") for node_id in self.node_starts]
        prefixes = {b""}
        prefixes.update(keys)
        for a, b in zip(keys, keys[1:], strict=False):
            common = 0
            while a[common] == b[common]:
                common += 1
            prefixes.add(a[:common])
            prefixes.add(a[:common + 1])
            prefixes.add(b[:common + 1])
        return len(prefixes)

    # -- consumer groups: lag and read counters (7.0) --------------------------

    def range_has_tombstones(self, start, end=MAX_ID):
        if not self.entries or not self.max_deleted_id:
            return False
        if self.first_id > self.max_deleted_id:
            return False
        return start <= self.max_deleted_id <= end

    def estimate_distance(self, entry_id):
        """streamEstimateDistanceFromFirstEverEntry."""
        if not self.entries_added:
            return 0
        if not self.entries and entry_id <= self.last_id:
            return self.entries_added
        if entry_id == self.last_id:
            return self.entries_added
        if entry_id > self.last_id:
            return INVALID_ENTRIES_READ
        max_del = self.max_deleted_id
        if not max_del or max_del < self.first_id:
            if entry_id < self.first_id:
                return self.entries_added - len(self.entries)
            if entry_id == self.first_id:
                return self.entries_added - len(self.entries) + 1
        return INVALID_ENTRIES_READ

    def group_lag(self, group):
        """streamReplyWithCGLag's number, or None when it cannot be known."""
        if not self.entries_added:
            return 0
        if group.entries_read != INVALID_ENTRIES_READ and \
                not self.range_has_tombstones(group.last_id):
            return self.entries_added - group.entries_read
        entries_read = self.estimate_distance(group.last_id)
        if entries_read != INVALID_ENTRIES_READ:
            return self.entries_added - entries_read
        return None

    def advance_group(self, group, entry_id):
        """A delivery past the group's last ID moves it and its counter."""
        if group.entries_read != INVALID_ENTRIES_READ and \
                not self.range_has_tombstones(entry_id):
            group.entries_read += 1
        elif self.entries_added:
            group.entries_read = self.estimate_distance(entry_id)
        group.last_id = entry_id


def copy_stream(stream):
    """COPY: an independent stream, groups and PELs included (streamDup)."""
    new = Stream()
    new.entries = SortedDict(stream.entries)
    for node in stream.nodes:
        twin = Node.__new__(Node)
        for slot in Node.__slots__:
            setattr(twin, slot, getattr(node, slot))
        new.nodes.append(twin)
    new.node_starts = list(stream.node_starts)
    new.last_id = stream.last_id
    new.first_id = stream.first_id
    new.max_deleted_id = stream.max_deleted_id
    new.entries_added = stream.entries_added
    if stream.groups is not None:
        new.groups = SortedDict()
        for name, group in stream.groups.items():
            twin = Group(group.last_id, group.entries_read)
            for cname, consumer in group.consumers.items():
                copy = Consumer(cname, consumer.seen_time)
                twin.consumers[cname] = copy
                for entry_id, nack in consumer.pel.items():
                    dup = Nack(copy, nack.delivery_time)
                    dup.delivery_count = nack.delivery_count
                    copy.pel[entry_id] = dup
                    twin.pel[entry_id] = dup
            new.groups[name] = twin
    return new


register_type(Stream, b"stream", copier=copy_stream,
              encoding=lambda value: b"stream")
