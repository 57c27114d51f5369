#!/usr/bin/env python3
"""BGSAVE of a large keyspace in redisrepl and redis-server, side by side.

Starts a real redis-server and redisrepl (`twistd -n -r epoll redisrepl`),
each on a free loopback port in a temp dir, and:

  1. loads N keys into each (default 1,000,000: `key:<i>` -> `value:<i>`,
     DEBUG POPULATE's shape) with pipelined MSETs;
then for each round (default 3), for each server in turn:
  2. starts a probe client that sends requests back to back (GET, and SET of
     the value a key already holds, on random keys; or PING) and timestamps
     every reply;
  3. sends BGSAVE and polls INFO persistence until `rdb_bgsave_in_progress:0`;
  4. reports the save time (BGSAVE sent -> save finished), the longest gap
     between two probe replies while the save ran (the stall clients see),
     the same gap measured just before the save (the baseline), the fork time
     (`latest_fork_usec`), `rdb_last_cow_size` and the dump's size;
  5. times a foreground SAVE of the same data.

and prints the medians side by side with the ratio redisrepl / redis-server.

    python bench/bgsave.py                     # 1M keys, SET/GET probe
    python bench/bgsave.py -n 200000 --probe ping --markdown

A measuring tool, never a test: nothing here asserts on timing.
"""

import argparse
import bisect
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time

import hiredis

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.redis_benchmark import both_servers, print_ratio_table  # noqa: E402
from tests.support.wire import encode_command  # noqa: E402

MSET_BATCH = 1000           # keys per MSET
PIPELINE_DEPTH = 50         # MSETs in flight
BASELINE_SECONDS = 1.0      # probe time before BGSAVE, for the baseline gap
POLL_SECONDS = 0.01         # INFO polling while the save runs


class Connection:
    """A blocking RESP client on a raw socket: no client library between
    the probe and the server, so the gaps measured are the server's."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = hiredis.Reader()

    def send(self, *commands):
        self.sock.sendall(b"".join(encode_command(c) for c in commands))

    def read(self):
        reply = self.read_reply()
        if isinstance(reply, hiredis.ReplyError):
            raise RuntimeError(f"server error: {reply}")
        return reply

    def read_reply(self):
        """One reply, an error reply returned as a value."""
        while True:
            reply = self.reader.gets()
            if reply is not False:
                return reply
            data = self.sock.recv(1 << 16)
            if not data:
                raise RuntimeError("server closed the connection")
            self.reader.feed(data)

    def call(self, *args):
        self.send([a if isinstance(a, bytes) else str(a).encode() for a in args])
        return self.read()

    def info(self, section):
        text = self.call("INFO", section).decode()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def close(self):
        self.sock.close()


def populate(port, keys):
    """`key:<i>` -> `value:<i>` for i < keys, by pipelined MSETs."""
    conn = Connection(port)
    in_flight = 0
    for start in range(0, keys, MSET_BATCH):
        args = [b"MSET"]
        for i in range(start, min(start + MSET_BATCH, keys)):
            args += (b"key:%d" % i, b"value:%d" % i)
        conn.send(args)
        in_flight += 1
        if in_flight == PIPELINE_DEPTH:
            conn.read()
            in_flight -= 1
    for _ in range(in_flight):
        conn.read()
    dbsize = conn.call("DBSIZE")
    conn.close()
    if dbsize != keys:
        raise RuntimeError(f"DBSIZE is {dbsize} after loading {keys} keys")


class ClientThread(threading.Thread):
    """A thread with one Connection, run until ``stop()``, which re-raises
    what went wrong in it (``self.error``, set by ``run``)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.conn = Connection(port)
        self.stopping = threading.Event()
        self.error = None

    def stop(self):
        self.stopping.set()
        self.join()
        self.conn.close()
        if self.error is not None:
            raise RuntimeError(f"{type(self).__name__} failed: {self.error}")


class Probe(ClientThread):
    """Requests back to back on one connection; every reply timestamped."""

    def __init__(self, port, kind, keys):
        super().__init__(port)
        self.kind = kind
        self.keys = keys
        self.stamps = []

    def run(self):
        rng = random.Random(1)
        stamps = self.stamps
        try:
            while not self.stopping.is_set():
                if self.kind == "ping":
                    self.conn.send([b"PING"])
                else:
                    # SET writes the value the key already holds: pages
                    # are dirtied (copy-on-write) but the dump stays the same.
                    i = rng.randrange(self.keys)
                    self.conn.send([b"SET", b"key:%d" % i, b"value:%d" % i]
                                   if len(stamps) % 2 else [b"GET", b"key:%d" % i])
                self.conn.read()
                stamps.append(time.monotonic())
        except Exception as error:     # reported by the caller
            self.error = error

    def longest_gap(self, start, end):
        """The longest time between two consecutive replies, counting the
        reply before ``start`` and the first after ``end``, in seconds."""
        stamps = self.stamps
        first = max(0, _bisect(stamps, start) - 1)
        last = min(len(stamps) - 1, _bisect(stamps, end))
        window = stamps[first:last + 1]
        return max((b - a for a, b in zip(window, window[1:], strict=False)), default=end - start)

    def replies_between(self, start, end):
        return _bisect(self.stamps, end) - _bisect(self.stamps, start)


