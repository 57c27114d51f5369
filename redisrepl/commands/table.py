"""The command table: handlers registered in code, metadata from Redis 7.0.

Every command module registers its handlers with ``@command("name")`` (or
``@command("container|sub")`` for a subcommand). Arity, flags, key positions,
ACL categories, key specs and docs come from ``redis70_commands.json``, captured
from a real redis-server 7.0 by ``tools/gen_command_table.py``, so COMMAND INFO,
COMMAND DOCS and the arity errors derived from them are Redis's own. Only
commands that have a handler are in the table: COMMAND never advertises what
this server cannot do.
"""

import json
import os

_METADATA_FILE = os.path.join(os.path.dirname(__file__), "redis70_commands.json")


def _load_metadata():
    with open(_METADATA_FILE) as f:
        data = json.load(f)
    return data["commands"]


_METADATA = _load_metadata()

# Redis 7.0.9+'s CMD_TOUCHES_ARBITRARY_KEYS, which COMMAND INFO does not show:
# run directly, these may expire any number of unrelated keys, and their DELs
# are propagated one by one, as active expiry's are, not as a transaction.
_TOUCHES_ARBITRARY_KEYS = frozenset({"scan", "randomkey"})


def _plain(value):
    """The simple strings of a captured RESP3 set, as Python str."""
    return [item["+"] for item in value["~"]]


class Command:
    """One command or subcommand: its handler plus Redis's metadata."""

    __slots__ = (
        "name", "fullname", "handler", "arity", "flags", "first_key",
        "last_key", "key_step", "info", "docs", "subcommands", "parent",
        "is_write", "is_readonly", "no_auth", "loading_ok", "stale_ok",
        "no_multi", "admin", "denyoom", "may_replicate", "no_script",
        "pubsub_ok", "fast", "touches_arbitrary_keys", "multi_control",
        "calls", "usec", "rejected_calls", "failed_calls",
    )

    def __init__(self, fullname, handler, info, docs, parent=None):
        self.fullname = fullname
        self.name = fullname.rsplit("|", 1)[-1]
        self.handler = handler
        self.info = info
        self.docs = docs
        self.parent = parent
        self.subcommands = {}
        self.arity = info[1]
        self.flags = frozenset(_plain(info[2]))
        self.first_key, self.last_key, self.key_step = info[3], info[4], info[5]
        flags = self.flags
        self.is_write = "write" in flags
        self.is_readonly = "readonly" in flags
        self.no_auth = "no_auth" in flags
        self.loading_ok = "loading" in flags
        self.stale_ok = "stale" in flags
        self.no_multi = "no_multi" in flags
        self.admin = "admin" in flags
        self.denyoom = "denyoom" in flags
        self.may_replicate = "may_replicate" in flags
        self.no_script = "noscript" in flags
        self.fast = "fast" in flags
        self.touches_arbitrary_keys = fullname in _TOUCHES_ARBITRARY_KEYS
        # Run at once inside MULTI instead of being queued (processCommand).
        self.multi_control = fullname in {
            "exec", "discard", "multi", "watch", "quit", "reset"}
        # SUBSCRIBE and friends are allowed while subscribed in RESP2.
        self.pubsub_ok = fullname in {
            "subscribe", "unsubscribe", "psubscribe", "punsubscribe",
            "ssubscribe", "sunsubscribe", "ping", "quit", "reset"}
        self.reset_stats()

    def reset_stats(self):
        self.calls = 0
        self.usec = 0
        self.rejected_calls = 0
        self.failed_calls = 0

    def arity_ok(self, argc):
        arity = self.arity
        return argc == arity if arity > 0 else argc >= -arity

    def key_positions(self, argv):
        """Indexes of the key arguments, from the legacy (first, last, step)."""
        first, last, step = self.first_key, self.last_key, self.key_step
        if first == 0:
            return []
        if last < 0:
            last = len(argv) + last
        return list(range(first, min(last, len(argv) - 1) + 1, step))

    def __repr__(self):
        return f"<Command {self.fullname}>"


class CommandTable:
    """Name -> Command lookup, plus the handler registry modules fill in."""

    def __init__(self):
        self.commands = {}      # lower-case name -> Command (top level only)
        self.by_spelling = {}   # bytes in lower and upper case -> Command

    def register(self, fullname, handler):
        parent_name, _, sub_name = fullname.partition("|")
        if sub_name:
            parent = self.commands.get(parent_name)
            if parent is None:
                parent = self._add(parent_name, None)
            meta = _subcommand_metadata(parent_name, fullname)
            parent.subcommands[sub_name] = Command(
                fullname, handler, meta["info"], meta.get("docs"), parent)
            return
        existing = self.commands.get(fullname)
        if existing is not None:
            existing.handler = handler
        else:
            self._add(fullname, handler)

    def _add(self, name, handler):
        meta = _METADATA.get(name)
        if meta is None:
            raise KeyError(f"{name!r} is not a Redis 7.0 command")
        cmd = Command(name, handler, meta["info"], meta["docs"])
        self.commands[name] = cmd
        for spelling in (name, name.upper()):
            self.by_spelling[spelling.encode()] = cmd
        return cmd

    def rename(self, old, new):
        """rename-command: ``new`` empty disables the command."""
        cmd = self.commands.get(old.lower())
        if cmd is None:
            raise KeyError(old)
        for spelling in (old.lower(), old.upper()):
            self.by_spelling.pop(spelling.encode(), None)
        if new:
            self.by_spelling[new.encode()] = cmd
            self.by_spelling[new.lower().encode()] = cmd

    def lookup(self, name):
        """The Command for a name as sent by a client, or None."""
        cmd = self.by_spelling.get(name)
        if cmd is None:
            cmd = self.by_spelling.get(name.lower())
        return cmd

    def lookup_subcommand(self, cmd, name):
        return cmd.subcommands.get(name.lower().decode("latin-1"))

    def __iter__(self):
        return iter(self.commands.values())

    def __len__(self):
        return len(self.commands)


def _subcommand_metadata(parent_name, fullname):
    parent = _METADATA[parent_name]
    for sub in parent["info"][9]:
        if sub[0] == fullname:
            docs = None
            if parent["docs"]:
                for key, value in parent["docs"]["%"]:
                    if key == "subcommands":
                        docs = dict(value["%"]).get(fullname)
            return {"info": sub, "docs": docs}
    raise KeyError(f"{fullname!r} is not a Redis 7.0 subcommand")


# The registry every command module writes into at import time.
_REGISTERED = []


def command(*names):
    """Register the decorated function as the handler of each name."""
    def decorate(handler):
        for name in names:
            _REGISTERED.append((name, handler))
        return handler
    return decorate


def build_table():
    """A fresh CommandTable holding every registered handler."""
    # Importing the modules runs their @command decorators.
    from redisrepl.commands import ALL_MODULES  # noqa: F401
    table = CommandTable()
    for name, handler in _REGISTERED:
        table.register(name, handler)
    return table
