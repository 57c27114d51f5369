"""Stateful differential test: hypothesis-generated sequences of commands
across strings, keys, lists, hashes, sets, sorted sets, streams,
HyperLogLog and MULTI/EXEC go to redisrepl and to a real redis-server 7.0
(both subprocesses started here on free loopback ports); every reply must be
byte-identical, except the replies Redis itself promises no order for
(SMEMBERS, SINTER, SUNION), whose elements are compared sorted.

The key space is small (four keys per type plus two shared keys that every
family writes to, so WRONGTYPE paths and type changes get exercised) and the
values come from small alphabets with integers and floats near their edges.
Nothing time-dependent is sent: EXPIRE only with large TTLs, never TTL/PTTL.
"""

import os
import shutil
import socket
import subprocess
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from twisted.trial import unittest

from tests.support import wire
from tests.support.ports import free_port
from tests.support.processes import (
    TWISTD,
    daemon_env,
    redis_server_argv,
    redis_server_path,
    stop_blocking,
    wait_port_blocking,
)

MAX_EXAMPLES = 500
STEPS_PER_EXAMPLE = 50
REPLY_TIMEOUT = 10.0

# -- the key space and the value alphabets --------------------------------------

SHARED = ["k:0", "k:1"]


def keys_of(prefix):
    """Four keys of one type, plus the shared keys any family may take over."""
    return st.sampled_from([f"{prefix}:{i}" for i in range(4)] + SHARED)


STRING_KEYS = keys_of("s")
LIST_KEYS = keys_of("l")
HASH_KEYS = keys_of("h")
SET_KEYS = keys_of("S")
ZSET_KEYS = keys_of("z")
STREAM_KEYS = keys_of("x")
HLL_KEYS = keys_of("p")
ANY_KEY = st.sampled_from([f"{p}:{i}" for p in "slhSzxp" for i in range(4)] + SHARED)

INTEGERS = st.sampled_from([
    "0", "1", "-1", "2", "7", "100", "9223372036854775807", "-9223372036854775808",
    "9223372036854775806", "-9223372036854775807", "9223372036854775808", "1.5", "abc",
    "", " 1", "01"])
SMALL_INTS = st.integers(-5, 5).map(str)
FLOATS = st.sampled_from([
    "0", "1", "-1", "1.5", "-2.25", "0.1", "-0", "inf", "-inf", "+inf", "1e308",
    "1.7976931348623157e308", "3.0000000000000004", "9007199254740993", "nan", "abc",
    "1e-320", "5"])
VALUES = st.sampled_from(["", "a", "ab", "abc", "1", "10", "-5", "3.5", "9223372036854775807",
                          "x" * 70])
MEMBERS = st.sampled_from(["a", "b", "c", "1", "2", "-3", "10", "x" * 70])
FIELDS = st.sampled_from(["f0", "f1", "f2", "f3"])
HLL_ELEMENTS = st.sampled_from(["a", "b", "c", "d", "e", "f", "1", "2", "3"]
                               + [f"e{i}" for i in range(40)])
SCORE_BOUNDS = st.sampled_from(["-inf", "+inf", "0", "1", "(1", "1.5", "(0", "2", "-1", "x"])
TTLS = st.integers(1000, 1_000_000).map(str)


def one_to(n, strategy):
    return st.lists(strategy, min_size=1, max_size=n)


def flat(pairs):
    return [item for pair in pairs for item in pair]


# -- commands whose replies are deterministic, byte for byte --------------------

STRING_COMMANDS = st.one_of(
    st.tuples(st.just("GET"), STRING_KEYS).map(list),
    st.tuples(st.just("SET"), STRING_KEYS, VALUES).map(list),
    st.tuples(st.just("INCR"), STRING_KEYS).map(list),
    st.tuples(st.just("INCRBY"), STRING_KEYS, INTEGERS).map(list),
    st.tuples(st.just("APPEND"), STRING_KEYS, VALUES).map(list),
    st.tuples(st.just("STRLEN"), STRING_KEYS).map(list),
)

LIST_COMMANDS = st.one_of(
    st.builds(lambda c, k, vs: [c, k, *vs], st.sampled_from(["LPUSH", "RPUSH"]), LIST_KEYS,
              one_to(3, VALUES)),
    st.builds(lambda c, k: [c, k], st.sampled_from(["LPOP", "RPOP", "LLEN"]), LIST_KEYS),
    st.builds(lambda c, k, n: [c, k, n], st.sampled_from(["LPOP", "RPOP"]), LIST_KEYS,
              st.sampled_from(["0", "1", "2", "5", "-1"])),
    st.tuples(st.just("LRANGE"), LIST_KEYS, SMALL_INTS, SMALL_INTS).map(list),
    st.tuples(st.just("LINDEX"), LIST_KEYS, SMALL_INTS).map(list),
    st.tuples(st.just("LREM"), LIST_KEYS, SMALL_INTS, VALUES).map(list),
    st.tuples(st.just("LINSERT"), LIST_KEYS, st.sampled_from(["BEFORE", "AFTER", "MIDDLE"]),
              VALUES, VALUES).map(list),
)

