"""The network server over real sockets: pipelining, authentication,
limits, protocol errors, inline commands, unix sockets, IPv6, idle timeout."""

import os
import shutil
import stat
import tempfile

from twisted.internet import defer
from twisted.trial import unittest

from tests.support import rawclient, wire
from tests.support.inprocess import start_server
from tests.support.ports import ipv6_loopback_available
from tests.support.waiting import wait_until


class PipeliningTests(unittest.TestCase):
    """Any depth of pipelining, replies in order."""

    def setUp(self):
        self.server = start_server(self)

    @defer.inlineCallbacks
    def test_ten_thousand_commands_in_one_write(self):
        """10 000 INCRs sent in a single write get 10 000 replies, in order."""
        client = yield rawclient.connect(self, self.server.port)
        count = 10000
        client.send(wire.encode_command([b"INCR", b"counter"]) * count)
        replies = yield client.read_replies(count, timeout=60)
        self.assertEqual(replies, [b":%d\r\n" % i for i in range(1, count + 1)])
        self.assertEqual((yield client.call("GET", "counter")), b"10000")

    @defer.inlineCallbacks
    def test_mixed_pipeline_split_anywhere(self):
        """A pipeline cut into 1-byte writes parses exactly as one write."""
        client = yield rawclient.connect(self, self.server.port)
        stream = b"".join(wire.encode_command(c) for c in (
            [b"SET", b"k", b"v" * 100], [b"GET", b"k"], [b"APPEND", b"k", b"x"],
            [b"STRLEN", b"k"], [b"DEL", b"k"]))
        for i in range(len(stream)):
            client.send(stream[i:i + 1])
        replies = yield client.read_replies(5)
        self.assertEqual(replies, [b"+OK\r\n", b"$100\r\n" + b"v" * 100 + b"\r\n",
                                   b":101\r\n", b":101\r\n", b":1\r\n"])


