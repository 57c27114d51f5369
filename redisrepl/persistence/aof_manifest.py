"""The AOF manifest (Redis 7.0's multi-part AOF): which base, history and
incremental files make up the append-only file, in the order they load.

One line per file, space-separated keyword/value pairs::

    file appendonly.aof.2.base.rdb seq 2 type b
    file appendonly.aof.1.incr.aof seq 1 type h
    file appendonly.aof.3.incr.aof seq 3 type i

Parsing follows aofLoadManifestFromFile byte for byte (fgets into a 1025
byte buffer, '#' comment lines, sdssplitargs, atoll, the same error texts),
so a manifest redis-server refuses is refused here with the same message.
Formatting follows getAofManifestAsString: base first, then history, then
incrs; a name is quoted (sdscatrepr) only when sdsneedsrepr says so.

The file I/O helpers at the bottom are the only part that touches the disk.
"""

import os
from typing import NamedTuple

from redisrepl.config.grammar import quote
from redisrepl.ctext import atoll, split_args

BASE, HISTORY, INCR = "b", "h", "i"

MANIFEST_SUFFIX = ".manifest"
TEMP_PREFIX = "temp-"
_MAX_LINE = 1024                      # MANIFEST_MAX_LINE
_TRIM = b" \t\r\n"
_C_SPACE = frozenset(b" \t\n\v\f\r")
_NEEDS_REPR = frozenset(b'\\"\n\r\t\a\b')


class ManifestError(Exception):
    """A manifest redis-server would refuse. ``message`` is Redis's text;
    ``linenum`` and ``line`` (the trimmed line) say where, when known."""

    def __init__(self, message, linenum=None, line=None):
        super().__init__(message)
        self.message = message
        self.linenum = linenum
        self.line = line


class AofFile(NamedTuple):
    name: str
    seq: int
    kind: str        # BASE "b", HISTORY "h" or INCR "i", as the manifest's type


def _needs_repr(name: bytes) -> bool:
    """sdsneedsrepr: a name with quotes, backslashes, blanks or bytes that
    do not print must be written quoted."""
    return any(c in _NEEDS_REPR or c in _C_SPACE or not 0x20 <= c < 0x7F for c in name)


def _fgets_lines(data: bytes):
    """The pieces fgets(buf, 1025, fp) returns: up to and including a
    newline, at most 1024 bytes each."""
    pos, n = 0, len(data)
    while pos < n:
        newline = data.find(b"\n", pos, pos + _MAX_LINE)
        end = pos + _MAX_LINE if newline < 0 else newline + 1
        yield data[pos:end]
        pos = end


def _parse_line(words):
    """One line's words -> AofFile, or the error text."""
    name = seq = kind = None
    for key, value in zip(words[0::2], words[1::2], strict=True):
        key = key.lower()
        if key == b"file":
            if b"/" in value or b"\\" in value:
                return "File can't be a path, just a filename"
            name = value
        elif key == b"seq":
            seq = atoll(value)
        elif key == b"type":
            kind = value[:1]
        # Other keys: ignored, for forward compatibility (as Redis).
    if not name or not seq or not kind:
        return "Invalid AOF manifest file format"
    return AofFile(os.fsdecode(name), seq, kind.decode("latin-1"))


class Manifest:
    """aofManifest: the base (or None), incrs and history in manifest order,
    and the last sequence numbers handed out."""

    def __init__(self, base=None, incrs=None, history=None,
                 curr_base_seq=0, curr_incr_seq=0):
        self.base: AofFile | None = base
        self.incrs: list[AofFile] = list(incrs or ())
        self.history: list[AofFile] = list(history or ())
        self.curr_base_seq = curr_base_seq
        self.curr_incr_seq = curr_incr_seq

    def __repr__(self):
        return (f"Manifest(base={self.base!r}, incrs={self.incrs!r}, "
                f"history={self.history!r}, curr_base_seq={self.curr_base_seq}, "
                f"curr_incr_seq={self.curr_incr_seq})")

    def __eq__(self, other):
        if not isinstance(other, Manifest):
            return NotImplemented
        return vars(self) == vars(other)

    @classmethod
    def parse(cls, data: bytes) -> "Manifest":
        """aofLoadManifestFromFile on the file's bytes; ManifestError with
        Redis's message when redis-server would refuse them."""
        manifest = cls()
        max_seq = 0
        linenum = 0
        for piece in _fgets_lines(data):
            linenum += 1
            if piece[:1] == b"#":
                continue
            if b"\n" not in piece:
                # fgets filled the buffer, or the last line has no newline.
                raise ManifestError("The AOF manifest file contains too long line")
            line = piece.split(b"\0", 1)[0].strip(_TRIM)   # sdsnew stops at NUL
            shown = line.decode("latin-1")
            if not line:
                raise ManifestError("Invalid AOF manifest file format", linenum, shown)
            words = split_args(line)
            if words is None or len(words) < 6 or len(words) % 2:
                raise ManifestError("Invalid AOF manifest file format", linenum, shown)
            entry = _parse_line(words)
            if isinstance(entry, str):
                raise ManifestError(entry, linenum, shown)
            if entry.kind == BASE:
                if manifest.base is not None:
                    raise ManifestError("Found duplicate base file information",
                                        linenum, shown)
                manifest.base = entry
                manifest.curr_base_seq = entry.seq
            elif entry.kind == HISTORY:
                manifest.history.append(entry)
            elif entry.kind == INCR:
                if entry.seq <= max_seq:
                    raise ManifestError("Found a non-monotonic sequence number",
                                        linenum, shown)
                manifest.incrs.append(entry)
                manifest.curr_incr_seq = max_seq = entry.seq
            else:
                raise ManifestError("Unknown AOF file type", linenum, shown)
        if linenum == 0:
            raise ManifestError("Found an empty AOF manifest")
        return manifest

    def to_bytes(self) -> bytes:
        """getAofManifestAsString: base, then history, then incrs."""
        files = ([self.base] if self.base else []) + self.history + self.incrs
        lines = []
        for entry in files:
            name = os.fsencode(entry.name)
            if _needs_repr(name):
                name = quote(name)
            lines.append(b"file %s seq %d type %s\n" % (name, entry.seq, entry.kind.encode()))
        return b"".join(lines)

    def copy(self) -> "Manifest":
        """aofManifestDup: change the copy, persist it, then adopt it."""
        return Manifest(self.base, self.incrs, self.history,
                        self.curr_base_seq, self.curr_incr_seq)

    # Changes, each as the Redis function named; they mutate this manifest.

    def next_base_name(self, appendfilename: str, preamble: bool) -> AofFile:
        """getNewBaseFileNameAndMarkPreAsHistory: the current base (if any)
        becomes the first history entry, a new base with seq+1 takes its
        place (``<appendfilename>.<seq>.base.rdb`` or ``.base.aof``) and is
        returned."""
        if self.base is not None:
            self.history.insert(0, self.base._replace(kind=HISTORY))
        self.curr_base_seq += 1
        suffix = "rdb" if preamble else "aof"
        self.base = AofFile(f"{appendfilename}.{self.curr_base_seq}.base.{suffix}",
                            self.curr_base_seq, BASE)
        return self.base

    def next_incr_name(self, appendfilename: str) -> AofFile:
        """getNewIncrAofName: append a new incr file with seq+1
        (``<appendfilename>.<seq>.incr.aof``) and return it."""
        self.curr_incr_seq += 1
        entry = AofFile(f"{appendfilename}.{self.curr_incr_seq}.incr.aof",
                        self.curr_incr_seq, INCR)
        self.incrs.append(entry)
        return entry

    def last_incr_name(self, appendfilename: str) -> AofFile:
        """getLastIncrAofName: the incr file to append to, a new one if
        there is none."""
        if not self.incrs:
            return self.next_incr_name(appendfilename)
        return self.incrs[-1]

    def mark_incrs_as_history(self, keep_last: bool) -> None:
        """markRewrittenIncrAofAsHistory: after a successful rewrite the
        incrs it covers become history; ``keep_last`` (the AOF is on) keeps
        the one being written to. Order as Redis: each moved to the front."""
        kept = self.incrs[-1:] if keep_last else []
        moved = self.incrs[:-1] if keep_last else self.incrs
        for entry in moved:
            self.history.insert(0, entry._replace(kind=HISTORY))
        self.incrs = kept

    def has_data_files(self) -> bool:
        """A base or an incr is listed (loadAppendOnlyFiles' AOF_NOT_EXIST test)."""
        return self.base is not None or bool(self.incrs)

    def data_files(self) -> list[AofFile]:
        """The files that load, in load order: base, then incrs."""
        return ([self.base] if self.base else []) + self.incrs


def manifest_name(appendfilename: str) -> str:
    """getAofManifestFileName: ``appendonly.aof.manifest``."""
    return appendfilename + MANIFEST_SUFFIX


def load_manifest(dirname: str, appendfilename: str) -> Manifest | None:
    """aofLoadManifestFromDisk: the parsed manifest, None when the directory
    or the manifest is absent; ManifestError / OSError otherwise."""
    path = os.path.join(dirname, manifest_name(appendfilename))
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    return Manifest.parse(data)


def _fsync_dir(dirname: str) -> None:
    fd = os.open(dirname or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def persist_manifest(dirname: str, appendfilename: str, manifest: Manifest) -> None:
    """writeAofManifestFile: write ``temp-<manifest>``, fsync, rename over
    the manifest, fsync the directory. Atomic: a crash leaves the old or
    the new manifest. Raises OSError (the old manifest still in place)."""
    name = manifest_name(appendfilename)
    temp_path = os.path.join(dirname, TEMP_PREFIX + name)
    fd = os.open(temp_path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
    try:
        view = memoryview(manifest.to_bytes())
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(temp_path, os.path.join(dirname, name))
    _fsync_dir(dirname)


def _appendfilename_of(manifest: Manifest) -> str:
    """The appendfilename a manifest's generated names start with (incr or
    base names are ``<appendfilename>.<seq>.incr.aof`` / ``.base.rdb|aof``)."""
    for entry in manifest.incrs + ([manifest.base] if manifest.base else []):
        for suffix in (".incr.aof", ".base.rdb", ".base.aof"):
            tail = f".{entry.seq}{suffix}"
            if entry.name.endswith(tail) and len(entry.name) > len(tail):
                return entry.name[:-len(tail)]
    raise ValueError("cannot tell the appendfilename from the manifest: pass it")


def delete_history(dirname: str, manifest: Manifest, appendfilename: str | None = None,
                   log=None) -> None:
    """aofDelHistoryFiles: unlink the history files, drop them from
    ``manifest`` and persist it. A file already gone is no error.
    ``appendfilename`` names the manifest file; by default it is read off
    the manifest's own base/incr names. ``log`` (a twisted Logger), when
    given, gets Redis's notice per file. Raises OSError if persisting fails."""
    if not manifest.history:
        return
    if appendfilename is None:
        appendfilename = _appendfilename_of(manifest)
    for entry in manifest.history:
        if log is not None:
            log.info("Removing the history file {name} in the background", name=entry.name)
        try:
            os.unlink(os.path.join(dirname, entry.name))
        except FileNotFoundError:
            pass
    manifest.history = []
    persist_manifest(dirname, appendfilename, manifest)
