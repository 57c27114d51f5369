"""Loading an RDB into a server (redisrepl/persistence/loader.py, loading.py):
what each record does, the one-step swap, failures that change nothing,
the INFO loading fields, DEBUG RELOAD and the daemon's start-up load."""

import os

import pytest
from twisted.internet.task import Cooperator

from redisrepl import errors
from redisrepl.listtype import ListValue
from redisrepl.persistence.loader import RdbLoader, library_name
from redisrepl.persistence.loading import load_file, load_file_cooperatively
from redisrepl.persistence.snapshot import snapshot_of
from redisrepl.rdb import DbSnapshot, RdbError, dump_payload, encode_all
from redisrepl.rdb import constants as C
from redisrepl.rdb.encoder import encode_aux
from redisrepl.rdb.errors import Truncated
from redisrepl.rdb.primitives import encode_i64_le, encode_length, encode_string
from redisrepl.resp.values import NULL_ARRAY, OK, ReplyError
from tests.unit.harness import EPOCH, Harness, block, served
from tests.unit.rdb_samples import key_record, rdb_file

NOW_MS = int(EPOCH * 1000)
RELOAD_FAILED = ReplyError("ERR Error trying to load the RDB dump")
LIBRARY = b"#!lua name=mylib\nredis.register_function('f1', function() return 1 end)"




def dump_of(harness):
    """The RDB file of a harness's dataset, as SAVE would write it."""
    return b"".join(snapshot_of(harness.server).chunks())


def load(harness, data, chunk=7, **options):
    """Feed ``data`` in small chunks (records cut everywhere), then swap."""
    loader = RdbLoader(harness.server, **options)
    for start in range(0, len(data), chunk):
        loader.feed(data[start:start + chunk])
    loader.finish()
    loader.commit()
    return loader


def contents(harness):
    """Every key of every db: (db, key) -> (DUMP payload, expiry)."""
    return {(db.id, key): (dump_payload(value), db.expires.get(key))
            for db in harness.server.keyspace.dbs for key, value in db.data.items()}


def record_in(db_id, key, value, expire_ms=None):
    """SELECTDB + an optional EXPIRETIME_MS + a string key."""
    parts = [bytes((C.OPCODE_SELECTDB,)) + encode_length(db_id)]
    if expire_ms is not None:
        parts.append(bytes((C.OPCODE_EXPIRETIME_MS,)) + encode_i64_le(expire_ms))
    parts.append(key_record(C.TYPE_STRING, key, encode_string(value)))
    return b"".join(parts)


def write_dump(data, name="dump.rdb"):
    with open(name, "wb") as f:
        f.write(data)


def every_type(srv):
    """A dataset with every type in its small and large encodings, across dbs."""
    srv("SET", "str", "hello")
    srv("SET", "int", "12345")
    srv("SET", "big", "x" * 500)
    srv("RPUSH", "list", "a", "b", "1")
    srv("RPUSH", "biglist", *[f"e{i}" for i in range(300)])
    srv("HSET", "hash", "f", "v", "n", "1")
    srv("HSET", "bighash", *[x for i in range(600) for x in (f"f{i}", "v")])
    srv("SADD", "intset", "1", "2", "-3")
    srv("SADD", "set", "a", "b")
    srv("ZADD", "zset", "1", "a", "2.5", "b")
    srv("ZADD", "bigzset", *[x for i in range(200) for x in (str(i), f"m{i}")])
    srv("XADD", "stream", "1-1", "field", "value")
    srv("XGROUP", "CREATE", "stream", "group", "0")
    srv("XREADGROUP", "GROUP", "group", "alice", "STREAMS", "stream", ">")
    srv("PEXPIRE", "str", "100000")
    srv("EXPIRE", "hash", "3600")
    srv("SELECT", "5")
    srv("SET", "in5", "five")
    srv("PEXPIRE", "in5", "5000")
    srv("SELECT", "15")
    srv("LPUSH", "in15", "x")
    srv("SELECT", "0")


