"""The keyspace: lazy and active expiry, replica rules, swap and flush, and
the bookkeeping (SCAN index, access times) that only exists once used."""

from twisted.internet.task import Clock

from redisrepl.keyspace import Database, Keyspace
from tests.unit.harness import Harness


def new_keyspace(databases=2):
    clock = Clock()
    clock.advance(1000)
    deleted = []
    ks = Keyspace(databases, clock)
    ks.on_expired = lambda db, key: deleted.append((db.id, key))
    return ks, clock, deleted


# -- lazy expiry -------------------------------------------------------------------


def test_lazy_expiry_deletes_on_access_and_reports_it():
    """A key past its time is deleted when read, counted and reported."""
    ks, clock, deleted = new_keyspace()
    db = ks.dbs[1]
    db.set(b"k", b"v")
    db.set_expire(b"k", ks.now_ms() + 100)
    assert db.get(b"k") == b"v"
    clock.advance(0.102)
    assert db.get(b"k") is None
    assert b"k" not in db.data and db.expires == {}
    assert deleted == [(1, b"k")]
    assert ks.expired_keys == 1


def test_expiry_is_once_now_is_past_the_time():
    """A key is still there at its exact ms and gone the ms after
    (Redis's keyIsExpired: now > when)."""
    ks, clock, _ = new_keyspace()
    db = ks.dbs[0]
    db.set(b"k", b"v")
    when = ks.now_ms() + 5
    db.set_expire(b"k", when)
    clock.advance((when - ks.now_ms()) / 1000 + 0.0002)   # now == when
    assert ks.now_ms() == when
    assert db.get(b"k") == b"v"
    clock.advance(0.001)
    assert db.get(b"k") is None


def test_set_drops_ttl_unless_keepttl():
    """Overwriting drops the TTL; keepttl keeps it."""
    ks, _, _ = new_keyspace()
    db = ks.dbs[0]
    db.set(b"k", b"v")
    db.set_expire(b"k", ks.now_ms() + 100)
    db.set(b"k", b"w", keepttl=True)
    assert db.get_expire(b"k") == ks.now_ms() + 100
    db.set(b"k", b"x")
    assert db.get_expire(b"k") is None


def test_replica_reports_expired_keys_missing_but_keeps_them():
    """A replica never deletes on its own; the master's stream sees the key."""
    ks, clock, deleted = new_keyspace()
    ks.is_replica = True
    db = ks.dbs[0]
    db.set(b"k", b"v")
    db.set_expire(b"k", ks.now_ms() + 1)
    clock.advance(1)
    assert db.get(b"k") is None
    assert b"k" in db.data and deleted == []
    ks.applying_master_stream = True
    assert db.get(b"k") == b"v"
    assert ks.active_expire_cycle(1.0, lambda: 0.0) == 0
    assert b"k" in db.data


def test_nothing_expires_while_loading():
    """During a load expired keys are still present and not deleted."""
    ks, _clock, deleted = new_keyspace()
    db = ks.dbs[0]
    db.set(b"k", b"v")
    db.set_expire(b"k", 1)
    ks.loading = True
    assert db.get(b"k") == b"v"
    ks.loading = False
    assert db.get(b"k") is None
    assert deleted == [(0, b"k")]


# -- active expiry -------------------------------------------------------------------


def test_active_expiry_reclaims_everything_without_access(srv):
    """cron() alone reclaims 1000 expired keys, each propagated as DEL."""
    for i in range(1000):
        srv.db.set(b"k%d" % i, b"v")
        srv.db.set_expire(b"k%d" % i, srv.server.now_ms() + 100)
    srv.db.set(b"keep", b"v")
    srv.advance(1)
    for _ in range(200):
        srv.server.cron()
        if len(srv.db.data) == 1:
            break
    assert list(srv.db.data) == [b"keep"]
    assert srv.db.expires == {}
    deletions = [argv for argv in srv.propagated if argv[0] == b"DEL"]
    assert sorted(deletions) == sorted([b"DEL", b"k%d" % i]
                                       for i in range(1000))
    assert srv.server.keyspace.expired_keys == 1000


def test_active_expiry_leaves_unexpired_keys(srv):
    """Keys whose time has not come survive the cycle."""
    for i in range(100):
        srv("SET", f"k{i}", "v", "EX", "100")
    for _ in range(10):
        srv.server.cron()
    assert len(srv.db.data) == 100


