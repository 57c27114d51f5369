"""Generic key commands: DEL UNLINK EXISTS TYPE KEYS SCAN RANDOMKEY RENAME
RENAMENX COPY MOVE TOUCH OBJECT DBSIZE FLUSHDB FLUSHALL SWAPDB (Redis 7.0
db.c and object.c). The EXPIRE/TTL family is in expire.py.

Reads count keyspace hits and misses exactly where Redis does: EXISTS,
TYPE, TOUCH, OBJECT, COPY's source and SCAN's TYPE filter do; KEYS, SCAN
without TYPE, RANDOMKEY and the writes do not. Every write bumps
``server.dirty`` once per change, so a call that changes nothing is not
propagated, and one that changes something is propagated as sent.
"""

from redisrepl import errors
from redisrepl.commands.args import (
    parse_int,
    parse_int32,
    parse_scan_cursor,
    parse_scan_options,
)
from redisrepl.commands.help import help_reply
from redisrepl.commands.table import command
from redisrepl.config import NOTIFY_GENERIC
from redisrepl.glob import glob_match
from redisrepl.keyspace import copy_value, type_name, value_encoding
from redisrepl.resp.values import OK, ReplyError, Status

# -- deleting and testing keys -------------------------------------------------


def _delete_keys(client, keys):
    """DEL/UNLINK: the number of keys removed, one dirty change each."""
    db = client.db
    deleted = 0
    for key in keys:
        # An expired key goes as an expiry (with its own propagated DEL) and
        # does not count; on a replica it is still there and is deleted.
        db.expire_if_needed(key)
        if db.delete(key):
            deleted += 1
            client.server.notify(NOTIFY_GENERIC, b"del", key, db.id)
    client.server.dirty += deleted
    return deleted


@command("del")
def del_(client, argv):
    return _delete_keys(client, argv[1:])


@command("unlink")
def unlink(client, argv):
    # Freeing in the background buys nothing in Python: same as DEL.
    return _delete_keys(client, argv[1:])


@command("exists")
def exists(client, argv):
    peek_read = client.db.peek_read
    return sum(1 for key in argv[1:] if peek_read(key) is not None)


@command("type")
def type_(client, argv):
    value = client.db.peek_read(argv[1])
    return Status(b"none" if value is None else type_name(value))


@command("touch")
def touch(client, argv):
    lookup_read = client.db.lookup_read
    return sum(1 for key in argv[1:] if lookup_read(key) is not None)


@command("dbsize")
def dbsize(client, argv):
    # Keys logically expired but not yet reclaimed count, as in Redis.
    return len(client.db.data)


# -- finding keys ----------------------------------------------------------------


@command("keys")
def keys(client, argv):
    pattern = argv[1]
    match_all = pattern == b"*"
    db = client.db
    expires = db.expires
    now = client.server.keyspace.now_ms()
    # Expired keys are left out but not deleted, as Redis's keyIsExpired.
    return [key for key in db.data
            if (match_all or glob_match(pattern, key))
            and not (key in expires and expires[key] <= now)]


@command("scan")
def scan(client, argv):
    cursor = parse_scan_cursor(argv[1])
    pattern, count, type_filter = parse_scan_options(argv, 2, allow_type=True)
    db = client.db
    next_cursor, found = db.scan_index().scan(cursor, count)
    # Filters in Redis's order: the pattern, then the type (a counted
    # lookup that may expire the key), then expiry, which deletes.
    if pattern is not None:
        found = [key for key in found if glob_match(pattern, key)]
    if type_filter is not None:
        found = [key for key in found if _type_of(db.peek_read(key)) ==
                 type_filter]
    found = [key for key in found if not db.expire_if_needed(key)]
    return [b"%d" % next_cursor, found]


def _type_of(value):
    return b"none" if value is None else type_name(value)


@command("randomkey")
def randomkey(client, argv):
    return client.db.random_key()


# -- moving keys -----------------------------------------------------------------


