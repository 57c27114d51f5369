"""MONITOR beside a real redis-server 7.0: the same commands give the same
lines, apart from the timestamp and the client's port."""

import re

from twisted.internet import defer

from tests.interop.test_differential import DifferentialTestCase
from tests.support import rawclient, wire

# What the commands below exercise: quoting, db changes, MULTI/EXEC order,
# failing commands, hidden admin commands, redaction, blocking commands.
COMMANDS = [
    [b"SET", b"k", b"a\nb\x01\"\\ \xff"],
    [b"SELECT", b"5"],
    [b"MULTI"], [b"SET", b"x", b"1"], [b"GET", b"x"], [b"EXEC"],
    [b"LPUSH", b"x", b"v"],
    [b"CONFIG", b"GET", b"maxmemory"],
    [b"NOSUCHCOMMAND"],
    [b"GET"],
    [b"AUTH", b"pw"],
    [b"HELLO", b"2", b"AUTH", b"user", b"pw"],
    [b"BLPOP", b"nolist", b"0.01"],
    [b"SET", b"ttl", b"v", b"EX", b"100"],
    [b"SELECT", b"0"],
    [b"ECHO", b"END"],
]
_STAMP = re.compile(rb"^\+\d+\.\d{6} \[(\d+) (127\.0\.0\.1):\d+\] ")


def normalized(line):
    """The line without its time and port, which differ between runs."""
    match = _STAMP.match(line)
    assert match, line
    return b"[%s %s] %s" % (match.group(1), match.group(2), line[match.end():])


class MonitorInteropTests(DifferentialTestCase):
    @defer.inlineCallbacks
    def monitor_lines(self, port):
        watcher = yield rawclient.connect(self, port)
        reply = yield watcher.request(b"MONITOR")
        self.assertEqual(reply, b"+OK\r\n")
        client = yield rawclient.connect(self, port)
        for argv in COMMANDS:
            client.send(wire.encode_command(argv))
            yield client.read_replies(1)
        seen = []
        while not seen or not seen[-1].endswith(b'"ECHO" "END"'):
            (line,) = yield watcher.read_replies(1)
            seen.append(line.rstrip(b"\r\n"))
        return [normalized(line) for line in seen]

    @defer.inlineCallbacks
    def test_monitor_lines_match_redis(self):
        """The same commands give the same MONITOR lines from redisrepl and redis-server."""
        expected = yield self.monitor_lines(self.redis_port)
        got = yield self.monitor_lines(self.repl_port)
        self.assertEqual(got, expected)
        self.assertIn(b'[5 127.0.0.1] "AUTH" "(redacted)"', expected)
