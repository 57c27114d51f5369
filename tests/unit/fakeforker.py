"""A stand-in for persistence.bgsave.OsForker in unit tests: no process."""


class FakeForker:
    """No process. A disk save's body runs at start() (it writes dump.rdb,
    as the child would); a diskless one is played by the test."""

    def __init__(self):
        self.next_pid = 5000
        self.started = []          # pids, in order
        self.running = {}          # pid -> status poll() reports (None: running)
        self.killed = []
        self.fork_error = None
        self.run_bodies = True
        self.exit_codes = {}

    def start(self, body, keep_fds=()):
        if self.fork_error is not None:
            raise self.fork_error
        pid = self.next_pid
        self.next_pid += 1
        self.started.append(pid)
        self.running[pid] = None
        self.exit_codes[pid] = body() if self.run_bodies else 0
        return pid

    def exit(self, pid=None, exitcode=None, bysignal=0):
        pid = pid if pid is not None else self.started[-1]
        if exitcode is None:
            exitcode = self.exit_codes[pid]
        self.running[pid] = (-1 if bysignal else exitcode, bysignal)

    def poll(self, pid):
        status = self.running.get(pid)
        if status is not None:
            del self.running[pid]
        return status

    def kill(self, pid, signum):
        self.killed.append((pid, signum))
        self.exit(pid, bysignal=signum)
