"""Reading the commands of an append-only file, as Redis 7.0's
loadSingleAppendOnlyFile reads them. Sans-IO: bytes in, commands out.

Theory of operation. Redis reads the file with fgets() into a 1024-byte
buffer and fread(); the quirks that follow are kept, because they decide
what loads, what is a torn tail and what is a corrupt file:

- a line is at most 1023 bytes (or up to a newline): longer ones are read
  in pieces;
- a line starting with '#' is an annotation (``#TS:...``) and skipped;
- a command is ``*<argc>`` (atoi; argc < 1 is a format error), then per
  argument ``$<len>`` (strtol), ``len`` bytes and two more bytes that are
  thrown away unchecked (the CRLF);
- any other first byte is a format error (Redis's fmterr), at the offset of
  the line that broke the rule;
- input that ends inside a command is a short read (uxeof): the last
  complete command's end is where ``aof-load-truncated`` cuts the file.

``AofReader.feed(data)`` returns the complete commands the data finishes;
``close()`` says the file has ended and raises ``AofTruncated`` if a command
was left unfinished. Offsets count from the start of the file (``start``
lets a reader begin after an RDB preamble).
"""

from typing import NamedTuple

from redisrepl.ctext import atoll

LINE_MAX = 1023           # fgets(buf, AOF_ANNOTATION_LINE_MAX_LEN=1024, fp)


class AofCommand(NamedTuple):
    argv: list
    start: int            # offset of its '*'
    end: int              # offset just past its last CRLF (Redis's valid_up_to)


class AofFormatError(Exception):
    """fmterr: the file is not in AOF format at ``offset``. ``commands``:
    the whole commands before it in the same input."""

    def __init__(self, offset):
        super().__init__(f"Bad file format at offset {offset}")
        self.offset = offset
        self.commands = []


class AofTruncated(Exception):
    """uxeof: the file ended inside the command starting at ``offset``.
    ``commands``: the whole commands before it in the same input."""

    def __init__(self, offset):
        super().__init__(f"Unexpected end of file at offset {offset}")
        self.offset = offset
        self.commands = []


class _Incomplete(Exception):
    """More input is needed to finish the command being parsed."""


class AofReader:
    """Incremental parser of one AOF file's command stream."""

    def __init__(self, start=0):
        self._buf = bytearray()
        self._base = start        # file offset of _buf[0]
        self._ended = False

    @property
    def offset(self):
        """Offset just past the last command returned (or skipped annotation)."""
        return self._base

    def feed(self, data):
        """Parse what ``data`` completes; return the AofCommands, in order.
        Raises AofFormatError on a malformed command."""
        self._buf += data
        return self._parse()

    def close(self):
        """The file has ended: return the commands still held back (lines
        that end at EOF without a newline); raise AofTruncated if the file
        ended inside a command."""
        self._ended = True
        return self._parse()

    def _parse(self):
        buf, pos, commands = self._buf, 0, []
        try:
            while True:
                parsed = self._command(buf, pos)
                if parsed is None:
                    break
                command, pos = parsed
                if command is not None:
                    commands.append(command)
        except _Incomplete:
            pass
        except (AofFormatError, AofTruncated) as error:
            # The commands before the bad one were whole: the caller runs
            # them first, as Redis had run them by the time it found out.
            error.commands = commands
            raise
        finally:
            if pos:
                del buf[:pos]
                self._base += pos
        return commands

    def _line(self, buf, pos):
        """fgets: the next line (with its newline) and the position after
        it; None at the end of the file; _Incomplete if more may come."""
        size = len(buf)
        newline = buf.find(b"\n", pos, pos + LINE_MAX)
        if newline >= 0:
            return buf[pos:newline + 1], newline + 1
        if size - pos >= LINE_MAX:
            return buf[pos:pos + LINE_MAX], pos + LINE_MAX
        if not self._ended:
            raise _Incomplete
        if pos < size:
            return buf[pos:], size
        return None

    def _command(self, buf, pos):
        """One step: (AofCommand, next pos), (None, next pos) for an
        annotation, or None at a clean end of input."""
        start = pos
        line = self._line(buf, pos)
        if line is None:
            return None
        line, pos = line
        if line[0] == 0x23:            # '#': an annotation
            return None, pos
        if line[0] != 0x2A:            # not '*'
            raise AofFormatError(self._base + start)
        if len(line) == 1 or line[1] == 0:
            # "*" alone at the end of the file: Redis's readerr at EOF.
            raise self._short(start)
        argc = atoll(bytes(line[1:]))
        if argc < 1:
            raise AofFormatError(self._base + start)
        argv = []
        for _ in range(argc):
            line = self._line(buf, pos)
            if line is None:
                raise self._short(start)
            line, at = line
            if line[0] != 0x24:        # not '$'
                raise AofFormatError(self._base + pos)
            length = atoll(bytes(line[1:]))
            if length < 0:
                raise AofFormatError(self._base + pos)
            end = at + length + 2      # the argument and its CRLF (unchecked)
            if end > len(buf):
                raise self._short(start)
            argv.append(bytes(buf[at:at + length]))
            pos = end
        return AofCommand(argv, self._base + start, self._base + pos), pos

    def _short(self, start):
        """Input ran out inside the command at ``start``: wait for more, or
        at the end of the file, a short read."""
        if self._ended:
            return AofTruncated(self._base + start)
        return _Incomplete()
