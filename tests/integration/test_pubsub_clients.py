"""Pub/sub and transactions through real client libraries over loopback TCP:
redis-py's PubSub and pipelines (blocking, in a worker thread, in RESP2 and
RESP3) and txredisapi's SubscriberProtocol and MULTI (on the reactor)."""

import redis
import txredisapi
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.support.inprocess import start_server
from tests.support.waiting import wait_until


class RedisPyPubSubCases:
    """redis-py's PubSub object and transaction pipelines; run in each
    protocol by the TestCases below."""

    protocol = 2

    def setUp(self):
        self.server = start_server(self)

    def client(self):
        r = redis.Redis(host="127.0.0.1", port=self.server.port,
                        socket_timeout=10, protocol=self.protocol)
        self.addCleanup(r.close)
        return r

    @defer.inlineCallbacks
    def test_subscribe_publish_unsubscribe(self):
        """Confirmations, channel and pattern messages, then unsubscribing."""
        r, publisher = self.client(), self.client()

        def body():
            p = r.pubsub()
            try:
                p.subscribe("news", "sport")
                p.psubscribe("n*")
                confirmations = [p.get_message(timeout=5) for _ in range(3)]
                receivers = publisher.publish("news", "hello")
                messages = [p.get_message(timeout=5) for _ in range(2)]
                numsub = publisher.pubsub_numsub("news", "sport", "none")
                numpat = publisher.pubsub_numpat()
                channels = sorted(publisher.pubsub_channels())
                p.unsubscribe()
                p.punsubscribe()
                left = [p.get_message(timeout=5) for _ in range(3)]
                after = publisher.publish("news", "nobody")
                return (confirmations, receivers, messages, numsub, numpat,
                        channels, left, after)
            finally:
                p.close()

        (confirmations, receivers, messages, numsub, numpat, channels, left,
         after) = yield deferToThread(body)
        self.assertEqual(
            [(m["type"], m["channel"], m["data"]) for m in confirmations],
            [("subscribe", b"news", 1), ("subscribe", b"sport", 2),
             ("psubscribe", b"n*", 3)])
        self.assertEqual(receivers, 2)
        self.assertEqual(
            [(m["type"], m["pattern"], m["channel"], m["data"])
             for m in messages],
            [("message", None, b"news", b"hello"),
             ("pmessage", b"n*", b"news", b"hello")])
        self.assertEqual(numsub, [(b"news", 1), (b"sport", 1), (b"none", 0)])
        self.assertEqual((numpat, channels), (1, [b"news", b"sport"]))
        self.assertEqual(
            sorted((m["type"], m["channel"], m["data"]) for m in left),
            [("punsubscribe", b"n*", 0), ("unsubscribe", b"news", 2),
             ("unsubscribe", b"sport", 1)])
        self.assertEqual(after, 0)
        self.assertEqual(self.server.instance.pubsub.channels, {})

    @defer.inlineCallbacks
    def test_keyspace_notifications(self):
        """CONFIG SET notify-keyspace-events, then a SET is heard."""
        r, writer = self.client(), self.client()

        def body():
            writer.config_set("notify-keyspace-events", "KEA")
            p = r.pubsub()
            try:
                p.psubscribe("__keyevent@0__:*")
                p.get_message(timeout=5)
                writer.set("k", "v", ex=100)
                return [p.get_message(timeout=5) for _ in range(2)]
            finally:
                p.close()

        messages = yield deferToThread(body)
        self.assertEqual([(m["channel"], m["data"]) for m in messages],
                         [(b"__keyevent@0__:set", b"k"),
                          (b"__keyevent@0__:expire", b"k")])

    @defer.inlineCallbacks
    def test_transaction_pipeline_and_watch(self):
        """A MULTI/EXEC pipeline returns every reply; a WATCHed key changed
        by another client makes redis-py raise WatchError."""
        r, other = self.client(), self.client()

        def body():
            with r.pipeline(transaction=True) as pipe:
                replies = pipe.set("a", "1").incr("a").get("a").execute()
            with r.pipeline() as pipe:
                pipe.watch("w")
                other.set("w", "theirs")
                pipe.multi()
                pipe.set("w", "mine")
                try:
                    pipe.execute()
                    watch_error = False
                except redis.WatchError:
                    watch_error = True
            with r.pipeline() as pipe:
                pipe.set("s", "abc").incr("s").set("t", "1")
                mixed = pipe.execute(raise_on_error=False)
            return replies, watch_error, r.get("w"), mixed

        replies, watch_error, w, mixed = yield deferToThread(body)
        self.assertEqual(replies, [True, 2, b"2"])
        self.assertTrue(watch_error)
        self.assertEqual(w, b"theirs")
        self.assertEqual(mixed[0], True)
        self.assertIsInstance(mixed[1], redis.ResponseError)
        self.assertEqual(mixed[2], True)


