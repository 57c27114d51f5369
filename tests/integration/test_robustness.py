"""Bad input and churn: many connect/disconnect cycles leave no state
behind; random byte streams never crash the server nor disturb a
well-behaved client running alongside."""

import gc
import random

from twisted.internet import defer
from twisted.trial import unittest

from redisrepl.client import Client
from redisrepl.server.protocol import RedisProtocol
from tests.support import rawclient, wire
from tests.support.inprocess import start_server
from tests.support.waiting import wait_until


def live_instances(cls):
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) is cls)


def connected_clients(info):
    for line in info.split(b"\r\n"):
        if line.startswith(b"connected_clients:"):
            return int(line.split(b":")[1])
    raise AssertionError("no connected_clients in INFO clients")


class ChurnTests(unittest.TestCase):
    """Connections come and go by every route; nothing is left behind."""

    CYCLES = 10000
    CONCURRENCY = 50

    @defer.inlineCallbacks
    def test_connect_disconnect_cycles(self):
        """10 000 connect/disconnect cycles (close, QUIT, abort, mid-command) leave no state."""
        server = start_server(self)
        watcher = yield rawclient.connect(self, server.port)
        baseline = connected_clients((yield watcher.call("INFO", "clients")))
        self.assertEqual(baseline, 1)
        protocols_before = live_instances(RedisProtocol)
        clients_before = live_instances(Client)

        endings = ["close", "quit", "abort", "partial"]

        @defer.inlineCallbacks
        def one_cycle(i):
            client = yield rawclient.connect(self, server.port)
            ending = endings[i % len(endings)]
            if ending == "quit":
                client.send(b"SET churn:%d x\r\nQUIT\r\n" % (i % 100))
                yield client.wait_closed()
            elif ending == "abort":
                client.transport.abortConnection()
                yield client.wait_closed()
            elif ending == "partial":
                client.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc")
                yield client.disconnect()
            else:
                yield client.request("PING")
                yield client.disconnect()

        @defer.inlineCallbacks
        def worker(start):
            for i in range(start, self.CYCLES, self.CONCURRENCY):
                yield one_cycle(i)

        yield defer.gatherResults([worker(n) for n in range(self.CONCURRENCY)],
                                  consumeErrors=True)
        yield wait_until(lambda: list(server.instance.clients) == [watcher_id(server)],
                         timeout=30, what="only the watcher left in clients")
        info = yield watcher.call("INFO", "clients")
        self.assertEqual(connected_clients(info), baseline)
        stats = yield watcher.call("INFO", "stats")
        self.assertIn(b"total_connections_received:%d\r\n" % (self.CYCLES + 1), stats)
        # Every protocol and Client object of the cycles was freed (memory
        # flat by object count, not by timing or RSS).
        self.assertEqual(live_instances(RedisProtocol), protocols_before)
        self.assertEqual(live_instances(Client), clients_before)


def watcher_id(server):
    ids = list(server.instance.clients)
    return ids[0] if len(ids) == 1 else None


SAFE_COMMANDS = [
    [b"SET", b"fz:a", b"1"], [b"GET", b"fz:a"], [b"INCR", b"fz:n"],
    [b"APPEND", b"fz:s", b"xyz"], [b"PING"], [b"ECHO", b"hello"],
    [b"MSET", b"fz:b", b"2", b"fz:c", b"3"], [b"STRLEN", b"fz:s"],
    [b"EXISTS", b"fz:a", b"fz:b"], [b"SETRANGE", b"fz:r", b"5", b"ab"],
    [b"BITCOUNT", b"fz:s"], [b"GETRANGE", b"fz:s", b"0", b"-1"],
]

NASTY_HEADERS = [
    b"*1\r\n$600000000\r\n", b"*99999999999\r\n", b"*-1\r\n", b"*0\r\n",
    b"*1\r\n$-5\r\n", b"*2\r\n$3\r\nGET\r\n:1\r\n", b"$5\r\nhello\r\n",
    b"\x00\x00\x00", b"\r\n\r\n", b"\"unbalanced\r\n", b"*1\r\n$4\r\nPINGXX\r\n",
    b"*3\r\n$3\r\nSET\r\n", b"*1\r\n$", b"*", b"\n",
]


def fuzz_stream(rng, length):
    """Random bytes mixed with mutated valid requests and nasty headers."""
    parts = []
    size = 0
    while size < length:
        kind = rng.random()
        if kind < 0.3:
            part = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
        elif kind < 0.7:
            part = bytearray(wire.encode_command(rng.choice(SAFE_COMMANDS)))
            for _ in range(rng.randint(0, 3)):
                op = rng.random()
                pos = rng.randrange(len(part))
                if op < 0.4:
                    part[pos] = rng.getrandbits(8)
                elif op < 0.7:
                    del part[pos]
                else:
                    part.insert(pos, rng.getrandbits(8))
            part = bytes(part)
        elif kind < 0.85:
            part = rng.choice(NASTY_HEADERS)
        else:
            line = b" ".join(rng.choice([b"GET", b"SET", b"fz:x", b"'q'", b"\"q\"",
                                         b"PING", b"", b"\\x41"]) for _ in range(rng.randint(1, 5)))
            part = line + rng.choice([b"\r\n", b"\n", b""])
        parts.append(part)
        size += len(part)
    return b"".join(parts)


class FuzzTests(unittest.TestCase):
    """Random byte streams on several connections at once."""

    SEED = 20240601
    CONNECTIONS = 8
    ROUNDS = 40          # connections opened per fuzzing slot
    STREAM_BYTES = 2048

    @defer.inlineCallbacks
    def test_random_streams_never_crash_or_disturb(self):
        """Seeded random streams on 8 connections never crash the server nor disturb a client."""
        server = start_server(self)
        rng = random.Random(self.SEED)
        good = yield rawclient.connect(self, server.port)
        streams = [[fuzz_stream(rng, rng.randint(1, self.STREAM_BYTES))
                    for _ in range(self.ROUNDS)] for _ in range(self.CONNECTIONS)]
        checks = {"good": 0}

        @defer.inlineCallbacks
        def fuzzer(slot):
            for data in streams[slot]:
                client = yield rawclient.connect(self, server.port)
                for start in range(0, len(data), 97):   # uneven chunks
                    if client.closed:
                        break
                    client.send(data[start:start + 97])
                # Most streams end mid-request: hang up rather than wait.
                yield client.disconnect()

        @defer.inlineCallbacks
        def well_behaved():
            for i in range(400):
                value = b"value-%d" % i
                self.assertEqual((yield good.request("SET", f"good:{i % 10}", value)),
                                 b"+OK\r\n")
                self.assertEqual((yield good.request("GET", f"good:{i % 10}")),
                                 b"$%d\r\n%s\r\n" % (len(value), value))
                self.assertEqual((yield good.request("INCR", "good:counter")),
                                 b":%d\r\n" % (i + 1))
                checks["good"] += 1

        yield defer.gatherResults(
            [fuzzer(slot) for slot in range(self.CONNECTIONS)] + [well_behaved()],
            consumeErrors=True)
        self.assertEqual(checks["good"], 400)
        self.assertEqual((yield good.request("PING")), b"+PONG\r\n")
        yield wait_until(lambda: list(server.instance.clients) == [watcher_id(server)]
                         and watcher_id(server) is not None,
                         timeout=30, what="only the good client left")
