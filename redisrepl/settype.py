"""The set value, in Redis 7.0's two encodings.

* **intset**: every member is an integer in canonical int64 decimal form
  (string2ll) and there are at most ``set-max-intset-entries`` of them.
  Kept as a sorted ``array('q')``: 8 bytes a member, and iteration yields
  the members in numeric order, as Redis's intset does (SMEMBERS of an
  intset is sorted).
* **hashtable**: anything else, a Python ``set`` of bytes.

The conversion is one way (sticky), as in Redis: a set that became a
hashtable stays one, even if it shrinks back to a few integers. Redis 7.0
has no listpack sets.

Random picks from a hashtable (SPOP, SRANDMEMBER) and SSCAN use a
``ScanIndex`` built the first time one is needed and fed by every later
insertion: a Python set can be neither sampled nor resumed from a position.
"""

import random
from array import array
from bisect import bisect_left

from redisrepl.ctext import string2ll
from redisrepl.keyspace import register_type
from redisrepl.scan import ScanIndex


class RedisSet:
    """A Redis set: ``ints`` (sorted array) while intset-encoded, else
    ``members`` (a set of bytes). Exactly one of the two is not None."""

    __slots__ = ("_index", "ints", "members")

    def __init__(self):
        # A new set is an intset, as Redis's createIntsetObject: the first
        # non-integer member converts it.
        self.ints = array("q")
        self.members = None
        self._index = None

    @classmethod
    def from_members(cls, members, max_intset, hashtable=False):
        """A set holding ``members`` (a Python set of bytes, adopted, not
        copied), encoded as Redis encodes a set built by adding them one by
        one to a new set: an intset if they all fit, unless ``hashtable``
        says the building went through a hashtable already."""
        value = cls.__new__(cls)
        value._index = None
        if not hashtable and len(members) <= max_intset:
            ints = [string2ll(member) for member in members]
            if None not in ints:
                ints.sort()
                value.ints = array("q", ints)
                value.members = None
                return value
        value.ints = None
        value.members = members
        return value

    # -- queries -------------------------------------------------------------

    def __len__(self):
        ints = self.ints
        return len(ints) if ints is not None else len(self.members)

    def __contains__(self, member):
        ints = self.ints
        if ints is None:
            return member in self.members
        number = string2ll(member)
        if number is None:
            return False
        i = bisect_left(ints, number)
        return i < len(ints) and ints[i] == number

    def __iter__(self):
        """The members as bytes: numeric order for an intset, hash order
        for a hashtable."""
        ints = self.ints
        if ints is None:
            return iter(self.members)
        return (b"%d" % number for number in ints)

    def to_list(self):
        ints = self.ints
        if ints is None:
            return list(self.members)
        return [b"%d" % number for number in ints]

    def to_pyset(self):
        """The members as a Python set (the live one for a hashtable: do
        not change it)."""
        ints = self.ints
        if ints is None:
            return self.members
        return {b"%d" % number for number in ints}

    @property
    def encoding(self):
        return b"intset" if self.ints is not None else b"hashtable"

    def fits_intset(self, max_intset):
        """True if every member is an integer and there are few enough:
        how a new set built by adding these members would be encoded."""
        if len(self) > max_intset:
            return False
        return self.ints is not None or all(
            string2ll(member) is not None for member in self.members)

    # -- changes -------------------------------------------------------------

    def add(self, member, max_intset):
        """Add ``member``; True if it was not there (Redis's setTypeAdd)."""
        ints = self.ints
        if ints is None:
            members = self.members
            if member in members:
                return False
            members.add(member)
            if self._index is not None:
                self._index.added(member)
            return True
        number = string2ll(member)
        if number is None:
            self._convert()
            self.members.add(member)
            return True
        i = bisect_left(ints, number)
        if i < len(ints) and ints[i] == number:
            return False
        ints.insert(i, number)
        if len(ints) > max_intset:
            self._convert()
        return True

    def add_many(self, members, max_intset):
        """Add each of ``members``; returns how many were new (SADD)."""
        if self.ints is None and self._index is None:
            # The common case of a big set: one C-level update.
            own = self.members
            before = len(own)
            own.update(members)
            return len(own) - before
        add = self.add
        added = 0
        for member in members:
            if add(member, max_intset):
                added += 1
        return added

    def remove(self, member):
        """Remove ``member``; True if it was there (Redis's setTypeRemove)."""
        ints = self.ints
        if ints is None:
            members = self.members
            if member in members:
                members.remove(member)
                return True
            return False
        number = string2ll(member)
        if number is None:
            return False
        i = bisect_left(ints, number)
        if i < len(ints) and ints[i] == number:
            del ints[i]
            return True
        return False

    def _convert(self):
        """intset -> hashtable (Redis's setTypeConvert)."""
        self.members = {b"%d" % number for number in self.ints}
        self.ints = None

    def replace_with(self, other):
        """Take over ``other``'s contents and encoding, keeping this object
        (and so the key's TTL): SPOP's "build a new set" strategy."""
        self.ints, self.members = other.ints, other.members
        self._index = None

    # -- random picks and scans ----------------------------------------------

    def random_member(self):
        """A random member of a non-empty set."""
        ints = self.ints
        if ints is not None:
            return b"%d" % ints[random.randrange(len(ints))]
        return self._scan_index().random()

    def _scan_index(self):
        if self._index is None:
            self._index = ScanIndex(self.members)
        return self._index

    def scan(self, cursor, count):
        """(next cursor, members) for SSCAN. An intset answers everything
        at once with cursor 0, as Redis does for compact encodings."""
        if self.ints is not None:
            return 0, self.to_list()
        return self._scan_index().scan(cursor, count)

    def copy(self):
        value = RedisSet.__new__(RedisSet)
        value._index = None
        value.ints = array("q", self.ints) if self.ints is not None else None
        value.members = set(self.members) if self.members is not None else None
        return value


register_type(RedisSet, b"set", copier=RedisSet.copy,
              encoding=lambda value: value.encoding)
