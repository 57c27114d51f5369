"""Servers, INFO readers, sync waits and write workloads for the
replication interop tests (tests/interop/test_replication_interop.py).

The master is a parameter: a real redis-server 7.0 or redisrepl
(`twistd -n redisrepl`), both as subprocesses with their log in
``<workdir>/redis.log``; replicas are always real redis-server 7.0
(`--replicaof`, disk load). Everything here talks to servers through
blocking redis-py clients: the servers are other processes, so a short
blocking call from the reactor thread is harmless, and the long ones
(dataset, snapshot, workload) run in threads.
"""

import dataclasses
import os
import random
import socket
import threading

import redis
from twisted.internet import defer

from tests.interop import rdb_dataset
from tests.support.processes import start_daemon, start_redis_server
from tests.support.waiting import wait_until
from tests.support.wire import encode_command

REDIS = "redis-server"
REDISREPL = "redisrepl"
WORKLOAD_DBS = (0, 3, 9)
# Keys under this prefix get TTLs of a few hundred ms: they must be gone
# (active or lazy expiry, DEL propagated) before the datasets are compared.
SHORT_TTL_PREFIX = b"short:"


# -- servers --------------------------------------------------------------------

@defer.inlineCallbacks
def start_master(testcase, kind, directives=()):
    """A master of ``kind`` (REDIS or REDISREPL) with ``directives``
    [(name, value)] and `logfile redis.log`: fires with (child, port)."""
    directives = [("logfile", "redis.log"), ("loglevel", "notice"), *directives]
    if kind == REDIS:
        extra = [arg for name, value in directives for arg in (f"--{name}", value)]
        child, port = yield start_redis_server(testcase, extra=extra)
    else:
        text = "".join(f"{name} {value}\n" for name, value in directives)
        child, port, _ = yield start_daemon(testcase, config_text=text + 'save ""\n')
    return child, port


@defer.inlineCallbacks
def start_replica(testcase, master_port=None, extra=()):
    """A real redis-server replica (disk load), attached to ``master_port``
    unless None (then attach later with REPLICAOF): (child, port)."""
    args = ["--repl-diskless-load", "disabled", "--enable-debug-command", "yes", *extra]
    if master_port is not None:
        args += ["--replicaof", "127.0.0.1", str(master_port)]
    child, port = yield start_redis_server(testcase, extra=args)
    return child, port


