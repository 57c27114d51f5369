"""Config: the one registry of directives (values, loading, CONFIG GET/SET).

Theory of operation
-------------------
Values live in `_values`, keyed by canonical name, as typed Python values
(see kinds.py). Every way in goes through a kind's parse():

    load_file / load_text      Redis's loadServerConfigFromString: line by
    apply_arguments            line, later lines win (save and
                               client-output-buffer-limit accumulate),
                               the first error aborts with Redis's
                               "*** FATAL CONFIG FILE ERROR ***" text.
    set_many (CONFIG SET)      Redis's configSetCommand: look every name up
                               first (unknown / immutable / protected /
                               duplicate), then parse and store in order
                               (undoing on the first bad value), then run
                               watchers; a watcher raising rolls back all.

Reading never parses: CONFIG GET formats the stored value (kind.format),
CONFIG REWRITE (rewrite.py) asks each kind for its lines.

No Twisted here. The only I/O: reading config files, chdir for `dir` (as
Redis does; both injectable), and the atomic write of CONFIG REWRITE.
"""

import copy
import glob as _glob
import os

from redisrepl import REDIS_VERSION
from redisrepl.glob import glob_match

from . import grammar
from .directives import BY_CANONICAL, DEPRECATED, DIRECTIVES, IGNORED, NAMES
from .kinds import Invalid, Kind, dec
from .rewrite import rewrite_file

# Directives whose value is simply what _values holds (not dir, which is the
# process's working directory).
_PLAIN_SCALARS = frozenset(d.name for d in DIRECTIVES if type(d.kind).get is Kind.get)


class ConfigError(Exception):
    """A configuration Redis would refuse. `message` is the text to show:
    the start-up block (load_*) or the "ERR ..." reply (set_many, rewrite).
    For load errors, `line_number`, `line` and `reason` give the parts."""

    def __init__(self, message, *, line_number=None, line=None, reason=None):
        Exception.__init__(self, message)
        self.message = message
        self.line_number = line_number
        self.line = line
        self.reason = reason if reason is not None else message

    def __str__(self):
        return self.message


def _fatal(reason, line_number=None, line=None):
    text = "*** FATAL CONFIG FILE ERROR (Redis %s) ***\n" % REDIS_VERSION
    if line_number is not None:
        text += "Reading the configuration file, at line %d\n>>> '%s'\n" % (
            line_number, line)
    return ConfigError(text + reason, line_number=line_number, line=line,
                       reason=reason)


def warning_for(name):
    return "Directive '%s' has no effect in redisrepl; accepted and ignored" \
        % name


def lookup(name):
    """The Directive for a name or alias (any case); KeyError if unknown."""
    d = NAMES.get(name)
    if d is None:
        if isinstance(name, bytes):
            name = dec(name)
        d = NAMES[name.lower()]
    return d