# -- what each record does ------------------------------------------------------------

def test_every_type_with_ttls_in_several_dbs_loads_identically(srv):
    """Each type and encoding, TTLs and db numbers come back as saved."""
    every_type(srv)
    target = Harness()
    loader = load(target, dump_of(srv))
    assert contents(target) == contents(srv)
    assert loader.keys_loaded == len(contents(srv)) == target.server.rdb_last_load_keys_loaded
    for key in ("list", "biglist", "hash", "bighash", "intset", "set", "zset", "bigzset", "int"):
        assert target("OBJECT", "ENCODING", key) == srv("OBJECT", "ENCODING", key), key


def test_loaded_keys_are_scannable_and_visible_to_every_client(srv):
    """Clients keep their db objects: a client in db 5 sees db 5's loaded keys; SCAN sees all."""
    every_type(srv)
    target = Harness()
    in_db5 = target.new_client()
    target("SELECT", "5", client=in_db5)
    target("SCAN", "0")             # an index built before the load must not go stale
    load(target, dump_of(srv))
    assert target("GET", "in5", client=in_db5) == b"five"
    cursor, keys, seen = b"0", None, set()
    while keys is None or cursor != b"0":
        cursor, keys = target("SCAN", cursor)
        seen.update(keys)
    assert seen == set(srv.db.data)


def test_expired_keys_are_dropped_and_counted_on_a_master(srv):
    """A key whose time has passed is not loaded on a master (rdb_last_load_keys_expired)."""
    data = rdb_file([record_in(0, b"gone", b"1", NOW_MS - 1),
                     record_in(0, b"kept", b"2", NOW_MS + 60000)])
    loader = load(srv, data)
    assert srv("KEYS", "*") == [b"kept"]
    assert (loader.keys_loaded, loader.keys_expired) == (1, 1)
    info = srv("INFO", "persistence").decode()
    assert "rdb_last_load_keys_expired:1\r\n" in info
    assert "rdb_last_load_keys_loaded:1\r\n" in info


def test_expired_keys_are_kept_on_a_replica(srv):
    """A replica keeps already-expired keys: its master decides when they go."""
    srv.server.keyspace.is_replica = True
    load(srv, rdb_file([record_in(0, b"gone", b"1", NOW_MS - 1)]))
    assert srv.db.data == {b"gone": b"1"} and srv.db.expires == {b"gone": NOW_MS - 1}
    assert srv.server.rdb_last_load_keys_expired == 0


def test_seconds_expiry_of_old_files(srv):
    """EXPIRETIME (seconds, RDB < 3) becomes an expiry in ms."""
    record = bytes((C.OPCODE_EXPIRETIME,)) + (int(EPOCH) + 100).to_bytes(4, "little") + \
        key_record(C.TYPE_STRING, b"k", encode_string(b"v"))
    load(srv, rdb_file([record], version=2))
    assert srv("TTL", "k") == 100


def test_empty_collections_are_skipped_with_a_warning(srv, logged):
    """An empty set in the file is skipped and logged, as rdbLoadObject does."""
    data = rdb_file([key_record(C.TYPE_SET, b"empty", encode_length(0)),
                     key_record(C.TYPE_STRING, b"k", encode_string(b"v"))])
    loader = load(srv, data)
    assert srv("KEYS", "*") == [b"k"] and loader.empty_keys_skipped == 1
    assert "rdbLoadObject skipping empty key: empty" in logged
    assert "Done loading RDB, keys loaded: 1, keys expired: 0, empty keys skipped: 1." in logged


