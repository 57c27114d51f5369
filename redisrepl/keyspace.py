"""Databases, keys and expiry. Sans-IO: time comes from an injected clock.

Values are plain Python objects; a string is ``bytes`` (or ``bytearray`` once
APPEND/SETRANGE/SETBIT have grown it in place). Other types register their
Python class with ``register_type`` so TYPE, WRONGTYPE checks, COPY and
OBJECT ENCODING know them.

Keys are created with ``Database.set`` and removed with ``Database.delete``,
never by writing ``Database.data`` directly: SCAN's index and the access
times of OBJECT IDLETIME only see keys that come in through ``set``.

Expiry follows Redis: a key past its time is deleted when touched (lazy
expiry) and by a sampling cycle run from the cron (active expiry). Each
deletion is reported through ``Keyspace.on_expired`` so the server can
propagate a DEL: replicas and the AOF never expire keys on their own.
"""

import copy
import random

from redisrepl.errors import WRONGTYPE
from redisrepl.scan import ScanIndex

TYPE_NAMES = {bytes: b"string", bytearray: b"string"}
# Type -> fn(value) giving an independent copy, for COPY (Redis's dup*).
_COPIERS = {bytes: lambda value: value, bytearray: bytearray}
# Type -> fn(value) giving OBJECT ENCODING's answer.
_ENCODINGS = {}


def register_type(cls, name, copier=None, encoding=None):
    """Declare that values of ``cls`` are Redis type ``name`` (b'list', ...).

    ``copier(value)`` returns a copy sharing nothing mutable (default:
    copy.deepcopy); ``encoding(value)`` returns the encoding Redis 7.0 would
    report for it (b'listpack', b'quicklist', ...).
    """
    TYPE_NAMES[cls] = name
    if copier is not None:
        _COPIERS[cls] = copier
    if encoding is not None:
        _ENCODINGS[cls] = encoding


def type_name(value):
    return TYPE_NAMES[type(value)]


def copy_value(value):
    """An independent copy of a stored value, for COPY."""
    copier = _COPIERS.get(type(value))
    return copier(value) if copier is not None else copy.deepcopy(value)


def value_encoding(value):
    """OBJECT ENCODING of a non-string value (b'unknown' if unregistered,
    as Redis's strEncoding says for an encoding it has no name for)."""
    encoding = _ENCODINGS.get(type(value))
    return encoding(value) if encoding is not None else b"unknown"


# Active expiry, as Redis's activeExpireCycle: sample keys with a TTL, delete
# the expired ones, go on while more than a quarter of a sample was expired,
# and give up when the cycle's time budget is spent.
ACTIVE_EXPIRE_SAMPLE = 20
ACTIVE_EXPIRE_ACCEPTABLE_STALE = 0.25

# LFU counters, as Redis's evict.c: a new key starts at LFU_INIT_VAL, an
# access increments with probability 1/((counter - init) * log_factor + 1),
# and every decay_time minutes without access take one off.
LFU_INIT_VAL = 5