class AuthTests(unittest.TestCase):
    """requirepass, AUTH pass, AUTH default pass, NOAUTH before it."""

    def setUp(self):
        self.server = start_server(self, "requirepass s3cret")

    @defer.inlineCallbacks
    def test_noauth_then_auth(self):
        """Commands get -NOAUTH until AUTH with the right password succeeds."""
        client = yield rawclient.connect(self, self.server.port)
        self.assertEqual((yield client.request("GET", "k")),
                         b"-NOAUTH Authentication required.\r\n")
        self.assertEqual((yield client.request("AUTH", "wrong")),
                         b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        self.assertEqual((yield client.request("GET", "k")),
                         b"-NOAUTH Authentication required.\r\n")
        self.assertEqual((yield client.request("AUTH", "s3cret")), b"+OK\r\n")
        self.assertEqual((yield client.request("GET", "k")), b"$-1\r\n")

    @defer.inlineCallbacks
    def test_auth_default_user(self):
        """AUTH default <pass> authenticates; another user name is refused."""
        client = yield rawclient.connect(self, self.server.port)
        self.assertEqual((yield client.request("AUTH", "other", "s3cret")),
                         b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        self.assertEqual((yield client.request("AUTH", "default", "s3cret")), b"+OK\r\n")
        self.assertEqual((yield client.request("PING")), b"+PONG\r\n")

    @defer.inlineCallbacks
    def test_hello_auth(self):
        """HELLO 2 AUTH default <pass> authenticates and replies with the map."""
        client = yield rawclient.connect(self, self.server.port)
        reply = yield client.call("HELLO", "2", "AUTH", "default", "s3cret")
        self.assertEqual(reply[:4], [b"server", b"redis", b"version", b"7.0.15"])
        self.assertEqual((yield client.request("PING")), b"+PONG\r\n")

    @defer.inlineCallbacks
    def test_auth_pipelined_with_commands(self):
        """AUTH and commands in one write: the ones after AUTH run."""
        client = yield rawclient.connect(self, self.server.port)
        client.send(wire.encode_command([b"SET", b"a", b"1"]) +
                    wire.encode_command([b"AUTH", b"s3cret"]) +
                    wire.encode_command([b"SET", b"a", b"2"]) +
                    wire.encode_command([b"GET", b"a"]))
        replies = yield client.read_replies(4)
        self.assertEqual(replies, [b"-NOAUTH Authentication required.\r\n",
                                   b"+OK\r\n", b"+OK\r\n", b"$1\r\n2\r\n"])


class LimitTests(unittest.TestCase):
    """maxclients, protocol errors, proto-max-bulk-len, query buffer limit."""

    @defer.inlineCallbacks
    def test_maxclients(self):
        """The connection past maxclients gets Redis's error and is closed."""
        server = start_server(self, "maxclients 2")
        first = yield rawclient.connect(self, server.port)
        second = yield rawclient.connect(self, server.port)
        yield first.request("PING")
        yield second.request("PING")
        third = yield rawclient.connect(self, server.port)
        rest = yield third.wait_closed()
        self.assertEqual(rest, b"-ERR max number of clients reached\r\n")
        self.assertEqual(len(server.instance.clients), 2)
        self.assertEqual((yield first.request("PING")), b"+PONG\r\n")
        info = yield first.call("INFO", "stats")
        self.assertIn(b"rejected_connections:1\r\n", info)

    @defer.inlineCallbacks
    def test_protocol_error_closes_after_reply(self):
        """A protocol error is answered after earlier replies of its write, then the link closes."""
        server = start_server(self)
        client = yield rawclient.connect(self, server.port)
        client.send(wire.encode_command([b"PING"]) + b"*1\r\nfoo\r\n" +
                    wire.encode_command([b"PING"]))
        rest = yield client.wait_closed()
        self.assertEqual(rest, b"+PONG\r\n-ERR Protocol error: expected '$', got 'f'\r\n")
        yield wait_until(lambda: not server.instance.clients, what="client removed")

    @defer.inlineCallbacks
    def test_invalid_bulk_length(self):
        """A $600000000 header (over proto-max-bulk-len) gets Redis's error."""
        server = start_server(self)
        client = yield rawclient.connect(self, server.port)
        client.send(b"*1\r\n$600000000\r\n")
        rest = yield client.wait_closed()
        self.assertEqual(rest, b"-ERR Protocol error: invalid bulk length\r\n")

    @defer.inlineCallbacks
    def test_proto_max_bulk_len_configurable(self):
        """proto-max-bulk-len bounds the bulk header, as configured."""
        server = start_server(self, "proto-max-bulk-len 1mb")
        client = yield rawclient.connect(self, server.port)
        ok = wire.encode_command([b"SET", b"k", b"x" * (1024 * 1024)])
        client.send(ok)
        self.assertEqual((yield client.read_replies(1)), [b"+OK\r\n"])
        client.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (1024 * 1024 + 1))
        self.assertEqual((yield client.wait_closed()),
                         b"-ERR Protocol error: invalid bulk length\r\n")

    @defer.inlineCallbacks
    def test_client_query_buffer_limit(self):
        """Past client-query-buffer-limit the client is closed unanswered; others carry on."""
        server = start_server(self, "client-query-buffer-limit 1mb")
        bystander = yield rawclient.connect(self, server.port)
        client = yield rawclient.connect(self, server.port)
        # One bulk argument of 2MB, sent without its end: the buffer grows.
        client.send(b"*2\r\n$4\r\nECHO\r\n$%d\r\n" % (2 * 1024 * 1024))
        chunk = b"x" * 65536
        for _ in range(24):         # 1.5MB, still short of the full argument
            if client.closed:
                break
            client.send(chunk)
        rest = yield client.wait_closed()
        self.assertEqual(rest, b"")
        self.assertEqual((yield bystander.request("PING")), b"+PONG\r\n")
        yield wait_until(lambda: len(server.instance.clients) == 1,
                         what="the offending client removed")


class InlineTests(unittest.TestCase):
    """Inline commands, as typed into telnet."""

    def setUp(self):
        self.server = start_server(self)

    @defer.inlineCallbacks
    def test_telnet_session(self):
        """Inline SET/GET/quotes/blank lines work; bad quoting is a protocol error."""
        client = yield rawclient.connect(self, self.server.port)
        client.send(b"SET greeting \"hello world\"\r\n\r\nGET greeting\n"
                    b"  exists   greeting  \r\nECHO 'it''s'\r\n")
        rest = yield client.wait_closed()
        self.assertEqual(rest, b"+OK\r\n$11\r\nhello world\r\n:1\r\n"
                               b"-ERR Protocol error: unbalanced quotes in request\r\n")

    @defer.inlineCallbacks
    def test_quit(self):
        """QUIT replies +OK and closes."""
        client = yield rawclient.connect(self, self.server.port)
        client.send(b"PING\r\nQUIT\r\nPING\r\n")
        self.assertEqual((yield client.wait_closed()), b"+PONG\r\n+OK\r\n")


class ListenerTests(unittest.TestCase):
    """unixsocket with unixsocketperm, IPv6 ::1."""

    @defer.inlineCallbacks
    def test_unix_socket_with_permissions(self):
        """The unix socket exists with unixsocketperm and serves commands."""
        # AF_UNIX paths are short (108 bytes): not under trial's deep temp dir.
        workdir = tempfile.mkdtemp(prefix="redisrepl-test-")
        self.addCleanup(shutil.rmtree, workdir, True)
        path = os.path.join(workdir, "redis.sock")
        server = start_server(self, f"unixsocket {path}\nunixsocketperm 700")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o700)
        self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode))
        client = yield rawclient.connect(self, None, unix_path=path)
        self.assertEqual((yield client.request("SET", "k", "v")), b"+OK\r\n")
        self.assertEqual((yield client.request("GET", "k")), b"$1\r\nv\r\n")
        info = yield client.call("CLIENT", "INFO")
        self.assertIn(b"addr=%s:0 " % path.encode(), info)
        self.assertEqual(len(server.instance.clients), 1)

    @defer.inlineCallbacks
    def test_ipv6_loopback(self):
        """bind ::1 serves clients over IPv6, addresses in Redis's [ip]:port form."""
        if not ipv6_loopback_available():
            raise unittest.SkipTest("no IPv6 loopback on this machine")
        server = start_server(self, bind="::1")
        client = yield rawclient.connect(self, server.port, host="::1")
        self.assertEqual((yield client.request("PING")), b"+PONG\r\n")
        info = yield client.call("CLIENT", "INFO")
        self.assertIn(b" laddr=[::1]:%d " % server.port, info)

    @defer.inlineCallbacks
    def test_two_bind_addresses(self):
        """bind 127.0.0.1 ::1 listens on both families on the one port."""
        if not ipv6_loopback_available():
            raise unittest.SkipTest("no IPv6 loopback on this machine")
        server = start_server(self, bind="127.0.0.1 ::1")
        v4 = yield rawclient.connect(self, server.port)
        v6 = yield rawclient.connect(self, server.port, host="::1")
        yield v4.request("SET", "k", "from-v4")
        self.assertEqual((yield v6.request("GET", "k")), b"$7\r\nfrom-v4\r\n")


