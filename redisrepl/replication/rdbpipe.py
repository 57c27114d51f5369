"""What a diskless-sync child runs (the child half of Redis 7.0's
rdbSaveToSlavesSockets).

The child writes ``$EOF:<mark>\\r\\n``, the RDB, then ``<mark>`` into a pipe
(rdbSaveRioWithEOFMark): a replica cannot know the length of a streamed RDB
in advance, so the random 40-character mark tells it where the payload
ends. The parent reads the pipe and fans the bytes out to the replicas'
sockets (transfer.py); the child never touches a socket.

When it has written everything, the child closes the pipe and then waits
until the parent closes its end of a second pipe (the "safe to exit" pipe):
the parent does that once it has read the whole payload, so the child is
reaped only after the transfer is complete and ``rdb_bgsave_in_progress``
stays 1 until then, as in Redis.
"""

import os

from twisted.logger import Logger

from redisrepl.persistence.bgsave import RDB_COW_SIZE, ChildReporter
from redisrepl.replication.payload import EOF_MARK_SIZE

log = Logger()


def new_eof_mark():
    """40 random hex characters (getRandomHexChars)."""
    return os.urandom(EOF_MARK_SIZE // 2).hex().encode()


def framed(snapshot, mark, on_key=None):
    """The bytes a diskless replica receives: the RDB between the marks."""
    yield b"$EOF:" + mark + b"\r\n"
    yield from snapshot.chunks(on_key)
    yield mark


def write_all(fd, chunks):
    """Write every chunk to the (blocking) ``fd``; OSError on failure."""
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


class PipeFds:
    """The two pipes between the parent and a diskless child. The data pipe's
    read end is non-blocking (the reactor reads it); the rest block."""

    def __init__(self):
        self.data_read, self.data_write = os.pipe()
        os.set_blocking(self.data_read, False)
        self.exit_read, self.exit_write = os.pipe()

    def child_side(self):
        return (self.data_write, self.exit_read)

    def parent_side(self):
        return (self.data_read, self.exit_write)

    def close_child_side(self):
        """In the parent after the fork: the child has its own copies."""
        for fd in self.child_side():
            _close(fd)

    def close_all(self):
        for fd in self.child_side() + self.parent_side():
            _close(fd)


def pipe_body(fds, mark):
    """``make_body`` for Persistence.bgsave_to_pipe: returns a function of
    (snapshot, info_pipe, key_delay) giving the child's body."""

    def make_body(snapshot, info_pipe, key_delay):
        reporter = ChildReporter(info_pipe)

        def on_key():
            if key_delay is not None:
                key_delay()
            reporter.key_saved()

        def body():
            # The parent's ends: holding the exit pipe's write end would make
            # the final wait endless; the data read end is the parent's only.
            for fd in fds.parent_side():
                _close(fd)
            ok = True
            try:
                write_all(fds.data_write, framed(snapshot, mark, on_key))
            except OSError as error:
                log.warn("Diskless RDB transfer failed: {reason}",  # noqa: G010
                         reason=error.strerror or str(error))
                ok = False
            except Exception:
                log.failure("Diskless RDB transfer failed")
                ok = False
            if ok:
                reporter.report(RDB_COW_SIZE, "RDB")
            _close(fds.data_write)          # the parent sees the end of the payload
            try:
                os.read(fds.exit_read, 1)   # returns when the parent closes its end
            except OSError:
                pass
            return 0 if ok else 1
        return body
    return make_body


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass
