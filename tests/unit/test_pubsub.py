"""SUBSCRIBE and friends, PUBLISH, PUBSUB, and keyspace notifications: the
bytes Redis 7.0 sends, the counts, what PUBLISH propagates, and which events
each command emits (captured from a real redis-server 7.0.15)."""

import pytest

from redisrepl.propagation import REPL
from redisrepl.resp.encoder import encode
from redisrepl.resp.values import Raw, ReplyError
from tests.support.wire import split_args
from tests.unit.harness import Harness


def push2(*items):
    """A RESP2 pub/sub message: an array of bulks and integers."""
    out = [b"*%d\r\n" % len(items)]
    for item in items:
        if item is None:
            out.append(b"$-1\r\n")
        elif isinstance(item, int):
            out.append(b":%d\r\n" % item)
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(item), item))
    return b"".join(out)


def push3(*items):
    """The same message as a RESP3 push."""
    return b">" + push2(*items)[1:].replace(b"$-1\r\n", b"_\r\n")


# -- (un)subscribing --------------------------------------------------------------

def test_subscribe_confirms_each_channel_with_the_running_count(srv):
    """One message per channel, duplicates included, counting patterns."""
    reply = srv("SUBSCRIBE", "a", "b", "a")
    assert type(reply) is Raw
    assert reply == push2(b"subscribe", b"a", 1) + \
        push2(b"subscribe", b"b", 2) + push2(b"subscribe", b"a", 2)
    assert srv("PSUBSCRIBE", "p*", "a") == \
        push2(b"psubscribe", b"p*", 3) + push2(b"psubscribe", b"a", 4)


def test_unsubscribe_without_arguments_leaves_every_channel(srv):
    """In subscription order, counting down; patterns stay."""
    srv("SUBSCRIBE", "a", "b")
    srv("PSUBSCRIBE", "p*")
    assert srv("UNSUBSCRIBE") == \
        push2(b"unsubscribe", b"a", 2) + push2(b"unsubscribe", b"b", 1)
    assert srv("PUNSUBSCRIBE") == push2(b"punsubscribe", b"p*", 0)
    assert not srv.client.subscribed


def test_unsubscribing_from_nothing_still_replies_once_with_a_null(srv):
    """Redis's reply when nothing is held: [unsubscribe, nil, 0]."""
    assert srv("UNSUBSCRIBE") == push2(b"unsubscribe", None, 0)
    assert srv("PUNSUBSCRIBE") == push2(b"punsubscribe", None, 0)
    srv("HELLO", "3")
    assert srv("UNSUBSCRIBE") == push3(b"unsubscribe", None, 0)


def test_unsubscribe_from_a_channel_not_held_confirms_it(srv):
    """The name is echoed with the unchanged count."""
    srv("SUBSCRIBE", "a")
    assert srv("UNSUBSCRIBE", "x") == push2(b"unsubscribe", b"x", 1)


def test_resp3_confirmations_are_pushes(srv):
    """After HELLO 3 the same messages are > pushes."""
    srv("HELLO", "3")
    assert srv("SUBSCRIBE", "a") == push3(b"subscribe", b"a", 1)


def test_subscribe_inside_exec_is_one_element_holding_every_message(srv):
    """As Redis writes them: EXEC's array counts commands, not messages."""
    srv("MULTI")
    srv("SUBSCRIBE", "q", "r")
    srv("GET", "k")
    assert encode(srv("EXEC")) == b"*2\r\n" + push2(b"subscribe", b"q", 1) + \
        push2(b"subscribe", b"r", 2) + b"$-1\r\n"


def test_resp2_subscribed_context_refuses_other_commands(srv):
    """Only (P)(UN)SUBSCRIBE, PING, QUIT, RESET run while subscribed."""
    srv("SUBSCRIBE", "a")
    assert isinstance(srv("GET", "k"), ReplyError)
    assert isinstance(srv("PUBLISH", "a", "x"), ReplyError)
    srv("UNSUBSCRIBE")
    assert srv("GET", "k") is None


# -- PUBLISH ------------------------------------------------------------------------

def test_publish_reaches_channel_then_pattern_subscribers(srv):
    """The count is every delivery; each subscriber gets its protocol."""
    a, b = srv.new_client(), srv.new_client()
    srv("SUBSCRIBE", "news", client=a)
    srv("HELLO", "3", client=b)
    srv("PSUBSCRIBE", "n*", "*s", client=b)
    a.conn.sent.clear()
    b.conn.sent.clear()
    assert srv("PUBLISH", "news", "hi") == 3
    assert a.conn.sent == [push2(b"message", b"news", b"hi")]
    assert b.conn.sent == [push3(b"pmessage", b"n*", b"news", b"hi"),
                           push3(b"pmessage", b"*s", b"news", b"hi")]
    assert srv("PUBLISH", "other", "x") == 0


