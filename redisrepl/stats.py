"""Figures INFO reports that are sampled rather than counted. Sans-IO.

Instantaneous metrics (instantaneous_ops_per_sec, instantaneous_*_kbps) work
as Redis's trackInstantaneousMetric: every 100 ms the cron turns the growth of
a counter into a per-second rate and keeps the last 16 rates; INFO shows their
mean. Time is the server's injected clock.

Memory is an approximation, documented here because INFO presents it with
Redis's names. Redis counts the bytes its allocator hands out (zmalloc);
Python has no cheap equivalent (tracemalloc costs too much to leave on), so
``used_memory`` is the process's resident set size, read from /proc. It
includes the interpreter itself, so an empty server reports tens of MB where
redis-server reports under 1 MB. ``used_memory_startup`` is the RSS when the
server was created, so ``used_memory_dataset`` (RSS growth since then) is the
closest we get to Redis's "memory used by data".
"""

import os
import resource

# Redis's STATS_METRIC_SAMPLES and the period of its run_with_period(100).
METRIC_SAMPLES = 16
METRIC_PERIOD_MS = 100

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def process_rss():
    """The resident set size of this process, in bytes."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE
    except OSError:
        # No /proc (not Linux): the peak RSS is the best the OS tells us.
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def total_system_memory():
    """Physical memory of the machine, in bytes (0 if unknown)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * _PAGE_SIZE
    except (OSError, ValueError):
        return 0


class InstantaneousMetric:
    """One sampled rate: the mean of the last METRIC_SAMPLES per-second rates."""

    __slots__ = ("index", "last_reading", "last_time_ms", "samples")

    def __init__(self, now_ms):
        self.reset(now_ms)

    def reset(self, now_ms):
        self.samples = [0] * METRIC_SAMPLES
        self.index = 0
        self.last_time_ms = now_ms
        self.last_reading = 0

    def track(self, now_ms, reading):
        """Record the counter's value ``reading`` at ``now_ms``."""
        elapsed = now_ms - self.last_time_ms
        growth = reading - self.last_reading
        # C's integer division truncates toward zero.
        rate = int(growth * 1000 / elapsed) if elapsed > 0 else 0
        self.samples[self.index] = rate
        self.index = (self.index + 1) % METRIC_SAMPLES
        self.last_time_ms = now_ms
        self.last_reading = reading

    def value(self):
        return sum(self.samples) // METRIC_SAMPLES


class StatsSampler:
    """What the cron samples for INFO: rates and memory peaks."""

    def __init__(self, server):
        self.server = server
        self.cronloops = 0
        now = server.now_ms()
        self.commands = InstantaneousMetric(now)
        self.net_input = InstantaneousMetric(now)
        self.net_output = InstantaneousMetric(now)
        self.net_repl_input = InstantaneousMetric(now)
        self.net_repl_output = InstantaneousMetric(now)
        self.startup_memory = process_rss()
        self.rss = self.peak_memory = self.startup_memory

    def reset(self):
        """CONFIG RESETSTAT clears the rates (not the memory peak), as Redis."""
        now = self.server.now_ms()
        for metric in self._metrics():
            metric.reset(now)

    def _metrics(self):
        return (self.commands, self.net_input, self.net_output,
                self.net_repl_input, self.net_repl_output)

    def cron(self):
        """Called on every cron tick (hz times a second)."""
        server = self.server
        # Redis's run_with_period(100): every tick when hz <= 10, else every
        # (100 / tick length)th tick, counted in cron loops.
        tick_ms = 1000 // server.config["hz"]
        if METRIC_PERIOD_MS <= tick_ms or \
                self.cronloops % (METRIC_PERIOD_MS // tick_ms) == 0:
            self.sample_rates()
            self.sample_memory()
        self.cronloops += 1

    def sample_rates(self):
        server = self.server
        now = server.now_ms()
        repl_in, repl_out = server.net_repl_input_bytes, server.net_repl_output_bytes
        self.commands.track(now, server.total_commands)
        self.net_input.track(now, server.net_input_bytes + repl_in)
        self.net_output.track(now, server.net_output_bytes + repl_out)
        self.net_repl_input.track(now, repl_in)
        self.net_repl_output.track(now, repl_out)

    def sample_memory(self):
        """Refresh the RSS and the peak; INFO calls it too, as Redis does."""
        self.rss = process_rss()
        self.peak_memory = max(self.peak_memory, self.rss)
        return self.rss
