"""Redis 7.0's own programs against redisrepl: redis-cli (one-shot and
interactive, with its hints), redis-benchmark, and Debian's stock
redis.conf loaded by the daemon."""

import fcntl
import os
import pty
import select
import shutil
import struct
import termios

from twisted.internet import defer, protocol, reactor, utils
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.support import rawclient
from tests.support.inprocess import start_server
from tests.support.ports import free_port
from tests.support.processes import daemon_env, redisrepl_argv, spawn, wait_listening
from tests.support.waiting import wait_until

DEBIAN_REDIS_CONF = "/etc/redis/redis.conf"


def require(tool):
    path = shutil.which(tool)
    if path is None:
        raise AssertionError(f"{tool} is not on PATH (apt-get install redis-tools)")
    return path


class RedisCliTests(unittest.TestCase):
    """redis-cli as a subprocess, as a user would run it."""

    def setUp(self):
        self.cli = require("redis-cli")
        self.server = start_server(self)

    @defer.inlineCallbacks
    def run_cli(self, *args, stdin=None):
        argv = ["-h", "127.0.0.1", "-p", str(self.server.port)] + list(args)
        if stdin is None:
            out, err, code = yield utils.getProcessOutputAndValue(
                self.cli, argv, env=dict(os.environ))
        else:
            out, err, code = yield deferToThread(_run_with_stdin, [self.cli] + argv, stdin)
        self.assertEqual(code, 0, (out, err))
        return out

    @defer.inlineCallbacks
    def test_ping(self):
        """`redis-cli ping` prints PONG."""
        self.assertEqual((yield self.run_cli("ping")), b"PONG\n")

    @defer.inlineCallbacks
    def test_set_get_and_errors(self):
        """redis-cli shows values, nil and error replies as with Redis."""
        self.assertEqual((yield self.run_cli("set", "k", "hello world")), b"OK\n")
        self.assertEqual((yield self.run_cli("get", "k")), b"hello world\n")
        self.assertEqual((yield self.run_cli("--no-raw", "get", "missing")), b"(nil)\n")
        self.assertEqual((yield self.run_cli("--no-raw", "incr", "k")),
                         b"(error) ERR value is not an integer or out of range\n")
        self.assertEqual((yield self.run_cli("--no-raw", "get", "a", "b")),
                         b"(error) ERR wrong number of arguments for 'get' command\n")
        self.assertEqual((yield self.run_cli("--no-raw", "FOO")),
                         b"(error) ERR unknown command 'FOO', with args beginning with: \n")

    @defer.inlineCallbacks
    def test_info(self):
        """`redis-cli info` prints every default section with Redis's fields."""
        out = yield self.run_cli("info")
        for header in (b"# Server", b"# Clients", b"# Memory", b"# Persistence",
                       b"# Stats", b"# Replication", b"# CPU", b"# Keyspace"):
            self.assertIn(header + b"\r\n", out)
        self.assertIn(b"redis_version:7.0.15\r\n", out)
        self.assertIn(b"tcp_port:%d\r\n" % self.server.port, out)
        self.assertIn(b"role:master\r\n", out)

    @defer.inlineCallbacks
    def test_config_get_star(self):
        """`redis-cli config get '*'` lists name/value pairs, maxmemory among them."""
        out = yield self.run_cli("config", "get", "*")
        lines = out.split(b"\n")[:-1]
        self.assertEqual(len(lines) % 2, 0)
        pairs = dict(zip(lines[::2], lines[1::2], strict=True))
        self.assertEqual(pairs[b"maxmemory"], b"0")
        self.assertEqual(pairs[b"port"], str(self.server.port).encode())
        self.assertGreater(len(pairs), 150)

    @defer.inlineCallbacks
    def test_scan_and_repeat_options(self):
        """redis-cli -r repeats a command; --scan walks the keyspace with SCAN."""
        yield self.run_cli("-r", "5", "incr", "counter")
        self.assertEqual((yield self.run_cli("get", "counter")), b"5\n")
        yield self.run_cli("mset", "a:1", "x", "a:2", "y", "b:1", "z")
        out = yield self.run_cli("--scan", "--pattern", "a:*")
        self.assertEqual(sorted(out.split()), [b"a:1", b"a:2"])

    @defer.inlineCallbacks
    def test_commands_from_stdin(self):
        """Commands piped into redis-cli run in order."""
        out = yield self.run_cli(stdin=b"set x 1\nincr x\nget x\n")
        self.assertEqual(out, b"OK\n2\n2\n")

    @defer.inlineCallbacks
    def test_rdb_dump_over_sync(self):
        """`redis-cli --rdb FILE` (REPLCONF rdb-only + SYNC) gets a dump redis-check-rdb accepts."""
        yield self.run_cli("set", "k", "v")
        yield self.run_cli("rpush", "l", "a", "b")
        path = os.path.join(self.mktemp() + ".rdb")
        yield self.run_cli("--rdb", path)     # it reports on stderr
        check = yield utils.getProcessOutputAndValue(
            require("redis-check-rdb"), [path], env=dict(os.environ))
        self.assertEqual(check[2], 0, check)
        self.assertIn(b"2 keys read", check[0])

    @defer.inlineCallbacks
    def test_replica_mode_shows_the_write_stream(self):
        """`redis-cli --replica` (rdb-filter-only "") then prints each propagated write."""
        process = RecordingProcess()
        reactor.spawnProcess(process, self.cli, [self.cli, "-h", "127.0.0.1", "-p",
                                                 str(self.server.port), "--replica"],
                             env=dict(os.environ))
        self.addCleanup(process.stop)
        yield wait_until(lambda: self.server.instance.repl.links
                         and self.server.instance.repl.links[0].state == "online")
        yield self.run_cli("set", "seen", "yes")
        yield wait_until(lambda: b'"set","seen","yes"' in process.output.lower())

    @defer.inlineCallbacks
    def test_interactive_hints(self):
        """Interactive redis-cli shows its `set` argument hint and runs commands in a terminal."""
        screen = yield deferToThread(
            _interactive, [self.cli, "-h", "127.0.0.1", "-p", str(self.server.port)],
            [(b"set ", b"key value"), (b"\x15ping\r", b"PONG"), (b"quit\r", None)])
        self.assertIn(b"key value", screen)
        self.assertIn(b"PONG", screen)


