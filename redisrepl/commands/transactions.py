"""Transactions: MULTI EXEC DISCARD WATCH UNWATCH (Redis 7.0's multi.c).

The engine does the queueing: with ``client.multi`` a list, every command but
the transaction controls is checked, then queued (QUEUED) or rejected (the
rejection sets ``client.multi_error``: EXEC answers EXECABORT). EXEC runs the
queue through ``engine.execute``, each command a call of its own, so stats,
slowlog and propagation see them one by one; the engine wraps the ops they
record in one MULTI ... EXEC when there is more than one, as Redis 7.0 does
(one write is propagated bare, reads nothing at all).

WATCH keeps a ``WatchedKey`` per key in ``client.watching`` and registers the
client with the database (``db.watch``); the keyspace flags the client dirty
(``client.dirty_cas``) when a watched key is written, deleted, expired,
flushed or swapped away. A key that was already logically expired when it was
watched is remembered as such: EXEC only fails for keys that expired *after*
WATCH (Redis's isWatchedKeyExpired).
"""

from redisrepl.commands.table import command
from redisrepl.engine import execute
from redisrepl.resp.encoder import encoder_for
from redisrepl.resp.values import NULL_ARRAY, OK, Raw, ReplyError

NESTED_MULTI = ReplyError("ERR MULTI calls can not be nested")
EXEC_WITHOUT_MULTI = ReplyError("ERR EXEC without MULTI")
DISCARD_WITHOUT_MULTI = ReplyError("ERR DISCARD without MULTI")
WATCH_INSIDE_MULTI = ReplyError("ERR WATCH inside MULTI is not allowed")
EXECABORT = ReplyError(
    "EXECABORT Transaction discarded because of previous errors.")


class WatchedKey(tuple):
    """One WATCHed key: a (db, key) pair, as ``client.watching`` holds them,
    that also remembers whether the key was logically expired when watched
    (Redis's watchedKey.expired)."""

    __slots__ = ()

    def __new__(cls, db, key, expired):
        return tuple.__new__(cls, (db, key, expired))

    def __iter__(self):
        # Unpacks as the (db, key) pair the server's unwatch_all expects.
        return iter(self[:2])

    @property
    def expired(self):
        return self[2]


def is_logically_expired(db, key):
    """Redis's keyIsExpired: past its time, but not deleted by the look."""
    when = db.expires.get(key)
    keyspace = db.keyspace
    return when is not None and not keyspace.loading \
        and when <= keyspace.now_ms()


def discard_transaction(client):
    """Leave MULTI and unwatch everything (Redis's discardTransaction):
    DISCARD, EXEC and RESET all end this way."""
    client.multi = None
    client.multi_error = False
    client.server.unwatch_all(client)


@command("multi")
def multi(client, argv):
    if client.multi is not None:
        # Not a queuing error: the transaction goes on.
        raise NESTED_MULTI
    client.multi = []
    return OK


@command("discard")
def discard(client, argv):
    if client.multi is None:
        raise DISCARD_WITHOUT_MULTI
    discard_transaction(client)
    return OK


@command("watch")
def watch(client, argv):
    if client.multi is not None:
        raise WATCH_INSIDE_MULTI
    if client.dirty_cas:
        # Already doomed: watching more changes nothing.
        return OK
    db = client.db
    watching = client.watching
    for key in argv[1:]:
        if any(w_db is db and w_key == key for w_db, w_key in watching):
            continue
        db.watch(client, key)
        watching.append(WatchedKey(db, key, is_logically_expired(db, key)))
    return OK


@command("unwatch")
def unwatch(client, argv):
    client.server.unwatch_all(client)
    return OK


def _watched_key_expired(client):
    """A watched key, alive when WATCHed, is now past its time."""
    for watched in client.watching:
        if not watched[2] and is_logically_expired(watched[0], watched[1]):
            return True
    return False


@command("exec")
def exec_(client, argv):
    queued = client.multi
    if queued is None:
        raise EXEC_WITHOUT_MULTI
    if client.multi_error:
        discard_transaction(client)
        raise EXECABORT
    if client.dirty_cas or _watched_key_expired(client):
        discard_transaction(client)
        return NULL_ARRAY
    # Unwatch first: the transaction's own writes must not flag it.
    client.server.unwatch_all(client)
    resp = client.resp
    replies = []
    client.in_exec = True
    try:
        for cmd, cmd_argv in queued:
            reply = execute(client, cmd, cmd_argv)
            if client.resp != resp:
                # HELLO switched protocol mid-transaction: as Redis writes
                # each reply when it is made, what came before stays in the
                # old protocol. Encode them now, in the one they were made in.
                replies = [_frozen(r, resp) for r in replies]
                resp = client.resp
            replies.append(reply)
    finally:
        client.in_exec = False
        discard_transaction(client)
    # The queued commands propagated themselves; EXEC adds nothing.
    client.argv = None
    return replies


def _frozen(reply, resp):
    """``reply`` as bytes of protocol ``resp`` (kept as is once frozen)."""
    if type(reply) is Raw:
        return reply
    return Raw(encoder_for(resp)(reply))
