"""Logging in Redis's line format, honouring loglevel and logfile.

    12345:M 21 Nov 2026 15:21:34.123 * Ready to accept connections tcp

Operators and scripts grep for Redis's wording, so the observer writes the
same layout: pid, role (M master, S replica, C child), time, a level mark
('.' debug, '-' verbose, '*' notice, '#' warning) and the message.
"""

import os
import sys
import time

from twisted.logger import (
    FileLogObserver,
    FilteringLogObserver,
    ILogFilterPredicate,
    ILogObserver,
    LogLevel,
    PredicateResult,
    formatEvent,
)
from zope.interface import implementer

# Redis's loglevel -> the lowest Twisted level shown. Redis's "verbose" has no
# Twisted twin; debug-level events are shown from "verbose" down.
LEVELS = {
    "debug": LogLevel.debug,
    "verbose": LogLevel.debug,
    "notice": LogLevel.info,
    "warning": LogLevel.warn,
}

MARKS = {
    LogLevel.debug: ".",
    LogLevel.info: "*",
    LogLevel.warn: "#",
    LogLevel.error: "#",
    LogLevel.critical: "#",
}


# Set in a forked child (BGSAVE): its lines carry its own pid and role C.
_in_child = False


def mark_child():
    """Called in a freshly forked child, before it logs anything."""
    global _in_child
    _in_child = True


def redis_line(event, pid, role_mark):
    when = event.get("log_time", time.time())
    stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(when))
    millis = int((when % 1) * 1000)
    mark = MARKS.get(event.get("log_level"), "*")
    text = formatEvent(event)
    failure = event.get("log_failure")
    if failure is not None:
        text += "\n" + failure.getTraceback()
    if _in_child:
        pid, role = os.getpid(), "C"
    else:
        role = role_mark()
    return f"{pid}:{role} {stamp}.{millis:03d} {mark} {text}\n"


@implementer(ILogFilterPredicate)
class LevelPredicate:
    """Reads the current loglevel on every event: CONFIG SET applies live."""

    def __init__(self, config):
        self.config = config

    def __call__(self, event):
        name = self.config["loglevel"]
        if name == "nothing":
            return PredicateResult.no
        if event.get("log_level", LogLevel.info) < LEVELS[name]:
            return PredicateResult.no
        return PredicateResult.maybe


@implementer(ILogObserver)
class RedisLogObserver:
    """The observer the daemon logs to: logfile (or stdout), Redis format."""

    def __init__(self, config, pid, role_mark=lambda: "M"):
        self.config = config
        self.pid = pid
        self.role_mark = role_mark
        self._file = None
        self._path = None
        self._observer = None
        self.reopen()

    def reopen(self):
        """Open (or reopen, after rotation or CONFIG SET logfile) the target."""
        path = self.config["logfile"]
        if self._file is not None and self._file is not sys.stdout:
            self._file.close()
        self._file = open(path, "a") if path else sys.stdout
        self._path = path
        inner = FileLogObserver(
            self._file, lambda event: redis_line(event, self.pid, self.role_mark))
        self._observer = FilteringLogObserver(inner, [LevelPredicate(self.config)])

    def __call__(self, event):
        if self.config["logfile"] != self._path:
            self.reopen()
        self._observer(event)