def test_selectdb_out_of_range_fails_without_touching_data(srv, logged):
    """SELECTDB beyond `databases` is Redis's FATAL error; the live data stays."""
    srv("SET", "mine", "1")
    loader = RdbLoader(srv.server)
    with pytest.raises(RdbError) as caught:
        loader.feed(rdb_file([record_in(0, b"a", b"1"), record_in(16, b"b", b"2")]))
    message = ("FATAL: Data file was created with a Redis server configured to handle "
               "more than 16 databases. Exiting")
    assert caught.value.message == message and message in logged
    assert caught.value.offset is not None
    assert srv("KEYS", "*") == [b"mine"]


def test_duplicate_keys_fail_unless_merging(srv, logged):
    """A key twice in one file is an error; with merge the later one wins."""
    data = rdb_file([record_in(0, b"k", b"first", NOW_MS + 5000), record_in(0, b"k", b"second")])
    with pytest.raises(RdbError, match="Duplicated key found in RDB file"):
        load(srv, data)
    assert "RDB has duplicated key 'k' in DB 0" in logged
    assert srv.db.data == {}
    load(srv, data, merge=True)
    assert srv.db.data == {b"k": b"second"} and srv.db.expires == {}


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "unknown type"])
def test_a_bad_file_leaves_the_live_data_untouched(srv, damage):
    """A truncated or corrupt file raises, naming an offset, and nothing is half-loaded."""
    every_type(srv)
    before = contents(srv)
    other = Harness()
    other("SET", "foreign", "1")
    for i in range(2000):
        other("SET", f"k{i}", "v" * 20)
    data = bytearray(dump_of(other))
    if damage == "truncated":
        data = data[:len(data) // 2]
    elif damage == "flipped byte":
        data[data.index(b"v" * 20, len(data) // 2)] ^= 0x01     # only the CRC notices
    else:
        data[data.index(b"foreign") - 2] = 99       # the type byte of the key
    with pytest.raises(RdbError) as caught:
        load(srv, bytes(data))
    assert caught.value.offset is not None
    assert isinstance(caught.value, Truncated) == (damage == "truncated")
    assert ("checksum" in caught.value.message) == (damage == "flipped byte")
    assert contents(srv) == before
    assert srv.server.rdb_last_load_keys_loaded == 0


def test_wrong_checksum_is_refused_unless_checks_are_skipped(srv):
    """A wrong CRC fails the load; DEBUG SET-SKIP-CHECKSUM-VALIDATION lets it through."""
    data = bytearray(rdb_file([record_in(0, b"k", b"v")]))
    data[-1] ^= 0xFF
    with pytest.raises(RdbError, match="Wrong RDB checksum"):
        load(srv, bytes(data))
    srv.server.skip_checksum_validation = True
    load(srv, bytes(data))
    assert srv.db.data == {b"k": b"v"}


def test_aux_fields_are_logged_and_replication_info_kept(srv, logged):
    """Aux fields log as Redis logs them; repl-id/offset/stream-db are kept."""
    replid = b"a" * 40
    data = rdb_file([encode_aux(b"redis-ver", b"7.0.15"),
                     encode_aux(b"ctime", b"%d" % (int(EPOCH) - 30)),
                     encode_aux(b"used-mem", b"%d" % (3 * 1024 * 1024)),
                     encode_aux(b"repl-stream-db", b"0"),
                     encode_aux(b"repl-id", replid),
                     encode_aux(b"repl-offset", b"1234"),
                     encode_aux(b"aof-base", b"0"),
                     encode_aux(b"%note", b"hi"),
                     encode_aux(b"future-field", b"x")])
    loader = load(srv, data)
    assert srv.server.rdb_loaded_repl == (replid, 1234, 0)
    assert loader.rdb_used_mem == 3 * 1024 * 1024
    for line in ("Loading RDB produced by version 7.0.15", "RDB age 30 seconds",
                 "RDB memory usage when created 3.00 Mb", "RDB '%note': hi",
                 "Done loading RDB, keys loaded: 0, keys expired: 0."):
        assert line in logged
    assert not any("AOF" in line for line in logged)


def test_partial_replication_info_is_not_kept(srv):
    """Without all three repl fields (or with a bad id) nothing is kept, as Redis."""
    load(srv, rdb_file([encode_aux(b"repl-id", b"short"), encode_aux(b"repl-offset", b"5"),
                        encode_aux(b"repl-stream-db", b"0")]))
    assert srv.server.rdb_loaded_repl is None


def test_functions_are_kept_and_written_back(srv):
    """FUNCTION2 libraries load into instance.functions and are saved again."""
    data = encode_all([DbSnapshot(0, {b"k": b"v"}, {})], functions=[LIBRARY])
    load(srv, data)
    assert srv.server.functions == [LIBRARY]
    assert library_name(LIBRARY) == b"mylib"
    again = Harness()
    load(again, dump_of(srv))
    assert again.server.functions == [LIBRARY]


def test_idle_hint_sets_the_idle_time(srv):
    """An IDLE hint makes OBJECT IDLETIME start from the saved idle time."""
    record = bytes((C.OPCODE_IDLE,)) + encode_length(500) + \
        key_record(C.TYPE_STRING, b"k", encode_string(b"v"))
    load(srv, rdb_file([record, key_record(C.TYPE_STRING, b"fresh", encode_string(b"v"))]))
    assert srv("OBJECT", "IDLETIME", "k") == 500
    assert srv("OBJECT", "IDLETIME", "fresh") == 0
    srv.advance(10)
    assert srv("OBJECT", "IDLETIME", "k") == 510


def test_freq_hint_sets_the_lfu_counter_under_an_lfu_policy():
    """A FREQ hint is the key's LFU counter when maxmemory-policy is an LFU one."""
    srv = Harness("maxmemory-policy allkeys-lfu")
    record = bytes((C.OPCODE_FREQ, 42)) + key_record(C.TYPE_STRING, b"k", encode_string(b"v"))
    load(srv, rdb_file([record]))
    assert srv("OBJECT", "FREQ", "k") == 42


def test_keys_loaded_later_count_as_fresh_for_idletime(srv):
    """Keys loaded (without hints) count as accessed at load time, as in Redis."""
    srv.advance(1000)
    load(srv, rdb_file([key_record(C.TYPE_STRING, b"k", encode_string(b"v"))]))
    assert srv("OBJECT", "IDLETIME", "k") == 0


# -- the swap: watchers and blocked clients -------------------------------------------

def test_a_reload_fails_transactions_watching_existing_keys(srv):
    """WATCH sees the flush (signalFlushedDb): EXEC after the load aborts."""
    srv("SET", "w", "1")
    srv("WATCH", "w")
    data = dump_of(srv)
    load(srv, data)
    srv("MULTI")
    srv("SET", "x", "1")
    assert srv("EXEC") is NULL_ARRAY


def test_a_failed_load_does_not_fail_transactions(srv):
    """A load that fails changed nothing: a watching transaction still runs."""
    srv("SET", "w", "1")
    srv("WATCH", "w")
    with pytest.raises(RdbError):
        load(srv, dump_of(srv)[:-3])
    srv("MULTI")
    srv("SET", "x", "1")
    assert srv("EXEC") == [OK]


def test_blocked_clients_stay_blocked_across_a_reload(srv):
    """A client blocked on a key stays blocked and connected: Redis 7.0 does
    not offer loaded keys to it (dbAddRDBLoad signals nothing), nor a later
    push onto the now existing list (checked against redis-server 7.0.15)."""
    source = Harness()
    source("RPUSH", "q", "loaded")
    waiter = block(srv, "BLPOP", "q", "0")
    load(srv, dump_of(source))
    srv("RPUSH", "q", "pushed")
    assert served(waiter) is None and waiter in srv.server.blocking.by_client
    assert not waiter.conn.closed
    srv("DEL", "q")
    srv("RPUSH", "q", "new")
    assert served(waiter) == [b"q", b"new"]


# -- NOFLUSH / MERGE -------------------------------------------------------------------

def test_noflush_adds_to_the_live_data(srv):
    """Without flush, loaded keys join the live ones, TTLs included."""
    srv("SET", "live", "1", "PX", "9000")
    load(srv, rdb_file([record_in(0, b"loaded", b"2")]), flush=False)
    assert srv.db.data == {b"live": b"1", b"loaded": b"2"}
    assert srv("PTTL", "live") == 9000


def test_noflush_clash_fails_and_changes_nothing_unless_merge(srv, logged):
    """A key on both sides is an error without MERGE (Redis panics); with it the file wins."""
    srv("SET", "k", "live")
    srv("SET", "other", "1")
    data = rdb_file([record_in(0, b"k", b"loaded"), record_in(0, b"new", b"n")])
    with pytest.raises(RdbError, match="Duplicated key"):
        load(srv, data, flush=False)
    assert srv.db.data == {b"k": b"live", b"other": b"1"}
    srv("WATCH", "k")
    load(srv, data, flush=False, merge=True)
    assert srv.db.data == {b"k": b"loaded", b"other": b"1", b"new": b"n"}
    srv("MULTI")
    assert srv("EXEC") is NULL_ARRAY


def test_noflush_library_clash_fails_unless_merge(srv, logged):
    """A library already loaded is an error with NOFLUSH, replaced with MERGE."""
    srv.server.functions = [LIBRARY]
    data = encode_all([], functions=[LIBRARY])
    with pytest.raises(RdbError, match="Library 'mylib' already exists"):
        load(srv, data, flush=False)
    assert "Failed loading library, Library 'mylib' already exists" in logged
    load(srv, data, flush=False, merge=True)
    assert srv.server.functions == [LIBRARY]


# -- loading flags and INFO while a load runs ----------------------------------------

class Stepper:
    """A Cooperator scheduler run by hand: ``step()`` runs one reactor turn."""

    def __init__(self):
        self.pending = []
        self.cooperator = Cooperator(scheduler=self.pending.append,
                                     terminationPredicateFactory=lambda: lambda: True)

    def step(self):
        self.pending.pop(0)()


def test_info_and_loading_replies_while_a_file_loads(srv):
    """While loading: -LOADING for data commands, INFO shows loading:1 and the
    loading_* fields; after the swap they are gone and the data is there."""
    srv.config.set_many([(b"loading-process-events-interval-bytes", b"1024")])
    source = Harness()
    for i in range(300):
        source("SET", f"key:{i}", "v" * 50)
    snapshot = snapshot_of(source.server)
    write_dump(b"".join(snapshot.chunks()))
    size = os.path.getsize("dump.rdb")
    stepper = Stepper()
    done = []
    load_file_cooperatively(srv.server, "dump.rdb", stepper.cooperator).addCallback(done.append)
    assert srv("GET", "key:1") is errors.LOADING
    stepper.step()
    stepper.step()
    info = srv("INFO", "persistence").decode()
    assert "loading:1\r\n" in info
    used_mem = int(dict(snapshot.aux)[b"used-mem"])
    assert info.endswith(
        "module_fork_last_cow_size:0\r\n"
        f"loading_start_time:{int(EPOCH)}\r\nloading_total_bytes:{size}\r\n"
        f"loading_rdb_used_mem:{used_mem}\r\n"
        f"loading_loaded_bytes:2048\r\nloading_loaded_perc:{2048 / size * 100:.2f}\r\n"
        "loading_eta_seconds:1\r\n"), info
    assert srv.db.data == {}
    while not done:
        stepper.step()
    assert done[0].keys_loaded == 300
    assert srv("GET", "key:1") == b"v" * 50
    info = srv("INFO", "persistence").decode()
    assert "loading:0\r\n" in info and "loading_start_time" not in info
    assert not srv.server.keyspace.loading


def test_loading_eta_follows_redis_formula():
    """loading_eta_seconds = elapsed * remaining / (loaded + 1), 1 in the first second."""
    from redisrepl.persistence.loading import LoadProgress

    class Stub:
        rdb_used_mem = 0
    progress = LoadProgress(Stub(), 100, 1000)
    progress.loaded_bytes = 250
    assert progress.info_fields(100.5)[-2:] == ["loading_loaded_perc:25.00",
                                                "loading_eta_seconds:1"]
    assert progress.info_fields(110)[-1] == f"loading_eta_seconds:{10 * 750 // 251}"


def test_a_failed_cooperative_load_lowers_the_flags(srv):
    """A file that fails to load: the Deferred fails, the flags come down, data stays."""
    srv("SET", "mine", "1")
    write_dump(b"REDIS0010\xfe\x00\x00\x01k")
    stepper = Stepper()
    failures = []
    load_file_cooperatively(srv.server, "dump.rdb", stepper.cooperator).addErrback(
        failures.append)
    while not failures:
        stepper.step()
    assert failures[0].check(Truncated)
    assert not srv.server.loading and srv.server.load_progress is None
    assert srv("GET", "mine") == b"1"


# -- DEBUG RELOAD ----------------------------------------------------------------------

@pytest.fixture
def dbg():
    """A server that allows DEBUG."""
    return Harness("enable-debug-command yes")


def test_debug_reload_keeps_data_and_run_id(dbg, logged):
    """DEBUG RELOAD saves, loads back and keeps the run id."""
    every_type(dbg)
    before = contents(dbg)
    run_id = dbg.server.run_id
    propagated = len(dbg.propagated)
    assert dbg("DEBUG", "RELOAD") == OK
    assert contents(dbg) == before and dbg.server.run_id == run_id
    assert "DB reloaded by DEBUG RELOAD" in logged
    assert dbg.server.dirty == 0
    assert len(dbg.propagated) == propagated


def test_debug_reload_nosave_replaces_the_data_with_the_file(dbg):
    """NOSAVE loads the dump as it is: changes since it was written are gone."""
    dbg("SET", "a", "1")
    dbg("SAVE")
    dbg("SET", "b", "2")
    assert dbg("DEBUG", "RELOAD", "NOSAVE") == OK
    assert dbg("KEYS", "*") == [b"a"]
    assert dbg.server.dirty == 1


def test_debug_reload_noflush_merge_adds_the_file(dbg):
    """NOSAVE NOFLUSH MERGE adds the dump's contents to the live data."""
    dbg("SET", "a", "1")
    dbg("SAVE")
    dbg("SET", "a", "changed")
    dbg("SET", "b", "2")
    assert dbg("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE") == OK
    assert sorted(dbg("KEYS", "*")) == [b"a", b"b"] and dbg("GET", "a") == b"1"
    assert dbg("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH") == RELOAD_FAILED


def test_debug_reload_errors(dbg):
    """Redis's replies for a bad option and for a dump that cannot be loaded;
    a failed load keeps the data."""
    dbg("SET", "a", "1")
    assert dbg("DEBUG", "RELOAD", "FOO") == ReplyError(
        "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
    assert dbg("DEBUG", "RELOAD", "NOSAVE") == RELOAD_FAILED      # no dump.rdb
    write_dump(b"REDIS0010\xff" + b"\x01" * 8)                   # wrong checksum
    assert dbg("DEBUG", "RELOAD", "nosave") == RELOAD_FAILED
    assert dbg("GET", "a") == b"1"


def test_debug_reload_save_failure(dbg):
    """A save that fails answers Redis's bare -ERR and loads nothing."""
    dbg("SET", "a", "1")
    os.mkdir("dump.rdb")
    assert dbg("DEBUG", "RELOAD") == ReplyError("ERR")
    assert dbg("GET", "a") == b"1"


def test_debug_reload_refused_while_loading(dbg):
    """During a start-up load DEBUG RELOAD would save an empty dataset over the dump: refused."""
    dbg.server.loading = True
    assert dbg("DEBUG", "RELOAD") is errors.LOADING
    assert not os.path.exists("dump.rdb")


def test_load_file_reads_in_chunks(srv):
    """load_file feeds the dump in loading-process-events-interval-bytes chunks."""
    source = Harness()
    for i in range(100):
        source("SET", f"k{i}", "v" * 100)
    write_dump(dump_of(source))
    srv.config.set_many([(b"loading-process-events-interval-bytes", b"1024")])
    loader = load_file(srv.server, "dump.rdb")
    assert loader.keys_loaded == 100 and srv.db.data == source.db.data


# -- the daemon's start-up load --------------------------------------------------------

def daemon(config_text=""):
    from twisted.internet.testing import MemoryReactorClock

    from redisrepl.config import Config
    from redisrepl.service import RedisService
    config = Config(chdir=lambda path: None)
    config.load_text("port 0\n" + config_text)
    reactor = MemoryReactorClock()
    service = RedisService(config, reactor)
    exits = []
    service.exit = exits.append
    service.cooperator = Cooperator(scheduler=lambda step: reactor.callLater(0, step))
    return service, reactor, exits


def start_running(reactor):
    """What the reactor does once it runs: the callWhenRunning hooks."""
    for hook, args, kwargs in reactor.whenRunningHooks:
        hook(*args, **kwargs)


def run_until(reactor, condition, limit=1000):
    for _ in range(limit):
        if condition():
            return
        reactor.advance(0)
    raise AssertionError("condition never held")


def test_startup_loads_the_dump_then_announces_ready(logged):
    """The daemon loads dir/dbfilename after listening, then logs ready."""
    source = Harness()
    every_type(source)
    write_dump(dump_of(source))
    service, reactor, exits = daemon()
    service.startService()
    start_running(reactor)
    assert service.server.loading
    run_until(reactor, lambda: not service.server.loading)
    assert contents(source) == {
        (db.id, key): (dump_payload(value), db.expires.get(key))
        for db in service.server.keyspace.dbs for key, value in db.data.items()}
    loaded = [i for i, line in enumerate(logged) if line.startswith("DB loaded from disk: ")]
    ready = [i for i, line in enumerate(logged) if line.startswith("Ready to accept")]
    assert loaded and ready and loaded[0] < ready[0] and exits == []
    service.stopService()


def test_startup_without_a_dump_is_ready_at_once(logged):
    """No dump file: nothing to load, ready straight away."""
    service, reactor, exits = daemon()
    service.startService()
    start_running(reactor)
    assert any(line.startswith("Ready to accept") for line in logged)
    assert not any("DB loaded" in line for line in logged) and exits == []
    service.stopService()


def test_startup_with_a_corrupt_dump_exits_1(logged):
    """A corrupt dump at start-up: the error and offset are logged, exit status 1,
    never ready."""
    source = Harness()
    for i in range(100):
        source("SET", f"k{i}", "v")
    write_dump(dump_of(source)[:-40])
    service, reactor, exits = daemon()
    service.startService()
    start_running(reactor)
    run_until(reactor, lambda: exits)
    assert exits == [1]
    assert "Short read or OOM loading DB. Unrecoverable error, aborting now." in logged
    assert any(line.startswith("Internal error in RDB reading offset ") for line in logged)
    assert not any(line.startswith("Ready to accept") for line in logged)
    assert service.server.keyspace.dbs[0].data == {}
    service.stopService()


def test_list_values_loaded_are_independent(srv):
    """A loaded value is a fresh object: changing it changes no other key."""
    load(srv, encode_all([DbSnapshot(0, {b"a": ListValue([b"x"]), b"b": ListValue([b"x"])},
                                     {})]))
    srv("RPUSH", "a", "y")
    assert srv("LRANGE", "b", 0, -1) == [b"x"]
    assert srv("BLPOP", "b", "0") == [b"b", b"x"]
