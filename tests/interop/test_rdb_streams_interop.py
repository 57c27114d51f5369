"""Streams in RDB against a real redis-server 7.0: its dumps decode into
streams that answer as it does (and keep splitting nodes as it does), our
encoding loads into it with the same answers, and DUMP bytes agree.

Our side runs on the sans-IO harness (tests/unit/harness.py) with the
decoded value stored under the key; the real server is a subprocess with
its own temp dir. Both are driven by the same command scripts with explicit
IDs, so only delivery and seen times differ between servers, and those
travel inside the dumps.
"""

import os
import struct

import redis
from twisted.internet import defer, utils
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from redisrepl.rdb import DbSnapshot, Entry, RdbDecoder, encode_all, load_payload
from redisrepl.rdb.constants import TYPE_STREAM_LISTPACKS
from redisrepl.rdb.crc64 import crc64
from redisrepl.rdb.payload import dump_payload
from redisrepl.rdb.primitives import encode_i64_le, encode_length, encode_string
from redisrepl.rdb.streams import encode_node
from redisrepl.resp.values import NULL_ARRAY, OK, Map
from redisrepl.stream import SEQ_MASK
from tests.support.ports import free_port
from tests.support.processes import redis_server_argv, spawn, start_redis_server, wait_listening
from tests.support.tools import finished_loading, require_tool
from tests.support.waiting import wait_until
from tests.unit.harness import Harness

NODE_ENTRIES = 3
BIG = "v" * 5000          # past stream-node-max-bytes: a node of its own

# A stream with several nodes, SAMEFIELDS and other entries, a node split by
# bytes, a 64-bit ms delta, tombstones (one a node's last entry, one in the
# last node), an exact trim inside a node, three groups, pending entries,
# claimed and acked ones.
BUILD = [
    *(("XADD", "s", f"{i}-0", "temp", str(i * 10), "name", f"sensor-{i}")
      for i in range(1, 8)),
    ("XADD", "s", "8-0", "other", "-5"),
    ("XADD", "s", "9-0", "temp", BIG),
    ("XADD", "s", "10-3", "temp", "12345678901", "name", "x" * 70),
    ("XADD", "s", "11-0", "temp", "1", "name", "y"),
    ("XADD", "s", "1000000000000-5", "temp", "2", "name", "z"),
    ("XADD", "s", "1000000000000-6", "temp", "3", "name", "z"),
    ("XADD", "s", "1000000000000-7", "temp", "4", "name", "z"),
    ("XDEL", "s", "2-0", "6-0", "11-0", "1000000000000-6"),
    ("XTRIM", "s", "MINID", "=", "2-0"),
    ("XGROUP", "CREATE", "s", "readers", "0"),
    ("XREADGROUP", "GROUP", "readers", "alice", "COUNT", "3", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "readers", "bob", "COUNT", "2", "STREAMS", "s", ">"),
    ("XGROUP", "CREATECONSUMER", "s", "readers", "carol"),
    ("XCLAIM", "s", "readers", "carol", "0", "3-0"),
    ("XACK", "s", "readers", "5-0"),
    ("XGROUP", "CREATE", "s", "late", "$"),
    ("XGROUP", "CREATE", "s", "mid", "6-0"),
    ("XADD", "e", "1-0", "f", "v"),
    ("XDEL", "e", "1-0"),
    ("XGROUP", "CREATE", "g", "grp", "$", "MKSTREAM"),
    # Deleted entries 1 and 2 bytes longer than the smallest stand-in.
    *(("XADD", "t", f"{i}-0", "f", value)
      for i, value in enumerate(["a", "x", "k", "k", "xy", "k"], 1)),
    ("XDEL", "t", "2-0", "5-0"),
]

# What happens after the load, on both servers: node splits and trims must
# follow the loaded layout (tombstone counts and listpack sizes included).
FOLLOW_UP = [
    ("XTRIM", "s", "MINID", "=", "6-0"),
    *(("XADD", "s", f"2000000000000-{i}", "temp", str(i), "name", "later")
      for i in range(5)),
    ("XTRIM", "s", "MINID", "=", "10-0"),
    ("XADD", "s", "MINID", "~", "1000000000000-6", "2000000000001-0", "temp", "9"),
    ("XDEL", "s", "2000000000000-1"),
    ("XACK", "s", "readers", "3-0", "4-0"),
    ("XADD", "e", "5-0", "f", "v"),
    ("XADD", "g", "7-0", "f", "v"),
    ("XGROUP", "SETID", "g", "grp", "0"),
    ("XADD", "t", "7-0", "f", "v"),
    ("XTRIM", "t", "MAXLEN", "=", "2"),
]