def _run_with_stdin(argv, data):
    import subprocess
    proc = subprocess.run(argv, input=data, capture_output=True, timeout=30,
                          check=False)
    return proc.stdout, proc.stderr, proc.returncode


def _interactive(argv, steps, timeout=10.0):
    """Run argv in a pseudo-terminal; for each (keys, expected) step type the
    keys and wait for ``expected`` to show. Returns everything displayed.
    Runs in a thread; bounded by ``timeout`` overall."""
    import time
    deadline = time.monotonic() + timeout
    pid, fd = pty.fork()
    if pid == 0:        # the child: become redis-cli on the pty
        os.environ["TERM"] = "xterm"
        os.execv(argv[0], argv)
    # A real terminal size, so linenoise need not probe the cursor position.
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
    screen = bytearray()
    pos = 0
    answered = 0

    def read_until(marker):
        nonlocal pos
        while True:
            found = screen.find(marker, pos)
            if found >= 0:
                pos = found + len(marker)
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {marker!r} on the terminal: {bytes(screen)!r}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:     # the child closed the terminal
                    data = b""
                if not data:
                    raise AssertionError(f"terminal closed before {marker!r}: {bytes(screen)!r}")
                screen.extend(data)
                # linenoise may still ask where the cursor is: answer as a terminal.
                nonlocal answered
                while screen.count(b"\x1b[6n") > answered:
                    os.write(fd, b"\x1b[1;1R")
                    answered += 1

    try:
        read_until(b"> ")
        for keys, expected in steps:
            os.write(fd, keys)
            if expected:
                read_until(expected)
        while time.monotonic() < deadline:
            done, _status = os.waitpid(pid, os.WNOHANG)
            if done:
                pid = None
                break
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    screen.extend(os.read(fd, 4096))
                except OSError:
                    pass
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    return bytes(screen)


class RedisBenchmarkTests(unittest.TestCase):
    """redis-benchmark's implemented tests complete without error replies
    (a short run: this is a functional check, never a timed one)."""

    @defer.inlineCallbacks
    def test_benchmark_runs_clean(self):
        """redis-benchmark -t set,get,incr,mset,ping completes, every reply valid."""
        tool = require("redis-benchmark")
        server = start_server(self)
        out, err, code = yield utils.getProcessOutputAndValue(tool, [
            "-h", "127.0.0.1", "-p", str(server.port), "-c", "10", "-n", "2000",
            "-P", "4", "-t", "ping,set,get,incr,mset", "-q", "--csv"],
            env=dict(os.environ))
        self.assertEqual(code, 0, (out, err))
        self.assertNotIn(b"ERR", out + err)
        lines = out.decode().splitlines()
        for name in ("PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"):
            self.assertTrue(any(line.startswith(f'"{name}"') for line in lines),
                            (name, out))
        self.assertEqual(len(server.instance.keyspace.dbs[0].data) > 0, True)


class DebianConfigTests(unittest.TestCase):
    """The redis.conf Debian's redis-server 7.0 package installs."""

    @defer.inlineCallbacks
    def test_stock_debian_config_starts(self):
        """The daemon starts from Debian's stock /etc/redis/redis.conf (paths overridden)."""
        if not os.path.exists(DEBIAN_REDIS_CONF):
            self.fail(f"{DEBIAN_REDIS_CONF} is missing (apt-get install redis-server)")
        if not os.access(DEBIAN_REDIS_CONF, os.R_OK):
            raise unittest.SkipTest(f"{DEBIAN_REDIS_CONF} is not readable by this user")
        port = free_port()
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        child = spawn(self, redisrepl_argv(DEBIAN_REDIS_CONF, [
            "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir,
            "--logfile", os.path.join(workdir, "redis.log"), "--pidfile", "",
            "--daemonize", "no", "--supervised", "no", "--unixsocket", ""]),
            env=daemon_env(), cwd=workdir)
        yield wait_listening(child, port)
        client = yield rawclient.connect(self, port)
        self.assertEqual((yield client.request("PING")), b"+PONG\r\n")
        self.assertEqual((yield client.call("CONFIG", "GET", "databases")),
                         [b"databases", b"16"])


class RecordingProcess(protocol.ProcessProtocol):
    """A child whose stdout is kept; stop() ends it."""

    def __init__(self):
        self.output = b""
        self.ended = False

    def outReceived(self, data):
        self.output += data

    def processEnded(self, reason):
        self.ended = True

    def stop(self):
        if not self.ended:
            self.transport.signalProcess("KILL")
