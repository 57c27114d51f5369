"""Real redis-server and `twistd -n redisrepl` as subprocesses.

Both listen on a free loopback port and keep their files in a temp dir.
For trial tests they run under the reactor (spawnProcess) and stop at the
end of the test; bench/ uses the blocking variants at the bottom.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

from twisted.internet import defer
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol

from tests.support.ports import free_port, port_accepts
from tests.support.waiting import ConditionTimeout, bounded, wait_until

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Runs twistd with this interpreter, whatever `twistd` is first on PATH.
TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


def redis_server_path():
    return shutil.which("redis-server")


def redis_cli_path():
    return shutil.which("redis-cli")


def redis_server_argv(port, workdir, extra=()):
    """A throw-away redis-server: loopback only, no persistence, foreground."""
    return [redis_server_path(), "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", workdir,
            "--daemonize", "no", "--logfile", os.path.join(workdir, "redis.log"),
            *extra]


def redisrepl_argv(config_path=None, overrides=()):
    """`twistd -n redisrepl [--config FILE] [--directive value ...]`."""
    argv = TWISTD + ["-n", "--pidfile=", "redisrepl"]
    if config_path:
        argv += ["--config", config_path]
    return argv + list(overrides)


def daemon_env(extra=None):
    """The environment for a twistd child: the checkout first on the path,
    so its twisted/plugins/ is found even without an editable install."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (REPO_ROOT, env.get("PYTHONPATH")) if p)
    env.pop("NOTIFY_SOCKET", None)
    if extra:
        env.update(extra)
    return env


class Child(ProcessProtocol):
    """A subprocess under the reactor: output kept, end awaited."""

    def __init__(self):
        self.output = bytearray()
        self.ended = defer.Deferred()
        self.exit_code = None
        self.exit_signal = None
        self.done = False

    def outReceived(self, data):
        self.output += data

    errReceived = outReceived

    def processEnded(self, reason):
        self.exit_code = reason.value.exitCode
        self.exit_signal = reason.value.signal
        self.done = True
        self.ended.callback(self)

    def wait_ended(self, timeout=15.0):
        d = defer.Deferred()
        if self.done:
            d.callback(self)
        else:
            self.ended.addBoth(lambda r: (d.callback(r), r)[1])
        return bounded(d, timeout, "the process to exit")

    @defer.inlineCallbacks
    def stop(self, sig="TERM"):
        """Signal the process and wait for it; SIGKILL if it hangs."""
        if self.done:
            return
        try:
            self.transport.signalProcess(sig)
            yield self.wait_ended(15.0)
        except ProcessExitedAlready:
            pass
        except ConditionTimeout:
            if not self.done:
                self.transport.signalProcess("KILL")
        yield self.wait_ended(15.0)


def spawn(testcase, argv, env=None, cwd=None, reactor=None):
    """Start argv under the reactor; stopped (TERM) when the test ends."""
    if reactor is None:
        from twisted.internet import reactor
    child = Child()
    reactor.spawnProcess(child, argv[0], argv, env=env if env is not None
                         else dict(os.environ), path=cwd)
    testcase.addCleanup(child.stop)
    return child


@defer.inlineCallbacks
def wait_listening(child, port, host="127.0.0.1", timeout=20.0):
    """Fire once ``port`` accepts; fail early with the output if it died."""
    def ready():
        if child.done:
            raise AssertionError("process exited ({}) before listening:\n{}".format(
                child.exit_code, child.output.decode(errors="replace")))
        return port_accepts(port, host)
    yield wait_until(ready, timeout=timeout, interval=0.02,
                     what=f"port {port} to accept connections")


@defer.inlineCallbacks
def start_redis_server(testcase, extra=()):
    """A real redis-server on a free port; fires with (child, port)."""
    workdir = os.path.abspath(testcase.mktemp())
    os.makedirs(workdir)
    port = free_port()
    child = spawn(testcase, redis_server_argv(port, workdir, extra), cwd=workdir)
    child.workdir = workdir
    yield wait_listening(child, port)
    return child, port


@defer.inlineCallbacks
def start_daemon(testcase, config_text="", overrides=(), env=None,
                 wait=True):
    """`twistd -n redisrepl` with a config file in a temp dir.

    ``config_text`` gets `port` and `bind` to a free loopback port unless
    ``overrides`` choose their own. Fires with (child, port, workdir).
    """
    workdir = os.path.abspath(testcase.mktemp())
    os.makedirs(workdir)
    port = free_port()
    config_path = os.path.join(workdir, "redis.conf")
    with open(config_path, "w") as f:
        f.write(f"port {port}\nbind 127.0.0.1\ndir {workdir}\n{config_text}\n")
    child = spawn(testcase, redisrepl_argv(config_path, overrides),
                  env=daemon_env(env), cwd=workdir)
    child.workdir = workdir
    child.config_path = config_path
    if wait:
        listen_port = port
        if "--port" in overrides:
            listen_port = int(overrides[list(overrides).index("--port") + 1])
        yield wait_listening(child, listen_port)
    return child, port, workdir


# -- blocking variants, for bench/ (never used inside trial tests) -------------

def wait_port_blocking(proc, port, timeout=30.0, host="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while not port_accepts(port, host):
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:4]} exited with {proc.returncode} before listening")
        if time.monotonic() > deadline:
            raise RuntimeError(f"port {port} not listening after {timeout}s")
        time.sleep(0.05)


def stop_blocking(proc, timeout=15.0):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