def server_log(child):
    """The server's log so far (both kinds log to <workdir>/redis.log)."""
    try:
        with open(os.path.join(child.workdir, "redis.log"), errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


# -- clients and INFO -------------------------------------------------------------

def client(port, db=0, timeout=60):
    """A raw redis-py client: bytes in, bytes out, replies unparsed."""
    conn = redis.Redis(host="127.0.0.1", port=port, db=db, socket_timeout=timeout,
                       protocol=2)
    conn.response_callbacks.clear()
    return conn


def call(port, *args, db=0):
    """One command on a fresh connection; its raw reply."""
    conn = client(port, db)
    try:
        return conn.execute_command(*args)
    finally:
        conn.close()


def info(port, section):
    """INFO ``section`` as {field: str}; slaveN lines stay unparsed."""
    text = call(port, "INFO", section).decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def replica_states(master_port):
    """[state of slave0, slave1, ...] from the master's INFO replication."""
    fields = info(master_port, "replication")
    states = []
    for i in range(int(fields["connected_slaves"])):
        entry = dict(kv.split("=", 1) for kv in fields.get(f"slave{i}", "").split(","))
        states.append(entry.get("state"))
    return states


def stats(port):
    """INFO stats and persistence counters a sync moves, as ints."""
    fields = {**info(port, "stats"), **info(port, "persistence")}
    return {name: int(fields[name]) for name in (
        "sync_full", "sync_partial_ok", "sync_partial_err", "total_forks", "rdb_saves")
        if name in fields}


def in_sync(master_port, *replica_ports):
    """True once every replica's link is up and has processed the master's
    whole stream (master_repl_offset == its slave_repl_offset), and the
    master counts each one online."""
    try:
        master = info(master_port, "replication")
        offset = master["master_repl_offset"]
        for port in replica_ports:
            replica = info(port, "replication")
            if replica.get("master_link_status") != "up" or \
                    replica.get("slave_repl_offset") != offset:
                return False
        states = replica_states(master_port)
    except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
        return False
    return len(states) >= len(replica_ports) and all(s == "online" for s in states)


def wait_in_sync(master_port, *replica_ports, timeout=120):
    return wait_until(lambda: in_sync(master_port, *replica_ports), timeout=timeout,
                      interval=0.05, what=f"replicas {replica_ports} in sync with "
                      f"master {master_port}")


def keyspace_counts(port):
    """{db: (keys, expires)} from INFO keyspace (avg_ttl is an estimate
    each server makes on its own: left out)."""
    counts = {}
    for db, text in info(port, "keyspace").items():
        fields = dict(kv.split("=", 1) for kv in text.split(","))
        counts[db] = (int(fields["keys"]), int(fields["expires"]))
    return counts


def same_keyspace(master_port, replica_port):
    """Key and expiry counts equal on both, db by db (keys= counts
    logically expired keys still in the dict: equal means every expiry's
    DEL reached the replica)."""
    try:
        return keyspace_counts(master_port) == keyspace_counts(replica_port)
    except (redis.ConnectionError, redis.BusyLoadingError):
        return False


def short_ttl_keys_gone(port):
    """True once every key under SHORT_TTL_PREFIX is past its TTL (KEYS
    lists none) and none is left in the dicts either: SCAN deletes each
    expired key it meets and propagates its DEL, so no later active expiry
    puts a DEL into the stream behind a test's back (KEYS alone hides
    expired keys without deleting them)."""
    for db in WORKLOAD_DBS:
        conn = client(port, db)
        try:
            if conn.execute_command("KEYS", SHORT_TTL_PREFIX + b"*"):
                return False
            cursor = b"0"
            while True:
                cursor, _ = conn.execute_command("SCAN", cursor, "MATCH",
                                                 SHORT_TTL_PREFIX + b"*", "COUNT", 1000)
                if cursor == b"0":
                    break
        finally:
            conn.close()
    return True


# -- datasets ---------------------------------------------------------------------

def snapshot(port):
    return rdb_dataset.snapshot(client(port, timeout=120))


def snapshot_differences(master_port, replica_port, strict_strings=True):
    """Key-by-key differences between master and replica (empty if equal).

    With ``strict_strings`` False an integer-looking string may be `int`
    on one side and `embstr` on the other: Redis's own INCRBYFLOAT leaves
    an embstr "3" on the master and propagates `SET k 3 KEEPTTL`, which the
    replica stores as an int (and an RDB carries it as an int too).
    """
    master, replica = snapshot(master_port), snapshot(replica_port)
    if not strict_strings:
        master, replica = _loose_strings(master), _loose_strings(replica)
    return rdb_dataset.differences(master, replica)


def _loose_strings(snap):
    return {db: {key: dataclasses.replace(value, encoding=b"int-or-embstr")
                 if value.type == b"string" and value.encoding in (b"int", b"embstr")
                 else value for key, value in keys.items()}
            for db, keys in snap.items()}


def build_dataset(port):
    rdb_dataset.build_dataset(client(port, timeout=120))


def fill(port, keys, value_size=100, db=0, prefix=b"fill:"):
    """``keys`` string keys of ``value_size`` bytes, by pipelined MSETs."""
    conn = client(port, db)
    batch = 500
    pipe = conn.pipeline(transaction=False)
    for start in range(0, keys, batch):
        args = []
        for i in range(start, min(start + batch, keys)):
            key = prefix + b"%d" % i
            args += (key, (key * (value_size // len(key) + 1))[:value_size])
        pipe.execute_command("MSET", *args)
        if len(pipe) >= 20:
            pipe.execute()
    pipe.execute()
    conn.close()


def write_until_replicas_cut(port, limit_bytes=64 << 20, value_size=100_000):
    """SET ``value_size``-byte values on the master until it has no replica
    left (or ``limit_bytes`` were written), each followed by a PING on
    another connection that must answer: bytes written. The stream kept for
    a replica that does not read grows by as much."""
    writer, pinger = client(port), client(port)
    value = b"w" * value_size
    written = 0
    try:
        while replica_states(port) and written < limit_bytes:
            if writer.execute_command("SET", b"big:%d" % (written // value_size),
                                      value) != b"OK":
                raise AssertionError("SET refused")
            if pinger.execute_command("PING") != b"PONG":
                raise AssertionError("PING unanswered")
            written += value_size
    finally:
        writer.close()
        pinger.close()
    return written


# -- the mixed workload -----------------------------------------------------------

class MixedWorkload:
    """Every kind of write a replica must reproduce, on WORKLOAD_DBS.

    Deterministic from ``seed`` on the client side; what the server
    randomises (SPOP, XADD *) or computes (INCRBYFLOAT, relative TTLs)
    reaches the replica only through the master's rewrites.
    """

    def __init__(self, port, seed=1):
        self.port = port
        self.rng = random.Random(seed)
        self.conns = {db: client(port, db) for db in WORKLOAD_DBS}

    def close(self):
        for conn in self.conns.values():
            conn.close()

    def run(self, rounds):
        for n in range(rounds):
            for db in WORKLOAD_DBS:
                self.round(self.conns[db], n, db)

    def round(self, c, n, db):
        rng = self.rng
        cmd = c.execute_command
        k = b"%d" % rng.randrange(20)
        value = b"v%d-" % n + rng.randbytes(rng.randrange(1, 80)).hex().encode()
        # strings
        cmd("SET", b"str:" + k, value)
        cmd("SET", b"str:ex:" + k, value, "EX", 3600)
        cmd("SET", b"str:px:" + k, value, "PX", 3_600_000, "NX")
        cmd("APPEND", b"str:app:" + k, value[:10])
        cmd("INCRBY", b"str:int:" + k, rng.randrange(-1000, 1000))
        cmd("INCRBYFLOAT", b"str:float:" + k, "%.5f" % rng.uniform(-10, 10))
        cmd("SETRANGE", b"str:range:" + k, rng.randrange(50), b"xyz")
        cmd("GETSET", b"str:getset:" + k, value)
        cmd("MSET", b"str:m1:" + k, b"1", b"str:m2:" + k, value)
        cmd("GETEX", b"str:m2:" + k, "EX", 7200)
        cmd("GETDEL", b"str:m1:" + k)
        cmd("SETNX", b"str:nx:" + k, value)
        # lists
        cmd("RPUSH", b"list:" + k, *(b"%d" % rng.randrange(1000) for _ in range(5)))
        cmd("LPUSH", b"list:" + k, value)
        cmd("LPOP", b"list:" + k)
        cmd("RPOP", b"list:" + k, 2)
        cmd("LINSERT", b"list:" + k, "BEFORE", value, b"ins")
        cmd("LMOVE", b"list:" + k, b"list:moved:" + k, "LEFT", "RIGHT")
        cmd("LTRIM", b"list:moved:" + k, -50, -1)
        # sets: SPOP and SMOVE pick members only the master knows
        cmd("SADD", b"set:" + k, *(b"%d" % rng.randrange(600) for _ in range(8)))
        cmd("SADD", b"set:str:" + k, *(b"m%d" % rng.randrange(100) for _ in range(4)))
        cmd("SPOP", b"set:" + k)
        cmd("SPOP", b"set:str:" + k, 2)
        cmd("SREM", b"set:" + k, b"%d" % rng.randrange(600))
        cmd("SINTERSTORE", b"set:inter:" + k, b"set:" + k, b"set:" + b"%d" % rng.randrange(20))
        cmd("SUNIONSTORE", b"set:union:" + k, b"set:" + k, b"set:str:" + k)
        # hashes
        cmd("HSET", b"hash:" + k, b"f%d" % rng.randrange(30), value, b"n", n)
        cmd("HINCRBY", b"hash:" + k, b"count", 3)
        cmd("HINCRBYFLOAT", b"hash:" + k, b"float", "%.3f" % rng.uniform(0, 5))
        cmd("HDEL", b"hash:" + k, b"f%d" % rng.randrange(30))
        cmd("HSETNX", b"hash:" + k, b"once", value)
        # sorted sets
        cmd("ZADD", b"zset:" + k, *(x for _ in range(4) for x in (
            "%.4f" % rng.uniform(-100, 100), b"m%d" % rng.randrange(200))))
        cmd("ZINCRBY", b"zset:" + k, "%.2f" % rng.uniform(-3, 3), b"m%d" % rng.randrange(200))
        cmd("ZPOPMIN", b"zset:" + k)
        cmd("ZREMRANGEBYSCORE", b"zset:" + k, "-inf", -95)
        cmd("ZRANGESTORE", b"zset:top:" + k, b"zset:" + k, 0, 4)
        cmd("ZUNIONSTORE", b"zset:union:" + k, 2, b"zset:" + k, b"zset:top:" + k)
        # streams: XADD * gets its id from the master's clock
        cmd("XADD", b"stream:" + k, "MAXLEN", "=", 30, "*", "n", n, "v", value)
        if n % 7 == 0:
            cmd("XGROUP", "CREATE", b"stream:" + k, b"g%d" % n, "$")
        # hyperloglog
        cmd("PFADD", b"hll:" + k, *(b"e%d" % rng.randrange(5000) for _ in range(10)))
        # expiries: relative ones become absolute on the master
        cmd("EXPIRE", b"hash:" + k, 3600 + n)
        cmd("PEXPIRE", b"zset:" + k, 5_000_000 + n)
        cmd("EXPIREAT", b"list:" + k, 4102444800 + n)
        cmd("PERSIST", b"str:ex:" + b"%d" % rng.randrange(20))
        # keys that expire while replicating: some left to active expiry,
        # some touched after their TTL (lazy expiry)
        cmd("SET", SHORT_TTL_PREFIX + b"set:%d:%d" % (db, n), value, "PX", rng.randrange(50, 400))
        cmd("RPUSH", SHORT_TTL_PREFIX + b"list:%d" % n, value)
        cmd("PEXPIRE", SHORT_TTL_PREFIX + b"list:%d" % n, rng.randrange(50, 400))
        # keyspace
        cmd("COPY", b"str:" + k, b"copy:" + k, "REPLACE")
        cmd("RENAME", b"copy:" + k, b"renamed:" + k)
        cmd("DEL", b"str:nx:" + b"%d" % rng.randrange(20))
        # a transaction across dbs: MULTI/EXEC with a SELECT inside
        other = WORKLOAD_DBS[(WORKLOAD_DBS.index(db) + 1) % len(WORKLOAD_DBS)]
        pipe = c.pipeline(transaction=True)
        pipe.execute_command("INCR", b"tx:counter")
        pipe.execute_command("SPOP", b"set:" + k)
        pipe.execute_command("SELECT", other)
        pipe.execute_command("LPUSH", b"tx:from:%d" % db, n)
        pipe.execute_command("SELECT", db)
        pipe.execute()
        if n % 10 == 9 and db == 9:
            cmd("FLUSHDB")
        if n % 10 == 5 and db == 3:
            cmd("SWAPDB", 3, 4)
            cmd("SWAPDB", 4, 3)


def blocking_pops(port, db=0, timeout=30):
    """Clients blocked in BLPOP, BLMOVE and BZPOPMIN, each served by a
    push from another client: the master must propagate what was served
    (a pop, a move), not the blocking command. Runs in a thread."""
    pushes = [
        (("BLPOP", b"block:list", timeout), ("RPUSH", b"block:list", b"a", b"b")),
        (("BLMOVE", b"block:src", b"block:dst", "LEFT", "RIGHT", timeout),
         ("LPUSH", b"block:src", b"x", b"y")),
        (("BZPOPMIN", b"block:zset", timeout), ("ZADD", b"block:zset", 2, b"two", 1, b"one")),
    ]
    pusher = client(port, db)
    try:
        for blocking, push in pushes:
            before = int(info(port, "clients")["blocked_clients"])
            waiter = _Blocked(port, db, blocking)
            waiter.start()
            _wait_blocking(port, before + 1)
            pusher.execute_command(*push)
            waiter.join(timeout)
            if waiter.error is not None:
                raise waiter.error
            if waiter.reply is None:
                raise AssertionError(f"{blocking[0]} was not served: {waiter.reply!r}")
    finally:
        pusher.close()


class _Blocked(threading.Thread):
    def __init__(self, port, db, command):
        super().__init__(daemon=True)
        self.conn = client(port, db)
        self.command = command
        self.reply = self.error = None

    def run(self):
        try:
            self.reply = self.conn.execute_command(*self.command)
        except Exception as error:       # re-raised by the caller
            self.error = error
        finally:
            self.conn.close()


def _wait_blocking(port, count, timeout=10.0):
    """Block the calling thread until ``count`` clients are blocked."""
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if int(info(port, "clients")["blocked_clients"]) >= count:
            return
        event.wait(0.01)
    raise AssertionError(f"no client got blocked on port {port}")


class WriteLoad(threading.Thread):
    """Writes back to back until stopped, as Redis's start_bg_complex_data:
    random commands of every type on a few hundred keys of one db,
    pipelined ``batch`` at a time."""

    def __init__(self, port, seed, db=9, batch=20):
        super().__init__(daemon=True)
        self.conn = client(port, db)
        self.rng = random.Random(seed)
        self.batch = batch
        self.stopping = threading.Event()
        self.error = None
        self.commands = 0

    def run(self):
        try:
            while not self.stopping.is_set():
                pipe = self.conn.pipeline(transaction=False)
                for _ in range(self.batch):
                    pipe.execute_command(*self.one_command())
                pipe.execute(raise_on_error=False)
                self.commands += self.batch
        except Exception as error:      # reported by stop()
            self.error = error
        finally:
            self.conn.close()

    def one_command(self):
        rng = self.rng
        k = b"load:%d" % rng.randrange(300)
        value = rng.randbytes(rng.randrange(1, 64)).hex().encode()
        kind = rng.randrange(8)
        if kind == 0:
            return ("SET", k + b":s", value)
        if kind == 1:
            return ("RPUSH", k + b":l", value)
        if kind == 2:
            return ("SADD", k + b":set", rng.randrange(1000))
        if kind == 3:
            return ("ZADD", k + b":z", rng.random() * 100, value[:8])
        if kind == 4:
            return ("HSET", k + b":h", b"f%d" % rng.randrange(50), value)
        if kind == 5:
            return ("INCRBYFLOAT", k + b":f", "1.5")
        if kind == 6:
            return ("SPOP", k + b":set")
        return ("DEL", k + b":l")

    def stop(self):
        self.stopping.set()
        self.join(60)
        if self.error is not None:
            raise AssertionError(f"write load failed: {self.error!r}")
        return self.commands


# -- a hand-driven replica connection ------------------------------------------------

class RawReplica:
    """A replica connection driven byte by byte on a blocking socket: for
    what a well-behaved redis-server replica never does (garbage PSYNC
    arguments, never reading, vanishing mid-payload)."""

    def __init__(self, port, rcvbuf=None, timeout=30):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connect, so the window the master may fill stays small.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buffer = bytearray()

    def send(self, *args):
        self.sock.sendall(encode_command([a if isinstance(a, bytes) else str(a).encode()
                                          for a in args]))

    def _more(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError(f"master closed the connection ({bytes(self.buffer)!r})")
        self.buffer += data

    def read_line(self):
        """The next line without its CRLF; the bare `\\n` keepalives a
        master sends while a save is prepared are skipped."""
        while True:
            while self.buffer[:1] == b"\n":
                del self.buffer[:1]
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[:end + 2]
                return line
            self._more()

    def read_exact(self, count):
        while len(self.buffer) < count:
            self._more()
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def read_payload(self):
        """The RDB payload after +FULLRESYNC: `$<len>` framing (disk) or
        `$EOF:<40 chars>` ... `<the same 40 chars>` (diskless)."""
        header = self.read_line()
        if not header.startswith(b"$"):
            raise AssertionError(f"expected a payload header, got {header!r}")
        if header.startswith(b"$EOF:"):
            mark = header[5:]
            while not self.buffer.endswith(mark):
                self._more()
            payload = bytes(self.buffer[:-len(mark)])
            self.buffer.clear()
            return payload
        return self.read_exact(int(header[1:]))

    def close(self):
        self.sock.close()


def replconf_handshake(raw, diskless):
    """REPLCONF listening-port / capa as redis-server sends them; True if
    both were accepted."""
    raw.send("REPLCONF", "listening-port", "6380")
    ok = raw.read_line() == b"+OK"
    capas = ("capa", "eof", "capa", "psync2") if diskless else ("capa", "psync2")
    raw.send("REPLCONF", *capas)
    return ok and raw.read_line() == b"+OK"


# -- redisrepl as a replica (tests/interop/test_replica_interop.py) ------------------

@defer.inlineCallbacks
def start_redisrepl_replica(testcase, master_port=None, directives=()):
    """`twistd -n redisrepl` as a replica of ``master_port`` (the replicaof
    directive; None: attach later with REPLICAOF), no save points unless
    ``directives`` [(name, value)] set some, log in <workdir>/redis.log:
    fires with (child, port)."""
    lines = ["logfile redis.log", "loglevel notice"]
    if "save" not in (name for name, _ in directives):
        lines.append('save ""')
    if master_port is not None:
        lines.append(f"replicaof 127.0.0.1 {master_port}")
    lines += [f"{name} {value}" for name, value in directives]
    child, port, _ = yield start_daemon(testcase, config_text="\n".join(lines) + "\n")
    return child, port


@defer.inlineCallbacks
def restart_daemon(testcase, child, port):
    """Run a stopped redisrepl again with its config file in its workdir
    (same port, same dump): the new child, log appended to the old one."""
    from tests.support.processes import daemon_env, redisrepl_argv, spawn, wait_listening
    new = spawn(testcase, redisrepl_argv(child.config_path), env=daemon_env(),
                cwd=child.workdir)
    new.workdir, new.config_path = child.workdir, child.config_path
    yield wait_listening(new, port)
    return new


def acked_offset(master_port, replica_port):
    """The offset the master's INFO shows for the replica listening on
    ``replica_port`` (what it last ACKed), or None if it is not listed
    online."""
    fields = info(master_port, "replication")
    for i in range(int(fields["connected_slaves"])):
        entry = dict(kv.split("=", 1) for kv in fields.get(f"slave{i}", "").split(","))
        if entry.get("port") == str(replica_port) and entry.get("state") == "online":
            return int(entry["offset"])
    return None


def raw_reply(port, *args, timeout=30):
    """One command on a fresh socket: its reply's exact bytes (error
    texts and status lines as the server wrote them)."""
    return raw_replies(port, args, timeout=timeout)[0]


def raw_replies(port, *commands, timeout=30):
    """``commands`` (argument tuples) pipelined on one fresh socket: the
    exact bytes of each reply, in order."""
    from tests.support.wire import split_replies
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"".join(encode_command([
            a if isinstance(a, bytes) else str(a).encode() for a in args])
            for args in commands))
        received = bytearray()
        while True:
            replies, _ = split_replies(received)
            if len(replies) >= len(commands):
                return [bytes(reply) for reply in replies]
            data = sock.recv(1 << 16)
            if not data:
                raise ConnectionError(f"closed after {bytes(received)!r}")
            received += data


def info_lines(port, section):
    """INFO ``section`` as [(field, value)] in the server's order."""
    text = call(port, "INFO", section).decode()
    return [tuple(line.split(":", 1)) for line in text.splitlines() if ":" in line]


def reloaded_snapshot_differences(master_port, replica_port):
    """snapshot_differences for a replica that reloaded its dump: a string's
    encoding is re-picked by the load (an APPENDed 30-byte raw string comes
    back embstr, in Redis too), so strings compare by value only."""
    def any_string(snap):
        return {db: {key: dataclasses.replace(value, encoding=b"string")
                     if value.type == b"string" else value for key, value in keys.items()}
                for db, keys in snap.items()}
    return rdb_dataset.differences(any_string(snapshot(master_port)),
                                   any_string(snapshot(replica_port)))


