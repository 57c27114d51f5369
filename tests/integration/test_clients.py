"""Real client libraries against redisrepl over loopback TCP: redis-py
(blocking, run in a thread so the reactor keeps serving) and txredisapi."""

import redis
import txredisapi
from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.support.inprocess import start_server


class RedisPyCases:
    """redis-py's synchronous client, each test body in a worker thread; run
    in each protocol by the TestCases below."""

    protocol = None   # redis-py's default

    def setUp(self):
        self.server = start_server(self)

    def client(self, **kwargs):
        if self.protocol is not None:
            kwargs.setdefault("protocol", self.protocol)
        r = redis.Redis(host="127.0.0.1", port=self.server.port,
                        socket_timeout=10, **kwargs)
        self.addCleanup(r.close)
        return r

    def in_thread(self, fn, *args):
        return deferToThread(fn, *args)

    @defer.inlineCallbacks
    def test_strings_and_keys(self):
        """SET/GET/INCR/MSET/EXPIRE/DEL round-trip through redis-py."""
        r = self.client()

        def body():
            assert r.ping() is True
            assert r.set("k", "v") is True
            assert r.get("k") == b"v"
            assert r.set("k", "w", nx=True) is None
            assert r.set("k", "w", xx=True, get=True) == b"v"
            assert r.incr("n") == 1
            assert r.incrby("n", 41) == 42
            assert r.incrbyfloat("f", 1.5) == 1.5
            assert r.mset({"a": "1", "b": "2"}) is True
            assert r.mget("a", "b", "missing") == [b"1", b"2", None]
            assert r.expire("a", 100) is True
            assert 0 < r.ttl("a") <= 100
            assert r.exists("a", "b", "missing") == 2
            assert r.type("a") == b"string"
            assert r.delete("a", "b") == 2
            assert r.append("k", "x") == 2
            assert r.getrange("k", 0, -1) == b"wx"
            assert r.setbit("bits", 7, 1) == 0
            assert r.bitcount("bits") == 1
            assert sorted(r.keys("*")) == [b"bits", b"f", b"k", b"n"]
            assert r.dbsize() == 4
            return True

        self.assertTrue((yield self.in_thread(body)))

    @defer.inlineCallbacks
    def test_errors_are_raised_as_response_errors(self):
        """Redis's error replies surface as redis-py's ResponseError subclasses."""
        r = self.client()

        def body():
            r.set("s", "not a number")
            try:
                r.incr("s")
            except redis.ResponseError as error:
                return str(error)
            return None

        self.assertEqual((yield self.in_thread(body)),
                         "value is not an integer or out of range")

    @defer.inlineCallbacks
    def test_pipeline_and_scan_iter(self):
        """A redis-py pipeline of 1000 commands and scan_iter see every key."""
        r = self.client()

        def body():
            pipe = r.pipeline(transaction=False)
            for i in range(1000):
                pipe.set(f"key:{i}", i)
            assert all(pipe.execute())
            return sorted(r.scan_iter(match="key:*", count=100))

        keys = yield self.in_thread(body)
        self.assertEqual(keys, sorted(b"key:%d" % i for i in range(1000)))

    @defer.inlineCallbacks
    def test_info_and_config(self):
        """redis-py parses INFO and CONFIG GET replies as from Redis 7.0."""
        r = self.client()

        def body():
            return r.info(), r.info("replication"), r.config_get("maxmemory*")

        info, replication, config = yield self.in_thread(body)
        self.assertEqual(info["redis_version"], "7.0.15")
        self.assertEqual(info["tcp_port"], self.server.port)
        self.assertEqual(replication["role"], "master")
        self.assertEqual(replication["connected_slaves"], 0)
        self.assertEqual(config["maxmemory"], "0")
        self.assertEqual(config["maxmemory-policy"], "noeviction")

    @defer.inlineCallbacks
    def test_client_name_and_list(self):
        """client_setname shows in CLIENT LIST as parsed by redis-py."""
        r = self.client(client_name="itest")

        def body():
            return r.client_getname(), r.client_list(), r.client_id()

        name, clients, client_id = yield self.in_thread(body)
        self.assertEqual(name, "itest")
        mine = [c for c in clients if c["name"] == "itest"]
        self.assertEqual(len(mine), 1)
        self.assertEqual(int(mine[0]["id"]), client_id)