class RedisPyPubSubResp2Tests(RedisPyPubSubCases, unittest.TestCase):
    """redis-py in RESP2: messages are plain arrays."""

    protocol = 2


class RedisPyPubSubResp3Tests(RedisPyPubSubCases, unittest.TestCase):
    """redis-py in RESP3 (HELLO 3): messages are push frames."""

    protocol = 3


class _Collector(txredisapi.SubscriberProtocol):
    """Keeps every message it is delivered."""

    def connectionMade(self):
        self.received = []
        self.factory.collector = self
        return txredisapi.SubscriberProtocol.connectionMade(self)

    def messageReceived(self, pattern, channel, message):
        self.received.append((pattern, channel, message))


class TxRedisApiPubSubTests(unittest.TestCase):
    """txredisapi's subscriber and its MULTI/EXEC, on the test's reactor."""

    def setUp(self):
        self.server = start_server(self)

    @defer.inlineCallbacks
    def subscriber(self):
        factory = txredisapi.SubscriberFactory()
        factory.protocol = _Collector
        factory.startConnecting(
            TCP4ClientEndpoint(reactor, "127.0.0.1", self.server.port))
        handler = yield factory.deferred
        self.addCleanup(handler.disconnect)
        return handler, factory.collector

    @defer.inlineCallbacks
    def connect(self):
        conn = yield txredisapi.Connection(
            "127.0.0.1", self.server.port, reconnect=False)
        self.addCleanup(conn.disconnect)
        return conn

    @defer.inlineCallbacks
    def test_subscriber_receives_channel_and_pattern_messages(self):
        """SubscriberProtocol.messageReceived gets (pattern, channel, data)."""
        handler, collector = yield self.subscriber()
        publisher = yield self.connect()
        yield handler.subscribe("news")
        yield handler.psubscribe("n*")
        receivers = yield publisher.publish("news", "hi")
        self.assertEqual(receivers, 2)
        yield wait_until(lambda: len(collector.received) == 2, timeout=10,
                         what="two messages")
        self.assertEqual(collector.received,
                         [(None, "news", "hi"), ("n*", "news", "hi")])
        yield handler.unsubscribe("news")
        yield handler.punsubscribe("n*")
        yield wait_until(lambda: not self.server.instance.pubsub.channels
                         and not self.server.instance.pubsub.patterns,
                         timeout=10, what="subscriptions to end")
        self.assertEqual((yield publisher.publish("news", "x")), 0)

    @defer.inlineCallbacks
    def test_multi_exec_and_watch(self):
        """txredisapi's multi()/commit() and a WATCH broken by a write."""
        conn = yield self.connect()
        other = yield self.connect()
        t = yield conn.multi()
        yield t.set("a", "1")
        yield t.incr("a")
        replies = yield t.commit()
        self.assertEqual(list(replies), ["OK", 2])
        t = yield conn.watch("w")
        yield other.set("w", "theirs")
        yield t.multi()
        yield t.set("w", "mine")
        with self.assertRaises(txredisapi.WatchError):
            yield t.commit()
        self.assertEqual((yield other.get("w")), "theirs")