class TimeoutTests(unittest.TestCase):
    """`timeout` closes idle clients from the cron."""

    @defer.inlineCallbacks
    def test_idle_client_closed(self):
        """With timeout 1 an idle client is closed; the server keeps no trace."""
        server = start_server(self, "timeout 1\nhz 100")
        client = yield rawclient.connect(self, server.port)
        self.assertEqual((yield client.request("PING")), b"+PONG\r\n")
        rest = yield client.wait_closed(timeout=10)
        self.assertEqual(rest, b"")
        yield wait_until(lambda: not server.instance.clients, what="client removed")


class ProtocolVersionTests(unittest.TestCase):
    """HELLO switches a live connection between RESP2 and RESP3."""

    @defer.inlineCallbacks
    def test_hello_3_then_reset(self):
        """HELLO 3 answers a map and RESP3 nulls; RESET brings RESP2 back."""
        server = start_server(self)
        client = yield rawclient.connect(self, server.port)
        self.assertEqual((yield client.request("HELLO", "3"))[:4], b"%7\r\n")
        self.assertEqual((yield client.request("GET", "missing")), b"_\r\n")
        self.assertEqual((yield client.request("RESET")), b"+RESET\r\n")
        self.assertEqual((yield client.request("GET", "missing")), b"$-1\r\n")
