"""HyperLogLog commands: PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST.

Semantics, replies, errors and propagation are Redis 7.0's hyperloglog.c;
the representation itself is redisrepl/hll.py. An HLL is a plain string
value: a ``bytearray`` once a PF command has touched it, so updates happen
in place (Redis's dbUnshareStringValue turns it into a raw sds the same way).

Propagation: PFADD and PFMERGE go out as they are when they changed
something. PFCOUNT of one key whose cached cardinality was stale rewrites
the cache in the string, so it counts as a write (dirty) and is propagated
too, as Redis does; so are PFDEBUG GETREG/TODENSE when they convert.
"""

import math
import random

from redisrepl import errors, hll
from redisrepl.commands.strings import growable_string
from redisrepl.commands.table import command
from redisrepl.config import NOTIFY_STRING
from redisrepl.resp.values import OK, ReplyError, Status

NOT_HLL = ReplyError("WRONGTYPE Key is not a valid HyperLogLog string value.")
INVALIDOBJ = ReplyError("INVALIDOBJ Corrupted HLL object detected")


def _check(value):
    """isHLLObjectOrReply: a string with a valid HLL header, or an error."""
    cls = value.__class__
    if cls is not bytes and cls is not bytearray:
        raise errors.WRONGTYPE
    if not hll.is_hll(value):
        raise NOT_HLL


def _max_bytes(client):
    return client.server.config["hll-sparse-max-bytes"]


@command("pfadd")
def pfadd(client, argv):
    db = client.db
    key = argv[1]
    value = db.get(key)
    if value is None:
        value = hll.new()
        db.set(key, value)
        updated = 1
    else:
        _check(value)
        value = growable_string(db, key, value)
        updated = 0
    max_bytes = _max_bytes(client)
    add = hll.add
    for element in argv[2:]:
        result = add(value, element, max_bytes)
        if result < 0:
            # Registers already raised stay so, unpropagated, as in Redis.
            raise INVALIDOBJ
        updated += result
    if not updated:
        return 0
    hll.invalidate_cache(value)
    db.signal_modified(key)
    server = client.server
    server.notify(NOTIFY_STRING, b"pfadd", key, db.id)
    server.dirty += updated
    return 1


def _merged_registers(db, keys):
    """Max of the registers of the HLLs at ``keys`` (missing ones are
    empty), and whether any of them is dense."""
    raw = bytearray(hll.REGISTERS)
    any_dense = False
    for key in keys:
        value = db.lookup_read(key)
        if value is None:
            continue
        _check(value)
        if not hll.is_sparse(value):
            any_dense = True
        if not hll.merge_into(raw, value):
            raise INVALIDOBJ
    return raw, any_dense


@command("pfcount")
def pfcount(client, argv):
    db = client.db
    if len(argv) > 2:
        # The cardinality of the union; nothing is written.
        return hll.count_raw(_merged_registers(db, argv[1:])[0])
    key = argv[1]
    value = db.lookup_read(key)
    if value is None:
        return 0
    _check(value)
    value = growable_string(db, key, value)
    card = hll.cached_count(value)
    if card is None:
        card = hll.count(value)
        if card is None:
            raise INVALIDOBJ
        hll.store_count(value, card)
        db.signal_modified(key)
        client.server.dirty += 1
    return card


@command("pfmerge")
def pfmerge(client, argv):
    db = client.db
    dest = argv[1]
    # The destination is a source too (it is argv[1]).
    raw, any_dense = _merged_registers(db, argv[1:])
    value = db.get(dest)
    if value is None:
        value = hll.new()
        db.set(dest, value)
    else:
        value = growable_string(db, dest, value)
    # Redis 7.0 keeps an all-sparse merge sparse (while it fits).
    if any_dense and not hll.sparse_to_dense(value):
        raise INVALIDOBJ
    hll.write_registers(value, raw, _max_bytes(client))
    db.signal_modified(dest)
    server = client.server
    # A merge is notified as "pfadd", as Redis does.
    server.notify(NOTIFY_STRING, b"pfadd", dest, db.id)
    server.dirty += 1
    return OK


