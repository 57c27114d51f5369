"""RDB version 10, as Redis 7.0 reads and writes it. Sans-IO.

- ``RdbDecoder``: feed chunks, get records (decoder.py).
- ``encode_rdb``: a snapshot in, chunks out (encoder.py).
- ``dump_payload`` / ``load_payload``: DUMP and RESTORE (payload.py).
- values.py maps each RDB type to our value types; listpack.py,
  ziplist.py and intset.py are the compact blob formats; streams.py the
  stream layout; primitives.py lengths, strings, doubles.
"""

from redisrepl.rdb.decoder import Aux, End, Entry, Function, RdbDecoder, ResizeDb, SelectDb
from redisrepl.rdb.encoder import DbSnapshot, Options, encode_all, encode_rdb
from redisrepl.rdb.errors import RdbError
from redisrepl.rdb.payload import dump_payload, load_payload
from redisrepl.rdb.values import Limits

__all__ = ["Aux", "DbSnapshot", "End", "Entry", "Function", "Limits", "Options",
           "RdbDecoder", "RdbError", "ResizeDb", "SelectDb", "dump_payload",
           "encode_all", "encode_rdb", "load_payload"]