def test_publish_after_unsubscribe_or_disconnect_reaches_nobody(srv):
    """Leaving a channel, or the connection, ends delivery."""
    a, b = srv.new_client(), srv.new_client()
    srv("SUBSCRIBE", "c", client=a)
    srv("PSUBSCRIBE", "c*", client=b)
    srv("UNSUBSCRIBE", "c", client=a)
    srv.server.remove_client(b)
    assert srv("PUBLISH", "c", "x") == 0
    assert srv.server.pubsub.channels == {} and srv.server.pubsub.patterns == {}


def test_publish_goes_to_replicas_only_and_is_not_a_change(srv):
    """Redis's forceCommandPropagation(PROPAGATE_REPL): no AOF, no dirty."""
    dirty = srv.server.dirty
    srv("PUBLISH", "c", "x")
    assert srv.propagated_with_targets == [([b"PUBLISH", b"c", b"x"], REPL)]
    assert srv.server.dirty == dirty


def test_publish_inside_exec_joins_the_transaction(srv):
    """MULTI, PUBLISH, SET, EXEC: both inside one block."""
    srv("MULTI")
    srv("PUBLISH", "c", "x")
    srv("SET", "q", "1")
    srv("EXEC")
    assert srv.propagated == [[b"MULTI"], [b"PUBLISH", b"c", b"x"],
                              [b"SET", b"q", b"1"], [b"EXEC"]]


# -- PUBSUB ----------------------------------------------------------------------------

def test_pubsub_introspection(srv):
    """CHANNELS (with a pattern), NUMSUB per channel, NUMPAT distinct."""
    a, b = srv.new_client(), srv.new_client()
    srv("SUBSCRIBE", "news", "nets", "x", client=a)
    srv("SUBSCRIBE", "news", client=b)
    srv("PSUBSCRIBE", "p*", client=a)
    srv("PSUBSCRIBE", "p*", "q*", client=b)
    assert sorted(srv("PUBSUB", "CHANNELS")) == [b"nets", b"news", b"x"]
    assert sorted(srv("PUBSUB", "CHANNELS", "ne?s")) == [b"nets", b"news"]
    assert srv("PUBSUB", "NUMSUB", "news", "x", "none") == \
        [b"news", 2, b"x", 1, b"none", 0]
    assert srv("PUBSUB", "NUMSUB") == []
    assert srv("PUBSUB", "NUMPAT") == 2
    assert srv("PUBSUB", "SHARDCHANNELS") == []
    assert srv("PUBSUB", "SHARDNUMSUB", "news") == [b"news", 0]


def test_pubsub_channels_with_two_patterns_is_a_syntax_error(srv):
    """Redis's subcommand syntax error text."""
    assert srv("PUBSUB", "CHANNELS", "a", "b").message == (
        b"ERR unknown subcommand or wrong number of arguments for 'CHANNELS'."
        b" Try PUBSUB HELP.")


# -- keyspace notifications --------------------------------------------------------

def _listen(srv, flags="KEA"):
    srv("CONFIG", "SET", "notify-keyspace-events", flags)
    listener = srv.new_client()
    srv("PSUBSCRIBE", "__key*@*__:*", client=listener)
    listener.conn.sent.clear()
    return listener


def _events(listener):
    """The keyevent notifications received, as 'db:event=key', then clear."""
    events = []
    for data in listener.conn.sent:
        parts = data.split(b"\r\n")
        channel, message = parts[6], parts[8]
        if channel.startswith(b"__keyevent@"):
            db = channel[len(b"__keyevent@"):].split(b"__", 1)[0]
            event = channel.split(b":", 1)[1]
            events.append(b"%s:%s=%s" % (db, event, message))
    listener.conn.sent.clear()
    return [e.decode() for e in events]