# -- debugging -------------------------------------------------------------------

@command("pfdebug")
def pfdebug(client, argv):
    db = client.db
    subcommand = argv[1]
    key = argv[2]
    value = db.get(key)
    if value is None:
        raise ReplyError("ERR The specified key does not exist")
    _check(value)
    value = growable_string(db, key, value)
    name = subcommand.lower()
    if name == b"getreg":
        _to_dense_for_debug(client, value)
        return list(hll.registers(value))
    if name == b"decode":
        if not hll.is_sparse(value):
            raise ReplyError("ERR HLL encoding is not sparse")
        return hll.decode(value)
    if name == b"encoding":
        return Status(b"sparse" if hll.is_sparse(value) else b"dense")
    if name == b"todense":
        return 1 if _to_dense_for_debug(client, value) else 0
    raise ReplyError(b"ERR Unknown PFDEBUG subcommand '%s'" % subcommand)


def _to_dense_for_debug(client, value):
    """Convert a sparse HLL to dense; the change is propagated (dirty),
    though nothing is signalled, as Redis's PFDEBUG does. True if it was
    sparse."""
    if not hll.is_sparse(value):
        return False
    if not hll.sparse_to_dense(value):
        raise INVALIDOBJ
    client.server.dirty += 1
    return True


# Scaled down from Redis's (1000 register cycles, 10 million elements),
# which would take minutes in Python; the checks are the same.
_SELFTEST_REGISTER_CYCLES = 3
_SELFTEST_ELEMENTS = 10000


@command("pfselftest")
def pfselftest(client, argv):
    """Check this implementation: dense registers read back what was
    written without touching neighbours; sparse and dense agree while
    elements are added; the error stays within bounds."""
    dense = bytearray(hll.new())
    dense[4] = hll.DENSE
    dense[hll.HEADER_SIZE:] = bytes(hll.DENSE_SIZE - hll.HEADER_SIZE)
    for _ in range(_SELFTEST_REGISTER_CYCLES):
        expected = bytes(random.getrandbits(6) for _ in range(hll.REGISTERS))
        dense[hll.HEADER_SIZE:] = bytes(hll.DENSE_SIZE - hll.HEADER_SIZE)
        hll.write_registers(dense, expected, 0)
        got = hll.registers(dense)
        for i in range(hll.REGISTERS):
            if got[i] != expected[i]:
                raise ReplyError(
                    "TESTFAILED Register %d should be %d but is %d"
                    % (i, expected[i], got[i]))

    dense[hll.HEADER_SIZE:] = bytes(hll.DENSE_SIZE - hll.HEADER_SIZE)
    sparse = hll.new()
    max_bytes = _max_bytes(client)
    relerr = 1.04 / hll.REGISTERS ** 0.5
    seed = random.getrandbits(64)
    checkpoint = 1
    for j in range(1, _SELFTEST_ELEMENTS + 1):
        element = (j ^ seed).to_bytes(8, "little")
        hll.add(dense, element, max_bytes)
        hll.add(sparse, element, max_bytes)
        if j != checkpoint:
            continue
        if j < max_bytes // 2 and not hll.is_sparse(sparse):
            raise ReplyError("TESTFAILED sparse encoding not used")
        card = hll.count(dense)
        if card != hll.count(sparse):
            raise ReplyError("TESTFAILED dense/sparse disagree")
        maxerr = 1 if j == 10 else math.ceil(relerr * 6 * checkpoint)
        if abs(checkpoint - card) > maxerr:
            raise ReplyError("TESTFAILED Too big error. card:%d abserr:%d"
                             % (checkpoint, abs(checkpoint - card)))
        checkpoint *= 10
    return OK
