"""The byte movers of a full resync: the RDB payload from the parent to
replica transports, never faster than each replica takes it.

- ``BulkFileSender`` (disk sync, Redis's sendBulkToSlave): a pull producer
  registered on one replica's transport. Each time the transport's buffer
  has drained it sends the next chunk of ``$<len>\\r\\n`` + the file, so a
  slow replica only slows its own transfer and nothing piles up in memory.
- ``PipeReader`` + ``Fanout`` (diskless sync, rdbPipeReadHandler and
  rdbPipeWriteHandler): the reactor reads the child's pipe and writes each
  chunk to every replica. Each replica transport has a push producer (an
  ``Outlet``) registered: while any transport says "pause", the pipe is not
  read, the child blocks on its full pipe, and memory stays bounded by one
  chunk per replica over the transport's buffer size.

A transport that loses its connection calls its producer's stopProducing:
the transfer to that replica stops, the others go on.
"""

import errno
import os

from twisted.internet.interfaces import IPullProducer, IPushProducer, IReadDescriptor
from twisted.python import failure
from zope.interface import implementer

# Bytes read from the file or the pipe per step. Twisted's transports hold
# 64 KB before pausing a producer; larger steps gain nothing.
CHUNK_SIZE = 64 * 1024
# How many pipe reads one reactor turn may do while no replica is slow.
READS_PER_TURN = 16


@implementer(IPullProducer)
class BulkFileSender:
    """``$<size>\\r\\n`` then ``size`` bytes of ``file`` to ``transport``.

    ``on_done()`` runs once everything is written (the producer is already
    unregistered), ``on_error(reason)`` if the file could not be read (also
    unregistered; the caller drops the replica), ``on_stopped()`` if the
    transport went away first. ``on_sent(n)`` counts payload bytes.
    """

    def __init__(self, transport, file, size, on_done, on_error, on_stopped,
                 on_sent=None):
        self.transport = transport
        self.file = file
        self.size = size
        self.sent = 0
        self.preamble = b"$%d\r\n" % size
        self._on_done = on_done
        self._on_error = on_error
        self._on_stopped = on_stopped
        self._on_sent = on_sent

    @property
    def active(self):
        return self.file is not None

    def start(self):
        """Register with the transport, which asks for the first chunk now."""
        self.transport.registerProducer(self, False)

    def resumeProducing(self):
        if self.file is None:
            return
        if getattr(self.transport, "disconnecting", False):
            # loseConnection() was called: it waits for us to unregister.
            self._finish(self._on_stopped)
            return
        want = min(CHUNK_SIZE, self.size - self.sent)
        try:
            chunk = self.file.read(want) if want else b""
        except OSError as error:
            self._finish(self._on_error, error.strerror or str(error))
            return
        if want and not chunk:
            self._finish(self._on_error, "premature EOF")
            return
        self.sent += len(chunk)
        if self.preamble:
            chunk = self.preamble + chunk
            self.preamble = b""
        self.transport.write(chunk)
        if self._on_sent is not None:
            self._on_sent(len(chunk))
        if self.sent >= self.size:
            self._finish(self._on_done)

    def stopProducing(self):
        """The transport lost its connection (it has forgotten us already)."""
        if self.file is None:
            return
        self._close_file()
        self._on_stopped()

    def abort(self):
        """Stop sending and unregister, telling no one (the caller knows)."""
        if self.file is not None:
            self._close_file()
            _unregister(self.transport, self)

    def _finish(self, callback, *args):
        self._close_file()
        _unregister(self.transport, self)
        callback(*args)

    def _close_file(self):
        file, self.file = self.file, None
        file.close()


def _unregister(transport, producer):
    if getattr(transport, "producer", producer) is producer:
        transport.unregisterProducer()


