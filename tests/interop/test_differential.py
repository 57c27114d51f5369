"""Differential tests: the same requests to redisrepl and to a real
redis-server 7.0, both started here on free loopback ports; the raw reply
bytes must be identical.

The requests are data (tests/interop/corpus/): one test method per corpus
file, so a failure names the family and the engineer who owns it. A failing
method lists every differing line, not only the first.

Every corpus runs twice: in RESP2 (CorpusTests), and in RESP3
(Resp3CorpusTests), where both connections send HELLO 3 first and go back to
RESP3 after any request that may leave it (HELLO, RESET), so every reply of
the corpus is also compared as a RESP3 client reads it.
"""

import codecs
import os

from twisted.internet import defer
from twisted.internet.error import ConnectionDone
from twisted.trial import unittest

from tests.interop import corpus
from tests.support import rawclient, wire
from tests.support.inprocess import start_server
from tests.support.processes import redis_server_path, start_redis_server
from tests.support.waiting import ConditionTimeout, wait_until

SENTINEL = wire.encode_command([b"ECHO", b"END"])
SENTINEL_REPLY = b"$3\r\nEND\r\n"
HELLO_3 = [b"HELLO", b"3"]
# Requests after which a RESP3 run sends HELLO 3 again.
LEAVE_RESP3 = (b"hello", b"reset")
MAX_REPORTED = 40


class Pair:
    """One connection to each server; requests go to both."""

    def __init__(self, redis, repl):
        self.redis = redis
        self.repl = repl

    @defer.inlineCallbacks
    def request(self, args, mode=""):
        """(redis reply, redisrepl reply), raw bytes or a closed marker."""
        payload = wire.encode_command(args)
        replies = []
        for client in (self.redis, self.repl):
            if client.closed:
                replies.append(b"<connection closed>")
                continue
            client.send(payload)
            if mode == "noreply":
                replies.append(None)
                continue
            try:
                raw = (yield client.read_replies(1, timeout=10))[0]
            except (ConnectionDone, ConditionTimeout) as error:   # a difference
                raw = (f"<{error.__class__.__name__}>").encode()
            replies.append(raw)
        return tuple(replies)

    @defer.inlineCallbacks
    def use_resp3(self):
        """HELLO 3 on both connections; both must answer with a map (their
        ids and versions differ, so the shape is what is compared)."""
        redis, repl = yield self.request(HELLO_3)
        if corpus.normalize("shape", redis) != corpus.normalize("shape", repl) \
                or not redis.startswith(b"%"):
            raise AssertionError(
                f"HELLO 3 differs:\n    redis-server: {redis!r}\n"
                f"    redisrepl:    {repl!r}")

    @defer.inlineCallbacks
    def resync(self, token):
        """After a difference, drop whatever replies either side still owes
        (or sent extra) so one bug shows as one differing line, not a cascade."""
        marker = wire.encode_command([b"ECHO", token])
        expected = b"$%d\r\n%s\r\n" % (len(token), token)
        for client in (self.redis, self.repl):
            if client.closed:
                continue
            client.send(marker)
            for _ in range(100):
                try:
                    (raw,) = yield client.read_replies(1, timeout=10)
                except (ConnectionDone, ConditionTimeout):
                    break
                if raw == expected:
                    break


def describe(lineno, text, redis, repl):
    return (f"line {lineno}: {text}\n    redis-server: {redis!r}\n"
            f"    redisrepl:    {repl!r}")


class DifferentialTestCase(unittest.TestCase):
    """Base: a real redis-server and an in-process redisrepl per test."""

    def setUp(self):
        if redis_server_path() is None:
            self.fail("redis-server 7.0 is not on PATH (apt-get install redis-server)")
        return self._start()

    @defer.inlineCallbacks
    def _start(self):
        _child, self.redis_port = yield start_redis_server(self)
        self.repl = start_server(self, "save \"\"\nappendonly no\n")
        self.repl_port = self.repl.port

    @defer.inlineCallbacks
    def connect_pair(self):
        redis = yield rawclient.connect(self, self.redis_port)
        repl = yield rawclient.connect(self, self.repl_port)
        return Pair(redis, repl)