HASH_COMMANDS = st.one_of(
    st.builds(lambda k, pairs: ["HSET", k, *flat(pairs)], HASH_KEYS,
              one_to(3, st.tuples(FIELDS, VALUES))),
    st.builds(lambda k, fs: ["HDEL", k, *fs], HASH_KEYS, one_to(3, FIELDS)),
    st.builds(lambda k, fs: ["HMGET", k, *fs], HASH_KEYS, one_to(3, FIELDS)),
    st.builds(lambda c, k, f: [c, k, f], st.sampled_from(["HGET", "HEXISTS"]), HASH_KEYS,
              FIELDS),
    st.tuples(st.just("HLEN"), HASH_KEYS).map(list),
    st.tuples(st.just("HINCRBY"), HASH_KEYS, FIELDS, INTEGERS).map(list),
)

SET_COMMANDS = st.one_of(
    st.builds(lambda c, k, ms: [c, k, *ms], st.sampled_from(["SADD", "SREM", "SMISMEMBER"]),
              SET_KEYS, one_to(4, MEMBERS)),
    st.tuples(st.just("SCARD"), SET_KEYS).map(list),
    st.tuples(st.just("SISMEMBER"), SET_KEYS, MEMBERS).map(list),
)

# Redis makes no promise about the order of these replies' elements.
UNORDERED_SET_COMMANDS = st.one_of(
    st.tuples(st.just("SMEMBERS"), SET_KEYS).map(list),
    st.builds(lambda c, ks: [c, *ks], st.sampled_from(["SINTER", "SUNION"]),
              one_to(3, SET_KEYS)),
)

ZADD_FLAGS = st.lists(st.sampled_from(["NX", "XX", "GT", "LT", "CH", "INCR"]),
                      max_size=2, unique=True)
ZRANGE_TAIL = st.lists(st.sampled_from(["REV", "WITHSCORES"]), max_size=2, unique=True)


def _zrange_by_score(key, low, high, rev, limit, withscores):
    argv = ["ZRANGE", key, low, high, "BYSCORE"]
    if rev:
        argv.append("REV")
    if limit:
        argv += ["LIMIT", *limit]
    if withscores:
        argv.append("WITHSCORES")
    return argv


ZADD_COMMANDS = st.builds(lambda k, flags, pairs: ["ZADD", k, *flags, *flat(pairs)], ZSET_KEYS,
                          ZADD_FLAGS, one_to(3, st.tuples(FLOATS, MEMBERS)))

ZSET_COMMANDS = st.one_of(
    ZADD_COMMANDS,
    st.builds(lambda k, ms: ["ZREM", k, *ms], ZSET_KEYS, one_to(3, MEMBERS)),
    st.tuples(st.just("ZINCRBY"), ZSET_KEYS, FLOATS, MEMBERS).map(list),
    st.builds(lambda c, k, m: [c, k, m], st.sampled_from(["ZSCORE", "ZRANK"]), ZSET_KEYS,
              MEMBERS),
    st.builds(lambda k, a, b, tail: ["ZRANGE", k, a, b, *tail], ZSET_KEYS, SMALL_INTS,
              SMALL_INTS, ZRANGE_TAIL),
    st.builds(_zrange_by_score, ZSET_KEYS, SCORE_BOUNDS, SCORE_BOUNDS, st.booleans(),
              st.one_of(st.none(), st.tuples(SMALL_INTS, SMALL_INTS)), st.booleans()),
    st.tuples(st.just("ZCARD"), ZSET_KEYS).map(list),
    st.builds(lambda k, n: ["ZPOPMIN", k, *n], ZSET_KEYS,
              st.sampled_from([[], ["0"], ["1"], ["2"], ["10"], ["-1"]])),
)

STREAM_IDS = st.builds(lambda ms, seq: f"{ms}-{seq}", st.integers(0, 60), st.integers(0, 2))
STREAM_BOUNDS = st.one_of(st.sampled_from(["-", "+"]), STREAM_IDS,
                          st.integers(0, 60).map(str))

