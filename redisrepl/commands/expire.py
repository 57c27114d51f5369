"""Key expiry commands: EXPIRE PEXPIRE EXPIREAT PEXPIREAT, TTL PTTL
EXPIRETIME PEXPIRETIME, PERSIST (Redis 7.0 expire.c).

What a replica or the AOF receives must not depend on when it is applied:
every successful EXPIRE-family call propagates as PEXPIREAT with the
absolute time in ms (the NX/XX/GT/LT options kept, as Redis keeps them), and
one whose time has already passed deletes the key and propagates DEL (UNLINK
with lazyfree-lazy-expire) -- except on a replica or while loading, where
the key keeps its past TTL until the master's DEL arrives.
"""

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.table import command
from redisrepl.config import NOTIFY_GENERIC
from redisrepl.resp.values import ReplyError

_LLONG_MAX = (1 << 63) - 1
# Seconds that still fit in ms: C's LLONG_MAX / 1000 and LLONG_MIN / 1000,
# which truncate toward zero.
_SECONDS_LIMIT = _LLONG_MAX // 1000

_NX, _XX, _GT, _LT = 1, 2, 4, 8
_OPTIONS = {b"nx": _NX, b"xx": _XX, b"gt": _GT, b"lt": _LT}


def _parse_options(argv):
    """The NX/XX/GT/LT flags after the time (parseExtendedExpireArguments)."""
    flags = 0
    for arg in argv[3:]:
        flag = _OPTIONS.get(arg.lower())
        if flag is None:
            raise ReplyError(b"ERR Unsupported option " + arg)
        flags |= flag
    if flags & _NX and flags & (_XX | _GT | _LT):
        raise ReplyError("ERR NX and XX, GT or LT options at the same time "
                         "are not compatible")
    if flags & _GT and flags & _LT:
        raise ReplyError(
            "ERR GT and LT options at the same time are not compatible")
    return flags


def _refused_by_options(flags, when, current):
    """True if NX/XX/GT/LT say not to set ``when`` over ``current`` (None:
    no TTL, which GT and LT treat as an infinite TTL)."""
    if flags & _NX and current is not None:
        return True
    if flags & _XX and current is None:
        return True
    if flags & _GT and (current is None or when <= current):
        return True
    return bool(flags & _LT and current is not None and when >= current)


def _expire(client, argv, relative, in_seconds):
    """expireGenericCommand: ``relative`` adds the current time to the
    argument; ``in_seconds`` says it is in seconds rather than ms."""
    flags = _parse_options(argv)
    when = parse_int(argv[2])
    server = client.server
    keyspace = server.keyspace
    now = keyspace.now_ms()
    if in_seconds:
        if not -_SECONDS_LIMIT <= when <= _SECONDS_LIMIT:
            raise errors.invalid_expire_time(client.cmd.fullname)
        when *= 1000
    if relative:
        if when > _LLONG_MAX - now:
            raise errors.invalid_expire_time(client.cmd.fullname)
        when += now
    db = client.db
    key = argv[1]
    if db.get(key) is None:
        return 0
    if flags and _refused_by_options(flags, when, db.get_expire(key)):
        return 0
    server.dirty += 1
    if when <= now and not keyspace.loading and not keyspace.is_replica:
        db.delete(key)
        server.notify(NOTIFY_GENERIC, b"del", key, db.id)
        client.argv = [b"UNLINK" if server.config["lazyfree-lazy-expire"]
                       else b"DEL", key]
        return 1
    db.set_expire(key, when)
    server.notify(NOTIFY_GENERIC, b"expire", key, db.id)
    if relative or in_seconds:
        # PEXPIREAT as sent is already deterministic: keep it verbatim.
        client.argv = [b"PEXPIREAT", key, b"%d" % when] + argv[3:]
    return 1


@command("expire")
def expire(client, argv):
    return _expire(client, argv, relative=True, in_seconds=True)


@command("pexpire")
def pexpire(client, argv):
    return _expire(client, argv, relative=True, in_seconds=False)


@command("expireat")
def expireat(client, argv):
    return _expire(client, argv, relative=False, in_seconds=True)


@command("pexpireat")
def pexpireat(client, argv):
    return _expire(client, argv, relative=False, in_seconds=False)


def _ttl(client, key, in_ms, absolute):
    """ttlGenericCommand: -2 missing, -1 no TTL, else the (remaining or
    absolute) time, rounded to the nearest second unless in ms."""
    db = client.db
    if db.peek_read(key) is None:
        return -2
    when = db.get_expire(key)
    if when is None:
        return -1
    ttl = max(0, when if absolute else when - client.server.keyspace.now_ms())
    return ttl if in_ms else (ttl + 500) // 1000


@command("ttl")
def ttl(client, argv):
    return _ttl(client, argv[1], in_ms=False, absolute=False)


@command("pttl")
def pttl(client, argv):
    return _ttl(client, argv[1], in_ms=True, absolute=False)


@command("expiretime")
def expiretime(client, argv):
    return _ttl(client, argv[1], in_ms=False, absolute=True)


@command("pexpiretime")
def pexpiretime(client, argv):
    return _ttl(client, argv[1], in_ms=True, absolute=True)


@command("persist")
def persist(client, argv):
    db = client.db
    key = argv[1]
    if db.get(key) is not None and db.persist(key):
        client.server.dirty += 1
        client.server.notify(NOTIFY_GENERIC, b"persist", key, db.id)
        return 1
    return 0