class Database:
    """One numbered database: key -> value, and key -> absolute expiry in ms.

    The optional bookkeeping (SCAN's index, access times) lives in
    ``_TrackedDatabase``: see ``_track``.
    """

    __slots__ = (
        "_access",
        "_scan",
        "_ttl_keys",
        "_ttl_pos",
        "avg_ttl",
        "data",
        "expires",
        "id",
        "keyspace",
        "watched",
    )

    def __init__(self, index, keyspace):
        self.id = index
        self.keyspace = keyspace
        self.data = {}
        self.expires = {}
        # Keys with a TTL in a list too, so the active cycle can sample them
        # at random in O(1): a dict cannot be sampled.
        self._ttl_keys = []
        self._ttl_pos = {}
        self.avg_ttl = 0
        self._scan = None       # ScanIndex over data, once SCAN needs it
        self._access = None     # AccessTracker, once IDLETIME/FREQ need it
        # WATCH: key -> clients watching it here. It belongs to the numbered
        # database, so SWAPDB leaves it in place.
        self.watched = {}

    def __len__(self):
        return len(self.data)

    # -- lookups ---------------------------------------------------------

    def get(self, key):
        """The value at ``key``, or None when missing or logically expired."""
        expires = self.expires
        if expires and key in expires and self._expire_if_needed(key):
            return None
        return self.data.get(key)

    # A lookup that does not count as an access (Redis's LOOKUP_NOTOUCH):
    # the same as get() until access times are tracked.
    peek = get

    def lookup_read(self, key):
        """get() for a read command: counts keyspace hits and misses."""
        value = self.get(key)
        ks = self.keyspace
        if value is None:
            ks.misses += 1
        else:
            ks.hits += 1
        return value

    def peek_read(self, key):
        """lookup_read() that leaves the access time alone (TYPE, TTL,
        EXISTS, OBJECT: Redis's lookupKeyReadWithFlags(LOOKUP_NOTOUCH))."""
        value = self.peek(key)
        ks = self.keyspace
        if value is None:
            ks.misses += 1
        else:
            ks.hits += 1
        return value

    def get_typed(self, key, cls):
        """For a write: the value at ``key`` if of Python type ``cls``, None
        if missing, WRONGTYPE otherwise (Redis's lookupKeyWrite + check)."""
        value = self.get(key)
        if value is not None and type(value) is not cls:
            raise WRONGTYPE
        return value

    def read_typed(self, key, cls):
        """get_typed for a read: counts a keyspace hit or miss."""
        value = self.lookup_read(key)
        if value is not None and type(value) is not cls:
            raise WRONGTYPE
        return value

    def exists(self, key):
        return self.get(key) is not None

    def expire_if_needed(self, key):
        """True if ``key`` is logically expired; deleted then, unless this
        is a replica (Redis's expireIfNeeded)."""
        return key in self.expires and self._expire_if_needed(key)

    def _expire_if_needed(self, key):
        """Delete ``key`` if its time has passed. True if it is now gone."""
        ks = self.keyspace
        # Expired once now is past the time, not at it (keyIsExpired: now > when).
        if self.expires[key] >= ks.now_ms() or ks.loading:
            # Nothing expires while a dataset loads (Redis's keyIsExpired).
            return False
        if ks.is_replica:
            # A replica waits for the master's DEL and reports the key
            # missing -- except to the master's own commands, which were
            # decided on the master's view of the key.
            return not ks.applying_master_stream
        self.delete(key)
        ks.expired_keys += 1
        if ks.on_expired is not None:
            ks.on_expired(self, key)
        return True

    # -- writes ----------------------------------------------------------

    def set(self, key, value, keepttl=False):
        """Store ``value``, dropping any TTL unless ``keepttl``.

        As Redis's setKey looks the key up first, a key whose time has
        passed is expired (counted, its DEL propagated) before it is
        overwritten, and ``keepttl`` then keeps nothing.
        """
        expires = self.expires
        if expires and key in expires:
            gone = self._expire_if_needed(key)
            # Still here after expiring: a replica only reported it missing.
            if key in expires and (gone or not keepttl):
                self._drop_ttl(key)
        self.data[key] = value
        if self.watched:
            self.signal_modified(key)
        if self.keyspace.has_blocked:
            # A key that appears by RENAME, MOVE, COPY, SORT STORE... may be
            # what someone waits for (Redis's dbAdd signals it ready).
            self.signal_ready(key)

    def delete(self, key):
        """Remove ``key``. True if it existed (expired or not)."""
        if self.data.pop(key, _MISSING) is _MISSING:
            return False
        if key in self.expires:
            self._drop_ttl(key)
        if self.watched:
            self.signal_modified(key)
        return True

    def replace_value(self, key, value):
        """Swap an existing key's value for an equal one in another form
        (bytes -> bytearray before an in-place edit), keeping its TTL and
        signalling nothing: Redis's dbUnshareStringValue."""
        self.data[key] = value

    # -- signals: WATCH and blocked clients --------------------------------

    def signal_modified(self, key):
        """Redis's signalModifiedKey: transactions watching ``key`` fail.

        set() and delete() call it; a handler that changes a value in place
        (LPUSH onto an existing list, HSET...) calls it itself.
        """
        clients = self.watched.get(key)
        if clients:
            for client in clients:
                client.dirty_cas = True

    def signal_ready(self, key):
        """Redis's signalKeyAsReady: ``key`` got elements a blocked client
        may be waiting for (pushes, ZADD, XADD...)."""
        on_ready = self.keyspace.on_ready
        if on_ready is not None:
            on_ready(self, key)

    def watch(self, client, key):
        self.watched.setdefault(key, []).append(client)

    def unwatch(self, client, key):
        clients = self.watched.get(key)
        if clients is not None:
            clients.remove(client)
            if not clients:
                del self.watched[key]

    def _touch_all_watched(self, other=None):
        """FLUSHDB/SWAPDB: watched keys that exist here (or in ``other``,
        which swaps in) are modified (Redis's touchAllWatchedKeysInDb)."""
        for key, clients in self.watched.items():
            if key in self.data or (other is not None and key in other.data):
                for client in clients:
                    client.dirty_cas = True

    def clear(self):
        if self.watched:
            self._touch_all_watched()
        removed = len(self.data)
        self.data = {}
        self.expires = {}
        self._ttl_keys = []
        self._ttl_pos = {}
        self.avg_ttl = 0
        self._scan = None
        if self._access is not None:
            self._access.clear()
        return removed

    # -- expiry ----------------------------------------------------------

    def get_expire(self, key):
        """Absolute expiry time in ms, or None (caller has checked the key)."""
        return self.expires.get(key)

    def set_expire(self, key, when_ms):
        if self.watched:
            self.signal_modified(key)
        if key not in self.expires:
            self._ttl_pos[key] = len(self._ttl_keys)
            self._ttl_keys.append(key)
        self.expires[key] = when_ms

    def persist(self, key):
        """Drop the TTL of ``key``. True if it had one."""
        if key in self.expires:
            self._drop_ttl(key)
            if self.watched:
                self.signal_modified(key)
            return True
        return False

    def _drop_ttl(self, key):
        del self.expires[key]
        # Swap-remove from the sampling list.
        pos = self._ttl_pos.pop(key)
        last = self._ttl_keys.pop()
        if last != key:
            self._ttl_keys[pos] = last
            self._ttl_pos[last] = pos

    # -- iteration ---------------------------------------------------------

    def scan_index(self):
        """The ScanIndex over this database's keys, built on first use."""
        if self._scan is None or self._scan.collection is not self.data:
            # (Re)built when first needed or if ``data`` was replaced whole.
            self._scan = ScanIndex(self.data)
            self._track()
        return self._scan

    def random_key(self):
        """A random key that is not expired, or None when empty (Redis's
        dbRandomKey: expired keys met on the way are deleted)."""
        index = self.scan_index()
        expires = self.expires
        all_volatile = len(self.data) == len(expires)
        tries = 100
        while True:
            key = index.random()
            if key is None or key not in expires:
                return key
            if all_volatile and self.keyspace.is_replica:
                # Every key may be logically expired here, and a replica
                # deletes none: give up after a while, as Redis does.
                tries -= 1
                if tries == 0:
                    return key
            if not self._expire_if_needed(key):
                return key

    # -- access times (OBJECT IDLETIME / FREQ, eviction) ---------------------

    def access(self):
        """The AccessTracker of this database, started on first use: keys
        already there count as accessed now."""
        if self._access is None:
            self._access = AccessTracker(self.keyspace)
            self._access.start(self.data)
            self._track()
        return self._access

    def _track(self):
        # Switch to the subclass that does the bookkeeping: the class, not a
        # flag, decides, so get/set/delete cost nothing extra until then.
        self.__class__ = _TrackedDatabase

    def active_expire(self, now_ms, deadline, timer):
        """One database's share of the active expiry cycle.

        Returns the number of keys deleted. ``timer()`` gives seconds and the
        cycle stops once it passes ``deadline``.
        """
        deleted = 0
        ks = self.keyspace
        ttl_keys = self._ttl_keys
        while ttl_keys:
            sampled = expired = 0
            ttl_sum = 0
            for _ in range(min(ACTIVE_EXPIRE_SAMPLE, len(ttl_keys))):
                key = ttl_keys[random.randrange(len(ttl_keys))]
                when = self.expires[key]
                sampled += 1
                if when < now_ms:
                    self.delete(key)
                    ks.expired_keys += 1
                    expired += 1
                    if ks.on_expired is not None:
                        ks.on_expired(self, key)
                    if not ttl_keys:
                        break
                else:
                    ttl_sum += when - now_ms
            if sampled > expired:
                # Running average of the remaining TTL, as INFO keyspace shows.
                avg = ttl_sum // (sampled - expired)
                self.avg_ttl = avg if not self.avg_ttl else \
                    (self.avg_ttl * 49 + avg) // 50
            deleted += expired
            if expired <= sampled * ACTIVE_EXPIRE_ACCEPTABLE_STALE:
                break
            if timer() > deadline:
                ks.active_expire_timelimit_hits += 1
                break
        return deleted