# (command, keyevent notifications) as redis-server 7.0.15 sends them.
REDIS_EVENTS = [
    ("SET k v", ["0:set=k"]),
    ("SET k v EX 100", ["0:set=k", "0:expire=k"]),
    ("SET k v NX", []),
    ("SET k2 v GET", ["0:set=k2"]),
    ("SETNX k3 v", ["0:set=k3"]),
    ("SETEX k4 10 v", ["0:set=k4", "0:expire=k4"]),
    ("PSETEX k5 1000 v", ["0:set=k5", "0:expire=k5"]),
    ("GETSET k x", ["0:set=k"]),
    ("GETDEL k", ["0:del=k"]),
    ("GETDEL k", []),
    ("SET k v", ["0:set=k"]),
    ("GETEX k EX 100", ["0:expire=k"]),
    ("GETEX k PERSIST", ["0:persist=k"]),
    ("GETEX k PERSIST", []),
    ("GETEX k PXAT 1", ["0:del=k"]),
    ("MSET a 1 b 2", ["0:set=a", "0:set=b"]),
    ("MSETNX c 1 d 2", ["0:set=c", "0:set=d"]),
    ("MSETNX c 1 e 2", []),
    ("APPEND a x", ["0:append=a"]),
    ("APPEND new x", ["0:append=new"]),
    ("SETRANGE a 0 z", ["0:setrange=a"]),
    ("SETRANGE a 0 ''", []),
    ("SETRANGE nr 0 ''", []),
    ("INCR a2", ["0:incrby=a2"]),
    ("DECR a2", ["0:incrby=a2"]),
    ("INCRBY a2 5", ["0:incrby=a2"]),
    ("DECRBY a2 5", ["0:incrby=a2"]),
    ("INCRBYFLOAT a2 1.5", ["0:incrbyfloat=a2"]),
    ("SETBIT bb 0 1", ["0:setbit=bb"]),
    ("SETBIT bb 0 1", []),
    ("BITFIELD bb SET u8 0 255", ["0:setbit=bb"]),
    ("BITFIELD bb SET u8 0 255", []),
    ("BITOP NOT bn bb", ["0:set=bn"]),
    ("BITOP AND bn nothing", ["0:del=bn"]),
    ("DEL a b nothing", ["0:del=a", "0:del=b"]),
    ("UNLINK c d", ["0:del=c", "0:del=d"]),
    ("RENAME k2 k9", ["0:rename_from=k2", "0:rename_to=k9"]),
    ("RENAME k9 k9", []),
    ("RENAMENX k9 k3", []),
    ("MOVE k9 1", ["0:move_from=k9", "1:move_to=k9"]),
    ("COPY k3 k8", ["0:copy_to=k8"]),
    ("COPY k3 k8 REPLACE", ["0:copy_to=k8"]),
    ("EXPIRE k8 100", ["0:expire=k8"]),
    ("EXPIRE k8 0", ["0:del=k8"]),
    ("PEXPIRE k3 -1", ["0:del=k3"]),
    ("SET p v EX 100", ["0:set=p", "0:expire=p"]),
    ("PERSIST p", ["0:persist=p"]),
    ("PERSIST p", []),
    ("FLUSHDB", []),
    ("SWAPDB 0 1", []),
]


def test_keyspace_events_match_redis_command_by_command():
    """Every string/key/expire command emits Redis 7.0's events, in order."""
    srv = Harness()
    listener = _listen(srv)
    differences = []
    for line, expected in REDIS_EVENTS:
        srv(*split_args(line))
        got = _events(listener)
        if got != expected:
            differences.append((line, expected, got))
    assert differences == []


def test_expiry_emits_expired_on_both_channels():
    """A lazily expired key: 'expired' (class x), keyspace and keyevent."""
    srv = Harness()
    srv("SET", "e", "v", "PX", "10")
    listener = _listen(srv, "Kx")
    srv.advance(1)
    srv("GET", "e")
    assert listener.conn.sent == [
        push2(b"pmessage", b"__key*@*__:*", b"__keyspace@0__:e", b"expired")]
    srv("CONFIG", "SET", "notify-keyspace-events", "Ex")
    srv("SET", "f", "v", "PX", "10")
    srv.advance(1)
    srv("GET", "f")
    assert _events(listener) == ["0:expired=f"]


@pytest.mark.parametrize("flags, delivered", [
    ("", False), ("K", False), ("E", False), ("g", False), ("Kg", True),
    ("E$", False), ("KEA", True), ("Eg", True)])
def test_config_set_selects_classes_live(flags, delivered):
    """notify-keyspace-events applies at once; DEL is class g, needs K or E."""
    srv = Harness()
    srv("SET", "k", "v")
    listener = _listen(srv, flags)
    srv("DEL", "k")
    assert bool(listener.conn.sent) == delivered


def test_notifications_off_by_default(srv):
    """With the default (empty) setting nothing is published."""
    listener = srv.new_client()
    srv("PSUBSCRIBE", "*", client=listener)
    listener.conn.sent.clear()
    srv("SET", "k", "v")
    srv("DEL", "k")
    assert listener.conn.sent == []
