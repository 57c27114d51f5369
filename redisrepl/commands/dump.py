"""DUMP, RESTORE and RESTORE-ASKING (the same), as Redis 7.0's cluster.c
dumpCommand, restoreCommand and verifyDumpPayload.

A payload is one value as RDB writes it, the RDB version and a CRC64
(redisrepl.rdb.payload), so payloads move between redisrepl and Redis.

RESTORE checks in Redis's order: options, BUSYKEY, the TTL, the footer
(version, then CRC unless DEBUG SET-SKIP-CHECKSUM-VALIDATION), the value.
A payload that fails replies an error and changes nothing. A TTL already
in the past creates nothing (and, with REPLACE, deletes the old key and
propagates DEL); otherwise a relative TTL is propagated as absolute with
ABSTTL, so a replica or the AOF gets the same expiry.

sanitize-dump-payload: Redis checks compact blobs (listpacks, intsets)
deeply only in "yes" (or "clients", for clients other than the master)
and counts each blob so checked in INFO's dump_payload_sanitizations. Our
decoder always checks deeply, so a payload Redis would store corrupt with
sanitization off (a hash listpack with a duplicate field...) is refused
here as "Bad data format" whatever the setting; the counter moves as in
Redis.
"""

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.keys import access_tracker, policy_is_lfu
from redisrepl.commands.table import command
from redisrepl.config import NOTIFY_GENERIC
from redisrepl.rdb import constants as C
from redisrepl.rdb import dump_payload, load_payload
from redisrepl.rdb.errors import Incomplete, PayloadFooterError, RdbError
from redisrepl.rdb.primitives import Cursor
from redisrepl.rdb.values import Limits
from redisrepl.resp.values import OK, ReplyError

BUSYKEY = ReplyError("BUSYKEY Target key name already exists.")
PAYLOAD_WRONG = ReplyError("ERR DUMP payload version or checksum are wrong")
BAD_DATA_FORMAT = ReplyError("ERR Bad data format")
INVALID_TTL = ReplyError("ERR Invalid TTL value, must be >= 0")
INVALID_IDLETIME = ReplyError("ERR Invalid IDLETIME value, must be >= 0")
INVALID_FREQ = ReplyError("ERR Invalid FREQ value, must be >= 0 and <= 255")

# The newest value type Redis 7.0 knows (rdbIsObjectType): our decoder
# also reads 7.2's set listpack, which 7.0's RESTORE refuses.
_NEWEST_TYPE = C.TYPE_STREAM_LISTPACKS_2

_INT64_WRAP = 1 << 64
_INT64_MAX = (1 << 63) - 1

# Redis's LRU clock: seconds in 24 bits. An IDLETIME beyond the clock's
# current value underflows it, and Redis then stores an access time half
# the clock's range away (objectSetLRUOrLFU), read back as this idle time.
_LRU_CLOCK_MAX = (1 << 24) - 1
_UNDERFLOWED_IDLE_SECONDS = _LRU_CLOCK_MAX // 2 + 1


@command("dump")
def dump(client, argv):
    value = client.db.lookup_read(argv[1])
    if value is None:
        return None
    config = client.server.config
    return dump_payload(value, config["rdbcompression"],
                        config["list-max-listpack-size"])


class _Options:
    __slots__ = ("replace", "absttl", "idle", "freq")

    def __init__(self):
        self.replace = False
        self.absttl = False
        self.idle = None    # IDLETIME seconds
        self.freq = None    # FREQ counter


def _parse_options(argv):
    """REPLACE ABSTTL IDLETIME s FREQ f, as restoreCommand parses them:
    IDLETIME after FREQ (or FREQ after IDLETIME) is a syntax error."""
    options = _Options()
    i = 4
    while i < len(argv):
        option = argv[i].lower()
        more = i + 1 < len(argv)
        if option == b"replace":
            options.replace = True
        elif option == b"absttl":
            options.absttl = True
        elif option == b"idletime" and more and options.freq is None:
            options.idle = parse_int(argv[i + 1])
            if options.idle < 0:
                raise INVALID_IDLETIME
            i += 1
        elif option == b"freq" and more and options.idle is None:
            options.freq = parse_int(argv[i + 1])
            if not 0 <= options.freq <= 255:
                raise INVALID_FREQ
            i += 1
        else:
            raise errors.SYNTAX
        i += 1
    return options