def test_active_expiry_can_be_disabled(srv):
    """DEBUG SET-ACTIVE-EXPIRE 0's switch stops the cycle, not lazy expiry."""
    srv("SET", "k", "v", "PX", "10")
    srv.advance(1)
    srv.server.keyspace.active_expire_enabled = False
    srv.server.cron()
    assert b"k" in srv.db.data
    assert srv("GET", "k") is None


def test_active_expiry_sets_avg_ttl(srv):
    """The sampled remaining TTL feeds avg_ttl (INFO keyspace)."""
    for i in range(30):
        srv("SET", f"k{i}", "v", "EX", "100")
    srv.server.cron()
    assert 0 < srv.db.avg_ttl <= 100_000


# -- swap and flush ------------------------------------------------------------------


def test_swap_moves_contents_and_ttls():
    """swap exchanges data and expiry bookkeeping; active expiry follows."""
    ks, clock, deleted = new_keyspace()
    a, b = ks.dbs
    a.set(b"x", b"1")
    a.set_expire(b"x", ks.now_ms() + 10)
    b.set(b"y", b"2")
    ks.swap(0, 1)
    assert a.get(b"y") == b"2" and b.get(b"x") == b"1"
    assert b.get_expire(b"x") == ks.now_ms() + 10
    clock.advance(1)
    ks.active_expire_cycle(1.0, lambda: 0.0)
    assert deleted == [(1, b"x")]


def test_swap_moves_the_tracking_class_with_the_index():
    """A db whose index moves away stops paying for it, and vice versa."""
    ks, _, _ = new_keyspace()
    a, b = ks.dbs
    a.set(b"x", b"1")
    a.scan_index()
    assert type(a) is not Database and type(b) is Database
    ks.swap(0, 1)
    assert type(a) is Database and type(b) is not Database
    b.set(b"new", b"v")
    assert sorted(b.scan_index().scan(0, 10)[1]) == [b"new", b"x"]


def test_clear_drops_everything_and_the_index():
    """clear() returns the number of keys and resets TTLs and the index."""
    ks, _, _ = new_keyspace()
    db = ks.dbs[0]
    db.set(b"a", b"1")
    db.set(b"b", b"2")
    db.set_expire(b"a", ks.now_ms() + 100)
    db.scan_index()
    assert db.clear() == 2
    assert db.data == {} and db.expires == {}
    db.set(b"c", b"3")
    assert db.scan_index().scan(0, 10) == (0, [b"c"])
    assert ks.flushall() == 1


# -- bookkeeping only once used ---------------------------------------------------


def test_plain_database_until_scan_or_idletime():
    """get/set/delete run the plain class until SCAN or OBJECT needs more."""
    srv = Harness()
    srv("SET", "k", "v")
    srv("GET", "k")
    srv("DEL", "k")
    assert type(srv.db) is Database
    srv("SCAN", "0")
    assert type(srv.db) is not Database
    other = Harness()
    other("SET", "k", "v")
    other("OBJECT", "IDLETIME", "k")
    assert type(other.db) is not Database


def test_index_follows_sets_after_it_exists():
    """Keys created after the index exists are scanned, overwrites not re-added."""
    ks, _, _ = new_keyspace()
    db = ks.dbs[0]
    db.set(b"a", b"1")
    index = db.scan_index()
    db.set(b"a", b"2")
    db.set(b"b", b"1")
    assert index.scan(0, 10) == (0, [b"a", b"b"])


def test_access_times_forget_deleted_keys():
    """Deleting a key drops its access time (no leak), recreating restarts it."""
    ks, clock, _ = new_keyspace()
    db = ks.dbs[0]
    db.set(b"k", b"v")
    tracker = db.access()
    clock.advance(5)
    assert tracker.idle_ms(b"k") == 5000
    db.delete(b"k")
    assert b"k" not in tracker.last_ms
    db.set(b"k", b"v")
    assert tracker.idle_ms(b"k") == 0


def test_random_key_skips_expired_and_deleted():
    """random_key never answers a deleted or expired key."""
    ks, clock, _deleted = new_keyspace()
    db = ks.dbs[0]
    for i in range(100):
        db.set(b"k%d" % i, b"v")
    for i in range(99):
        db.set_expire(b"k%d" % i, ks.now_ms() + 1)
    clock.advance(1)
    assert db.random_key() == b"k99"
    db.delete(b"k99")
    assert db.random_key() is None
