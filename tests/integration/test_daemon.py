"""`twistd -n redisrepl` as a real daemon process: start-up log lines,
command-line overrides, logfile/loglevel, sd_notify READY=1, SHUTDOWN,
and the shipped etc/redis.conf."""

import os
import shutil
import signal
import socket
import tempfile

from twisted.internet import defer
from twisted.trial import unittest

from tests.support import rawclient
from tests.support.ports import free_port, port_accepts
from tests.support.processes import REPO_ROOT, start_daemon, wait_listening
from tests.support.waiting import wait_until

READY_LINE = "Ready to accept connections"


def read_text(path):
    if not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return f.read()


class DaemonTests(unittest.TestCase):
    """The daemon as an operator runs it."""

    @defer.inlineCallbacks
    def test_ready_line_in_logfile(self):
        """The logfile gets the PID and `Ready to accept connections` lines, Redis-style."""
        child, _port, workdir = yield start_daemon(
            self, "logfile redis.log\nloglevel notice\n")
        log_path = os.path.join(workdir, "redis.log")
        text = yield wait_until(lambda: READY_LINE in read_text(log_path)
                                and read_text(log_path), what="the ready line")
        self.assertIn(f"pid={child.transport.pid}", text)
        ready = next(line for line in text.splitlines() if READY_LINE in line)
        # "<pid>:M 21 Nov 2026 15:21:34.123 * Ready to accept connections tcp"
        self.assertTrue(ready.startswith(f"{child.transport.pid}:M "), ready)
        self.assertIn(" * Ready to accept connections", ready)

    @defer.inlineCallbacks
    def test_port_override_on_command_line(self):
        """`--port N` after the config file wins over the file's port."""
        override = free_port()
        _child, file_port, _workdir = yield start_daemon(
            self, "", overrides=["--port", str(override)])
        client = yield rawclient.connect(self, override)
        self.assertEqual((yield client.request("PING")), b"+PONG\r\n")
        self.assertEqual((yield client.call("CONFIG", "GET", "port")),
                         [b"port", str(override).encode()])
        self.assertFalse(port_accepts(file_port))

    @defer.inlineCallbacks
    def test_loglevel_warning_hides_notices(self):
        """loglevel warning keeps notice lines (the ready line) out of the log."""
        _child, port, workdir = yield start_daemon(
            self, "logfile redis.log\nloglevel warning\n")
        client = yield rawclient.connect(self, port)
        self.assertEqual((yield client.request("PING")), b"+PONG\r\n")
        self.assertNotIn(READY_LINE, read_text(os.path.join(workdir, "redis.log")))

    @defer.inlineCallbacks
    def test_stdout_logging_without_logfile(self):
        """With no logfile the daemon logs to stdout (twistd -n), Redis-style."""
        child, _port, _workdir = yield start_daemon(self, "loglevel notice\n")
        yield wait_until(lambda: READY_LINE.encode() in child.output,
                         what="the ready line on stdout")

    @defer.inlineCallbacks
    def test_sd_notify_ready(self):
        """With supervised systemd, READY=1 reaches $NOTIFY_SOCKET once the port listens."""
        # AF_UNIX paths are short (108 bytes): not under trial's deep temp dir.
        workdir = tempfile.mkdtemp(prefix="redisrepl-test-")
        self.addCleanup(shutil.rmtree, workdir, True)
        notify_path = os.path.join(workdir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(notify_path)
        sock.setblocking(False)
        received = []

        def datagram():
            try:
                received.append(sock.recv(4096))
            except BlockingIOError:
                pass
            return any(b"READY=1" in d for d in received)

        _child, port, _ = yield start_daemon(
            self, "supervised systemd\n", env={"NOTIFY_SOCKET": notify_path},
            wait=False)
        yield wait_until(datagram, timeout=20, what="READY=1 on NOTIFY_SOCKET")
        # READY=1 is sent once listening: the port must already accept.
        self.assertTrue(port_accepts(port))

    @defer.inlineCallbacks
    def test_shutdown_stops_the_process(self):
        """SHUTDOWN NOSAVE closes the connection unanswered; the process exits 0."""
        child, port, workdir = yield start_daemon(self, "logfile redis.log\n")
        client = yield rawclient.connect(self, port)
        self.assertEqual((yield client.request("PING")), b"+PONG\r\n")
        client.send(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
        rest = yield client.wait_closed(timeout=15)
        self.assertEqual(rest, b"")
        yield child.wait_ended(timeout=15)
        self.assertEqual(child.exit_code, 0)
        self.assertIn("ready to exit, bye bye", read_text(os.path.join(workdir, "redis.log")))

    @defer.inlineCallbacks
    def test_sigterm_stops_cleanly(self):
        """SIGTERM stops the daemon cleanly (0 or twistd's re-raised SIGTERM), pidfile removed."""
        child, port, workdir = yield start_daemon(self, "pidfile redis.pid\n")
        pidfile = os.path.join(workdir, "redis.pid")
        self.assertEqual(read_text(pidfile).strip(), str(child.transport.pid))
        # A served PING proves the reactor runs, so twistd's SIGTERM handler is
        # installed (the service starts, and listens, just before that).
        client = yield rawclient.connect(self, port)
        self.assertEqual((yield client.request("PING")), b"+PONG\r\n")
        child.transport.signalProcess("TERM")
        yield child.wait_ended(timeout=15)
        self.assertTrue(child.exit_code == 0 or child.exit_signal == signal.SIGTERM,
                        (child.exit_code, child.exit_signal))
        self.assertFalse(os.path.exists(pidfile))

    @defer.inlineCallbacks
    def test_bad_directive_stops_startup(self):
        """An unknown directive stops start-up with Redis's "Bad directive" message naming it."""
        child, _port, _workdir = yield start_daemon(
            self, "no-such-directive yes\n", wait=False)
        yield child.wait_ended(timeout=30)
        self.assertNotEqual(child.exit_code, 0)
        output = child.output.decode(errors="replace")
        self.assertIn("no-such-directive", output)
        self.assertIn("Bad directive or wrong number of arguments", output)

    @defer.inlineCallbacks
    def test_shipped_redis_conf(self):
        """etc/redis.conf starts the daemon (port and dir overridden to stay inside the test)."""
        conf = os.path.join(REPO_ROOT, "etc", "redis.conf")
        if not os.path.exists(conf):
            self.fail("etc/redis.conf is missing")
        port = free_port()
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        from tests.support.processes import daemon_env, redisrepl_argv, spawn
        child = spawn(self, redisrepl_argv(conf, [
            "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir,
            "--logfile", "", "--pidfile", "", "--daemonize", "no"]),
            env=daemon_env(), cwd=workdir)
        yield wait_listening(child, port)
        client = yield rawclient.connect(self, port)
        self.assertEqual((yield client.request("PING")), b"+PONG\r\n")
