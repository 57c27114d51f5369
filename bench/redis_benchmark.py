#!/usr/bin/env python3
"""redisrepl and redis-server side by side under redis-benchmark.

Starts a real redis-server and redisrepl (`twistd -n -r epoll redisrepl`),
each on a free loopback port in a temp dir, then runs

    redis-benchmark -c 50 -n N -t set,get,incr,mset -P 1   (and -P 16)

against each, one server at a time, and prints req/s for both and the
ratio per test against the targets (>= 40% of redis-server at -P 1,
>= 20% at -P 16). With --default-suite it also runs every default
redis-benchmark test against redisrepl alone and reports which fail (the
families not built yet answer `unknown command`).

    python bench/redis_benchmark.py                 # the comparison, N=100000
    python bench/redis_benchmark.py -n 20000 --default-suite --markdown

A measuring tool, never a test: nothing here asserts on timing.
"""

import argparse
import contextlib
import csv
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.support.ports import free_port
from tests.support.processes import (
    TWISTD,
    daemon_env,
    redis_server_argv,
    stop_blocking,
    wait_port_blocking,
)

TARGETS = {1: 0.40, 16: 0.20}
DEFAULT_SUITE = ["ping_inline", "ping_mbulk", "set", "get", "incr", "lpush",
                 "rpush", "lpop", "rpop", "sadd", "hset", "spop", "zadd",
                 "zpopmin", "lrange", "mset"]


def start_redis_server(workdir):
    port = free_port()
    proc = subprocess.Popen(redis_server_argv(port, workdir),
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_port_blocking(proc, port)
    return proc, port


def start_redisrepl(workdir, reactor="epoll"):
    port = free_port()
    config = os.path.join(workdir, "redisrepl.conf")
    with open(config, "w") as f:
        logfile = os.path.join(workdir, "redisrepl.log")
        f.write(f'port {port}\nbind 127.0.0.1\nsave ""\nappendonly no\n'
                f"loglevel warning\nlogfile {logfile}\ndir {workdir}\n")
    argv = TWISTD + ["-n", "--pidfile=", "-r", reactor, "redisrepl", "--config", config]
    proc = subprocess.Popen(argv, env=daemon_env(), cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_port_blocking(proc, port)
    return proc, port


# The data types' side of the run (issue 3): redis-benchmark's own tests,
# then commands it has no test for, run as custom command lines (ZRANGE reads
# the zset its ZADD test filled).
TYPE_TESTS = "lpush,lpop,sadd,hset,zadd,zpopmin,lrange_100"
CUSTOM_COMMANDS = [
    ["ZRANGE", "myzset", "0", "9", "WITHSCORES"],
    ["XADD", "mystream", "*", "field", "__rand_int__"],
]


def run_benchmark(port, workload, requests, clients, pipeline, timeout=900):
    """{test name: req/s} from redis-benchmark's CSV output.

    ``workload`` is a comma-separated list of redis-benchmark tests, or a
    command line (a list) to run as a custom test.
    """
    # -r gives __rand_int__ a range; only the custom lines use it.
    what = ["-t", workload] if isinstance(workload, str) \
        else ["-r", "100000"] + list(workload)
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port),
            "-c", str(clients), "-n", str(requests), "-P", str(pipeline),
            "-q", "--csv"] + what
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"redis-benchmark failed: {proc.stdout} {proc.stderr}")
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    return {row[0]: float(row[1]) for row in rows[1:] if len(row) > 1}, proc.stdout + proc.stderr


def compare(redis_port, repl_port, requests, clients, pipelines, workloads, rounds):
    """Median req/s per test over ``rounds`` alternating runs of each server.

    On a shared 2-core machine one run of a test can swing by a third;
    alternating the servers and taking medians keeps the ratio honest.
    """
    results = []
    for pipeline in pipelines:
        redis_runs, repl_runs = [], []
        for _ in range(rounds):
            redis_run, repl_run = {}, {}
            for workload in workloads:
                redis_run.update(run_benchmark(
                    redis_port, workload, requests, clients, pipeline)[0])
                repl_run.update(run_benchmark(
                    repl_port, workload, requests, clients, pipeline)[0])
            redis_runs.append(redis_run)
            repl_runs.append(repl_run)
        for name in redis_runs[0]:
            rps = statistics.median(run.get(name, 0.0) for run in redis_runs)
            mine = statistics.median(run.get(name, 0.0) for run in repl_runs)
            results.append((name, pipeline, rps, mine, mine / rps if rps else 0.0))
    return results


def default_suite(repl_port, requests):
    """[(test, status, detail)] for every default redis-benchmark test."""
    outcome = []
    for test in DEFAULT_SUITE:
        argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(repl_port),
                "-n", str(requests), "-t", test, "-q"]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                                  check=False)
        except subprocess.TimeoutExpired:
            outcome.append((test, "TIMEOUT", "no result in 300s"))
            continue
        output = proc.stdout + proc.stderr
        errors = [line for line in output.splitlines() if "rror" in line]
        if proc.returncode != 0 or errors:
            detail = errors[0].strip() if errors else output.strip()[-200:]
            outcome.append((test, "FAIL", detail))
        else:
            outcome.append((test, "ok", output.strip().splitlines()[-1].strip()))
    return outcome