KEYS = ("s", "e", "g", "t")


def _client(port):
    """redis-py with raw replies: arrays, bulk bytes, ints and nil only."""
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=60, protocol=2)
    client.response_callbacks.clear()
    return client


def _flat(reply):
    """Our reply as a RESP2 client sees it (maps are flat arrays)."""
    if reply is NULL_ARRAY:
        return None
    if reply is OK:
        return b"OK"
    if isinstance(reply, Map):
        return [_flat(x) for pair in reply for x in pair]
    if isinstance(reply, list):
        return [_flat(x) for x in reply]
    return reply


def _harness():
    srv = Harness()
    srv("CONFIG", "SET", "stream-node-max-entries", str(NODE_ENTRIES))
    return srv


def _views(call):
    """What both servers are compared on, for every stream key (no idle
    times: the two clocks differ)."""
    views = {}
    for key in KEYS:
        groups = call("XINFO", "GROUPS", key)
        view = [call("XINFO", "STREAM", key, "FULL", "COUNT", "0"),
                call("XRANGE", key, "-", "+"),
                call("XREVRANGE", key, "+", "-", "COUNT", "2"), groups]
        for group in groups:
            view.append(call("XPENDING", key, group[1]))
            rows = call("XPENDING", key, group[1], "-", "+", "100")
            view.append([(entry_id, owner, count) for entry_id, owner, _idle, count in rows])
        views[key] = view
    return views


def _nodes(stream):
    return [(n.master_id, n.last_id, n.live, n.deleted, n.fixed_bytes, list(n.fields))
            for n in stream.nodes]


def _ours(srv):
    return lambda *args: _flat(srv(*args))


def _decode_file(path):
    """The streams of an RDB file, through the streaming decoder."""
    decoder = RdbDecoder()
    events = []
    with open(path, "rb") as f:
        while chunk := f.read(4096):
            events += decoder.feed(chunk)
    events += decoder.close() or []
    return {event.key: event.value for event in events if isinstance(event, Entry)}


def _v1_payload(stream):
    """A DUMP payload of ``stream`` as RDB_TYPE_STREAM_LISTPACKS (pre-7.0)."""
    parts = [encode_length(len(stream.nodes))]
    starts = stream.node_starts + [1 << 128]
    for index, node in enumerate(stream.nodes):
        live = [(i, stream.entries[i])
                for i in stream.entries.irange(node.master_id, starts[index + 1] - 1)]
        parts += [encode_string(node.master_id.to_bytes(16, "big")),
                  encode_string(encode_node(node, live))]
    last = stream.last_id
    parts += [encode_length(len(stream)), encode_length(last >> 64),
              encode_length(last & SEQ_MASK), encode_length(len(stream.groups or ()))]
    for name, group in (stream.groups or {}).items():
        parts += [encode_string(name), encode_length(group.last_id >> 64),
                  encode_length(group.last_id & SEQ_MASK), encode_length(len(group.pel))]
        for entry_id, nack in group.pel.items():
            parts += [entry_id.to_bytes(16, "big"), encode_i64_le(nack.delivery_time),
                      encode_length(nack.delivery_count)]
        parts.append(encode_length(len(group.consumers)))
        for cname, consumer in group.consumers.items():
            parts += [encode_string(cname), encode_i64_le(consumer.seen_time),
                      encode_length(len(consumer.pel))]
            parts += [i.to_bytes(16, "big") for i in consumer.pel]
    data = bytes((TYPE_STREAM_LISTPACKS,)) + b"".join(parts) + struct.pack("<H", 9)
    return data + struct.pack("<Q", crc64(data))


