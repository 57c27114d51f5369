"""The hash value: field -> value, with Redis 7.0's encoding bookkeeping.

A ``Hash`` is a dict of bytes -> bytes. Python dicts keep insertion order,
and an update in place keeps a field where it was, which is exactly how a
listpack-encoded hash in Redis orders HGETALL/HKEYS/HVALS: small hashes
reply in the same order as Redis. (A hashtable-encoded hash in Redis replies
in its hash order, which no client can rely on.)

``listpack`` tells OBJECT ENCODING what Redis would report. It starts True
and turns False for good (Redis never converts back) when a field or value
longer than ``hash-max-listpack-value`` is written or the hash grows past
``hash-max-listpack-entries``; the write commands apply those rules.

``scan`` is the ScanIndex HSCAN needs for a hashtable-encoded hash (a
listpack-encoded one is returned whole), built on the first HSCAN or random
pick; once it exists every new field must be reported to it
(``h.scan.added(field)``, as commands/hashes.py ``set_field`` does).
"""

from redisrepl.keyspace import register_type

__all__ = ["Hash"]


class Hash(dict):
    """A Redis hash. Writers keep ``listpack`` and ``scan`` up to date."""

    __slots__ = ("listpack", "scan")

    def __init__(self, *args):
        dict.__init__(self, *args)
        self.listpack = True
        self.scan = None

    def __reduce__(self):
        # dict subclasses with __slots__ need help to pickle/deepcopy.
        return (_rebuild, (dict(self), self.listpack))

    def copy(self):
        """An independent copy with the same encoding (Redis's hashTypeDup);
        the scan index is not shared."""
        return _rebuild(self, self.listpack)


def _rebuild(items, listpack):
    h = Hash(items)
    h.listpack = listpack
    return h


def _encoding(h):
    return b"listpack" if h.listpack else b"hashtable"


register_type(Hash, b"hash", copier=Hash.copy, encoding=_encoding)