def print_results(results, markdown):
    if markdown:
        print("| test | -P | redis-server req/s | redisrepl req/s | ratio | target |")
        print("|---|---:|---:|---:|---:|---:|")
    else:
        print(f"{'test':<16} {'-P':>4} {'redis-server':>14} {'redisrepl':>14} "
              f"{'ratio':>7} {'target':>7}")
    for name, pipeline, redis_rps, repl_rps, ratio in results:
        target = TARGETS.get(pipeline, 0)
        mark = "" if ratio >= target else "  BELOW TARGET"
        if markdown:
            print(f"| {name} | {pipeline} | {redis_rps:.0f} | {repl_rps:.0f} | "
                  f"{ratio:.0%} | {target:.0%}{mark} |")
        else:
            print(f"{name:<16} {pipeline:>4} {redis_rps:>14.0f} {repl_rps:>14.0f} "
                  f"{ratio:>7.0%} {target:>7.0%}{mark}")


@contextlib.contextmanager
def print_ratio_table(theirs, ours, markdown, what=""):
    """One row a metric: redis-server's value, redisrepl's, and their ratio
    (redisrepl / redis). ``what`` names the columns' servers in markdown
    (" master", " replica")."""
    if markdown:
        print(f"| metric | redis-server{what} | redisrepl{what} | redisrepl / redis |")
        print("|---|---:|---:|---:|")
    else:
        print(f"{'metric':<38} {'redis-server':>13} {'redisrepl':>13} {'ratio':>8}")
    for name, a in theirs.items():
        b = ours.get(name)
        if b is None:
            continue
        cells = [f"{a:.2f}", f"{b:.2f}", f"{b / a:.2f}x" if a else "-"]
        if markdown:
            print(f"| {name} | " + " | ".join(cells) + " |")
        else:
            print(f"{name:<38} {cells[0]:>13} {cells[1]:>13} {cells[2]:>8}")


def both_servers(workdir, reactor="epoll"):
    """redis-server and redisrepl side by side, each in its own folder of
    ``workdir``: yields {name: (port, folder)}; both stop at the end."""
    procs, servers = [], {}
    try:
        for name, start in (("redis-server", start_redis_server),
                            ("redisrepl", lambda d: start_redisrepl(d, reactor))):
            directory = os.path.join(workdir, name)
            os.makedirs(directory)
            proc, port = start(directory)
            procs.append(proc)
            servers[name] = (port, directory)
        yield servers
    finally:
        for proc in procs:
            stop_blocking(proc)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--requests", type=int, default=100000)
    parser.add_argument("-c", "--clients", type=int, default=50)
    parser.add_argument("-P", "--pipelines", default="1,16")
    parser.add_argument("-t", "--tests", default="set,get,incr,mset")
    parser.add_argument("--types", action="store_true",
                        help="benchmark the data types instead (LPUSH ... XADD)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating runs per server; medians are reported")
    parser.add_argument("--reactor", default="epoll")
    parser.add_argument("--default-suite", action="store_true",
                        help="also run every default test against redisrepl")
    parser.add_argument("--suite-requests", type=int, default=10000)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not on PATH (apt-get install redis-server redis-tools)")

    with tempfile.TemporaryDirectory(prefix="redisrepl-bench-") as workdir:
        redis_dir = os.path.join(workdir, "redis")
        repl_dir = os.path.join(workdir, "redisrepl")
        os.makedirs(redis_dir)
        os.makedirs(repl_dir)
        redis_proc, redis_port = start_redis_server(redis_dir)
        try:
            repl_proc, repl_port = start_redisrepl(repl_dir, args.reactor)
            try:
                pipelines = [int(p) for p in args.pipelines.split(",")]
                what = f"-t {TYPE_TESTS} + " + ", ".join(
                    " ".join(c) for c in CUSTOM_COMMANDS) if args.types else f"-t {args.tests}"
                print(f"redis-benchmark -c {args.clients} -n {args.requests} "
                      f"{what}, redis-server on {redis_port}, "
                      f"redisrepl ({args.reactor} reactor) on {repl_port}, "
                      f"median of {args.rounds} alternating rounds\n")
                workloads = [TYPE_TESTS] + CUSTOM_COMMANDS if args.types \
                    else [args.tests]
                results = compare(redis_port, repl_port, args.requests, args.clients,
                                  pipelines, workloads, args.rounds)
                print_results(results, args.markdown)
                if args.default_suite:
                    print("\nredis-benchmark -q, each default test against redisrepl "
                          f"(-n {args.suite_requests}):")
                    for test, status, detail in default_suite(repl_port, args.suite_requests):
                        print(f"  {test:<12} {status:<7} {detail}")
                if repl_proc.poll() is not None:
                    print(f"\nredisrepl exited during the run (status {repl_proc.returncode})")
                    return 1
            finally:
                stop_blocking(repl_proc)
        finally:
            stop_blocking(redis_proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