class RdbStreamsInteropTests(unittest.TestCase):
    """Stream values between redisrepl's codec and redis-server 7.0."""

    def setUp(self):
        require_tool("redis-server")
        self.check_rdb = require_tool("redis-check-rdb")

    @defer.inlineCallbacks
    def real_server(self, extra=()):
        args = ["--stream-node-max-entries", str(NODE_ENTRIES), *extra]
        _, port = yield start_redis_server(self, extra=args)
        return _client(port)

    def assert_same_views(self, real, srv):
        theirs = _views(real.execute_command)
        ours = _views(_ours(srv))
        for key in KEYS:
            self.assertEqual(ours[key], theirs[key], f"stream {key!r} differs")

    def assert_same_follow_up(self, real, srv):
        for command in FOLLOW_UP:
            self.assertEqual(_flat(srv(*command)), real.execute_command(*command), command)
            info = ("XINFO", "STREAM", command[2] if command[0] == "XGROUP" else command[1])
            self.assertEqual(_flat(srv(*info)), real.execute_command(*info), command)
        self.assert_same_views(real, srv)

    @defer.inlineCallbacks
    def test_redis_dump_decodes_to_streams_that_answer_alike(self):
        """Streams SAVEd by redis-server decode into values whose XINFO STREAM
        FULL, XRANGE and XPENDING match the server's, also after more writes."""
        real = yield self.real_server()

        def check():
            for command in BUILD:
                real.execute_command(*command)
            real.execute_command("SAVE")
            values = _decode_file(os.path.join(
                real.execute_command("CONFIG", "GET", "dir")[1].decode(), "dump.rdb"))
            built = _harness()
            for command in BUILD:
                built(*command)
            srv = _harness()
            for key in KEYS:
                srv.db.set(key.encode(), values[key.encode()])
                # Node layout, tombstone counts and listpack sizes from the
                # dump are what our model computes for the same commands.
                self.assertEqual(_nodes(values[key.encode()]),
                                 _nodes(built.db.data[key.encode()]), key)
            self.assert_same_views(real, srv)
            self.assert_same_follow_up(real, srv)
        yield deferToThread(check)

    @defer.inlineCallbacks
    def test_our_rdb_loads_into_redis_server_alike(self):
        """Streams built by our commands and written by encode_all pass
        redis-check-rdb; redis-server started on the file answers as we do,
        also after more writes (stand-in tombstones count as the originals)."""
        srv = _harness()
        for command in BUILD:
            srv(*command)
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        path = os.path.join(workdir, "ours.rdb")
        with open(path, "wb") as f:
            f.write(encode_all([DbSnapshot(0, srv.db.data, {})]))
        out, err, code = yield utils.getProcessOutputAndValue(
            self.check_rdb, [path], env=dict(os.environ))
        self.assertEqual(code, 0, (out + err).decode(errors="replace"))
        self.assertIn(b"RDB looks OK", out)
        port = free_port()
        child = spawn(self, redis_server_argv(port, workdir, [
            "--dbfilename", "ours.rdb", "--stream-node-max-entries", str(NODE_ENTRIES)]),
            cwd=workdir)
        yield wait_listening(child, port)
        yield wait_until(lambda: finished_loading(port), timeout=30, what="redis-server to load")
        real = _client(port)

        def check():
            self.assertEqual(real.execute_command("DBSIZE"), len(KEYS))
            self.assert_same_views(real, srv)
            self.assert_same_follow_up(real, srv)
        yield deferToThread(check)

    @defer.inlineCallbacks
    def test_dump_payloads_agree_byte_for_byte(self):
        """DUMP of a stream without tombstones in redis-server equals our
        encoding of the decoded value; our payloads (tombstones included)
        RESTORE there under sanitize-dump-payload yes."""
        real = yield self.real_server(["--rdbcompression", "no",
                                       "--sanitize-dump-payload", "yes"])

        def check():
            for command in BUILD:
                if command[0] != "XDEL" and command[:2] != ("XTRIM", "s"):
                    real.execute_command(*command)
            for key in ("s", "g"):
                payload = real.execute_command("DUMP", key)
                self.assertEqual(dump_payload(load_payload(payload), compress=False),
                                 payload)
            srv = _harness()
            for command in BUILD:
                srv(*command)
            for key in KEYS:
                ours = dump_payload(srv.db.data[key.encode()])
                real.execute_command("RESTORE", f"copy-{key}", "0", ours)
                self.assertEqual(_flat(srv("XINFO", "STREAM", key, "FULL")),
                                 real.execute_command("XINFO", "STREAM", f"copy-{key}", "FULL"))
        yield deferToThread(check)

    @defer.inlineCallbacks
    def test_version_1_streams_load_as_redis_derives_them(self):
        """A pre-7.0 stream payload (type 15) gets the same first ID, entries
        added and groups' entries-read from us as from redis-server."""
        real = yield self.real_server()

        def check():
            srv = _harness()
            for command in BUILD:
                srv(*command)
            for key in KEYS:
                payload = _v1_payload(srv.db.data[key.encode()])
                real.execute_command("RESTORE", f"old-{key}", "0", payload)
                srv.db.set(f"old-{key}".encode(), load_payload(payload))
                self.assertEqual(
                    _flat(srv("XINFO", "STREAM", f"old-{key}", "FULL")),
                    real.execute_command("XINFO", "STREAM", f"old-{key}", "FULL"))
                self.assertEqual(_flat(srv("XINFO", "GROUPS", f"old-{key}")),
                                 real.execute_command("XINFO", "GROUPS", f"old-{key}"))
        yield deferToThread(check)
