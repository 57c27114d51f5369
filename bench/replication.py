#!/usr/bin/env python3
"""A real redis-server replica full-syncing from redisrepl and from a real
redis-server master, side by side.

Starts a real redis-server master and a redisrepl master
(`twistd -n -r epoll redisrepl`), each on a free loopback port in a temp
dir, loads N keys into each (default 1,000,000, DEBUG POPULATE's shape), then
for each round (default 3), for each sync mode (disk, diskless with
`repl-diskless-sync-delay 0`), for each master in turn:

  1. starts a fresh real redis-server (`--repl-diskless-load disabled`) that
     is not yet a replica;
  2. starts `redis-benchmark -c 50 -P 1 -t set -l` on the master (its live
     `rps=` line, every 250 ms, gives the request rate over time) and a probe
     client (bench/bgsave.py's: GET and same-value SET on random keys, every
     reply timestamped), and measures the steady rate for a few seconds;
  3. sends REPLICAOF to the replica and polls its INFO replication until
     `master_link_status:up` (and the master counts it online);
  4. reports the time to link up, the payload size the replica logged, the
     master's request rate during the sync as a share of its steady rate
     (target: >= 80%), and the longest gap between two probe replies.

Medians over the rounds are printed with the ratio redisrepl / redis-server.

    python bench/replication.py                         # 1M keys, both modes
    python bench/replication.py -n 200000 --modes diskless --markdown

A measuring tool, never a test: nothing here asserts on timing.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.bgsave import Connection, Probe, populate  # noqa: E402
from bench.redis_benchmark import both_servers, print_ratio_table  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.processes import (  # noqa: E402
    redis_server_argv,
    stop_blocking,
    wait_port_blocking,
)

WARMUP_SECONDS = 1.0        # redis-benchmark's first samples are ramp-up
STEADY_SECONDS = 3.0        # load before REPLICAOF, for the steady rate
SAMPLE_SECONDS = 0.25       # redis-benchmark's live rps interval
POLL_SECONDS = 0.01         # INFO polling while the sync runs
SYNC_TIMEOUT = 600.0
TARGET = 0.80               # share of the steady rate kept during a sync
MODES = {
    "disk": {"repl-diskless-sync": "no"},
    "diskless": {"repl-diskless-sync": "yes", "repl-diskless-sync-delay": "0"},
}
RPS = re.compile(rb"rps=([\d.]+)")
PAYLOAD_LINE = re.compile(r"receiving (\d+) bytes from master|receiving streamed RDB")


def start_replica(workdir):
    """A real redis-server that will be made a replica by REPLICAOF."""
    port = free_port()
    proc = subprocess.Popen(
        redis_server_argv(port, workdir, ["--repl-diskless-load", "disabled"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_port_blocking(proc, port)
    return proc, port


class RateMeter(threading.Thread):
    """`redis-benchmark -l` on the master; its live `rps=` samples kept
    with the time each arrived (each covers the SAMPLE_SECONDS before)."""

    def __init__(self, port, test, clients):
        super().__init__(daemon=True)
        # -n large enough that one test covers the whole round: no
        # partial samples at test boundaries.
        self.proc = subprocess.Popen(
            ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
             "-P", "1", "-t", test, "-n", "100000000", "-l", "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.samples = []

    def run(self):
        pending = b""
        while True:
            data = self.proc.stdout.read1(4096)
            if not data:
                return
            now = time.monotonic()
            pending += data
            *done, pending = pending.split(b"\r")
            self.samples.extend((now, float(m.group(1))) for m in
                                (RPS.search(line) for line in done) if m)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.join()

    def rate(self, start, end):
        """Mean rps of the samples inside [start, end] (or, for a window
        shorter than a sample, of those overlapping it)."""
        inside = [rps for t, rps in self.samples if start + SAMPLE_SECONDS <= t <= end]
        if not inside:
            inside = [rps for t, rps in self.samples if start < t < end + SAMPLE_SECONDS]
        return statistics.mean(inside) if inside else float("nan")


def configure(port, mode):
    conn = Connection(port)
    for name, value in MODES[mode].items():
        conn.call("CONFIG", "SET", name, value)
    conn.close()


def link_up(replica, master):
    """True once the replica's link is up and the master counts it online."""
    if replica.info("replication").get("master_link_status") != "up":
        return False
    return "state=online" in master.info("replication").get("slave0", "")


def payload_size(workdir):
    """The payload size the replica logged, or 'streamed' (diskless)."""
    with open(os.path.join(workdir, "redis.log"), errors="replace") as f:
        match = PAYLOAD_LINE.search(f.read())
    if match is None:
        return None
    return int(match.group(1)) if match.group(1) else None


