"""Microsecond-per-command cost of redisrepl.resp.parser.RespParser.

    python bench/bench_parser.py

Prints the best of several runs, in CPU time (process_time: the machine may
be shared), for: bare hiredis.Reader (the floor),
RespParser on its hiredis path, and RespParser with the exact parser only.
Workloads: redis-benchmark-like SETs pipelined 16 per read, the same with
'+' in the values (takes the checked-positions path), and a bulk load read
in 64 KiB chunks that end mid-command.
"""

import sys
import time
from pathlib import Path

import hiredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from redisrepl.resp.parser import RespParser


def mbulk(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def set_cmd(i, value=b"xxx"):
    return mbulk(b"SET", b"key:%012d" % i, value)


def workloads():
    pipe = b"".join(set_cmd(i) for i in range(16))
    plus = b"".join(set_cmd(i, b"a+b=c") for i in range(16))
    bulk = b"".join(set_cmd(i, b"v" * 100) for i in range(20000))
    chunks = [bulk[i:i + 65536] for i in range(0, len(bulk), 65536)]
    return {
        "16 SETs per read": ([pipe] * 2000, 16 * 2000),
        "16 SETs per read, '+' in values": ([plus] * 2000, 16 * 2000),
        "bulk load, 64 KiB reads": (chunks, 20000),
    }


def run_hiredis(chunks):
    reader = hiredis.Reader()
    n = 0
    for chunk in chunks:
        reader.feed(chunk)
        while reader.gets() is not False:
            n += 1
    return n


def run_parser(chunks, use_hiredis):
    parser = RespParser(use_hiredis=use_hiredis)
    get, n = parser.get_command, 0
    for chunk in chunks:
        parser.feed(chunk)
        while get() is not None:
            n += 1
    return n


def best_us_per_command(fn, chunks, ncmds, repeat=7):
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        got = fn(chunks)
        best = min(best, time.process_time() - t)
        assert got == ncmds, (got, ncmds)
    return best / ncmds * 1e6


def main():
    runners = {
        "hiredis.Reader alone": run_hiredis,
        "RespParser (hiredis path)": lambda c: run_parser(c, True),
        "RespParser (exact parser only)": lambda c: run_parser(c, False),
    }
    for name, (chunks, ncmds) in workloads().items():
        print(name)
        for label, fn in runners.items():
            print(f"  {label:32s} {best_us_per_command(fn, chunks, ncmds):6.3f} us/command")


if __name__ == "__main__":
    main()
