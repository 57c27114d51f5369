"""Writing an AOF base file: what a BGREWRITEAOF child does, and what the
server does itself for the first base at start-up (Redis 7.0's
rewriteAppendOnlyFile and rewriteAppendOnlyFileRio).

A base holds the whole dataset. With ``aof-use-rdb-preamble yes`` it is an
RDB with the aux field ``aof-base 1`` (the Snapshot's own encoder), else the
commands that rebuild it: FUNCTION LOAD per library, then per non-empty
database a SELECT and, per key, SET / RPUSH / SADD / ZADD / HMSET / XADD
(at most 64 items a command, AOF_REWRITE_ITEMS_PER_CMD) followed by a
PEXPIREAT when the key has a TTL.

The base goes to ``temp-rewriteaof-<pid>.aof`` in the working directory,
is fsynced and renamed: a reader never sees half a base. A child renames it
to ``temp-rewriteaof-bg-<pid>.aof``, which the parent moves into the AOF
directory under the manifest's next base name once the child exited well.
"""

import os

from twisted.logger import Logger

from redisrepl.hashtype import Hash
from redisrepl.listtype import ListValue
from redisrepl.persistence.bgsave import RDB_COW_SIZE, ChildReporter
from redisrepl.persistence.rdbsave import SaveError, strerror, unlink_quietly, write_all
from redisrepl.resp.encoder import encode_command
from redisrepl.settype import RedisSet
from redisrepl.stream import Stream
from redisrepl.zset import ZSet

log = Logger()

ITEMS_PER_CMD = 64          # AOF_REWRITE_ITEMS_PER_CMD
_CHUNK_SIZE = 1 << 16
_SEQ_MASK = (1 << 64) - 1

# The child's pid, as the temp file names use it. A module attribute so the
# unit tests' in-process "child" can claim the pid the fake forker hands out.
child_pid = os.getpid


def temp_name(pid):
    """The file rewriteAppendOnlyFile writes before its rename."""
    return "temp-rewriteaof-%d.aof" % pid


def temp_bg_name(pid):
    """The base a finished child leaves for the parent (aofRemoveTempFile)."""
    return "temp-rewriteaof-bg-%d.aof" % pid


def remove_temp_files(pid):
    """aofRemoveTempFile: what a killed or failed child ``pid`` left."""
    for name in (temp_bg_name(pid), temp_name(pid)):
        unlink_quietly(name)


# -- the dataset as commands -----------------------------------------------------

def _stream_id(stream_id):
    return b"%d-%d" % (stream_id >> 64, stream_id & _SEQ_MASK)


def _score(score):
    # rioWriteBulkDouble: "%.17g".
    return b"%.17g" % score


def _batched(verb, key, items, width=1):
    """RPUSH/SADD/ZADD/HMSET commands of at most ITEMS_PER_CMD items, each
    item ``width`` arguments (a flat list of arguments)."""
    step = ITEMS_PER_CMD * width
    for start in range(0, len(items), step):
        yield [verb, key, *items[start:start + step]]


def _set_members(value):
    if value.ints is not None:
        return [b"%d" % member for member in value.ints]
    return list(value.members)


def _stream_commands(key, stream):
    if stream.entries:
        for entry_id, fields in stream.entries.items():
            yield [b"XADD", key, _stream_id(entry_id), *fields]
    else:
        # XADD MAXLEN 0 makes the empty stream a key can hold.
        yield [b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]
    yield [b"XSETID", key, _stream_id(stream.last_id),
           b"ENTRIESADDED", b"%d" % stream.entries_added,
           b"MAXDELETEDID", _stream_id(stream.max_deleted_id)]
    for name, group in (stream.groups or {}).items():
        yield [b"XGROUP", b"CREATE", key, name, _stream_id(group.last_id),
               b"ENTRIESREAD", b"%d" % group.entries_read]
        for cname, consumer in group.consumers.items():
            if not consumer.pel:
                yield [b"XGROUP", b"CREATECONSUMER", key, name, cname]
                continue
            for entry_id in consumer.pel:
                nack = group.pel[entry_id]
                yield [b"XCLAIM", key, name, cname, b"0", _stream_id(entry_id),
                       b"TIME", b"%d" % nack.delivery_time,
                       b"RETRYCOUNT", b"%d" % nack.delivery_count,
                       b"JUSTID", b"FORCE"]


