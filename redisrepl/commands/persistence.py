"""SAVE, BGSAVE [SCHEDULE], LASTSAVE: Redis 7.0's rdb.c commands and replies.

The work lives in ``redisrepl.persistence.manager.Persistence``.
"""

from redisrepl import errors
from redisrepl.commands.table import command
from redisrepl.resp.values import OK, ReplyError, Status

BGSAVE_IN_PROGRESS = ReplyError("ERR Background save already in progress")
# Redis's shared.err: a failed save answers a bare "-ERR" (the log says why).
SAVE_FAILED = ReplyError("ERR")
BGSAVE_STARTED = Status(b"Background saving started")
BGSAVE_SCHEDULED = Status(b"Background saving scheduled")


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
    if client.in_exec:
        # Forking inside EXEC would cut the transaction in two: Redis runs
        # the BGSAVE from the cron once EXEC is over. (With an AOF rewrite
        # running, SCHEDULE will wait the same way.)
        persistence.bgsave_scheduled = True
        return BGSAVE_SCHEDULED
    if not persistence.bgsave():
        raise SAVE_FAILED
    return BGSAVE_STARTED


@command("lastsave")
def lastsave(client, argv):
    return client.server.lastsave