class _TrackedDatabase(Database):
    """A Database that also feeds SCAN's index and the access times.

    A Database becomes one (by assigning ``__class__``) the first time SCAN,
    RANDOMKEY or OBJECT IDLETIME/FREQ needs the bookkeeping.
    """

    __slots__ = ()

    def get(self, key):
        value = Database.get(self, key)
        if value is not None and self._access is not None:
            self._access.touch(key)
        return value

    peek = Database.get

    def set(self, key, value, keepttl=False):
        scan = self._scan
        if scan is not None and key not in self.data:
            scan.added(key)
        Database.set(self, key, value, keepttl)
        if self._access is not None:
            self._access.stored(key)

    def delete(self, key):
        if not Database.delete(self, key):
            return False
        if self._access is not None:
            self._access.forget(key)
        return True


class AccessTracker:
    """When each key was last accessed, and its LFU counter (Redis keeps
    both in the object's 24-bit ``lru`` field).

    ``lfu`` selects the counting rule; whoever applies maxmemory-policy
    sets it, with ``lfu_log_factor`` and ``lfu_decay_time`` from the config.
    """

    __slots__ = (
        "counters",
        "keyspace",
        "last_ms",
        "lfu",
        "lfu_decay_time",
        "lfu_log_factor",
    )

    def __init__(self, keyspace):
        self.keyspace = keyspace
        self.last_ms = {}
        self.counters = {}
        self.lfu = False
        self.lfu_log_factor = 10
        self.lfu_decay_time = 1

    def start(self, keys):
        """Begin tracking: keys already there were last accessed when the
        keyspace was created or loaded, the best guess there is."""
        self.last_ms = dict.fromkeys(keys, self.keyspace.created_ms)
        self.counters = dict.fromkeys(keys, LFU_INIT_VAL)

    def clear(self):
        self.last_ms = {}
        self.counters = {}

    def touch(self, key):
        """A lookup of an existing key (Redis's lookupKey without NOTOUCH)."""
        if self.lfu:
            self.counters[key] = self._incremented(self.frequency(key))
        self.last_ms[key] = self.keyspace.now_ms()

    def stored(self, key):
        """A value stored at ``key``: a new key starts a fresh LFU count."""
        self.counters.setdefault(key, LFU_INIT_VAL)
        self.last_ms[key] = self.keyspace.now_ms()

    def forget(self, key):
        self.last_ms.pop(key, None)
        self.counters.pop(key, None)

    def idle_ms(self, key):
        return max(0, self.keyspace.now_ms() -
                   self.last_ms.get(key, self.keyspace.now_ms()))

    def frequency(self, key):
        """The LFU counter, decayed for the time since the last access
        (Redis's LFUDecrAndReturn)."""
        counter = self.counters.get(key, LFU_INIT_VAL)
        if self.lfu_decay_time:
            periods = self.idle_ms(key) // 60000 // self.lfu_decay_time
            counter = max(0, counter - periods)
        return counter

    def _incremented(self, counter):
        """Redis's LFULogIncr: a logarithmic, probabilistic increment."""
        if counter >= 255:
            return 255
        base = max(0, counter - LFU_INIT_VAL)
        if random.random() < 1.0 / (base * self.lfu_log_factor + 1):
            counter += 1
        return counter


