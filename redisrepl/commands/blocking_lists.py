"""Blocking list pops: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP.

Each one first tries what its non-blocking form would do; if a key has
elements it runs exactly as that form and is propagated as it (BLPOP as
LPOP, BLMPOP as LPOP key <n>, BLMOVE as LMOVE, BRPOPLPUSH as RPOPLPUSH, as
Redis 7.0's rewriteClientCommandVector). Otherwise the client blocks
(redisrepl/blocking.py) and a ``serve`` closure pops for it once a key it
waits on is filled: served clients are propagated as Redis 7.0's
serveClientBlockedOnList does (LPOP key, LPOP key <n>, LMOVE src dst
left|right left|right in lower case, RPOPLPUSH src dst), and do not count
in ``dirty`` except BLMPOP's, as there.

Inside MULTI/EXEC nothing blocks: BLPOP/BRPOP/BLMPOP answer a null array,
BLMOVE/BRPOPLPUSH a null bulk (CLIENT_DENY_BLOCKING). A timeout answers a
null array for all of them (replyToBlockedClientTimedOut).
"""

from redisrepl.commands.args import parse_timeout_seconds
from redisrepl.commands.lists import (
    elements_removed,
    move,
    mpop,
    parse_mpop_args,
    parse_side,
    pop_range_with_key,
    write_list,
)
from redisrepl.commands.table import command
from redisrepl.config import NOTIFY_GENERIC, NOTIFY_LIST
from redisrepl.listtype import ListValue
from redisrepl.resp.values import NULL_ARRAY, ReplyError

# -- BLPOP / BRPOP / BLMPOP ----------------------------------------------------

@command("blpop")
def blpop(client, argv):
    return _blocking_pop(client, argv, True)


@command("brpop")
def brpop(client, argv):
    return _blocking_pop(client, argv, False)


def _blocking_pop(client, argv, from_head):
    # The timeout is checked before any key, as blockingPopGenericCommand.
    timeout_ms = parse_timeout_seconds(argv[-1], client.server.now_ms())
    keys = argv[1:-1]
    db = client.db
    for key in keys:
        value = write_list(db, key)
        if value:
            element = value.popleft() if from_head else value.pop()
            elements_removed(client, db, key, value, from_head, 1)
            client.argv = [b"LPOP" if from_head else b"RPOP", key]
            return [key, element]
    return client.server.blocking.block(
        client, keys, timeout_ms, _pop_server(from_head, None), NULL_ARRAY)


@command("blmpop")
def blmpop(client, argv):
    # numkeys, the side and COUNT are checked before the timeout.
    keys, from_head, count = parse_mpop_args(argv, 2)
    timeout_ms = parse_timeout_seconds(argv[1], client.server.now_ms())
    reply = mpop(client, keys, from_head, count)
    if reply is not None:
        return reply
    return client.server.blocking.block(
        client, keys, timeout_ms, _pop_server(from_head, count), NULL_ARRAY)


def _pop_server(from_head, count):
    """serve() for a client blocked in BLPOP/BRPOP (``count`` None) or
    BLMPOP: pops for it once a key it waits on holds a list."""
    verb = b"LPOP" if from_head else b"RPOP"

    def serve(client, db, key):
        value = db.get(key)
        if value.__class__ is not ListValue:
            return None     # missing, or now another type: keep waiting
        server = client.server
        if count is not None:
            reply, propagated = pop_range_with_key(
                client, db, key, value, from_head, count)
            server.also_propagate(db.id, propagated)
            return reply
        server.also_propagate(db.id, [verb, key])
        element = value.popleft() if from_head else value.pop()
        server.notify(NOTIFY_LIST, b"lpop" if from_head else b"rpop",
                      key, db.id)
        if not value:
            db.delete(key)
            server.notify(NOTIFY_GENERIC, b"del", key, db.id)
        return [key, element]

    return serve


# -- BLMOVE / BRPOPLPUSH -------------------------------------------------------

@command("blmove")
def blmove(client, argv):
    from_head = parse_side(argv[3])
    to_head = parse_side(argv[4])
    timeout_ms = parse_timeout_seconds(argv[5], client.server.now_ms())
    return _blocking_move(client, argv, from_head, to_head, timeout_ms,
                          [b"LMOVE", argv[1], argv[2], argv[3], argv[4]])


@command("brpoplpush")
def brpoplpush(client, argv):
    timeout_ms = parse_timeout_seconds(argv[3], client.server.now_ms())
    return _blocking_move(client, argv, False, True, timeout_ms,
                          [b"RPOPLPUSH", argv[1], argv[2]])


def _blocking_move(client, argv, from_head, to_head, timeout_ms, rewritten):
    db = client.db
    src, dst = argv[1], argv[2]
    value = write_list(db, src)
    if value is not None:
        element = move(client, db, src, value, dst, from_head, to_head)
        client.server.dirty += 1
        client.argv = rewritten
        return element
    if client.in_exec:
        return None
    # The destination's type is only checked once there is something to move.
    serve = _move_server(dst, from_head, to_head, rewritten[0] == b"RPOPLPUSH")
    return client.server.blocking.block(client, [src], timeout_ms, serve,
                                        NULL_ARRAY)


def _move_server(dst, from_head, to_head, as_rpoplpush):
    """serve() for a client blocked in BLMOVE/BRPOPLPUSH."""
    def serve(client, db, key):
        value = db.get(key)
        if value.__class__ is not ListValue:
            return None
        try:
            element = move(client, db, key, value, dst, from_head, to_head)
        except ReplyError as error:
            # The destination holds another type: Redis 7.0 unblocks the
            # client with the error and leaves the source as it was.
            client.server.record_error(error)
            return error
        if as_rpoplpush:
            propagated = [b"RPOPLPUSH", key, dst]
        else:
            propagated = [b"LMOVE", key, dst,
                          b"left" if from_head else b"right",
                          b"left" if to_head else b"right"]
        client.server.also_propagate(db.id, propagated)
        return element

    return serve