def _rename(client, argv, nx):
    db = client.db
    source, target = argv[1], argv[2]
    value = db.get(source)
    if value is None:
        raise errors.NO_SUCH_KEY
    if source == target:
        return 0 if nx else OK
    if db.get(target) is not None:
        if nx:
            return 0
        db.delete(target)
    when = db.get_expire(source)
    db.delete(source)
    db.set(target, value)
    if when is not None:
        db.set_expire(target, when)
    client.server.dirty += 1
    client.server.notify(NOTIFY_GENERIC, b"rename_from", source, db.id)
    client.server.notify(NOTIFY_GENERIC, b"rename_to", target, db.id)
    return 1 if nx else OK


@command("rename")
def rename(client, argv):
    return _rename(client, argv, nx=False)


@command("renamenx")
def renamenx(client, argv):
    return _rename(client, argv, nx=True)


def _other_db(client, arg):
    """The database numbered ``arg``, checked as MOVE and COPY do."""
    dbs = client.server.keyspace.dbs
    index = parse_int32(arg)
    if not 0 <= index < len(dbs):
        raise errors.DB_INDEX_OUT_OF_RANGE
    return dbs[index]


@command("move")
def move(client, argv):
    key = argv[1]
    source = client.db
    target = _other_db(client, argv[2])
    if target is source:
        raise errors.SAME_OBJECT
    value = source.get(key)
    if value is None or target.get(key) is not None:
        return 0
    when = source.get_expire(key)
    source.delete(key)
    target.set(key, value)
    if when is not None:
        target.set_expire(key, when)
    client.server.dirty += 1
    client.server.notify(NOTIFY_GENERIC, b"move_from", key, source.id)
    client.server.notify(NOTIFY_GENERIC, b"move_to", key, target.id)
    return 1


@command("copy")
def copy_(client, argv):
    source = target = client.db
    replace = False
    i = 3
    while i < len(argv):
        option = argv[i].lower()
        if option == b"replace":
            replace = True
        elif option == b"db" and i + 1 < len(argv):
            target = _other_db(client, argv[i + 1])
            i += 1
        else:
            raise errors.SYNTAX
        i += 1
    key, new_key = argv[1], argv[2]
    if target is source and key == new_key:
        raise errors.SAME_OBJECT
    value = source.lookup_read(key)
    if value is None:
        return 0
    if target.get(new_key) is not None:
        if not replace:
            return 0
        target.delete(new_key)
    target.set(new_key, copy_value(value))
    when = source.get_expire(key)
    if when is not None:
        target.set_expire(new_key, when)
    client.server.dirty += 1
    client.server.notify(NOTIFY_GENERIC, b"copy_to", new_key, target.id)
    return 1


# -- whole databases -----------------------------------------------------------


def _check_flush_options(argv):
    """FLUSHDB/FLUSHALL [ASYNC|SYNC]: both free at once here."""
    if len(argv) > 2 or (len(argv) == 2 and
                         argv[1].lower() not in (b"async", b"sync")):
        raise errors.SYNTAX


@command("flushdb")
def flushdb(client, argv):
    _check_flush_options(argv)
    server = client.server
    removed = client.db.clear()
    if removed:
        server.dirty += removed
    else:
        # Redis forces the propagation of a FLUSHDB that found nothing.
        server.also_propagate(client.db.id, client.argv)
        client.argv = None
    return OK


@command("flushall")
def flushall(client, argv):
    _check_flush_options(argv)
    server = client.server
    # Redis 7.0's flushAllDataAndResetRDB: a running BGSAVE would write the
    # old data back, so it is stopped; with save points the dump on disk is
    # rewritten empty at once (which zeroes dirty).
    server.dirty += server.keyspace.flushall()
    persistence = server.persistence
    persistence.kill_child()
    if server.config["save"]:
        persistence.save()
    # Propagated even when it changed nothing (forceCommandPropagation).
    server.also_propagate(client.db.id, client.argv)
    client.argv = None
    return OK


