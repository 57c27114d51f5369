"""What a snapshot of an Instance holds, ready for ``redisrepl.rdb.encode_rdb``.

``snapshot_of(instance)`` is the one place that turns server state into the
encoder's input: the databases, the aux fields Redis 7.0's
rdbSaveInfoAuxFields writes (same names, order and number formats), the
function libraries and the encoding options from the config. SAVE, BGSAVE,
SHUTDOWN and FLUSHALL use it, and replication streams the same snapshot to
a replica's socket or pipe.

The DbSnapshots share the live dicts: take the snapshot right before
encoding, in the forked child or with the reactor held (SAVE).
"""

import random
import time
from typing import NamedTuple

from redisrepl import REDIS_VERSION
from redisrepl.rdb.encoder import DbSnapshot, Options, encode_rdb

REDIS_BITS = b"64"


class Snapshot(NamedTuple):
    dbs: tuple           # DbSnapshot per non-empty database
    aux: tuple           # (name, value) bytes pairs, Redis's order
    functions: tuple     # library code, written as FUNCTION2 records
    options: Options

    @property
    def keys(self):
        """How many keys the dump holds (INFO's current_save_keys_total)."""
        return sum(len(db.data) for db in self.dbs)

    def chunks(self, on_key=None):
        """The RDB file, ~64 KB at a time; ``on_key()`` runs after each key."""
        return encode_rdb(self.dbs, self.aux, self.functions, self.options, on_key)


def save_info(instance):
    """Redis's rdbPopulateSaveInfo: the db the replication stream selects, or
    None when this server is in no replication chain (a master that never
    had a replica, hence no backlog): then the dump has no repl-* fields.
    Replication provides ``instance.rdb_save_info()`` to say otherwise."""
    provider = getattr(instance, "rdb_save_info", None)
    return provider() if provider is not None else None


def aux_fields(instance, repl_stream_db=None, aof_base=False):
    """rdbSaveInfoAuxFields: redis-ver, redis-bits, ctime, used-mem, then the
    replication fields when there is a stream to resume, then aof-base."""
    aux = [
        (b"redis-ver", REDIS_VERSION.encode()),
        (b"redis-bits", REDIS_BITS),
        (b"ctime", b"%d" % int(instance.clock.seconds())),
        (b"used-mem", b"%d" % instance.sampler.sample_memory()),
    ]
    if repl_stream_db is not None:
        aux += [
            (b"repl-stream-db", b"%d" % repl_stream_db),
            (b"repl-id", instance.replid),
            (b"repl-offset", b"%d" % instance.master_repl_offset),
        ]
    aux.append((b"aof-base", b"1" if aof_base else b"0"))
    return tuple(aux)


def options_of(config):
    return Options(compress=config["rdbcompression"],
                   checksum=config["rdbchecksum"],
                   list_fill=config["list-max-listpack-size"])


_DEFAULT = object()


def snapshot_of(instance, repl_stream_db=_DEFAULT, aof_base=False,
                exclude_data=False, exclude_functions=False):
    """The Snapshot of ``instance`` now. ``repl_stream_db`` defaults to what
    ``save_info`` says; replication passes its own. A replica's
    rdb-filter-only asks for no keys and/or no functions."""
    if repl_stream_db is _DEFAULT:
        repl_stream_db = save_info(instance)
    dbs = () if exclude_data else tuple(
        DbSnapshot(db.id, db.data, db.expires) for db in instance.keyspace.dbs if db.data)
    functions = () if exclude_functions else tuple(instance.functions)
    return Snapshot(dbs, aux_fields(instance, repl_stream_db, aof_base),
                    functions, options_of(instance.config))


def key_delay(usec, sleep=time.sleep, randrange=random.randrange):
    """Redis's debugDelay for rdb-key-save-delay: sleep ``usec`` microseconds
    per key; a negative value sleeps 1us once every -usec keys on average
    (short sleeps cost a context switch, so they are made rarer instead).
    Returns None when there is nothing to wait."""
    if usec == 0:
        return None
    if usec > 0:
        seconds = usec / 1_000_000
        return lambda: sleep(seconds)

    def rare_sleep():
        if randrange(-usec) == 0:
            sleep(0.000001)
    return rare_sleep