def _bisect(stamps, t):
    return bisect.bisect_left(stamps, t)


def save_round(port, workdir, keys, probe_kind):
    """One BGSAVE under the probe, then one SAVE: {metric: value}."""
    result = {}
    control = Connection(port)
    saves_before = int(control.info("persistence")["rdb_saves"])
    probe = Probe(port, probe_kind, keys)
    probe.start()
    time.sleep(BASELINE_SECONDS)
    sent = time.monotonic()
    reply = control.call("BGSAVE")
    while True:
        persistence = control.info("persistence")
        if persistence["rdb_bgsave_in_progress"] == "0" and (
                int(persistence["rdb_saves"]) > saves_before or
                persistence["rdb_last_bgsave_status"] != "ok"):
            break
        time.sleep(POLL_SECONDS)
    done = time.monotonic()
    probe.stop()
    if persistence["rdb_last_bgsave_status"] != "ok":
        raise RuntimeError(f"BGSAVE failed ({reply!r}): {persistence}")

    stats = control.info("stats")
    result["BGSAVE time (s)"] = done - sent
    result["max stall during BGSAVE (ms)"] = probe.longest_gap(sent, done) * 1000
    result["max gap before BGSAVE (ms)"] = probe.longest_gap(sent - BASELINE_SECONDS,
                                                              sent) * 1000
    result["probe replies/s during BGSAVE"] = probe.replies_between(sent, done) / (done - sent)
    result["fork (ms)"] = int(stats["latest_fork_usec"]) / 1000
    result["rdb_last_cow_size (MB)"] = int(persistence["rdb_last_cow_size"]) / 1e6
    result["dump size (MB)"] = os.path.getsize(os.path.join(workdir, "dump.rdb")) / 1e6

    began = time.monotonic()
    control.call("SAVE")
    result["SAVE time (s)"] = time.monotonic() - began
    control.close()
    return result


def compare(servers, keys, probe_kind, rounds):
    """{server name: {metric: median over rounds}}, the servers measured in
    turn each round: on a shared 2-core machine one save can take twice as
    long as the next, and alternating keeps the ratio honest. The worst
    stall of all rounds is reported beside the median."""
    runs = {name: [] for name in servers}
    loads = {}
    for name, (port, _) in servers.items():
        print(f"{name} on {port}: loading {keys} keys ...", flush=True)
        began = time.monotonic()
        populate(port, keys)
        loads[name] = time.monotonic() - began
    for round_no in range(1, rounds + 1):
        for name, (port, workdir) in servers.items():
            print(f"round {round_no}/{rounds}: BGSAVE and SAVE in {name} with a "
                  f"{probe_kind} probe ...", flush=True)
            runs[name].append(save_round(port, workdir, keys, probe_kind))
    results = {}
    for name, rows in runs.items():
        medians = {"load keys (s)": loads[name]}
        medians.update((metric, statistics.median(row[metric] for row in rows))
                       for metric in rows[0])
        medians["worst stall, all rounds (ms)"] = max(
            row["max stall during BGSAVE (ms)"] for row in rows)
        results[name] = medians
    return results


def print_table(results, markdown):
    """One row a metric."""
    print_ratio_table(results["redis-server"], results["redisrepl"], markdown)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--keys", type=int, default=1_000_000)
    parser.add_argument("--probe", choices=("setget", "ping"), default="setget",
                        help="what the probe client sends while the save runs")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating BGSAVE/SAVE rounds per server; medians are reported")
    parser.add_argument("--reactor", default="epoll")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        parser.error("redis-server is not on PATH (apt-get install redis-server)")

    with tempfile.TemporaryDirectory(prefix="redisrepl-bgsave-") as workdir:
        with both_servers(workdir, args.reactor) as servers:
            results = compare(servers, args.keys, args.probe, args.rounds)
    print(f"\n{args.keys} keys, medians of {args.rounds} alternating rounds\n")
    print_table(results, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