@command("swapdb")
def swapdb(client, argv):
    keyspace = client.server.keyspace
    first = parse_int32(argv[1], ReplyError("ERR invalid first DB index"))
    second = parse_int32(argv[2], ReplyError("ERR invalid second DB index"))
    count = len(keyspace.dbs)
    if not (0 <= first < count and 0 <= second < count):
        raise errors.DB_INDEX_OUT_OF_RANGE
    keyspace.swap(first, second)
    client.server.dirty += 1
    return OK


# -- OBJECT ---------------------------------------------------------------------

# Redis 7.0 shares the integers 0..9999 (OBJ_SHARED_INTEGERS) unless the
# maxmemory policy needs per-object LRU/LFU data; a shared object reports
# refcount INT_MAX (OBJ_SHARED_REFCOUNT).
_SHARED_INTEGERS = 10000
_SHARED_REFCOUNT = (1 << 31) - 1
_EMBSTR_SIZE_LIMIT = 44

_LFU_SELECTED = (
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please "
    "note that when switching between policies at runtime LRU and LFU data "
    "will take some time to adjust.")
_LFU_NOT_SELECTED = (
    "ERR An LFU maxmemory policy is not selected, access frequency not "
    "tracked. Please note that when switching between policies at runtime "
    "LRU and LFU data will take some time to adjust.")

_OBJECT_HELP = (
    "ENCODING <key>",
    ("    Return the kind of internal representation used in order to store "
     "the value"),
    "    associated with a <key>.",
    "FREQ <key>",
    ("    Return the access frequency index of the <key>. The returned "
     "integer is"),
    ("    proportional to the logarithm of the recent access frequency of "
     "the key."),
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    ("    Return the number of references of the value associated with the "
     "specified"),
    "    <key>.",
)


def _string_as_integer(value):
    """The integer a string would be stored as (tryObjectEncoding), or None."""
    if type(value) is not bytes:
        return None     # grown in place: always a raw string in Redis
    try:
        return parse_int(value)
    except ReplyError:
        return None


def _encoding(value):
    if type(value) is bytearray:
        return b"raw"
    if type(value) is bytes:
        if _string_as_integer(value) is not None:
            return b"int"
        return b"embstr" if len(value) <= _EMBSTR_SIZE_LIMIT else b"raw"
    return value_encoding(value)


def policy_is_lfu(config):
    return config["maxmemory-policy"].endswith("-lfu")


def _shares_integers(config):
    return config["maxmemory"] == 0 or \
        not config["maxmemory-policy"].endswith(("-lru", "-lfu"))


def access_tracker(client):
    """This database's access times, in the mode the policy asks for."""
    tracker = client.db.access()
    config = client.server.config
    tracker.lfu = policy_is_lfu(config)
    tracker.lfu_log_factor = config["lfu-log-factor"]
    tracker.lfu_decay_time = config["lfu-decay-time"]
    return tracker


@command("object|help")
def object_help(client, argv):
    return help_reply(argv, _OBJECT_HELP)


@command("object|encoding")
def object_encoding(client, argv):
    value = client.db.peek_read(argv[2])
    return None if value is None else _encoding(value)


@command("object|refcount")
def object_refcount(client, argv):
    value = client.db.peek_read(argv[2])
    if value is None:
        return None
    number = _string_as_integer(value)
    if number is not None and 0 <= number < _SHARED_INTEGERS and \
            _shares_integers(client.server.config):
        return _SHARED_REFCOUNT
    return 1


@command("object|idletime")
def object_idletime(client, argv):
    key = argv[2]
    if client.db.peek_read(key) is None:
        return None
    if policy_is_lfu(client.server.config):
        raise ReplyError(_LFU_SELECTED)
    return access_tracker(client).idle_ms(key) // 1000


@command("object|freq")
def object_freq(client, argv):
    key = argv[2]
    if client.db.peek_read(key) is None:
        return None
    if not policy_is_lfu(client.server.config):
        raise ReplyError(_LFU_NOT_SELECTED)
    return access_tracker(client).frequency(key)
