"""DUMP/RESTORE payloads: one value as RDB encodes it, then the RDB
version (2 bytes LE) and a CRC64 (8 bytes LE) of everything before.

This is the format real Redis 7.0 produces and accepts, so payloads move
between the two servers in both directions.
"""

import struct

from redisrepl.rdb import constants as C
from redisrepl.rdb.crc64 import crc64
from redisrepl.rdb.errors import Incomplete, PayloadFooterError, RdbError
from redisrepl.rdb.primitives import Cursor
from redisrepl.rdb.values import DEFAULT_LIMITS, decode_value, encode_value

_FOOTER = struct.Struct("<HQ")
_FOOTER_WRONG = "DUMP payload version or checksum are wrong"


def dump_payload(value, compress=True, list_fill=-2):
    rdb_type, body = encode_value(value, compress, list_fill)
    data = bytes((rdb_type,)) + body + struct.pack("<H", C.RDB_VERSION)
    return data + struct.pack("<Q", crc64(data))


def load_payload(payload, limits=None, verify_checksum=True):
    """The value in a payload. PayloadFooterError if the version is newer
    than ours or the CRC is wrong; RdbError if the value does not decode
    (or is empty)."""
    if len(payload) < 10:
        raise PayloadFooterError(_FOOTER_WRONG)
    version, expected = _FOOTER.unpack_from(payload, len(payload) - 10)
    if version > C.RDB_VERSION:
        raise PayloadFooterError(_FOOTER_WRONG)
    if verify_checksum and crc64(memoryview(payload)[:-8]) != expected:
        raise PayloadFooterError(_FOOTER_WRONG)
    # Redis decodes over the whole payload, footer included: a value that
    # runs into the footer is read with those bytes, not refused.
    cur = Cursor(bytes(payload))
    try:
        rdb_type = cur.byte()
        if rdb_type not in C.VALUE_TYPES:
            raise cur.error(f"Unknown RDB encoding type {rdb_type}")
        value = decode_value(rdb_type, cur, limits or DEFAULT_LIMITS)
    except Incomplete:
        raise RdbError("Bad data format: the payload ends inside the value",
                       cur.offset()) from None
    if value is None:
        raise RdbError("Bad data format: empty collection")
    return value
