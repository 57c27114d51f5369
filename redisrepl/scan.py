"""Stateless-cursor iteration over a collection that changes between calls.

SCAN, HSCAN, SSCAN and ZSCAN promise (Redis's dictScan guarantee): a full
iteration -- from cursor 0 until the server answers cursor 0 -- returns
every element present in the collection for the whole iteration, maybe more
than once, and the cursor is a plain integer the server keeps no state for.

Theory of operation
-------------------
A Python dict cannot be iterated from a position, so ``ScanIndex`` keeps,
beside the collection, an append-only log of its elements in the order they
appeared: entry *i* is (seq_i, element_i) with seq strictly increasing. The
owner calls ``added(element)`` whenever an element new to the collection is
inserted; removals need no call at all. A cursor is a seq: "resume at the
first entry whose seq is >= cursor", found by bisection.

Entries go stale when their element is removed (or removed and added again,
which appends a fresh entry). ``scan`` skips entries whose element is no
longer in the collection; once stale entries outnumber live elements the log
is compacted, keeping for each live element its newest entry. Seqs never
change, so cursors stay valid across compaction.

Why nothing is missed: an element present for the whole iteration was last
added before it started, so its newest entry has a seq below every entry
appended later and survives every compaction. Each call hands out entries in
seq order and returns as cursor the seq of the first entry it did not look
at, so no entry with a lower seq is skipped by a later call. Elements added
mid-iteration land at the end of the log and may or may not be returned, as
in Redis.

For HSCAN/SSCAN/ZSCAN: keep one ScanIndex per collection, built on the first
scan, call ``added`` wherever a new field/member is inserted, and drop it
when the collection is replaced. The cursor and MATCH/COUNT parsing is in
commands/args.py (``parse_scan_cursor``, ``parse_scan_options``).
"""

import random
from array import array
from bisect import bisect_left

# Stale entries a call may skip per element asked for before it returns
# early, as Redis's SCAN bounds its visits of empty buckets (count * 10).
_MAX_STALE_PER_ELEMENT = 10


class ScanIndex:
    """The insertion log of one collection (dict, set: anything with ``in``
    and ``len``), answering cursor-based scans and uniform-ish random picks.

    Build it from the collection's current contents when it is first needed;
    from then on its owner must call ``added`` for every new element.
    """

    __slots__ = ("_elements", "_next_seq", "_seqs", "collection")

    # Compact when stale entries outnumber live ones by more than this.
    compact_slack = 64

    def __init__(self, collection):
        self.collection = collection
        self._elements = list(collection)
        # Seqs start at 1 so that cursor 0 means "from the beginning".
        self._seqs = array("q", range(1, len(self._elements) + 1))
        self._next_seq = len(self._elements) + 1

    def added(self, element):
        """Record that ``element`` was just inserted (it was not there)."""
        self._seqs.append(self._next_seq)
        self._next_seq += 1
        self._elements.append(element)
        self._compact_if_sparse()

    def scan(self, cursor, count):
        """(next_cursor, elements): up to ``count`` live elements from
        ``cursor`` on; next_cursor is 0 once the log is exhausted."""
        self._compact_if_sparse()
        seqs, elements, collection = self._seqs, self._elements, self.collection
        end = len(elements)
        pos = bisect_left(seqs, cursor)
        found = []
        stale_budget = count * _MAX_STALE_PER_ELEMENT
        while pos < end:
            element = elements[pos]
            pos += 1
            if element in collection:
                found.append(element)
                if len(found) >= count:
                    break
            else:
                stale_budget -= 1
                if stale_budget <= 0:
                    break
        return (seqs[pos] if pos < end else 0), found

    def random(self):
        """A random live element, or None if the collection is empty."""
        collection = self.collection
        if not collection:
            return None
        self._compact_if_sparse()
        elements = self._elements
        # Compaction keeps most entries live, so this ends quickly.
        while True:
            element = elements[random.randrange(len(elements))]
            if element in collection:
                return element

    def _compact_if_sparse(self):
        if len(self._elements) > 2 * len(self.collection) + self.compact_slack:
            self._compact()

    def _compact(self):
        """Drop stale entries, keeping each live element's newest entry."""
        collection = self.collection
        seen = set()
        keep_seqs, keep_elements = [], []
        # Newest first, so the first entry met for an element is its newest.
        for i in range(len(self._elements) - 1, -1, -1):
            element = self._elements[i]
            if element in collection and element not in seen:
                seen.add(element)
                keep_seqs.append(self._seqs[i])
                keep_elements.append(element)
        keep_seqs.reverse()
        keep_elements.reverse()
        self._seqs = array("q", keep_seqs)
        self._elements = keep_elements
