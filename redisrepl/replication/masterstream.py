"""The replica's reader of its master's command stream. Sans-IO.

Theory of operation. After the payload (or right after ``+CONTINUE``) the
master sends the replication stream: RESP multibulk commands, nothing else
(Redis 7.0 masters never send inline commands to an online replica). The
replica must know exactly how many bytes each command took, because its
offset -- what it acknowledges, what PSYNC asks for, what it proxies to its
own replicas -- counts stream bytes.

hiredis parses (C speed); the size of each command is then the size of its
canonical encoding (``*N\\r\\n`` and ``$len\\r\\n<arg>\\r\\n`` per argument), the
only form Redis's processMultibulkBuffer accepts. The bytes are kept until
``take(n)`` hands them out (verbatim, for the backlog and sub-replicas), and
each command's first byte is checked to be ``*`` and its last two ``\\r\\n``:
a master whose stream is not that is desynchronised (Redis: "Protocol error
from master") and ``StreamError`` says so; the link must then be dropped.

A lone ``\\n`` between commands is a keepalive (a master's newline ping):
skipped, counted in no offset.
"""

import hiredis

_NEWLINES = b"\r\n"


class StreamError(Exception):
    """The master sent something that is not a command stream."""


class MasterStream:
    """Commands and their exact sizes from a master's stream bytes."""

    def __init__(self):
        self._reader = hiredis.Reader()
        self._buf = bytearray()   # bytes fed and not yet taken
        self._parsed = 0          # of _buf, bytes of commands already returned
        self.received = 0         # every byte fed (read offset, keepalives too)

    def feed(self, data):
        self.received += len(data)
        self._buf += data
        self._reader.feed(data)

    @property
    def unparsed(self):
        """Bytes received that are no complete command yet."""
        return len(self._buf) - self._parsed

    @property
    def untaken(self):
        """Bytes of returned commands not taken yet, plus unparsed ones."""
        return len(self._buf)

    def next_command(self):
        """The next complete command as (argv, size), or None if the input
        holds none. Raises StreamError on anything else."""
        while True:
            self._skip_keepalives()
            try:
                item = self._reader.gets()
            except hiredis.ProtocolError as error:
                raise StreamError(f"Protocol error from master: {error}") from None
            if item is False:
                return None
            if type(item) is not list or not item or \
                    any(type(arg) is not bytes for arg in item):
                raise StreamError("Protocol error from master: not a command "
                                  f"({_describe(item)})")
            lens = list(map(len, item))
            # *N\r\n, then $len\r\n<arg>\r\n per argument.
            size = (3 + len(str(len(item))) + sum(lens) + 5 * len(lens)
                    + sum(map(len, map(str, lens))))
            start = self._parsed
            buf = self._buf
            if buf[start] != 42 or buf[start + size - 2:start + size] != _NEWLINES:
                raise StreamError("Protocol error from master: a command is not "
                                  "where its size says")
            self._parsed = start + size
            return item, size

    def take(self, size):
        """The first ``size`` bytes of returned commands, removed."""
        if size > self._parsed:
            raise ValueError("take() past the commands returned")
        data = bytes(self._buf[:size])
        del self._buf[:size]
        self._parsed -= size
        return data

    def _skip_keepalives(self):
        """Drop newlines at a command boundary before hiredis reads them as
        a reply's type byte: its unread input is exactly ``_buf[_parsed:]``,
        so it restarts on what follows them."""
        buf = self._buf
        start = end = self._parsed
        while end < len(buf) and buf[end] in (10, 13):
            end += 1
        if end == start:
            return
        del buf[start:end]
        self._reader = hiredis.Reader()
        if len(buf) > start:
            self._reader.feed(bytes(buf[start:]))


def _describe(item):
    text = repr(item)
    return text if len(text) <= 64 else text[:61] + "..."
