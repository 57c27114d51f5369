"""Value kinds: how one directive parses, prints and rewrites its value.

Each kind mirrors one "type interface" of Redis's config.c:

    parse(args, current, ctx)   the words after the name -> typed value,
                                or raise Invalid(<Redis's error text>)
    format(value, ctx)          -> bytes exactly as CONFIG GET shows it
    rewrite(name, value, default, ctx)
                                -> [(line, force), ...] for CONFIG REWRITE, or
                                   None: no line, and drop the old ones

`ctx` is the Config; kinds use only ctx.reading_file, ctx.save_loaded,
ctx.chdir and ctx.getcwd. Typed values are plain Python: int, bool, str
(bytes decoded as UTF-8 with surrogateescape, so any byte survives), and
small structures for the special directives (see each class).
"""

from . import grammar
from .grammar import LLONG_MAX, LLONG_MIN, ULLONG_MAX, memtoull, quote


class Invalid(Exception):
    """A value Redis would refuse; args[0] is Redis's error text."""

    @property
    def text(self):
        return self.args[0]


def dec(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _strtol(s: bytes):
    """strtoll(s, &end, 10) as Redis uses it: (value, fully_consumed)."""
    i, n = 0, len(s)
    while i < n and s[i] in b" \t\n\v\f\r":
        i += 1
    sign = 1
    if i < n and s[i] in b"+-":
        sign = -1 if s[i] == 0x2D else 1
        i += 1
    start = i
    while i < n and 0x30 <= s[i] <= 0x39:
        i += 1
    if i == start:
        return 0, not s     # no digits: end stays at the start of s
    v = max(LLONG_MIN, min(LLONG_MAX, sign * int(s[start:i])))
    return v, i == n


def _int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


class Kind:
    multi_arg = False      # takes several words (save, bind, ...)

    def parse(self, args, current, ctx):
        raise NotImplementedError

    def format(self, value, ctx) -> bytes:
        raise NotImplementedError

    def rewrite(self, name, value, default, ctx):
        return [(name + b" " + self.format(value, ctx), value != default)]

    def get(self, ctx, name):
        return ctx._values[name]

    def put(self, ctx, name, value):
        ctx._values[name] = value


class Bool(Kind):
    """yes/no (any case) -> bool."""

    def parse(self, args, current, ctx):
        word = args[0].lower()
        if word == b"yes":
            return True
        if word == b"no":
            return False
        raise Invalid("argument must be 'yes' or 'no'")

    def format(self, value, ctx):
        return b"yes" if value else b"no"


class Number(Kind):
    """An integer with C bounds; memory units, percent or octal as flagged.

    Redis parses into a signed 64-bit value and checks bounds as unsigned
    for unsigned C types (so -1 is "between 0 and 18446744073709551615").
    Percent values ("10%", maxmemory-clients) are stored negative, as Redis
    stores them.
    """

    def __init__(self, lo, hi, *, unsigned=False, memory=False, percent=False,
                 octal=False, clamp=None, set_min=None):
        self.lo, self.hi, self.unsigned = lo, hi, unsigned
        self.memory, self.percent, self.octal = memory, percent, octal
        self.clamp = clamp          # always (Redis: hz)
        self.set_min = set_min      # on CONFIG SET only (repl-backlog-size)

    def _to_ll(self, s):
        if self.memory:
            v = memtoull(s)
            if v is not None:
                return v - (1 << 64) if v > LLONG_MAX else v
        if (self.percent and len(s) > 1 and s.endswith(b"%")):
            v = grammar.string2ll(s[:-1])
            if v is not None and v >= 0:
                return -v
        if self.octal:
            v = grammar.strtoll_octal(s)
            if v is not None:
                return v
        if not (self.memory or self.percent or self.octal):
            v = grammar.string2ll(s)
            if v is not None:
                return v
        if self.memory and self.percent:
            raise Invalid("argument must be a memory or percent value")
        if self.memory:
            raise Invalid("argument must be a memory value")
        if self.octal:
            raise Invalid("argument couldn't be parsed as an octal number")
        raise Invalid("argument couldn't be parsed into an integer")

    def _bounds_error(self):
        if self.octal:
            return "argument must be between %o and %o inclusive" % (
                self.lo, self.hi)
        return "argument must be between %d and %d inclusive" % (
            self.lo, self.hi)

    def parse(self, args, current, ctx):
        ll = self._to_ll(args[0])
        if self.unsigned:
            v = ll & ULLONG_MAX
            if not self.lo <= v <= self.hi:
                raise Invalid(self._bounds_error())
        else:
            v = ll
            if self.percent and v < 0:
                if v < self.lo:
                    raise Invalid(
                        "percentage argument must be less or equal to %d"
                        % -self.lo)
            elif not self.lo <= v <= self.hi:
                raise Invalid(self._bounds_error())
        if self.clamp:
            v = max(self.clamp[0], min(self.clamp[1], v))
        if self.set_min is not None and not ctx.reading_file:
            v = max(self.set_min, v)
        return v

    def format(self, value, ctx):
        if self.percent and value < 0:
            return b"%d%%" % -value
        if self.memory:
            return b"%d" % (value & ULLONG_MAX)
        if self.octal:
            return b"%o" % value
        return b"%d" % value

    def rewrite(self, name, value, default, ctx):
        if self.percent and value < 0:
            text = b"%d%%" % -value
        elif self.memory:
            text = grammar.format_memory(value)
        else:
            text = self.format(value, ctx)
        return [(name + b" " + text, value != default)]


class String(Kind):
    """A string -> str. `empty_is_null`: "" means unset (Redis NULL), which
    CONFIG REWRITE expresses by writing no line at all."""

    def __init__(self, empty_is_null=False, check=None):
        self.empty_is_null = empty_is_null
        self.check = check

    def parse(self, args, current, ctx):
        if self.check:
            err = self.check(args[0])
            if err:
                raise Invalid(err)
        return dec(args[0])

    def format(self, value, ctx):
        return enc(value)

    def rewrite(self, name, value, default, ctx):
        if self.empty_is_null and value == "":
            return None
        return [(name + b" " + quote(enc(value)),
                 self.empty_is_null or value != default)]


class Enum(Kind):
    """One of fixed words (any case) -> the canonical lowercase word.

    `choices` are (word, code) pairs as in Redis; words sharing a code are
    synonyms and the first one is what CONFIG GET shows (oom-score-adj
    "relative" reads back as "yes").
    """

    def __init__(self, *choices):
        self.choices = [ch if isinstance(ch, tuple) else (ch, ch)
                        for ch in choices]

    def parse(self, args, current, ctx):
        word = args[0].lower()
        for name, code in self.choices:
            if name.encode() == word:
                return next(n for n, c in self.choices if c == code)
        raise Invalid("argument(s) must be one of the following: "
                      + ", ".join(n for n, _ in self.choices))

    def format(self, value, ctx):
        return value.encode()


class Flags(Kind):
    """Several enum words OR-ed together (shutdown-on-sigint/sigterm) ->
    frozenset of words; "default" is the empty set."""
    multi_arg = True

    def __init__(self, *choices, check=None):
        self.choices = choices          # (word, bit); bit 0 is "default"
        self.check = check

    def parse(self, args, current, ctx):
        bits = {w.encode(): (w, bit) for w, bit in self.choices}
        if not args or any(arg.lower() not in bits for arg in args):
            raise Invalid("argument(s) must be one of the following: "
                          + ", ".join(w for w, _ in self.choices))
        words = frozenset(w for w, bit in (bits[a.lower()] for a in args) if bit)
        err = self.check(words) if self.check else None
        if err:
            raise Invalid(err)
        return words

    def format(self, value, ctx):
        if not value:
            return self.choices[0][0].encode()
        return " ".join(w for w, bit in self.choices
                        if bit and w in value).encode()


class Save(Kind):
    """save -> [(seconds, changes), ...].

    Redis 7.0 rules: `save ""` empties the list; on CONFIG SET the words
    replace the list; while reading a config file the first save line
    (of the whole start-up) drops the defaults and later lines append.
    """
    multi_arg = True

    def parse(self, args, current, ctx):
        reset = False
        if len(args) == 1 and args[0] == b"":
            args, reset = [], True
        if len(args) % 2:
            raise Invalid("Invalid save parameters")
        values = []
        for j, arg in enumerate(args):
            v, ok = _strtol(arg)
            if not ok or (j % 2 == 0 and v < 1) or (j % 2 == 1 and v < 0):
                raise Invalid("Invalid save parameters")
            values.append(v)
        result = [] if reset else list(current)
        if not ctx.reading_file:
            result = []
        elif not ctx.save_loaded:
            ctx.save_loaded = True
            result = []
        for j in range(0, len(values), 2):
            result.append((values[j], _int32(values[j + 1])))
        return result

    def format(self, value, ctx):
        return b" ".join(b"%d %d" % pair for pair in value)

    def rewrite(self, name, value, default, ctx):
        if not value:
            return [(b'save ""', True)]
        return [(b"save %d %d" % pair, True) for pair in value]


OBUF_CLASSES = ("normal", "replica", "pubsub")
_OBUF_NAMES = {b"normal": "normal", b"slave": "replica", b"replica": "replica",
               b"pubsub": "pubsub", b"master": None}


class ClientOutputBufferLimit(Kind):
    """client-output-buffer-limit -> {"normal"|"replica"|"pubsub":
    (hard_bytes, soft_bytes, soft_seconds)}; a line sets only its classes."""
    multi_arg = True

    def parse(self, args, current, ctx):
        if len(args) % 4:
            raise Invalid("Wrong number of arguments in buffer limit "
                          "configuration.")
        new = dict(current)
        for j in range(0, len(args), 4):
            cls = _OBUF_NAMES.get(args[j].lower())
            if cls is None:
                raise Invalid("Invalid client class specified in buffer "
                              "limit configuration.")
            hard, soft = memtoull(args[j + 1]), memtoull(args[j + 2])
            secs, ok = _strtol(args[j + 3])
            secs = _int32(secs)
            if hard is None or soft is None or secs < 0 or not ok:
                raise Invalid("Error in hard, soft or soft_seconds setting in "
                              "buffer limit configuration.")
            new[cls] = (hard, soft, secs)
        return new

    def format(self, value, ctx):
        return b" ".join(
            b"%s %d %d %d" % ((b"slave" if cls == "replica" else cls.encode()),
                              *value[cls])
            for cls in OBUF_CLASSES)

    def rewrite(self, name, value, default, ctx):
        lines = []
        for cls in OBUF_CLASSES:
            hard, soft, secs = value[cls]
            lines.append((b"%s %s %s %s %d" % (
                name, cls.encode(), grammar.format_memory(hard),
                grammar.format_memory(soft), secs),
                value[cls] != default[cls]))
        return lines


class Bind(Kind):
    """bind -> [address, ...]; `bind ""` listens on no TCP address."""
    multi_arg = True

    def parse(self, args, current, ctx):
        if len(args) > 16:
            raise Invalid("Too many bind addresses specified.")
        if len(args) == 1 and args[0] == b"":
            args = []
        return [dec(a) for a in args]

    def format(self, value, ctx):
        return b" ".join(enc(a) for a in value)

    def rewrite(self, name, value, default, ctx):
        if value == default:
            return None
        return [(name + b" " + (self.format(value, ctx) if value else b'""'),
                 True)]


class ReplicaOf(Kind):
    """replicaof -> None (a master) or (host, port); "no one" -> None."""
    multi_arg = True

    def parse(self, args, current, ctx):
        if len(args) != 2:
            raise Invalid("wrong number of arguments")
        if args[0].lower() == b"no" and args[1].lower() == b"one":
            return None
        port, ok = _strtol(args[1])
        if port < 0 or port > 65535 or not ok:
            raise Invalid("Invalid master port")
        return (dec(args[0]), port)

    def format(self, value, ctx):
        return b"" if value is None else b"%s %d" % (enc(value[0]), value[1])

    def rewrite(self, name, value, default, ctx):
        if value is None or ctx._values.get("cluster-enabled"):
            return None
        return [(name + b" " + self.format(value, ctx), True)]


# notify-keyspace-events flags, as in Redis's server.h.
NOTIFY_KEYSPACE = 1 << 0    # K
NOTIFY_KEYEVENT = 1 << 1    # E
NOTIFY_GENERIC = 1 << 2     # g
NOTIFY_STRING = 1 << 3      # $
NOTIFY_LIST = 1 << 4        # l
NOTIFY_SET = 1 << 5         # s
NOTIFY_HASH = 1 << 6        # h
NOTIFY_ZSET = 1 << 7        # z
NOTIFY_EXPIRED = 1 << 8     # x
NOTIFY_EVICTED = 1 << 9     # e
NOTIFY_STREAM = 1 << 10     # t
NOTIFY_KEY_MISS = 1 << 11   # m
NOTIFY_LOADED = 1 << 12     # (modules only)
NOTIFY_MODULE = 1 << 13     # d
NOTIFY_NEW = 1 << 14        # n
NOTIFY_ALL = (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET
              | NOTIFY_HASH | NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED
              | NOTIFY_STREAM | NOTIFY_MODULE)     # A

_NOTIFY_CHARS = {
    ord("A"): NOTIFY_ALL, ord("g"): NOTIFY_GENERIC, ord("$"): NOTIFY_STRING,
    ord("l"): NOTIFY_LIST, ord("s"): NOTIFY_SET, ord("h"): NOTIFY_HASH,
    ord("z"): NOTIFY_ZSET, ord("x"): NOTIFY_EXPIRED, ord("e"): NOTIFY_EVICTED,
    ord("K"): NOTIFY_KEYSPACE, ord("E"): NOTIFY_KEYEVENT,
    ord("t"): NOTIFY_STREAM, ord("m"): NOTIFY_KEY_MISS,
    ord("d"): NOTIFY_MODULE, ord("n"): NOTIFY_NEW}
_NOTIFY_ORDER = ((NOTIFY_GENERIC, b"g"), (NOTIFY_STRING, b"$"),
                 (NOTIFY_LIST, b"l"), (NOTIFY_SET, b"s"), (NOTIFY_HASH, b"h"),
                 (NOTIFY_ZSET, b"z"), (NOTIFY_EXPIRED, b"x"),
                 (NOTIFY_EVICTED, b"e"), (NOTIFY_STREAM, b"t"),
                 (NOTIFY_MODULE, b"d"), (NOTIFY_NEW, b"n"))


def notify_flags_to_string(flags: int) -> bytes:
    """keyspaceEventsFlagsToString: "A" hides the class letters (and n)."""
    if flags & NOTIFY_ALL == NOTIFY_ALL:
        out = b"A"
    else:
        out = b"".join(ch for bit, ch in _NOTIFY_ORDER if flags & bit)
    for bit, ch in ((NOTIFY_KEYSPACE, b"K"), (NOTIFY_KEYEVENT, b"E"),
                    (NOTIFY_KEY_MISS, b"m")):
        if flags & bit:
            out += ch
    return out


class NotifyKeyspaceEvents(Kind):
    """notify-keyspace-events -> int, an OR of the NOTIFY_* flags."""

    def parse(self, args, current, ctx):
        flags = 0
        for c in args[0].split(b"\0")[0]:
            if c not in _NOTIFY_CHARS:
                raise Invalid("Invalid event class character. Use "
                              "'Ag$lshzxeKEtmdn'.")
            flags |= _NOTIFY_CHARS[c]
        return flags

    def format(self, value, ctx):
        return notify_flags_to_string(value)

    def rewrite(self, name, value, default, ctx):
        return [(name + b" " + quote(self.format(value, ctx)), value != 0)]


class OOMScoreAdjValues(Kind):
    """oom-score-adj-values -> (master, replica, bgchild)."""
    multi_arg = True

    def parse(self, args, current, ctx):
        if len(args) != 3:
            raise Invalid("wrong number of arguments")
        values = []
        for arg in args:
            v, ok = _strtol(arg)
            if not ok or not -2000 <= v <= 2000:
                raise Invalid("Invalid oom-score-adj-values, elements must be "
                              "between -2000 and 2000.")
            values.append(v)
        return tuple(values)

    def format(self, value, ctx):
        return b" ".join(b"%d" % v for v in value)


class LatencyPercentiles(Kind):
    """latency-tracking-info-percentiles -> [float, ...]."""
    multi_arg = True

    def parse(self, args, current, ctx):
        if len(args) == 1 and args[0] == b"":
            return []
        values = []
        for arg in args:
            v = grammar.string2d(arg)
            if v is None:
                raise Invalid(
                    "Invalid latency-tracking-info-percentiles parameters")
            if not 0.0 <= v <= 100.0:
                raise Invalid("latency-tracking-info-percentiles parameters "
                              "should sit between [0.0,100.0]")
            values.append(v)
        return values

    def format(self, value, ctx):
        return b" ".join(grammar.format_double(v) for v in value)

    def rewrite(self, name, value, default, ctx):
        return [(name + b" " + (self.format(value, ctx) if value else b'""'),
                 True)]


class Dir(Kind):
    """dir: the process working directory itself, as in Redis. Setting it
    chdir()s (through ctx.chdir); reading it is getcwd()."""

    def parse(self, args, current, ctx):
        try:
            ctx.chdir(dec(args[0]))
        except OSError as e:
            raise Invalid(e.strerror or str(e)) from None
        return ctx.getcwd()

    def format(self, value, ctx):
        return enc(value)

    def rewrite(self, name, value, default, ctx):
        return [(name + b" " + quote(enc(value)), True)]

    def get(self, ctx, name):
        try:
            return ctx.getcwd()
        except OSError:
            return ""

    def put(self, ctx, name, value):
        if value != self.get(ctx, name):
            ctx.chdir(value)
