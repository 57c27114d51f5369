"""Streams in RDB: listpack nodes keyed by master ID, plus metadata and
consumer groups (RDB_TYPE_STREAM_LISTPACKS and _2). Being written."""

from redisrepl.rdb.errors import RdbError


def decode_stream(cur, version):
    raise RdbError("stream loading is not implemented yet", cur.offset())


def encode_stream(stream, compress=True):
    raise NotImplementedError
