"""WATCH signals from the keyspace, pub/sub delivery and notifications, and
the engine's MULTI and subscribed-context gates."""

from redisrepl.config import NOTIFY_GENERIC, NOTIFY_KEYEVENT, NOTIFY_KEYSPACE
from redisrepl.resp.values import QUEUED, ReplyError
from tests.unit.harness import Harness


def watching(srv, key, db=None):
    client = srv.new_client()
    db = db or srv.db
    db.watch(client, key)
    client.watching.append((db, key))
    return client


def test_set_and_delete_of_a_watched_key_flag_the_watcher():
    """Writing or deleting a watched key marks the transaction dirty."""
    srv = Harness()
    a, b = watching(srv, b"k"), watching(srv, b"gone")
    srv.db.set(b"k", b"v")
    assert a.dirty_cas and not b.dirty_cas
    srv.db.delete(b"gone")          # absent: nothing changes
    assert not b.dirty_cas


def test_expiry_of_a_watched_key_flags_the_watcher():
    """A watched key that expires is a modification too."""
    srv = Harness()
    srv.db.set(b"k", b"v")
    srv.db.set_expire(b"k", srv.server.now_ms() + 100)
    client = watching(srv, b"k")
    srv.advance(1)
    assert srv.db.get(b"k") is None
    assert client.dirty_cas


def test_flush_flags_only_watched_keys_that_existed():
    """FLUSHDB touches watched keys that were there, as Redis does."""
    srv = Harness()
    srv.db.set(b"here", b"v")
    here, absent = watching(srv, b"here"), watching(srv, b"absent")
    srv.db.clear()
    assert here.dirty_cas and not absent.dirty_cas


def test_swapdb_flags_watched_keys_present_in_either_db():
    """SWAPDB touches a watched key that exists on either side."""
    srv = Harness()
    db0, db1 = srv.server.keyspace.dbs[0], srv.server.keyspace.dbs[1]
    db1.set(b"k", b"v")
    client = watching(srv, b"k", db0)
    srv.server.keyspace.swap(0, 1)
    assert client.dirty_cas
    assert db0.watched == {b"k": [client]}   # watches stay with the number


def test_unwatch_all_clears_the_registry():
    """UNWATCH forgets every key and the dirty flag."""
    srv = Harness()
    client = watching(srv, b"k")
    srv.db.set(b"k", b"v")
    srv.server.unwatch_all(client)
    assert srv.db.watched == {} and not client.dirty_cas


def test_publish_reaches_channel_and_pattern_subscribers_per_protocol():
    """RESP2 subscribers get arrays, RESP3 ones pushes; the count is returned."""
    srv = Harness()
    pubsub = srv.server.pubsub
    a, b = srv.new_client(), srv.new_client()
    b.resp = 3
    pubsub.subscribe(a, b"news")
    pubsub.psubscribe(b, b"n*")
    assert pubsub.publish(b"news", b"hi") == 2
    assert a.conn.sent == [b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"]
    assert b.conn.sent == [
        b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"]
    pubsub.remove_client(a)
    assert pubsub.publish(b"news", b"x") == 1


def test_keyspace_notifications_follow_the_configured_classes():
    """notify publishes on both channels only for enabled classes."""
    srv = Harness()
    srv.server.notify_flags = NOTIFY_KEYSPACE | NOTIFY_KEYEVENT | NOTIFY_GENERIC
    listener = srv.new_client()
    srv.server.pubsub.psubscribe(listener, b"__key*__:*")
    srv.server.notify(NOTIFY_GENERIC, b"del", b"k", 0)
    assert len(listener.conn.sent) == 2
    srv.server.notify_flags = 0
    srv.server.notify(NOTIFY_GENERIC, b"del", b"k", 0)
    assert len(listener.conn.sent) == 2


def test_commands_are_queued_inside_multi():
    """With a MULTI open, commands answer QUEUED and are kept in order."""
    srv = Harness()
    srv.client.multi = []
    assert srv("SET", "k", "v") is QUEUED
    assert [argv for _cmd, argv in srv.client.multi] == [[b"SET", b"k", b"v"]]
    assert srv.db.get(b"k") is None


def test_rejected_command_inside_multi_dooms_the_transaction():
    """A queue-time error marks the transaction for EXECABORT."""
    srv = Harness()
    srv.client.multi = []
    assert isinstance(srv("GET"), ReplyError)
    assert srv.client.multi_error


def test_subscribed_resp2_client_may_only_subscribe_ping_quit_reset():
    """Redis's RESP2 subscribed-context error; RESP3 has no such limit."""
    srv = Harness()
    srv.server.pubsub.subscribe(srv.client, b"c")
    assert srv("GET", "k") == ReplyError(
        "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
        "PING / QUIT / RESET are allowed in this context")
    srv.client.resp = 3
    assert srv("GET", "k") is None
