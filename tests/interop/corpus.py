"""The differential corpus: requests as data, one per line.

Format of tests/interop/corpus/*.txt (see README there):

    # a comment                   ignored, as are blank lines
    #! setup: CONFIG SET ...      run on a separate admin connection first
    #! teardown: CONFIG SET ...   run on the admin connection at the end
    SET k "v with spaces"         a request, in redis-cli's quoting
    @sort KEYS *                  a request whose reply is normalized

Normalizers (each is applied to both servers' replies, then compared):

    @sort    sort every array of scalars (hash-ordered replies: KEYS, SCAN)
    @pairs   a flat field/value array sorted by field (CONFIG GET)
    @shape   only types and lengths compared, not values (ids, timestamps)
    @fields  a text reply reduced to its field names (INFO, CLIENT LIST)
    @noreply the request has no reply (CLIENT REPLY OFF/SKIP): read nothing
"""

import os
from dataclasses import dataclass, field

from tests.support import wire

CORPUS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

NORMALIZERS = ("sort", "pairs", "shape", "fields", "noreply")


@dataclass
class Request:
    lineno: int
    text: str
    args: list
    mode: str = ""        # one of NORMALIZERS, or "" for a byte-exact compare


@dataclass
class Corpus:
    name: str
    requests: list = field(default_factory=list)
    setup: list = field(default_factory=list)       # lists of args
    teardown: list = field(default_factory=list)


def load(path):
    """Parse one corpus file; a malformed line raises ValueError naming it."""
    corpus = Corpus(os.path.splitext(os.path.basename(path))[0])
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip(b"\r\n")
            text = line.decode("utf-8", "backslashreplace")
            stripped = line.strip()
            if stripped.startswith(b"#!"):
                kind, _, command = stripped[2:].partition(b":")
                target = {b"setup": corpus.setup,
                          b"teardown": corpus.teardown}.get(kind.strip())
                if target is None:
                    raise ValueError(f"{path}:{lineno}: unknown header {text!r}")
                target.append(wire.split_args(command))
                continue
            if not stripped or stripped.startswith(b"#"):
                continue
            mode = ""
            if stripped.startswith(b"@"):
                word, _, stripped = stripped[1:].partition(b" ")
                mode = word.decode()
                if mode not in NORMALIZERS:
                    raise ValueError(f"{path}:{lineno}: unknown normalizer @{mode}")
            try:
                args = wire.split_args(stripped)
            except wire.Unbalanced:
                raise ValueError(f"{path}:{lineno}: unbalanced quotes") from None
            corpus.requests.append(Request(lineno, text, args, mode))
    return corpus


def corpus_files():
    return sorted(os.path.join(CORPUS_DIR, name) for name in os.listdir(CORPUS_DIR)
                  if name.endswith(".txt"))


# -- normalization -------------------------------------------------------------

def _is_scalar(tree):
    _kind, payload = tree
    return not isinstance(payload, list)


def _sort_arrays(tree):
    kind, payload = tree
    if not isinstance(payload, list):
        return tree
    items = [_sort_arrays(t) for t in payload]
    if all(_is_scalar(t) for t in items):
        items.sort(key=lambda t: (t[0], t[1] or b""))
    return (kind, items)


def _sort_pairs(tree):
    kind, payload = tree
    if not isinstance(payload, list):
        return tree
    pairs = [payload[i:i + 2] for i in range(0, len(payload), 2)]
    pairs.sort(key=lambda pair: pair[0][1] or b"")
    return (kind, [t for pair in pairs for t in pair])


def _shape(tree):
    kind, payload = tree
    if isinstance(payload, list):
        return (kind, [_shape(t) for t in payload])
    if kind == ord("-"):
        # The error code still has to match (ERR, WRONGTYPE, ...).
        return (kind, payload.split(b" ", 1)[0])
    return (kind, b"" if payload is not None else None)


def _field_names(tree):
    """INFO's `name:value` lines and CLIENT LIST's `name=value` words, values
    dropped; `# Section` headers and line order are kept (and a RESP3
    verbatim string's `txt:` format prefix)."""
    kind, payload = tree
    if isinstance(payload, list) or payload is None:
        return tree
    prefix = b""
    if kind == ord("="):
        prefix, payload = payload[:4], payload[4:]
    lines = []
    for line in payload.split(b"\n"):
        line = line.rstrip(b"\r")
        if line.startswith(b"#") or not line:
            lines.append(line)
            continue
        words = [word.split(b"=", 1)[0].split(b":", 1)[0] for word in line.split(b" ")]
        lines.append(b" ".join(words))
    return (kind, prefix + b"\n".join(lines))


_NORMALIZE = {"sort": _sort_arrays, "pairs": _sort_pairs, "shape": _shape,
              "fields": _field_names}


def normalize(mode, raw):
    """The reply bytes to compare for a request in this mode."""
    if not mode or mode == "noreply" or raw is None:
        return raw
    if raw.startswith(b"-"):
        return raw     # an error is compared verbatim whatever the mode
    tree, _end = wire.parse_reply(raw)
    return wire.encode_tree(_NORMALIZE[mode](tree))