class Config:
    """Every directive at its Redis 7.0 default until loaded or set.

    `chdir`/`getcwd` implement `dir` (the process cwd, as in Redis);
    `command_names`, if given, lets rename-command be checked the way Redis
    checks it against its command table.
    """

    def __init__(self, *, chdir=os.chdir, getcwd=os.getcwd,
                 command_names=None):
        self.path = None
        self.warnings = []
        self.rename_commands = []       # [(old, new)] in file order
        self.chdir = chdir
        self.getcwd = getcwd
        self.reading_file = False       # Redis's reading_config_file
        self.save_loaded = False        # first `save` line seen at start-up
        self._values = {d.name: copy.deepcopy(d.default) for d in DIRECTIVES
                        if d.name != "dir"}
        self._watchers = {}
        self._warned = set()
        self._commands = (None if command_names is None else
                          {n.lower() for n in command_names})
        self._main_newlines = None      # newlines in the main config file
        self._reading_after_main = True
        self._module_configs = []
        self._modules = []

    # -- reading values ------------------------------------------------------

    def __getitem__(self, name):
        # Fast path: a canonical name whose value is a stored scalar (most
        # reads, some on hot paths). Anything else takes the full lookup.
        if name in _PLAIN_SCALARS:
            value = self._values[name]
            if value.__class__ is not list and value.__class__ is not dict:
                return value
        d = lookup(name)
        value = d.kind.get(self, d.name)
        if isinstance(value, (list, dict)):
            return copy.copy(value)
        return value

    def __contains__(self, name):
        try:
            lookup(name)
        except KeyError:
            return False
        return True

    def directive(self, name):
        """The table row (kind, default, mutable, effect ...) for a name."""
        return lookup(name)

    def get_bytes(self, name) -> bytes:
        """One directive's value exactly as CONFIG GET prints it."""
        d = lookup(name)
        return d.kind.format(d.kind.get(self, d.name), self)

    def get_matching(self, patterns):
        """CONFIG GET: [(name, value)] for all patterns, each name once.

        A pattern without * ? [ is an exact (case-insensitive) name, echoed
        as typed, and may name a hidden directive; a glob matches every
        visible name and alias (Redis glob, case-insensitive).
        """
        matches = {}
        for pattern in patterns:
            if not any(c in pattern for c in b"*?["):
                key = pattern.lower()
                if key in matches:
                    continue
                d = NAMES.get(dec(key))
                if d is not None:
                    matches[key] = (pattern, d)
                continue
            for name, d in NAMES.items():
                key = name.encode()
                if d.hidden or key in matches:
                    continue
                if glob_match(pattern, key, nocase=True):
                    matches[key] = (key, d)
        return [(shown, d.kind.format(d.kind.get(self, d.name), self))
                for shown, d in matches.values()]

    def is_sensitive(self, name):
        try:
            return lookup(name).sensitive
        except KeyError:
            return False

    # -- loading -------------------------------------------------------------

    def load_file(self, path):
        """Load the main config file (the CONFIG REWRITE target)."""
        self.path = os.path.abspath(path)
        data = self._read(self.path)
        self._main_newlines = data.split(b"\0")[0].count(b"\n")
        self._load_string(data, 0)
        # Redis reads the file and the command line as one text: whatever
        # state the file left (an include clears it) carries on.
        self._reading_after_main = self.reading_file
        self.reading_file = False
        self._finish()

    def load_text(self, text, source="(command line)"):
        """Load config lines from a string (not a CONFIG REWRITE target)."""
        if isinstance(text, str):
            text = text.encode("utf-8", "surrogateescape")
        self._load_string(text, 0)
        self.reading_file = False
        self._finish()

    def apply_arguments(self, argv):
        """redis-server style overrides, after the file: ["--port", "6380",
        "--save", "900", "1"]. Error line numbers continue the file's, as
        Redis appends these lines to the file's text."""
        text = grammar.arguments_to_text(argv)
        offset = 1 if self._main_newlines is None else self._main_newlines + 1
        self._load_string(text, offset, reading=self._reading_after_main)
        self.reading_file = False
        self._finish()

    def _read(self, path):
        """The text of a config file, or Redis's fatal open error."""
        paths = [path]
        if any(c in path for c in "*?["):
            paths = sorted(_glob.glob(path))
        data = b""
        for p in paths:
            try:
                with open(p, "rb") as f:
                    data += f.read()
            except OSError as e:
                raise ConfigError("Fatal error, can't open config file '%s': "
                                  "%s" % (p, e.strerror)) from None
        return data

    def _warn(self, name, canonical=None):
        key = canonical or name
        if key not in self._warned:
            self._warned.add(key)
            self.warnings.append(warning_for(name))

    def _load_string(self, data, offset, reading=True):
        """loadServerConfigFromString, lines numbered from offset + 1.

        Leaves reading_file as the text left it; callers clear it (Redis
        clears it at the end of every file, includes too)."""
        self.reading_file = reading
        lines = data.split(b"\0")[0].split(b"\n")
        for i, raw in enumerate(lines):
            line = raw.strip(b" \t\r\n")
            if not line or line.startswith(b"#"):
                continue
            try:
                self._load_line(line)
            except Invalid as e:
                raise _fatal(e.text, offset + i + 1, dec(line)) from None

    def _load_line(self, line):
        argv = grammar.split_args(line)
        if argv is None:
            raise Invalid("Unbalanced quotes in configuration line")
        if not argv:
            return
        name = argv[0].lower()
        argc = len(argv)
        d = NAMES.get(dec(name))
        if d is not None:
            if not d.kind.multi_arg and argc != 2:
                raise Invalid("wrong number of arguments")
            value = d.kind.parse(argv[1:], d.kind.get(self, d.name), self)
            d.kind.put(self, d.name, value)
            if d.effect == IGNORED:
                self._warn(dec(name), d.name)
            return
        if dec(name) in DEPRECATED and argc == 2:
            self._warn(dec(name))
        elif name == b"include" and argc == 2:
            self._load_string(self._read(dec(argv[1])), 0)
            self.reading_file = False
        elif name == b"rename-command" and argc == 3:
            self._rename_command(dec(argv[1]), dec(argv[2]))
        elif name == b"user" and argc >= 2:
            self._warn("user")
        elif name == b"loadmodule" and argc >= 2:
            self._modules.append(dec(argv[1]))
        elif b"." in name:
            if argc != 2:
                raise Invalid("Module config specified without value")
            self._module_configs.append(dec(name))
        elif name == b"sentinel":
            if argc != 1:
                raise Invalid("sentinel directive while not in sentinel mode")
            self._warn("sentinel")
        else:
            raise Invalid("Bad directive or wrong number of arguments")

    def _rename_command(self, old, new):
        if self._commands is not None:
            if old.lower() not in self._commands:
                raise Invalid("No such command in rename-command")
            self._commands.discard(old.lower())
            if new:
                if new.lower() in self._commands:
                    raise Invalid("Target command name already exists")
                self._commands.add(new.lower())
        self.rename_commands.append((old, new))

    def _finish(self):
        """The checks Redis makes once the whole configuration is read."""
        if self._values["cluster-enabled"] and self._values["replicaof"]:
            raise _fatal("replicaof directive not allowed in cluster mode")
        if self._modules:
            raise ConfigError("Can't load module from %s: server aborting"
                              % self._modules[0])
        if self._module_configs:
            raise ConfigError("Module Configuration detected without "
                              "loadmodule directive or no ApplyConfig call: "
                              "aborting")

    # -- CONFIG SET ----------------------------------------------------------

    def watch(self, name, callback):
        """Call callback(old, new) after CONFIG SET changes `name`.

        A callback raising ConfigError("reason") refuses the change: every
        change of that CONFIG SET is undone (watchers already run are
        called back with (new, old)) and set_many raises
        "ERR CONFIG SET failed (possibly related to argument 'name') -
        reason". One callable registered under several names runs once per
        CONFIG SET, like Redis's shared apply functions.
        """
        self._watchers.setdefault(lookup(name).name, []).append(callback)

    def set_many(self, pairs, *, local=False, loading=False):
        """CONFIG SET name value [name value ...], all or nothing.

        `local`: the client is on loopback/unix socket (for
        enable-protected-configs local); `loading`: a dataset is loading
        (appendonly, dir, repl-diskless-load are then refused).
        """
        entries, problem = [], None
        seen = set()
        for raw_name, raw_value in pairs:
            d = NAMES.get(dec(raw_name.lower()))
            if d is None:
                if problem is None:
                    problem = ("ERR Unknown option or number of arguments for "
                               "CONFIG SET - '%s'" % dec(raw_name))
                continue
            if problem is not None:
                continue
            registered = raw_name.lower()
            why = None
            if not d.mutable:
                why = "can't set immutable config"
            elif d.protected and not self._protected_allowed(local):
                why = "can't set protected config"
            elif loading and d.deny_loading:
                problem = "LOADING Redis is loading the dataset in memory"
                continue
            elif registered in seen:
                why = "duplicate parameter"
            if why:
                problem = ("ERR CONFIG SET failed (possibly related to "
                           "argument '%s') - %s" % (dec(raw_name), why))
                continue
            seen.add(registered)
            entries.append((d, dec(registered), raw_value))
        if problem is not None:
            raise ConfigError(problem)

        old = {}
        for d, registered, _ in entries:
            old.setdefault(d.name, (d.kind.get(self, d.name), registered))
        for d, registered, raw_value in entries:
            if d.kind.multi_arg:
                args = raw_value.split(b" ") if raw_value else []
            else:
                args = [raw_value]
            try:
                value = d.kind.parse(args, d.kind.get(self, d.name), self)
                d.kind.put(self, d.name, value)
            except (Invalid, OSError) as e:
                self._restore(old)
                text = e.text if isinstance(e, Invalid) else e.strerror
                raise ConfigError("ERR CONFIG SET failed (possibly related to "
                                  "argument '%s') - %s" % (registered, text)
                                  ) from None

        changes = [(name, before, d.kind.get(self, name), registered)
                   for name, (before, registered) in old.items()
                   for d in (BY_CANONICAL[name],)
                   if d.kind.get(self, name) != before]
        done, called = [], set()
        for name, before, after, registered in changes:
            for callback in self._watchers.get(name, ()):
                if id(callback) in called:
                    continue
                called.add(id(callback))
                try:
                    callback(before, after)
                except BaseException as e:
                    self._restore(old)
                    for cb, b, a in reversed(done):
                        try:
                            cb(a, b)
                        except Exception:
                            pass
                    if isinstance(e, ConfigError):
                        raise ConfigError(
                            "ERR CONFIG SET failed (possibly related to "
                            "argument '%s') - %s" % (registered, e.message)
                        ) from None
                    raise
                done.append((callback, before, after))

    def _protected_allowed(self, local):
        mode = self._values["enable-protected-configs"]
        return mode == "yes" or (mode == "local" and local)

    def _restore(self, old):
        for name, (value, _) in old.items():
            d = BY_CANONICAL[name]
            try:
                d.kind.put(self, name, value)
            except OSError:
                pass

    def assign(self, name, value):
        """Store a typed value directly: for server code that changes a
        directive itself (REPLICAOF sets replicaof). No checks, no watchers."""
        d = lookup(name)
        d.kind.put(self, d.name, value)

    # -- CONFIG REWRITE ------------------------------------------------------

    def rewrite(self):
        """CONFIG REWRITE: rewrite self.path keeping its comments and order."""
        if self.path is None:
            raise ConfigError("ERR The server is running without a config "
                              "file")
        try:
            rewrite_file(self, self.path)
        except OSError as e:
            raise ConfigError("ERR Rewriting config file: %s"
                              % (e.strerror or e)) from None