class RedisPyTests(RedisPyCases, unittest.TestCase):
    """redis-py with its default protocol: RESP3 from redis-py 7 on (it
    connects with HELLO 3)."""

    @defer.inlineCallbacks
    def test_default_protocol(self):
        """redis-py with default settings (RESP3 from redis-py 7 on) connects
        and reads pings, strings, INFO, CONFIG GET and CLIENT LIST."""
        r = redis.Redis(host="127.0.0.1", port=self.server.port, socket_timeout=10)
        self.addCleanup(r.close)

        def body():
            return (r.ping(), r.set("k", "v"), r.get("k"), r.get("missing"),
                    r.info(), r.config_get("*"), r.client_list(),
                    r.connection_pool.get_connection().protocol)

        ping, set_, got, missing, info, config, clients, protocol = \
            yield self.in_thread(body)
        self.assertEqual((ping, set_, got, missing), (True, True, b"v", None))
        self.assertEqual(info["redis_version"], "7.0.15")
        self.assertEqual(config["maxmemory"], "0")
        self.assertGreater(len(config), 100)
        self.assertEqual([c["resp"] for c in clients], ["3"])
        self.assertEqual(int(protocol), 3)


class RedisPyResp2Tests(RedisPyCases, unittest.TestCase):
    """redis-py with protocol=2: plain RESP2, no HELLO."""

    protocol = 2


class TxRedisApiTests(unittest.TestCase):
    """txredisapi, a Twisted-native client, on the same reactor."""

    def setUp(self):
        self.server = start_server(self)

    @defer.inlineCallbacks
    def connect(self, **kwargs):
        conn = yield txredisapi.Connection(
            "127.0.0.1", self.server.port, reconnect=False, **kwargs)
        self.addCleanup(conn.disconnect)
        return conn

    @defer.inlineCallbacks
    def test_basics(self):
        """txredisapi SET/GET/INCR/MGET/DELETE/EXPIRE/TTL/KEYS."""
        conn = yield self.connect()
        self.assertEqual((yield conn.ping()), "PONG")
        self.assertEqual((yield conn.set("k", "v")), "OK")
        self.assertEqual((yield conn.get("k")), "v")
        self.assertEqual((yield conn.incr("n")), 1)
        self.assertEqual((yield conn.incrby("n", 9)), 10)
        self.assertEqual((yield conn.mget(["k", "n", "missing"])), ["v", 10, None])
        self.assertEqual((yield conn.expire("k", 100)), 1)
        ttl = yield conn.ttl("k")
        self.assertTrue(0 < ttl <= 100, ttl)
        self.assertEqual(sorted((yield conn.keys("*"))), ["k", "n"])
        self.assertEqual((yield conn.delete(["k", "n"])), 2)
        self.assertEqual((yield conn.dbsize()), 0)

    @defer.inlineCallbacks
    def test_select_db_and_info(self):
        """txredisapi's dbid SELECTs on connect; its INFO parser reads the keyspace."""
        conn = yield self.connect(dbid=3)
        yield conn.set("in3", "yes")
        dbs = self.server.instance.keyspace.dbs
        self.assertEqual((len(dbs[0].data), len(dbs[3].data)), (0, 1))
        info = yield conn.info("keyspace")
        self.assertEqual(info["db3"], "keys=1,expires=0,avg_ttl=0")

    @defer.inlineCallbacks
    def test_password(self):
        """txredisapi's password= sends AUTH before anything else."""
        self.server = start_server(self, "requirepass s3cret")
        conn = yield self.connect(password="s3cret")
        self.assertEqual((yield conn.set("k", "v")), "OK")
        self.assertEqual((yield conn.get("k")), "v")