# Reads and trims; XADD needs increasing IDs, so it is a rule of its own.
STREAM_COMMANDS = st.one_of(
    st.builds(lambda k, a, b, count: ["XRANGE", k, a, b, *count], STREAM_KEYS, STREAM_BOUNDS,
              STREAM_BOUNDS, st.sampled_from([[], ["COUNT", "1"], ["COUNT", "3"]])),
    st.tuples(st.just("XLEN"), STREAM_KEYS).map(list),
    st.builds(lambda k, ids: ["XDEL", k, *ids], STREAM_KEYS, one_to(3, STREAM_IDS)),
    st.tuples(st.just("XTRIM"), STREAM_KEYS, st.just("MAXLEN"), st.just("="),
              st.sampled_from(["0", "1", "2", "5", "-1"])).map(list),
)

HLL_COMMANDS = st.one_of(
    st.builds(lambda k, es: ["PFADD", k, *es], HLL_KEYS, st.lists(HLL_ELEMENTS, max_size=12)),
    st.builds(lambda ks: ["PFCOUNT", *ks], one_to(2, HLL_KEYS)),
    # The HLL's bytes themselves (sparse/dense encoding, cached cardinality).
    st.tuples(st.just("GET"), HLL_KEYS).map(list),
)

KEY_COMMANDS = st.one_of(
    st.builds(lambda ks: ["DEL", *ks], one_to(3, ANY_KEY)),
    st.builds(lambda ks: ["EXISTS", *ks], one_to(3, ANY_KEY)),
    st.tuples(st.just("TYPE"), ANY_KEY).map(list),
    st.tuples(st.just("RENAME"), ANY_KEY, ANY_KEY).map(list),
    st.builds(lambda k, ttl, opt: ["EXPIRE", k, ttl, *opt], ANY_KEY, TTLS,
              st.sampled_from([[], ["NX"], ["XX"], ["GT"], ["LT"]])),
    st.tuples(st.just("PERSIST"), ANY_KEY).map(list),
)

ORDERED_COMMANDS = st.one_of(STRING_COMMANDS, LIST_COMMANDS, HASH_COMMANDS, SET_COMMANDS,
                             ZSET_COMMANDS, STREAM_COMMANDS, HLL_COMMANDS, KEY_COMMANDS)


# -- talking to both servers over blocking sockets ------------------------------