@implementer(IReadDescriptor)
class PipeReader:
    """The parent's end of a diskless child's pipe, read by the reactor.

    ``sink`` gets ``data(chunk)``, then ``eof()`` or ``read_error(reason)``.
    ``pause``/``resume`` stop and restart reading; ``close`` ends it.
    """

    def __init__(self, reactor, fd, sink):
        self.reactor = reactor
        self.fd = fd
        self.sink = sink
        self.reading = False
        self.paused = False
        self.closed = False

    def start(self):
        self._watch()

    def pause(self):
        self.paused = True
        self._unwatch()

    def resume(self):
        self.paused = False
        self._watch()

    def close(self):
        if self.closed:
            return
        self._unwatch()
        self.closed = True
        try:
            os.close(self.fd)
        except OSError:
            pass

    def _watch(self):
        if not self.reading and not self.closed:
            self.reading = True
            self.reactor.addReader(self)

    def _unwatch(self):
        if self.reading:
            self.reading = False
            self.reactor.removeReader(self)

    # -- IReadDescriptor -----------------------------------------------------------

    def fileno(self):
        return -1 if self.closed else self.fd

    def logPrefix(self):
        return "RDBPipe"

    def doRead(self):
        for _ in range(READS_PER_TURN):
            if self.closed or self.paused:
                return
            try:
                chunk = os.read(self.fd, CHUNK_SIZE)
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno == errno.EINTR:
                    continue
                self.close()
                self.sink.read_error(error.strerror or str(error))
                return
            if not chunk:
                self.close()
                self.sink.eof()
                return
            self.sink.data(chunk)

    def connectionLost(self, reason):
        """The reactor saw the pipe hang up (epoll reports the writer's
        close as HUP, without a readable event once the data is gone): read
        what is left, which ends with the EOF, or report the error."""
        if self.closed:
            return
        self.reading = False          # the reactor dropped us already
        self.paused = False
        self.doRead()
        if not self.closed:
            self.close()
            self.sink.read_error(reason.getErrorMessage()
                                 if isinstance(reason, failure.Failure) else str(reason))


@implementer(IPushProducer)
class Outlet:
    """One replica of a diskless transfer: the push producer registered on
    its transport, and the transport's "slow down" signals to the fan-out."""

    def __init__(self, fanout, link, transport):
        self.fanout = fanout
        self.link = link
        self.transport = transport
        self.paused_since = None      # clock seconds, while paused
        self.stopped = False

    def pauseProducing(self):
        self.fanout._paused(self)

    def resumeProducing(self):
        self.fanout._resumed(self)

    def stopProducing(self):
        # The connection is gone (Twisted unregistered us already).
        self.fanout._stopped(self)


class Fanout:
    """Every chunk of the pipe to every replica still there.

    ``source`` has pause()/resume() (a PipeReader). ``on_lost(link)`` runs
    for a replica whose connection went away mid-payload; ``on_sent(n)``
    counts bytes written to sockets. ``clock`` gives ``seconds()``.
    """

    def __init__(self, links, source, clock, on_lost, on_sent=None):
        self.source = source
        self.clock = clock
        self.on_lost = on_lost
        self.on_sent = on_sent
        self.outlets = {}
        self.paused = set()
        for link in links:
            transport = link.client.conn.transport
            outlet = Outlet(self, link, transport)
            self.outlets[link] = outlet
            transport.registerProducer(outlet, True)

    @property
    def links(self):
        return list(self.outlets)

    def data(self, chunk):
        """A chunk of the payload from the pipe."""
        for outlet in list(self.outlets.values()):
            outlet.transport.write(chunk)
            if self.on_sent is not None:
                self.on_sent(len(chunk))

    def release(self, link):
        """Forget ``link`` and unregister its producer (the payload is done,
        or the replica is being dropped). True if it was part of this one."""
        outlet = self.outlets.pop(link, None)
        if outlet is None:
            return False
        outlet.stopped = True
        _unregister(outlet.transport, outlet)
        self._unpause(outlet)
        return True

    def release_all(self):
        for link in list(self.outlets):
            self.release(link)

    def stalled_since(self, link):
        """Clock seconds since when ``link`` has kept the pipe paused, or None."""
        outlet = self.outlets.get(link)
        return outlet.paused_since if outlet is not None else None

    # -- from the outlets ----------------------------------------------------------

    def _paused(self, outlet):
        if outlet.stopped:
            return
        if outlet.paused_since is None:
            outlet.paused_since = self.clock.seconds()
        self.paused.add(outlet)
        self.source.pause()

    def _resumed(self, outlet):
        if not outlet.stopped:
            self._unpause(outlet)

    def _unpause(self, outlet):
        outlet.paused_since = None
        if outlet in self.paused:
            self.paused.discard(outlet)
            if not self.paused:
                self.source.resume()

    def _stopped(self, outlet):
        if outlet.stopped:
            return
        outlet.stopped = True
        self.outlets.pop(outlet.link, None)
        self._unpause(outlet)
        self.on_lost(outlet.link)
