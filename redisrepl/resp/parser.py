r"""Sans-IO request parser with Redis 7.0's framing rules and error texts.

Theory of operation
-------------------
Redis splits requests with two hand-written parsers (networking.c
processMultibulkBuffer and processInlineBuffer).  The ``_py_*`` methods
re-implement them exactly (the "exact parser"); hiredis.Reader sits in front
to accelerate the common case, a stream of well-formed ``*N``/``$len``
commands.  hiredis parses RESP *replies*, so it accepts more than Redis does;
its output is only used when it provably equals Redis's parse:

* every command is a list of bytes within the current limits (no ints, nil,
  nested arrays, error objects ...);
* the input holds none of ``+ ( = | ~ % >``, the only type bytes hiredis
  also turns into bytes items or top-level lists.  If one appears (mostly
  just data) every header's wire position is recomputed and must hold
  ``*``/``$``: both parsers accept only canonical integers, so a command
  takes ``*N\r\n`` plus ``$len\r\n`` + arg + 2 bytes per argument;
* hiredis allocates N slots for ``*N`` before any element arrives and frees
  them one by one (``*2147483647`` costs seconds), so input holding a count
  >= 100000 goes to the exact parser.

hiredis is drained in batches, so a batch can be refused before any of its
commands is handed out; the exact parser then re-parses it from its first
byte, yields the good commands and raises Redis's error at the bad one.
hiredis cannot tell whether it stopped between two elements of a command, so
``*0`` is fed after each batch as a probe: at a boundary it comes back alone.
A partial command (located with the size rule) moves to the exact parser,
which checks each header as it arrives (``$600000000`` fails at once) and
just counts the bytes of a big bulk; the next boundary starting with ``*``
goes back to hiredis.  Inline requests, and everything while
``authenticated`` is False, use the exact parser.

Known divergences from Redis 7.0
--------------------------------
* "too big ..." (64 KiB without a terminator): Redis checks after each
  read(), whose size follows its query buffer's growth, so a line sent in one
  burst fails somewhere past 64 KiB (~80 KiB with 7.0.15) and a trickled one
  right past 64 KiB.  We check as if every byte were a read: a terminator
  more than 65536 bytes into the line is too late, whatever the chunking.
* The query-buffer limit is checked on feed(), as Redis does on read().
  ``pending`` counts a batch of parsed, not yet returned commands in full
  until its last command is taken.
* Messages are str; the byte in "expected '$', got '%c'" is latin-1 mapped.

Checked against redis-server 7.0.15 with random byte soups: each parsed
command comes back as Redis's "unknown command" error quoting its arguments,
so comparing reply streams (and whether the connection closed) compares the
two parsers.
"""

import re
from collections import deque
from itertools import chain
from operator import itemgetter

import hiredis

from redisrepl.ctext import split_args, string2ll

__all__ = ["ProtocolError", "QueryBufferLimitExceeded", "RespParser"]

PROTO_INLINE_MAX_SIZE = 64 * 1024
# INT_MAX since Redis 7.0 (redis#9528); Redis <= 6.2 refused > 1024*1024.
MAX_MULTIBULK_LEN = 2**31 - 1
UNAUTH_MAX_MULTIBULK_LEN = 10
UNAUTH_MAX_BULK_LEN = 16384

_HUGE_STAR = re.compile(rb"\*[1-9][0-9]{5}")  # *N with N >= 100000
_HUGE_ANY = re.compile(rb"[*~>|][1-9][0-9]{5}")
_join = b"".join
_HIREDIS_TROUBLE = (hiredis.HiredisError, TypeError, ValueError, MemoryError, RecursionError)


class ProtocolError(Exception):
    """A request Redis refuses; reply ``-ERR <message>`` and close."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class QueryBufferLimitExceeded(ProtocolError):
    """The client's unprocessed input passed max_query_buffer: close, no reply."""


def _string2ll(buf, start, end):
    """Redis's string2ll() on buf[start:end]: the int, or None."""
    return string2ll(buf[start:end])


_NDIGITS = bytes(len(str(n)) for n in range(1 << 16))