class Connection:
    """A blocking socket that sends one request and reads one whole reply."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def request(self, argv):
        self.sock.sendall(wire.encode_command(argv))
        while True:
            if self.buf:
                end = wire.reply_end(self.buf)
                if end is not None:
                    reply = bytes(self.buf[:end])
                    del self.buf[:end]
                    return reply
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk

    def close(self):
        self.sock.close()


def sorted_elements(raw):
    """An array reply with its elements in byte order (for unordered replies)."""
    kind, items = wire.parse_reply(raw)[0]
    if items is None or kind not in wire.ARRAY_TYPES:
        return raw
    return wire.encode_tree((kind, sorted(items, key=wire.encode_tree)))


class Servers:
    """redis-server and redisrepl as subprocesses, one connection to each."""

    def __init__(self):
        self.workdir = tempfile.mkdtemp(prefix="stateful-differential-")
        self.procs = []
        self.redis = self.repl = None
        try:
            self.redis = Connection(self._start_redis())
            self.repl = Connection(self._start_redisrepl())
        except BaseException:
            self.stop()
            raise

    def _start_redis(self):
        port = free_port()
        redis_dir = os.path.join(self.workdir, "redis")
        os.makedirs(redis_dir)
        proc = subprocess.Popen(redis_server_argv(port, redis_dir),
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        wait_port_blocking(proc, port)
        return port

    def _start_redisrepl(self):
        port = free_port()
        repl_dir = os.path.join(self.workdir, "redisrepl")
        os.makedirs(repl_dir)
        config = os.path.join(repl_dir, "redisrepl.conf")
        with open(config, "w") as f:
            f.write(f'port {port}\nbind 127.0.0.1\nsave ""\nappendonly no\n'
                    f"logfile {os.path.join(repl_dir, 'redisrepl.log')}\ndir {repl_dir}\n")
        argv = TWISTD + ["-n", "--pidfile=", "redisrepl", "--config", config]
        proc = subprocess.Popen(argv, env=daemon_env(), cwd=repl_dir,
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        wait_port_blocking(proc, port)
        return port

    def stop(self):
        for conn in (self.redis, self.repl):
            if conn is not None:
                conn.close()
        for proc in self.procs:
            stop_blocking(proc)
        shutil.rmtree(self.workdir, ignore_errors=True)


# -- the state machine ------------------------------------------------------------

class DifferentialMachine(RuleBasedStateMachine):
    """Random command sequences sent to both servers, replies compared."""

    servers = None   # set by the test case around a run

    def __init__(self):
        super().__init__()
        self.redis = self.servers.redis
        self.repl = self.servers.repl
        self.both(["FLUSHALL"])
        # Every request of this example, shown when a reply differs (after
        # shrinking, that is the minimal failing sequence).
        self.sent = []
        # Stream IDs handed out by XADD: above every ID already in any stream.
        self.stream_ms = 100

    def both(self, argv):
        """(redis-server reply, redisrepl reply) to one request."""
        return self.redis.request(argv), self.repl.request(argv)

    def check(self, argv, normalize=None):
        """Send argv to both servers; fail unless the replies are identical."""
        self.sent.append(argv)
        expected, actual = self.both(argv)
        if normalize is not None:
            expected, actual = normalize(expected), normalize(actual)
        if expected != actual:
            history = "\n".join("    " + " ".join(args) for args in self.sent)
            raise AssertionError(
                f"replies differ for {argv!r}:\n"
                f"    redis-server: {expected!r}\n"
                f"    redisrepl:    {actual!r}\n"
                f"after FLUSHALL and these requests:\n{history}")

    @rule(argv=STRING_COMMANDS)
    def strings(self, argv):
        """String commands (GET SET INCR INCRBY APPEND STRLEN)."""
        self.check(argv)

    @rule(argv=LIST_COMMANDS)
    def lists(self, argv):
        """List commands (pushes, pops, LRANGE LINDEX LREM LINSERT LLEN)."""
        self.check(argv)

    @rule(argv=HASH_COMMANDS)
    def hashes(self, argv):
        """Hash commands (HSET HDEL HGET HMGET HLEN HEXISTS HINCRBY)."""
        self.check(argv)

    @rule(argv=SET_COMMANDS)
    def sets(self, argv):
        """Set commands with ordered replies (SADD SREM SCARD SISMEMBER SMISMEMBER)."""
        self.check(argv)

    @rule(argv=UNORDERED_SET_COMMANDS)
    def set_members(self, argv):
        """SMEMBERS SINTER SUNION, compared as multisets of elements."""
        self.check(argv, normalize=sorted_elements)

    @rule(argv=ZADD_COMMANDS)
    def zadd(self, argv):
        """ZADD with any mix of NX XX GT LT CH INCR (invalid mixes are errors)."""
        self.check(argv)

    @rule(argv=ZSET_COMMANDS)
    def zsets(self, argv):
        """Sorted-set commands (ZADD flags, ZINCRBY, ZRANGE forms, ZPOPMIN ...)."""
        self.check(argv)

    @rule(key=STREAM_KEYS, fields=one_to(2, st.tuples(FIELDS, VALUES)), seq=st.integers(0, 3),
          stale=st.sampled_from([None] * 12 + ["0-0", "1-1", "50-0"]))
    def xadd(self, key, fields, seq, stale):
        """XADD with an explicit ID: mostly increasing, sometimes stale (an error)."""
        if stale is None:
            self.stream_ms += 1
            entry_id = f"{self.stream_ms}-{seq}"
        else:
            entry_id = stale
        self.check(["XADD", key, entry_id, *flat(fields)])

    @rule(argv=STREAM_COMMANDS)
    def streams(self, argv):
        """Stream reads, deletes and exact trims (XRANGE XLEN XDEL XTRIM)."""
        self.check(argv)

    @rule(argv=HLL_COMMANDS)
    def hyperloglog(self, argv):
        """PFADD PFCOUNT and the HLL string's bytes."""
        self.check(argv)

    @rule(argv=KEY_COMMANDS)
    def keys(self, argv):
        """Generic key commands (DEL EXISTS TYPE RENAME EXPIRE PERSIST)."""
        self.check(argv)

    @rule(block=st.lists(ORDERED_COMMANDS, min_size=2, max_size=3))
    def transaction(self, block):
        """A MULTI/EXEC block of 2-3 commands: QUEUED replies and EXEC's array."""
        self.check(["MULTI"])
        for argv in block:
            self.check(argv)
        self.check(["EXEC"])


class StatefulDifferentialTests(unittest.SynchronousTestCase):
    """redisrepl answers hypothesis-generated command sequences as redis-server 7.0 does."""

    def setUp(self):
        if redis_server_path() is None:
            raise unittest.SkipTest("redis-server is not installed")
        self.servers = Servers()
        self.addCleanup(self.servers.stop)

    def test_command_sequences_across_types(self):
        """Every reply to every generated sequence is identical on both servers."""
        DifferentialMachine.servers = self.servers
        try:
            run_state_machine_as_test(DifferentialMachine, settings=settings(
                max_examples=MAX_EXAMPLES, stateful_step_count=STEPS_PER_EXAMPLE,
                deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow]))
        finally:
            DifferentialMachine.servers = None
