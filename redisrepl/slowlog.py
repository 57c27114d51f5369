"""SLOWLOG: the last commands that ran longer than slowlog-log-slower-than."""

from collections import deque

# Redis trims what it keeps of each entry (slowlog.c).
SLOWLOG_ENTRY_MAX_ARGC = 32
SLOWLOG_ENTRY_MAX_STRING = 128


class SlowLog:
    """Newest entry first, as SLOWLOG GET lists them."""

    def __init__(self, max_len=128):
        self.entries = deque()
        self.max_len = max_len
        self.next_id = 0

    def resize(self, max_len):
        # As Redis, a smaller slowlog-max-len trims at the next entry.
        self.max_len = max_len

    def record(self, client, argv, duration_us, now_s):
        args = []
        for i, arg in enumerate(argv[:SLOWLOG_ENTRY_MAX_ARGC]):
            if i == SLOWLOG_ENTRY_MAX_ARGC - 1 and len(argv) > SLOWLOG_ENTRY_MAX_ARGC:
                args.append(b"... (%d more arguments)"
                            % (len(argv) - SLOWLOG_ENTRY_MAX_ARGC + 1))
                break
            if len(arg) > SLOWLOG_ENTRY_MAX_STRING:
                arg = arg[:SLOWLOG_ENTRY_MAX_STRING] + b"... (%d more bytes)" % (
                    len(arg) - SLOWLOG_ENTRY_MAX_STRING)
            args.append(bytes(arg))
        self.entries.appendleft(
            [self.next_id, now_s, duration_us, args, client.addr, client.name])
        self.next_id += 1
        while len(self.entries) > self.max_len:
            self.entries.pop()

    def reset(self):
        self.entries.clear()
