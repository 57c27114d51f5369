"""The streaming RDB encoder: a snapshot in, chunks of bytes out. Sans-IO.

``encode_rdb`` is a generator: it yields the file a chunk (~64 KB) at a
time, so a caller can write each to a file, a pipe or a socket and the
dump never sits whole in memory. It writes what Redis 7.0's rdbSaveRio
writes, in the same order: header, aux fields, functions, then each
non-empty database (SELECTDB, RESIZEDB, its keys), EOF and the CRC64.
"""

from typing import NamedTuple

from redisrepl.rdb import constants as C
from redisrepl.rdb.crc64 import crc64
from redisrepl.rdb.primitives import encode_i64_le, encode_length, encode_string, encode_u64_le
from redisrepl.rdb.values import encode_value

CHUNK_SIZE = 1 << 16


class DbSnapshot(NamedTuple):
    """What the encoder needs of one database: its number, key -> value and
    key -> absolute expiry in ms."""

    id: int
    data: dict
    expires: dict


class Options(NamedTuple):
    compress: bool = True        # rdbcompression
    checksum: bool = True        # rdbchecksum
    list_fill: int = -2          # list-max-listpack-size


DEFAULT_OPTIONS = Options()


def encode_aux(name, value, compress=True):
    return bytes((C.OPCODE_AUX,)) + encode_string(name, compress) + \
        encode_string(value, compress)


def encode_rdb(dbs, aux=(), functions=(), options=None, on_key=None):
    """Yield the RDB file of ``dbs`` (DbSnapshots) with the ``aux``
    (name, value) fields and the ``functions`` (library code strings).
    ``on_key`` is called after each key (rdb-key-save-delay, progress)."""
    options = options or DEFAULT_OPTIONS
    compress = options.compress
    crc = 0
    parts = [C.MAGIC + b"%04d" % C.RDB_VERSION]
    size = 9
    for name, value in aux:
        parts.append(encode_aux(name, value, compress))
    for code in functions:
        parts.append(bytes((C.OPCODE_FUNCTION2,)) + encode_string(code, compress))
    for db in dbs:
        if not db.data:
            continue
        parts.append(bytes((C.OPCODE_SELECTDB,)) + encode_length(db.id))
        parts.append(bytes((C.OPCODE_RESIZEDB,)) + encode_length(len(db.data)) +
                     encode_length(len(db.expires)))
        expires = db.expires
        for key, value in db.data.items():
            when = expires.get(key) if expires else None
            if when is not None:
                parts.append(b"\xfc" + encode_i64_le(when))
            rdb_type, body = encode_value(value, compress, options.list_fill)
            record = bytes((rdb_type,)) + encode_string(key, compress) + body
            parts.append(record)
            size += len(record)
            if size >= CHUNK_SIZE:
                chunk = b"".join(parts)
                if options.checksum:
                    crc = crc64(chunk, crc)
                yield chunk
                parts = []
                size = 0
            if on_key is not None:
                on_key()
    parts.append(b"\xff")
    chunk = b"".join(parts)
    if options.checksum:
        crc = crc64(chunk, crc)
    yield chunk + encode_u64_le(crc)


def encode_all(dbs, aux=(), functions=(), options=None):
    """The whole RDB file as one bytes object (tests, small dumps)."""
    return b"".join(encode_rdb(dbs, aux, functions, options))