def sync_round(master_port, keys, mode, workdir, load_test, clients):
    """One full sync of a fresh replica from the master under load."""
    configure(master_port, mode)
    replica_dir = tempfile.mkdtemp(dir=workdir, prefix="replica-")
    proc, replica_port = start_replica(replica_dir)
    meter = RateMeter(master_port, load_test, clients)
    try:
        master = Connection(master_port)
        replica = Connection(replica_port)
        forks = int(master.info("stats")["total_forks"])
        meter.start()
        probe = Probe(master_port, "setget", keys)
        probe.start()
        time.sleep(WARMUP_SECONDS + STEADY_SECONDS)
        sent = time.monotonic()
        replica.call("REPLICAOF", "127.0.0.1", master_port)
        while not link_up(replica, master):
            if time.monotonic() - sent > SYNC_TIMEOUT:
                raise RuntimeError(f"no sync from {master_port} in {SYNC_TIMEOUT}s")
            time.sleep(POLL_SECONDS)
        done = time.monotonic()
        probe.stop()
        meter.stop()
        steady = meter.rate(sent - STEADY_SECONDS, sent)
        during = meter.rate(sent, done)
        result = {
            "time to link up (s)": done - sent,
            "req/s steady": steady,
            "req/s during sync": during,
            "during / steady (%)": 100 * during / steady,
            "max probe gap during sync (ms)": probe.longest_gap(sent, done) * 1000,
            "forks": int(master.info("stats")["total_forks"]) - forks,
        }
        size = payload_size(replica_dir)
        if size is not None:
            result["payload (MB)"] = size / 1e6
        check_replica(master, replica, keys)
        replica.call("REPLICAOF", "NO", "ONE")
        master.close()
        replica.close()
        return result
    finally:
        if meter.proc.poll() is None:
            meter.stop()
        stop_blocking(proc)
        shutil.rmtree(replica_dir, ignore_errors=True)


def check_replica(master, replica, keys):
    """Once the load stopped, the replica catches up to the master's keys
    (the N loaded ones plus redis-benchmark's own)."""
    deadline = time.monotonic() + 60
    while replica.call("DBSIZE") != master.call("DBSIZE"):
        if time.monotonic() > deadline:
            raise RuntimeError("the replica did not catch up with the master")
        time.sleep(POLL_SECONDS)
    if replica.call("DBSIZE") < keys:
        raise RuntimeError(f"replica holds fewer than {keys} keys")


def compare(masters, keys, modes, rounds, workdir, load_test, clients):
    """{mode: {master name: {metric: median}}}, the masters measured in turn
    each round (alternating keeps the ratio honest on a shared machine)."""
    for name, port in masters.items():
        print(f"{name} on {port}: loading {keys} keys ...", flush=True)
        populate(port, keys)
    runs = {mode: {name: [] for name in masters} for mode in modes}
    for round_no in range(1, rounds + 1):
        for mode in modes:
            for name, port in masters.items():
                print(f"round {round_no}/{rounds}: {mode} full sync from {name} ...",
                      flush=True)
                runs[mode][name].append(sync_round(port, keys, mode, workdir,
                                                      load_test, clients))
    return {mode: {name: {metric: statistics.median(row[metric] for row in rows)
                          for metric in rows[0]}
                   for name, rows in by_master.items()}
            for mode, by_master in runs.items()}


def print_table(mode, results, markdown):
    theirs, ours = results["redis-server"], results["redisrepl"]
    print(f"\n{mode} sync")
    print_ratio_table(theirs, ours, markdown, " master")
    kept = ours["during / steady (%)"] / 100
    print(f"redisrepl keeps {kept:.0%} of its steady request rate during the sync "
          f"(target {TARGET:.0%}){'' if kept >= TARGET else '  BELOW TARGET'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--keys", type=int, default=1_000_000)
    parser.add_argument("--modes", default="disk,diskless")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds per master and mode; medians are reported")
    parser.add_argument("--load-test", default="set", choices=("set", "get"),
                        help="the redis-benchmark test run on the master throughout")
    parser.add_argument("-c", "--clients", type=int, default=50)
    parser.add_argument("--reactor", default="epoll")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not on PATH (apt-get install redis-server redis-tools)")
    modes = args.modes.split(",")
    for mode in modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r} (disk, diskless)")

    with tempfile.TemporaryDirectory(prefix="redisrepl-replication-") as workdir:
        with both_servers(workdir, args.reactor) as servers:
            masters = {name: port for name, (port, _folder) in servers.items()}
            results = compare(masters, args.keys, modes, args.rounds, workdir,
                              args.load_test, args.clients)
    print(f"\n{args.keys} keys, a real redis-server 7.0 replica, redis-benchmark "
          f"-c {args.clients} -P 1 -t {args.load_test} on the master, medians of "
          f"{args.rounds} alternating rounds")
    for mode in modes:
        print_table(mode, results[mode], args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
