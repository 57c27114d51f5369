#!/usr/bin/env python3
"""A full sync from a real redis-server master into a redisrepl replica and
into a real redis-server replica, side by side.

Starts a real redis-server 7.0 master on a free loopback port in a temp dir
and fills it with N keys (default 1,000,000) by DEBUG POPULATE
(`key:<i>` -> `value:<i>`). Then for each round (default 3), for each
master mode (disk: `repl-diskless-sync no`; diskless: `yes` with
`repl-diskless-sync-delay 0`), for each replica load mode
(`repl-diskless-load disabled` or `swapdb`), for each replica in turn:

  1. starts a fresh replica (redis-server, or `twistd -n -r epoll
     redisrepl`) that is not a replica yet, gives it OLD data (`old:<i>`
     keys, default 100,000, and `key:0` -> `old`);
  2. starts a poller: GET key:0 on one connection, a reply awaited, then
     POLL_PAUSE of rest, every reply timestamped and classified (the old
     value, the master's, -LOADING, nil, another error);
  3. sends REPLICAOF to the replica and polls INFO until
     `master_link_status:up` with the replica's `slave_repl_offset` equal
     to the master's `master_repl_offset` (the sync time);
  4. reports the sync time, the longest GET round trip while it ran, the
     longest stretch without a value (from one reply carrying data to the
     next: a -LOADING reply carries none), and how many GETs answered
     -LOADING or nil.

Medians over the rounds are printed per mode with the ratio
redisrepl / redis-server. A real 7.0 replica answers -LOADING while it
loads the new dataset (its swapdb "async loading" only applies when the
master's replid is the one it already follows, never on a first sync);
redisrepl keeps serving the old dataset until the new one is swapped in.

    python bench/replica_sync.py                        # 1M keys, every mode
    python bench/replica_sync.py -n 200000 --rounds 1 --masters diskless --markdown

A measuring tool, never a test: nothing here asserts on timing.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import hiredis

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.bgsave import ClientThread, Connection  # noqa: E402
from bench.redis_benchmark import (  # noqa: E402
    print_ratio_table,
    start_redis_server,
    start_redisrepl,
)
from tests.support.ports import free_port  # noqa: E402
from tests.support.processes import (  # noqa: E402
    redis_server_argv,
    stop_blocking,
    wait_port_blocking,
)

MASTER_MODES = {
    "disk": {"repl-diskless-sync": "no"},
    "diskless": {"repl-diskless-sync": "yes", "repl-diskless-sync-delay": "0"},
}
LOAD_MODES = ("disabled", "swapdb")
REPLICAS = {"redis-server": start_redis_server, "redisrepl": start_redisrepl}
PROBE_KEY = b"key:0"
OLD_VALUE = b"old"
MSET_BATCH = 1000
POLL_SECONDS = 0.01          # INFO polling while the sync runs
POLL_PAUSE = 0.001           # the poller's rest between two GETs
SYNC_TIMEOUT = 600.0


class Poller(ClientThread):
    """GET PROBE_KEY, await the reply, rest POLL_PAUSE, again; every reply
    kept as (sent, received, kind) with kind "old", "new", "loading",
    "nil" or "error"."""

    def __init__(self, port):
        super().__init__(port)
        self.replies = []

    def run(self):
        conn, replies = self.conn, self.replies
        request = [b"GET", PROBE_KEY]
        try:
            while not self.stopping.is_set():
                sent = time.monotonic()
                conn.send(request)
                reply = conn.read_reply()   # -LOADING is data here
                replies.append((sent, time.monotonic(), _kind(reply)))
                time.sleep(POLL_PAUSE)
        except Exception as error:     # reported by the caller
            self.error = error

    def summary(self, start, end):
        """What the poller saw between ``start`` and ``end`` (REPLICAOF
        sent, link up), the first reply after ``end`` included."""
        inside = [r for r in self.replies if r[0] >= start]
        last = next((i for i, r in enumerate(inside) if r[1] > end), len(inside) - 1)
        inside = inside[:last + 1]
        before = [r for r in self.replies if r[0] < start]
        served = [received for _, received, kind in before[-1:] + inside
                  if kind in ("old", "new")]
        kinds = [kind for _, _, kind in inside]
        return {
            "longest GET round trip (ms)": 1000 * max(
                (received - sent for sent, received, _ in inside), default=0.0),
            "longest stretch without data (ms)": 1000 * max(
                (b - a for a, b in zip(served, served[1:], strict=False)),
                default=end - start),
            "GETs answered -LOADING": kinds.count("loading"),
            "GETs answered nil or another error": kinds.count("nil") + kinds.count("error"),
            "GETs answered the old value": kinds.count("old"),
        }


def _kind(reply):
    if isinstance(reply, hiredis.ReplyError):
        return "loading" if str(reply).startswith("LOADING") else "error"
    if reply is None:
        return "nil"
    return "old" if reply == OLD_VALUE else "new"


def start_master(workdir, keys):
    """A real redis-server master holding ``keys`` keys (DEBUG POPULATE)."""
    directory = os.path.join(workdir, "master")
    os.makedirs(directory)
    port = free_port()
    proc = subprocess.Popen(
        redis_server_argv(port, directory, ["--enable-debug-command", "yes"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_port_blocking(proc, port)
    conn = Connection(port)
    conn.call("DEBUG", "POPULATE", keys)
    conn.close()
    return proc, port


def fill_old_data(port, keys):
    """`old:<i>` -> `value:<i>` by pipelined MSETs, and PROBE_KEY -> OLD_VALUE:
    the dataset the replica serves until the new one is in."""
    conn = Connection(port)
    batches = 0
    for start in range(0, keys, MSET_BATCH):
        args = [b"MSET"]
        for i in range(start, min(start + MSET_BATCH, keys)):
            args += (b"old:%d" % i, b"value:%d" % i)
        conn.send(args)
        batches += 1
    for _ in range(batches):
        conn.read()
    conn.call("SET", PROBE_KEY, OLD_VALUE)
    conn.close()


def start_replica(kind, directory, attempts=3):
    """A fresh replica of ``kind``; started again on another free port if
    the first one was taken meanwhile (the machine is shared)."""
    for attempt in range(1, attempts + 1):
        try:
            return REPLICAS[kind](directory)
        except RuntimeError as error:
            if attempt == attempts:
                raise
            print(f"   {kind} did not start ({error}); again", flush=True)


def in_sync(replica, master):
    """Link up and the replica's offset the master's (the master is idle
    but for its PINGs, which move the offset: asked again if one raced)."""
    fields = replica.info("replication")
    if fields.get("master_link_status") != "up":
        return False
    return fields.get("slave_repl_offset") == master.info("replication")["master_repl_offset"]


def sync_once(replica_kind, load_mode, master_port, keys, old_keys, workdir):
    """One full sync into a fresh replica of ``replica_kind``: {metric: value}."""
    directory = tempfile.mkdtemp(dir=workdir, prefix=f"{replica_kind}-")
    proc, port = start_replica(replica_kind, directory)
    try:
        replica, master = Connection(port), Connection(master_port)
        replica.call("CONFIG", "SET", "repl-diskless-load", load_mode)
        fill_old_data(port, old_keys)
        poller = Poller(port)
        poller.start()
        time.sleep(0.2)               # a few replies before the sync
        sent = time.monotonic()
        replica.call("REPLICAOF", "127.0.0.1", master_port)
        while not in_sync(replica, master):
            if time.monotonic() - sent > SYNC_TIMEOUT:
                raise RuntimeError(f"no sync into {replica_kind} in {SYNC_TIMEOUT}s")
            time.sleep(POLL_SECONDS)
        done = time.monotonic()
        time.sleep(0.05)              # the first reply after the sync
        poller.stop()
        result = {"full sync (s)": done - sent}
        result.update(poller.summary(sent, done))
        dbsize = replica.call("DBSIZE")
        if dbsize != keys or replica.call("GET", PROBE_KEY) != b"value:0":
            raise RuntimeError(f"{replica_kind} holds {dbsize} keys after the sync, not {keys}")
        replica.close()
        master.close()
        return result
    finally:
        stop_blocking(proc)
        shutil.rmtree(directory, ignore_errors=True)


def compare(master_port, keys, old_keys, master_modes, load_modes, rounds, workdir):
    """{(master mode, load mode): {replica: {metric: median}}}, the replicas
    measured in turn each round (alternating keeps the ratio honest on a
    shared machine)."""
    runs = {(m, lm): {kind: [] for kind in REPLICAS}
            for m in master_modes for lm in load_modes}
    master = Connection(master_port)
    for round_no in range(1, rounds + 1):
        for mode in master_modes:
            for name, value in MASTER_MODES[mode].items():
                master.call("CONFIG", "SET", name, value)
            for load_mode in load_modes:
                for kind in REPLICAS:
                    print(f"round {round_no}/{rounds}: {mode} master -> {kind} replica, "
                          f"repl-diskless-load {load_mode} ...", flush=True)
                    row = sync_once(kind, load_mode, master_port, keys, old_keys, workdir)
                    print("   " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()),
                          flush=True)
                    runs[mode, load_mode][kind].append(row)
    master.close()
    return {case: {kind: {metric: statistics.median(row[metric] for row in rows)
                          for metric in rows[0]}
                   for kind, rows in by_kind.items()}
            for case, by_kind in runs.items()}


def print_tables(results, markdown):
    """One row a metric, one table a (master mode, load mode)."""
    for (mode, load_mode), by_kind in results.items():
        print(f"\n{mode} master, repl-diskless-load {load_mode}")
        print_ratio_table(by_kind["redis-server"], by_kind["redisrepl"], markdown, " replica")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--keys", type=int, default=1_000_000)
    parser.add_argument("--old-keys", type=int, default=100_000,
                        help="keys the replica holds before the sync")
    parser.add_argument("--masters", default="disk,diskless",
                        help="master modes: disk, diskless")
    parser.add_argument("--loads", default="disabled,swapdb",
                        help="replica repl-diskless-load modes: disabled, swapdb")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds per replica and mode; medians are reported")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        parser.error("redis-server is not on PATH (apt-get install redis-server)")
    master_modes, load_modes = args.masters.split(","), args.loads.split(",")
    for mode in master_modes:
        if mode not in MASTER_MODES:
            parser.error(f"unknown master mode {mode!r} (disk, diskless)")
    for mode in load_modes:
        if mode not in LOAD_MODES:
            parser.error(f"unknown load mode {mode!r} (disabled, swapdb)")

    with tempfile.TemporaryDirectory(prefix="redisrepl-replica-sync-") as workdir:
        print(f"master: loading {args.keys} keys ...", flush=True)
        proc, master_port = start_master(workdir, args.keys)
        try:
            results = compare(master_port, args.keys, args.old_keys, master_modes,
                              load_modes, args.rounds, workdir)
        finally:
            stop_blocking(proc)
    print(f"\n{args.keys} keys from a real redis-server 7.0 master into a fresh replica "
          f"holding {args.old_keys} old keys; a client GETs an old key every "
          f"{POLL_PAUSE * 1000:g} ms throughout; medians of {args.rounds} alternating rounds")
    print_tables(results, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