_MISSING = object()


class Keyspace:
    """The numbered databases and the expiry machinery shared by them."""

    def __init__(self, databases, clock):
        self.clock = clock
        self.created_ms = self.now_ms()
        self.dbs = [Database(i, self) for i in range(databases)]
        # Set by the server: called with (db, key) after an expiry deletion,
        # and when a key gets elements blocked clients may want.
        self.on_expired = None
        self.on_ready = None
        # True while some client is blocked on keys (kept by Blocking), so
        # set() only signals readiness when someone could care.
        self.has_blocked = False
        self.on_db_swapped = None   # fn(db): its waited-for keys may be ready
        # A replica reports expired keys missing but never deletes them.
        self.is_replica = False
        # True while a replica applies its master's stream: keys count as
        # present until the master's DEL (Redis: current_client == master).
        self.applying_master_stream = False
        # True while an RDB/AOF loads: nothing expires (Redis's
        # server.loading), and EXPIRE into the past sets a TTL, no DEL.
        self.loading = False
        # DEBUG SET-ACTIVE-EXPIRE.
        self.active_expire_enabled = True
        self.expired_keys = 0
        self.hits = 0
        self.misses = 0
        self.active_expire_timelimit_hits = 0

    def now_ms(self):
        return int(self.clock.seconds() * 1000)

    def reset_stats(self):
        self.expired_keys = self.hits = self.misses = 0
        self.active_expire_timelimit_hits = 0

    def swap(self, a, b):
        """SWAPDB: exchange the contents of two databases.

        Clients keep their db objects (they point at a numbered database),
        so the contents move, with their bookkeeping and its class.
        """
        dba, dbb = self.dbs[a], self.dbs[b]
        dba._touch_all_watched(dbb)
        dbb._touch_all_watched(dba)
        self.swap_contents(dba, dbb)
        if self.has_blocked and self.on_db_swapped is not None:
            self.on_db_swapped(dba)
            self.on_db_swapped(dbb)

    def swap_contents(self, dba, dbb):
        """Exchange two databases' keys with their bookkeeping, leaving
        watchers and blocked clients alone (SWAPDB, a finished load)."""
        for slot in ("data", "expires", "_ttl_keys", "_ttl_pos", "avg_ttl",
                     "_scan", "_access", "__class__"):
            va, vb = getattr(dba, slot), getattr(dbb, slot)
            setattr(dba, slot, vb)
            setattr(dbb, slot, va)

    def flushall(self):
        return sum(db.clear() for db in self.dbs)

    def active_expire_cycle(self, budget_seconds, timer):
        """Sample every database for expired keys within a time budget."""
        if self.is_replica or not self.active_expire_enabled:
            return 0
        now = self.now_ms()
        deadline = timer() + budget_seconds
        deleted = 0
        for db in self.dbs:
            if db._ttl_keys:
                deleted += db.active_expire(now, deadline, timer)
                if timer() > deadline:
                    break
        return deleted