def _deep_sanitization(client):
    """Whether Redis would check this RESTORE's blobs deeply."""
    mode = client.server.config["sanitize-dump-payload"]
    if mode == "clients":
        # An AOF being loaded and the master's stream are trusted (there is
        # no ACL user flag skip-sanitize-payload here yet).
        keyspace = client.server.keyspace
        return not (keyspace.loading or keyspace.applying_master_stream)
    return mode == "yes"


def sanitized_blobs(payload):
    """How many compact blobs Redis's deep sanitization checks in this
    payload (rdbLoadObject counts one per intset, hash or zset listpack,
    packed quicklist node, stream node; ziplists and zipmaps are converted,
    always checked, and not counted)."""
    rdb_type = payload[0]
    if rdb_type in (C.TYPE_SET_INTSET, C.TYPE_HASH_LISTPACK, C.TYPE_ZSET_LISTPACK):
        return 1
    cur = Cursor(payload, 1)
    counted = 0
    try:
        if rdb_type == C.TYPE_LIST_QUICKLIST_2:
            for _ in range(cur.length()):
                container = cur.length()
                cur.string()
                counted += container == C.QUICKLIST_NODE_PACKED
        elif rdb_type in (C.TYPE_STREAM_LISTPACKS, C.TYPE_STREAM_LISTPACKS_2):
            for _ in range(cur.length()):
                cur.string()    # the node's master ID
                cur.string()
                counted += 1
    except (Incomplete, RdbError):
        pass    # Redis stops counting where the walk fails too
    return counted


def _load(client, payload):
    """The value in a RESTORE payload, or Redis's error reply."""
    server = client.server
    try:
        value = load_payload(payload, Limits.from_config(server.config),
                             verify_checksum=not server.skip_checksum_validation)
    except PayloadFooterError:
        raise PAYLOAD_WRONG from None
    except RdbError:
        _count_sanitizations(client, payload)
        raise BAD_DATA_FORMAT from None
    _count_sanitizations(client, payload)
    if payload[0] > _NEWEST_TYPE:
        raise BAD_DATA_FORMAT
    return value


def _count_sanitizations(client, payload):
    if _deep_sanitization(client):
        client.server.dump_payload_sanitizations += sanitized_blobs(payload)


def _as_int64(value):
    """C's wrap-around of a signed 64-bit sum (ttl + now overflowing)."""
    value %= _INT64_WRAP
    return value - _INT64_WRAP if value > _INT64_MAX else value


@command("restore", "restore-asking")
def restore(client, argv):
    options = _parse_options(argv)
    server = client.server
    db = client.db
    key = argv[1]
    # A lookup for a write: an expired key goes (with its DEL) first.
    if db.get(key) is not None and not options.replace:
        raise BUSYKEY
    ttl = parse_int(argv[2])
    if ttl < 0:
        raise INVALID_TTL
    value = _load(client, argv[3])
    deleted = options.replace and db.delete(key)
    keyspace = server.keyspace
    now = keyspace.now_ms()
    when = None
    if ttl:
        when = ttl if options.absttl else _as_int64(ttl + now)
        if when <= now and not keyspace.loading and not keyspace.is_replica:
            # Already expired: nothing is created (checkAlreadyExpired).
            if deleted:
                server.dirty += 1
                server.notify(NOTIFY_GENERIC, b"del", key, db.id)
                client.argv = [b"DEL", key]
            return OK
    db.set(key, value)
    if when is not None:
        db.set_expire(key, when)
        if not options.absttl:
            client.argv = [*argv[:2], b"%d" % when, *argv[3:], b"ABSTTL"]
    _set_lru_or_lfu(client, key, options, now)
    server.notify(NOTIFY_GENERIC, b"restore", key, db.id)
    server.dirty += 1
    return OK



def _set_lru_or_lfu(client, key, options, now):
    """objectSetLRUOrLFU: FREQ sets the LFU counter under an LFU policy,
    IDLETIME the last access time under any other; the other is ignored."""
    if policy_is_lfu(client.server.config):
        if options.freq is not None:
            tracker = access_tracker(client)
            tracker.counters[key] = options.freq
            tracker.last_ms[key] = now
    elif options.idle is not None:
        idle = options.idle
        if idle > (now // 1000) & _LRU_CLOCK_MAX:
            idle = _UNDERFLOWED_IDLE_SECONDS
        access_tracker(client).last_ms[key] = now - idle * 1000
