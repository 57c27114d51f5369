"""Loading an RDB into a server: records in, a whole dataset swapped in at the end.

Theory of operation: ``RdbLoader`` wraps the streaming ``RdbDecoder``.
``feed(chunk)`` decodes what the chunk completes and applies each record as
Redis 7.0's rdbLoadRio does -- but to FRESH databases (a scratch Keyspace no
client sees), never to the live ones. ``finish()`` says the input has ended:
it raises unless the file was whole (EOF record, checksum). ``commit()`` then
installs the fresh databases in the live keyspace in one step. An error
before that (a corrupt or truncated input, SELECTDB out of range, a
duplicated key) raises ``RdbError`` and leaves the server exactly as it
was: nothing is ever half-loaded.

Feeding and the swap are separate steps so that the caller sets the pace
and picks the moment: a file at start-up (cooperatively, between reactor
turns), DEBUG RELOAD (all at once), or a replica's full sync from a socket.

What each record does (rdbLoadRio):

- a key already expired is dropped and counted on a master; a replica keeps
  it (its master decides when it goes);
- an empty collection is skipped with a warning (Redis once wrote some);
- a key seen twice is an error unless ``merge`` (DEBUG RELOAD MERGE);
- IDLE / FREQ hints set the access time or LFU counter, as
  objectSetLRUOrLFU does for the maxmemory-policy in force;
- aux fields are logged as Redis logs them; repl-id / repl-offset /
  repl-stream-db are kept for replication; FUNCTION2 libraries are kept.

Not sans-IO in the strict sense (it logs), but it never touches a file, a
socket or the reactor.
"""

from typing import NamedTuple

from twisted.logger import Logger

from redisrepl.ctext import atoll
from redisrepl.keyspace import Keyspace
from redisrepl.rdb import Aux, End, Entry, Function, Limits, RdbDecoder, RdbError, SelectDb

log = Logger()

# Redis warns about the first few empty keys only (rdbLoadRioWithLoadingCtx).
EMPTY_KEYS_LOGGED = 10


class ReplInfo(NamedTuple):
    """The replication state an RDB was written with (Redis's rdbSaveInfo):
    enough for a replica to resume from it with PSYNC."""

    replid: bytes
    offset: int
    stream_db: int


def _text(data):
    return data.decode("utf-8", "backslashreplace")


def library_name(code):
    """The library name of a function's code (``#!lua name=mylib``), or None."""
    shebang = code.split(b"\n", 1)[0]
    if not shebang.startswith(b"#!"):
        return None
    for word in shebang.split()[1:]:
        if word.startswith(b"name="):
            return word[5:]
    return None