def _corpus_test(path, resp3=False):
    @defer.inlineCallbacks
    def test(self):
        data = corpus.load(path)
        admin = yield self.connect_pair()
        yield admin.request([b"FLUSHALL"])
        for args in data.setup:
            yield admin.request(args)
        pair = yield self.connect_pair()
        if resp3:
            yield pair.use_resp3()
        differences = []
        for request in data.requests:
            redis, repl = yield pair.request(request.args, request.mode)
            if corpus.normalize(request.mode, redis) != corpus.normalize(request.mode, repl):
                differences.append(describe(request.lineno, request.text, redis, repl))
                yield pair.resync(b"resync-%d" % request.lineno)
            if resp3 and request.args and request.args[0].lower() in LEAVE_RESP3:
                yield pair.use_resp3()
        for args in data.teardown:
            yield admin.request(args)
        if differences:
            shown = differences[:MAX_REPORTED]
            more = len(differences) - len(shown)
            listing = "\n".join(shown) + (f"\n... and {more} more" if more else "")
            self.fail(f"{os.path.basename(path)}: {len(differences)} of "
                      f"{len(data.requests)} replies differ from redis-server's:\n"
                      f"{listing}")
    name = os.path.splitext(os.path.basename(path))[0]
    test.__name__ = "test_corpus_" + name
    protocol = "RESP3" if resp3 else "RESP2"
    test.__doc__ = (f"corpus/{name}.txt in {protocol}: every reply is "
                    f"byte-identical to redis-server's.")
    return test


class CorpusTests(DifferentialTestCase):
    """One test method per tests/interop/corpus/*.txt file, in RESP2."""


class Resp3CorpusTests(DifferentialTestCase):
    """The same corpora after HELLO 3: every reply as a RESP3 client gets it."""


for _path in corpus.corpus_files():
    for _case, _resp3 in ((CorpusTests, False), (Resp3CorpusTests, True)):
        _test = _corpus_test(_path, _resp3)
        setattr(_case, _test.__name__, _test)
del _path, _test, _case, _resp3


def load_raw_cases(path=None):
    """(line number, request bytes) for each case of protocol.raw."""
    path = path or os.path.join(corpus.CORPUS_DIR, "protocol.raw")
    cases = []
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip(b"\r\n")
            if line.strip() and not line.startswith(b"#"):
                cases.append((lineno, codecs.escape_decode(line)[0]))
    return cases


class ProtocolTests(DifferentialTestCase):
    """Raw bytes, malformed ones included, answered as redis-server does."""

    @defer.inlineCallbacks
    def exchange(self, port, data, timeout=5.0, sentinel=True):
        """Send data (+ ECHO END) in one write; everything received until the
        END reply or the close, and how it ended."""
        client = yield rawclient.connect(self, port)
        client.send(data + SENTINEL if sentinel else data)
        try:
            yield _wait_for(client, timeout)
        except ConditionTimeout:
            return bytes(client.buffer), f"no reply or close in {timeout}s"
        yield client.disconnect()
        if bytes(client.buffer).endswith(SENTINEL_REPLY):
            return bytes(client.buffer), "open"
        return bytes(client.buffer), "closed"

    @defer.inlineCallbacks
    def compare(self, cases, sentinel=True):
        differences = []
        for lineno, data in cases:
            redis = yield self.exchange(self.redis_port, data, sentinel=sentinel)
            repl = yield self.exchange(self.repl_port, data, sentinel=sentinel)
            if redis != repl:
                differences.append(describe(lineno, repr(data), redis, repl))
        return differences

    @defer.inlineCallbacks
    def test_protocol_corpus(self):
        """corpus/protocol.raw: raw requests get the same bytes and the same close."""
        cases = load_raw_cases()
        differences = yield self.compare(cases)
        if differences:
            listing = "\n".join(differences)
            self.fail(f"{len(differences)} of {len(cases)} raw requests differ:\n{listing}")

    @defer.inlineCallbacks
    def test_too_big_inline_request(self):
        """An inline request past 64KB without a newline: Redis's error, then close."""
        differences = yield self.compare([(0, b"A" * (70 * 1024))], sentinel=False)
        self.assertEqual(differences, [], "\n".join(differences))


def _wait_for(client, timeout):
    """Until the END reply arrives or the connection closes."""
    return wait_until(
        lambda: client.closed or bytes(client.buffer).endswith(SENTINEL_REPLY),
        timeout=timeout, what="END or close")
