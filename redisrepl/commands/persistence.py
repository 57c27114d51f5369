"""SAVE, BGSAVE [SCHEDULE], LASTSAVE, BGREWRITEAOF: Redis 7.0's rdb.c and
aof.c commands and replies.

The work lives in ``redisrepl.persistence.manager.Persistence`` and
``redisrepl.persistence.aof.Aof``.
"""

from redisrepl import errors
from redisrepl.commands.table import command
from redisrepl.resp.values import OK, ReplyError, Status

BGSAVE_IN_PROGRESS = ReplyError("ERR Background save already in progress")
# Redis's shared.err: a failed save answers a bare "-ERR" (the log says why).
SAVE_FAILED = ReplyError("ERR")
BGSAVE_STARTED = Status(b"Background saving started")
BGSAVE_SCHEDULED = Status(b"Background saving scheduled")
OTHER_CHILD_ACTIVE = ReplyError(
    "ERR Another child process is active (AOF?): can't BGSAVE right now. "
    "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
BGREWRITEAOF_IN_PROGRESS = ReplyError(
    "ERR Background append only file rewriting already in progress")
BGREWRITEAOF_SCHEDULED = Status(b"Background append only file rewriting scheduled")
BGREWRITEAOF_STARTED = Status(b"Background append only file rewriting started")
BGREWRITEAOF_FAILED = ReplyError(
    "ERR Can't execute an AOF background rewriting. Please check the server logs "
    "for more information.")


@command("save")
def save(client, argv):
    server = client.server
    persistence = server.persistence
    if persistence.bgsave_in_progress:
        raise BGSAVE_IN_PROGRESS
    server.rdb_saves += 1
    if not persistence.save():
        raise SAVE_FAILED
    return OK


@command("bgsave")
def bgsave(client, argv):
    if len(argv) > 1 and (len(argv) > 2 or argv[1].lower() != b"schedule"):
        raise errors.SYNTAX
    persistence = client.server.persistence
    if persistence.bgsave_in_progress:
        raise BGSAVE_IN_PROGRESS
    if persistence.child is not None or client.in_exec:
        # Forking inside EXEC would cut the transaction in two, and one
        # child runs at a time: the cron starts it once EXEC or the AOF
        # rewrite is over -- if SCHEDULE asked for that.
        if len(argv) == 1 and not client.in_exec:
            raise OTHER_CHILD_ACTIVE
        persistence.bgsave_scheduled = True
        return BGSAVE_SCHEDULED
    if not persistence.bgsave():
        raise SAVE_FAILED
    return BGSAVE_STARTED


@command("lastsave")
def lastsave(client, argv):
    return client.server.lastsave


@command("bgrewriteaof")
def bgrewriteaof(client, argv):
    server = client.server
    persistence = server.persistence
    aof = server.aof
    if persistence.aof_rewrite_in_progress:
        raise BGREWRITEAOF_IN_PROGRESS
    if persistence.child is not None or client.in_exec:
        aof.rewrite_scheduled = True
        # Asked by hand: no back-off after failed automatic rewrites.
        aof.consecutive_failures = 0
        return BGREWRITEAOF_SCHEDULED
    if not aof.rewrite_background():
        raise BGREWRITEAOF_FAILED
    return BGREWRITEAOF_STARTED
