"""The list value: a deque of bytes, O(1) at both ends.

Redis 7.0 keeps every list in a quicklist (a linked list of listpacks):
pushes and pops at either end are O(1), indexing in the middle is O(n).
A ``collections.deque`` has the same costs, and CPython walks it from the
nearer end for ``d[i]``, as quicklistIndex does. Elements are ``bytes``
(never bytearray: a pushed argument is stored as received).
"""

from collections import deque
from itertools import islice

from redisrepl.keyspace import register_type


class ListValue(deque):
    """A Redis list. Never stored empty: the key is deleted instead."""

    __slots__ = ()


def _encoding(value):
    # In 7.0 every list is a quicklist, whatever its size (7.2 added
    # listpack-encoded small lists).
    return b"quicklist"


register_type(ListValue, b"list", copier=ListValue, encoding=_encoding)


def normalize_range(start, end, length):
    """LRANGE/LTRIM indexes made absolute, as Redis's addListRangeReply:
    (start, end) inclusive, or None when the range is empty."""
    if start < 0:
        start += length
    if end < 0:
        end += length
    if start < 0:
        start = 0
    if start > end or start >= length:
        return None
    if end >= length:
        end = length - 1
    return start, end


def range_items(value, start, end):
    """The elements start..end inclusive (both valid), walked from the
    nearer end of the deque."""
    length = len(value)
    if start == 0 and end == length - 1:
        return list(value)
    if length - end <= start:
        # Closer to the tail: walk backwards from the end.
        items = list(islice(reversed(value), length - 1 - end, length - start))
        items.reverse()
        return items
    return list(islice(value, start, end + 1))


def pop_many(value, from_head, count):
    """Pop up to ``count`` elements from one end, in popping order."""
    pop = value.popleft if from_head else value.pop
    return [pop() for _ in range(min(count, len(value)))]