def value_commands(key, value):
    """The commands that rebuild ``value`` at ``key`` (rewriteXxxObject)."""
    kind = type(value)
    if kind is bytes or kind is bytearray:
        return [[b"SET", key, bytes(value)]]
    if kind is ListValue:
        return list(_batched(b"RPUSH", key, list(value)))
    if kind is RedisSet:
        return list(_batched(b"SADD", key, _set_members(value)))
    if kind is ZSet:
        flat = [x for score, member in value.order for x in (_score(score), member)]
        return list(_batched(b"ZADD", key, flat, 2))
    if kind is Hash:
        flat = [x for pair in value.items() for x in pair]
        return list(_batched(b"HMSET", key, flat, 2))
    if kind is Stream:
        return list(_stream_commands(key, value))
    raise TypeError(f"no AOF rewrite for {kind.__name__}")


def dataset_commands(snapshot, on_key=None):
    """rewriteAppendOnlyFileRio: the snapshot as RESP commands, ~64 KB a
    chunk; ``on_key()`` runs after each key."""
    parts = [encode_command([b"FUNCTION", b"LOAD", code]) for code in snapshot.functions]
    size = sum(map(len, parts))
    for db in snapshot.dbs:
        if not db.data:
            continue
        parts.append(encode_command([b"SELECT", b"%d" % db.id]))
        expires = db.expires
        for key, value in db.data.items():
            for argv in value_commands(key, value):
                encoded = encode_command(argv)
                parts.append(encoded)
                size += len(encoded)
            when = expires.get(key) if expires else None
            if when is not None:
                parts.append(encode_command([b"PEXPIREAT", key, b"%d" % when]))
            if size >= _CHUNK_SIZE:
                yield b"".join(parts)
                parts, size = [], 0
            if on_key is not None:
                on_key()
    if parts:
        yield b"".join(parts)


# -- writing a base --------------------------------------------------------------

def base_chunks(snapshot, preamble, on_key=None):
    """The base file's bytes: an RDB (the snapshot carries ``aof-base 1``)
    or the commands."""
    if preamble:
        return snapshot.chunks(on_key)
    return dataset_commands(snapshot, on_key)


def write_base(snapshot, filename, preamble, incremental_fsync=True, on_key=None, pid=None):
    """rewriteAppendOnlyFile: the dataset into ``filename`` through
    ``temp-rewriteaof-<pid>.aof``, fsynced then renamed. True on success;
    on failure Redis's warning is logged and the temp file is gone."""
    tmpfile = temp_name(os.getpid() if pid is None else pid)
    try:
        fd = os.open(tmpfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as error:
        log.warn("Opening the temp file for AOF rewrite in rewriteAppendOnlyFile(): "  # noqa: G010
                 "{reason}", reason=strerror(error))
        return False
    try:
        try:
            write_all(fd, base_chunks(snapshot, preamble, on_key), incremental_fsync)
            os.fsync(fd)
        finally:
            os.close(fd)
    except (OSError, SaveError) as failure:
        error = failure.error if isinstance(failure, SaveError) else failure
        log.warn("Write error writing append only file on disk: {reason}",  # noqa: G010
                 reason=strerror(error))
        unlink_quietly(tmpfile)
        return False
    try:
        os.rename(tmpfile, filename)
    except OSError as error:
        log.warn("Error moving temp append only file on the final destination: "  # noqa: G010
                 "{reason}", reason=strerror(error))
        unlink_quietly(tmpfile)
        return False
    return True


def rewrite_body(snapshot, pipe, key_delay, preamble, incremental_fsync):
    """What a BGREWRITEAOF child runs (the child half of
    rewriteAppendOnlyFileBackground): the base into
    ``temp-rewriteaof-bg-<pid>.aof``, its COW reported; the exit code."""
    reporter = ChildReporter(pipe, pname="AOF rewrite")

    def on_key():
        if key_delay is not None:
            key_delay()
        reporter.key_saved()

    def body():
        pid = child_pid()
        tmpfile = temp_bg_name(pid)
        if not write_base(snapshot, tmpfile, preamble, incremental_fsync, on_key, pid):
            return 1
        log.info("Successfully created the temporary AOF base file {tmpfile}",
                 tmpfile=tmpfile)
        reporter.report(RDB_COW_SIZE)
        return 0
    return body