class RdbLoader:
    """One RDB load into ``instance``: ``feed`` chunks, ``finish``, ``commit``.

    ``flush`` (the default) replaces the whole dataset and the function
    libraries; without it the loaded keys join the live ones (DEBUG RELOAD
    NOFLUSH), and a key or library on both sides is an error unless
    ``merge``, which lets the loaded one win.
    """

    def __init__(self, instance, merge=False, flush=True, keep_expired=None):
        self.instance = instance
        self.merge = merge
        self.flush = flush
        config = instance.config
        self.decoder = RdbDecoder(
            Limits.from_config(config),
            verify_checksum=config["rdbchecksum"] and not instance.skip_checksum_validation)
        live = instance.keyspace
        # Scratch databases: no watchers, no blocked clients, nothing expires
        # in them (loading), so building them signals nothing to anyone.
        self._scratch = Keyspace(len(live.dbs), instance.clock)
        self._scratch.loading = True
        # One "now" for the whole load, as rdbLoadRio's mstime() at the start.
        self._now_ms = instance.now_ms()
        # A replica keeps expired keys (its master deletes them), and so
        # does an AOF's RDB preamble (the AOF's own DELs follow it).
        self._keep_expired = live.is_replica if keep_expired is None else keep_expired
        self._lfu = config["maxmemory-policy"].endswith("-lfu")
        self._hinted = set()             # ids of dbs that got IDLE/FREQ hints
        self.keys_loaded = 0             # rdb_last_load_keys_loaded
        self.keys_expired = 0            # rdb_last_load_keys_expired
        self.empty_keys_skipped = 0
        self.functions = []              # FUNCTION2 code, in file order
        self.rdb_used_mem = 0            # the used-mem aux field
        self._repl_id = None
        self._repl_offset = -1
        self._repl_stream_db = -1
        self.finished = False
        self.committed = False

    # -- input ---------------------------------------------------------------------

    @property
    def loaded_bytes(self):
        """Input decoded so far (INFO's loading_loaded_bytes)."""
        return self.decoder.offset()

    def feed(self, chunk):
        """Decode and apply what ``chunk`` completes. Raises RdbError."""
        for event in self.decoder.feed(chunk):
            self._apply(event)

    def finish(self):
        """The input has ended: apply what the decoder held back; raise
        Truncated if the RDB was cut short, RdbError if it was bad."""
        for event in self.decoder.close():
            self._apply(event)
        self.finished = True

    @property
    def repl_info(self):
        """The ReplInfo of the file, or None if it had none (or a partial one,
        which Redis does not trust either)."""
        if self._repl_id is None or self._repl_offset == -1 or self._repl_stream_db == -1:
            return None
        return ReplInfo(self._repl_id, self._repl_offset, self._repl_stream_db)

    # -- records -----------------------------------------------------------------

    def _apply(self, event):
        kind = type(event)
        if kind is Entry:
            self._entry(event)
        elif kind is SelectDb:
            self._select(event.db)
        elif kind is Aux:
            self._aux(event.name, event.value)
        elif kind is Function:
            self._function(event.code)
        elif kind is End:
            if event.checksum == 0 and self.decoder.version >= 5 and \
                    self.decoder.verify_checksum:
                log.warn("RDB file was saved with checksum disabled: "  # noqa: G010
                         "no check performed.")
        # ResizeDb is a sizing hint; Python's dicts need none.

    def _entry(self, entry):
        value = entry.value
        key = entry.key
        if value is None:
            self.empty_keys_skipped += 1
            if self.empty_keys_skipped <= EMPTY_KEYS_LOGGED:
                log.warn("rdbLoadObject skipping empty key: {key}",  # noqa: G010
                         key=_text(key))
            return
        expire = entry.expire_ms
        if expire is not None and expire < self._now_ms and not self._keep_expired:
            self.keys_expired += 1
            return
        db = self._scratch.dbs[entry.db]
        self.keys_loaded += 1
        if key in db.data and not self.merge:
            log.warn("RDB has duplicated key '{key}' in DB {db}",  # noqa: G010
                     key=_text(key), db=entry.db)
            raise RdbError("Duplicated key found in RDB file", self.decoder.offset())
        # set() drops the TTL of a key loaded twice (MERGE): the last one wins whole.
        db.set(key, value)
        if expire is not None:
            db.set_expire(key, expire)
        if entry.idle is not None or entry.freq is not None:
            self._hint(db, key, entry.idle, entry.freq)

    def _hint(self, db, key, idle, freq):
        """objectSetLRUOrLFU: under an LFU policy the FREQ counter counts, under
        any other the IDLE time does; the other hint is ignored."""
        if self._lfu:
            if freq is None:
                return
            tracker = db.access()
            tracker.counters[key] = freq
            tracker.last_ms[key] = self._now_ms
        elif idle is not None:
            tracker = db.access()
            tracker.last_ms[key] = self._now_ms - idle * 1000
        else:
            return
        self._hinted.add(db.id)

    def _select(self, db_id):
        count = len(self._scratch.dbs)
        if db_id >= count:
            message = (f"FATAL: Data file was created with a Redis server configured "
                       f"to handle more than {count} databases. Exiting")
            log.warn("{text}", text=message)  # noqa: G010
            raise RdbError(message, self.decoder.offset())

    def _aux(self, name, value):
        lname = name.lower()
        if name.startswith(b"%"):
            # Information fields, logged as they are.
            log.info("RDB '{name}': {value}", name=_text(name), value=_text(value))
        elif lname == b"repl-stream-db":
            self._repl_stream_db = atoll(value)
        elif lname == b"repl-id":
            if len(value) == 40:
                self._repl_id = value
        elif lname == b"repl-offset":
            self._repl_offset = atoll(value)
        elif lname == b"redis-ver":
            log.info("Loading RDB produced by version {version}", version=_text(value))
        elif lname == b"ctime":
            age = max(0, int(self.instance.clock.seconds()) - atoll(value))
            log.info("RDB age {age} seconds", age=age)
        elif lname == b"used-mem":
            self.rdb_used_mem = atoll(value)
            log.info("RDB memory usage when created {mb:.2f} Mb",
                     mb=self.rdb_used_mem / (1024 * 1024))
        elif lname == b"aof-preamble":
            if atoll(value):
                log.info("RDB has an AOF tail")
        elif lname == b"aof-base":
            if atoll(value):
                log.info("RDB is base AOF")
        elif lname not in (b"lua", b"redis-bits"):
            # Unknown fields are skipped, by the AUX contract.
            log.debug("Unrecognized RDB AUX field: '{name}'", name=_text(name))

    def _function(self, code):
        name = library_name(code)
        if name is not None and not self.flush and not self.merge and any(
                library_name(old) == name for old in self.instance.functions):
            log.warn("Failed loading library, Library '{name}' already exists",  # noqa: G010
                     name=_text(name))
            raise RdbError(f"Library '{_text(name)}' already exists", self.decoder.offset())
        self.functions.append(code)

    # -- the swap ------------------------------------------------------------------

    def commit(self):
        """Install the loaded dataset in the live keyspace, in one step.

        With ``flush``, every live database is emptied as FLUSHALL empties it
        (transactions watching a key that existed there fail: Redis's
        signalFlushedDb) and takes the loaded contents. Clients keep their
        database objects; blocked clients stay blocked (Redis does not offer
        loaded keys to them). Raises RdbError (changing nothing) on a NOFLUSH
        conflict without MERGE."""
        if not self.finished:
            raise RuntimeError("commit() before finish()")
        instance = self.instance
        live = instance.keyspace
        pairs = list(zip(live.dbs, self._scratch.dbs, strict=True))
        if self.flush:
            for live_db in live.dbs:
                live_db.clear()
            instance.functions = list(self.functions)
        else:
            self._merge_live_keys(pairs)
            instance.functions = self._merged_functions()
        for live_db, fresh_db in pairs:
            live.swap_contents(live_db, fresh_db)
            if live_db.id in self._hinted:
                # The tracker was made for the scratch keyspace.
                live_db.access().keyspace = live
        # Keys loaded count as last accessed now (AccessTracker.start).
        live.created_ms = self._now_ms
        instance.rdb_last_load_keys_loaded = self.keys_loaded
        instance.rdb_last_load_keys_expired = self.keys_expired
        instance.rdb_loaded_repl = self.repl_info
        self.committed = True
        if self.empty_keys_skipped:
            log.warn("Done loading RDB, keys loaded: {loaded}, keys expired: {expired}, "  # noqa: G010
                     "empty keys skipped: {skipped}.", loaded=self.keys_loaded,
                     expired=self.keys_expired, skipped=self.empty_keys_skipped)
        else:
            log.info("Done loading RDB, keys loaded: {loaded}, keys expired: {expired}.",
                     loaded=self.keys_loaded, expired=self.keys_expired)

    def _merge_live_keys(self, pairs):
        """NOFLUSH: the live keys join the loaded ones in the scratch
        databases (checked first, so a conflict changes nothing)."""
        if not self.merge:
            for live_db, fresh_db in pairs:
                clash = next((key for key in fresh_db.data if key in live_db.data), None)
                if clash is not None:
                    log.warn("RDB has duplicated key '{key}' in DB {db}",  # noqa: G010
                             key=_text(clash), db=live_db.id)
                    raise RdbError("Duplicated key found in RDB file", self.decoder.offset())
        for live_db, fresh_db in pairs:
            expires = live_db.expires
            for key, value in live_db.data.items():
                if key in fresh_db.data:
                    # MERGE: the loaded key wins; watchers of the old one see a change.
                    live_db.signal_modified(key)
                    continue
                fresh_db.set(key, value)
                when = expires.get(key)
                if when is not None:
                    fresh_db.set_expire(key, when)

    def _merged_functions(self):
        loaded = {library_name(code) for code in self.functions}
        kept = [code for code in self.instance.functions
                if library_name(code) is None or library_name(code) not in loaded]
        return kept + self.functions