def _ndigits(ns):
    """Sum of the decimal lengths of the ints ns."""
    if len(ns) > 1:
        try:
            return sum(itemgetter(*ns)(_NDIGITS))  # one C call for the lot
        except IndexError:  # some n >= 65536
            pass
    return sum(map(len, map(str, ns)))


def _wire_len(cmds):
    """Bytes that cmds take as canonical ``*N`` / ``$len`` requests."""
    lens = list(map(len, chain.from_iterable(cmds)))
    counts = list(map(len, cmds))
    return sum(lens) + 5 * len(lens) + 3 * len(counts) + _ndigits(lens) + _ndigits(counts)


def _verify(data, cmds):
    """End offset of cmds in data if every header is where it should be, else -1."""
    pos, ndigits = 0, _NDIGITS
    try:
        for cmd in cmds:
            if data[pos] != 42:  # '*'
                return -1
            pos += 3 + ndigits[len(cmd)]
            for arg in cmd:
                if data[pos] != 36:  # '$'
                    return -1
                n = len(arg)
                pos += 5 + n + (ndigits[n] if n < 65536 else len(str(n)))
    except IndexError:
        return -1
    return pos


class RespParser:
    """Turns a client's byte stream into commands, as Redis 7.0 would."""

    def __init__(self, max_bulk_len=512 * 1024 * 1024,
                 max_query_buffer=1024 * 1024 * 1024, *, use_hiredis=True):
        self._max_bulk_len = max_bulk_len
        self.max_query_buffer = max_query_buffer
        self._authenticated = True
        self._fast = use_hiredis  # False: exact parser only (tests, bench)
        self._rd = hiredis.Reader()
        self._shadow = []  # input for hiredis, not yet given to it
        self._shadow_len = 0
        self._queue = deque()  # checked commands, not yet returned
        self._queued_bytes = 0
        self._py = not use_hiredis  # the exact parser owns the input
        self._buf = bytearray()  # its input; consumed bytes are deleted
        self._consumed = 0  # bytes ever deleted from _buf
        self._sticky = 0  # no hand-back to hiredis before _consumed reaches it
        self._mbl = 0  # arguments still to read; 0 at a command boundary
        self._bulklen = -1  # length of the argument being read, -1: header next
        self._args = None
        self._err = None  # raised once the queue is empty

    # Redis parses each command after the previous one ran, so a limit that
    # tightens (CONFIG SET, RESET) applies to commands we already queued.
    @property
    def authenticated(self):
        return self._authenticated

    @authenticated.setter
    def authenticated(self, value):
        tighter = self._authenticated and not value
        self._authenticated = bool(value)
        if tighter:
            self._recheck_queue()

    @property
    def max_bulk_len(self):
        return self._max_bulk_len

    @max_bulk_len.setter
    def max_bulk_len(self, value):
        tighter = value < self._max_bulk_len
        self._max_bulk_len = value
        if tighter:
            self._recheck_queue()

    @property
    def pending(self):
        """Bytes fed but not yet returned as commands (CLIENT LIST qbuf)."""
        n = len(self._buf) + self._shadow_len
        return n + self._queued_bytes if self._queue else n

    def feed(self, data):
        """Add bytes read from the client."""
        if self._err is not None or not data:
            return
        if type(data) is not bytes:  # we keep references to it
            data = bytes(data)
        if self._py:
            self._buf += data
        else:  # hiredis sees it in _drain, after the screens
            self._shadow.append(data)
            self._shadow_len += len(data)
        if self.pending > self.max_query_buffer:  # Redis checks after each read
            # Redis closes without running what is left: drop the queue too.
            self._err = QueryBufferLimitExceeded(
                "closing client that reached max query buffer length")
            self._queue.clear()

    def get_command(self):
        """The next command (a list of bytes), or None until more data is fed.

        Raises ProtocolError once every command before the bad input is out.
        """
        q = self._queue
        if q:
            return q.popleft()
        return self._next()

    def _next(self):
        if self._err is not None:
            raise self._err
        q = self._queue
        try:
            while True:
                if not self._py:
                    if not self._shadow_len:
                        return None
                    self._drain()
                    if q:
                        return q.popleft()
                    if not self._py:
                        return None
                cmd = self._py_next()
                if cmd is not None or self._py:
                    return cmd
                # handed back to hiredis: go on with it
        except ProtocolError as e:
            self._err = e
            raise

    # -- hiredis fast path -------------------------------------------------

    def _drain(self):
        chunks = self._shadow
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._shadow, self._shadow_len = [], 0
        size, pos, cmds, partial = len(data), len(data), [], False
        # + ( = | ~ % > are the type bytes whose items or top-level replies
        # can pass the join test below; if present, check every header.
        if size < 8192:  # one C call beats seven memchr() on short input
            risky = len(data.translate(None, b"+(=|~%>")) != size
        else:
            risky = (b"+" in data or b"(" in data or b"=" in data or b"|" in data
                     or b"~" in data or b"%" in data or b">" in data)
        # hiredis allocates an N-slot list per aggregate header before any
        # element arrives, and frees it slot by slot: keep big N away from it.
        ok = (data[0] == 42 and self._authenticated and not _HUGE_STAR.search(data)
              and not (risky and _HUGE_ANY.search(data)))
        if ok:
            rd = self._rd
            try:
                rd.feed(data)
                gets = rd.gets
                cmd = gets()
                while cmd is not False:
                    cmds.append(cmd)
                    cmd = gets()
                if not rd.has_data():  # a boundary, or between two elements?
                    rd.feed(b"*0\r\n")  # at a boundary this is just an empty command
                    cmd = gets()
                    partial = type(cmd) is not list or bool(cmd) or rd.has_data()
                else:
                    partial = True
                _join(map(_join, cmds))  # TypeError unless lists of bytes
                if size > self._max_bulk_len:
                    ok = max(map(len, chain.from_iterable(cmds))) <= self._max_bulk_len
            except _HIREDIS_TROUBLE:
                ok = False
            if ok and (risky or partial):
                pos = _verify(data, cmds) if risky else _wire_len(cmds)
                ok = 0 <= pos < size if partial else pos == size
            if partial or not ok:
                self._rd = hiredis.Reader()  # it holds a partial reply
        if not ok:  # let the exact parser explain this batch
            self._to_py(data, sticky=size)
            return
        self._queue.extend(cmds if all(cmds) else filter(None, cmds))
        self._queued_bytes = pos
        if partial:
            self._to_py(data[pos:] if pos else data, sticky=1)  # parse it here

    def _to_py(self, data, sticky):
        """The exact parser takes data; it keeps it for at least sticky bytes."""
        self._py = True
        self._buf += data
        self._sticky = self._consumed + sticky

    def _recheck_queue(self):
        for i, cmd in enumerate(self._queue):
            err = self._limit_error(cmd)
            if err:
                for _ in range(len(self._queue) - i):
                    self._queue.pop()
                self._err = ProtocolError("Protocol error: " + err)
                return

    def _limit_error(self, cmd):
        """The error Redis would give this multibulk under the current limits."""
        unauth = not self._authenticated
        if unauth and len(cmd) > UNAUTH_MAX_MULTIBULK_LEN:
            return "unauthenticated multibulk length"
        for arg in cmd:  # in Redis's order
            if len(arg) > self._max_bulk_len:
                return "invalid bulk length"
            if unauth and len(arg) > UNAUTH_MAX_BULK_LEN:
                return "unauthenticated bulk length"
        return None

    # -- exact parser (processInputBuffer) ---------------------------------

    def _eat(self, n):
        del self._buf[:n]  # O(1): bytearray just moves its start
        self._consumed += n

    def _hand_back(self):
        """At a boundary past the sticky region: give the rest to hiredis."""
        rest = bytes(self._buf)
        self._eat(len(rest))
        self._py = False
        if rest:
            self._shadow, self._shadow_len = [rest], len(rest)

    def _py_next(self):
        """Next command, or None when more data is needed (or handed back)."""
        buf = self._buf
        while True:
            if not self._mbl:  # at a command boundary
                if (self._fast and self._consumed >= self._sticky and self._authenticated
                        and (not buf or buf[0] == 42)):
                    self._hand_back()
                    return None
                if not buf:
                    return None
                if buf[0] != 42:
                    args = self._py_inline(buf)
                    if args is None:
                        return None
                    if args:
                        return args
                    continue  # empty line: skipped
                head = self._py_header(buf, 0, "mbulk")
                if head is None:
                    return None
                ll, pos = head
                if ll > MAX_MULTIBULK_LEN:
                    raise ProtocolError("Protocol error: invalid multibulk length")
                if ll > UNAUTH_MAX_MULTIBULK_LEN and not self._authenticated:
                    raise ProtocolError("Protocol error: unauthenticated multibulk length")
                if ll <= 0:
                    self._eat(pos)
                    continue  # *0 and *-N: nothing to run
                self._mbl, self._args = ll, []
            else:
                pos = 0
            args, left, ll = self._args, self._mbl, self._bulklen
            size = len(buf)
            while left:
                if ll < 0:
                    head = self._py_header(buf, pos, "bulk")
                    if head is None:
                        break
                    ll, pos = head
                    if ll < 0 or ll > self._max_bulk_len:
                        raise ProtocolError("Protocol error: invalid bulk length")
                    if ll > UNAUTH_MAX_BULK_LEN and not self._authenticated:
                        raise ProtocolError("Protocol error: unauthenticated bulk length")
                if size - pos < ll + 2:  # the 2 bytes after the body are not checked
                    break
                if ll < 65536:
                    args.append(bytes(buf[pos:pos + ll]))
                else:
                    with memoryview(buf) as mv:
                        args.append(mv[pos:pos + ll].tobytes())  # one copy, not two
                pos += ll + 2
                ll = -1
                left -= 1
            self._eat(pos)
            self._mbl, self._bulklen = left, ll
            if left:
                return None
            self._args = None
            return args

    def _py_header(self, buf, pos, kind):
        """Parse the '*N' / '$N' line at pos: (N, end of line), None to wait."""
        nl = buf.find(13, pos)
        if 0 <= nl - pos <= PROTO_INLINE_MAX_SIZE and nl + 1 < len(buf):
            v = _string2ll(buf, pos + 1, nl)
            if v is not None and (kind == "mbulk" or buf[pos] == 36):
                return v, nl + 2
            if buf.find(0, pos, nl) < 0:
                if kind == "bulk" and buf[pos] != 36:
                    c = " " if buf[pos] in (10, 13) else chr(buf[pos])  # addReplyErrorFormat
                    raise ProtocolError(f"Protocol error: expected '$', got '{c}'")
                what = "multibulk" if kind == "mbulk" else "bulk"
                raise ProtocolError(f"Protocol error: invalid {what} length")
        if nl >= 0 and buf.find(0, pos, nl) >= 0:
            nl = -1  # Redis uses strchr(), which stops at a NUL byte
        if (nl - pos > PROTO_INLINE_MAX_SIZE
                or (nl < 0 and len(buf) - pos > PROTO_INLINE_MAX_SIZE)):
            raise ProtocolError(f"Protocol error: too big {kind} count string")
        return None

    def _py_inline(self, buf):
        nl = buf.find(10)
        if nl >= 0 and buf.find(0, 0, nl) >= 0:
            nl = -1  # strchr() again
        # Redis checks "> 64 KiB, no terminator yet" after each read(); we
        # check it as if every byte were a read (see the module docstring).
        if nl > PROTO_INLINE_MAX_SIZE or (nl < 0 and len(buf) > PROTO_INLINE_MAX_SIZE):
            raise ProtocolError("Protocol error: too big inline request")
        if nl < 0:
            return None
        line = bytes(buf[:nl - 1 if nl and buf[nl - 1] == 13 else nl])
        self._eat(nl + 1)
        args = split_args(line)
        if args is None:
            raise ProtocolError("Protocol error: unbalanced quotes in request")
        return args
