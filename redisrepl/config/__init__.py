"""The configuration registry: redis.conf, CONFIG GET/SET/REWRITE, INFO.

    grammar.py     the redis.conf word splitter and Redis's number parsers
    kinds.py       value kinds (bool, number, enum, save, bind ...)
    directives.py  the table: one row a directive, `effect` honoured/ignored
    registry.py    Config: loading, typed access, CONFIG GET/SET, watchers
    rewrite.py     CONFIG REWRITE
"""

from .directives import DIRECTIVES, HONOURED, IGNORED, Directive
from .kinds import (
    NOTIFY_ALL,
    NOTIFY_EVICTED,
    NOTIFY_EXPIRED,
    NOTIFY_GENERIC,
    NOTIFY_HASH,
    NOTIFY_KEY_MISS,
    NOTIFY_KEYEVENT,
    NOTIFY_KEYSPACE,
    NOTIFY_LIST,
    NOTIFY_LOADED,
    NOTIFY_MODULE,
    NOTIFY_NEW,
    NOTIFY_SET,
    NOTIFY_STREAM,
    NOTIFY_STRING,
    NOTIFY_ZSET,
    notify_flags_to_string,
)
from .registry import Config, ConfigError, lookup

__all__ = [
    "Config", "ConfigError", "Directive", "DIRECTIVES", "HONOURED",
    "IGNORED", "lookup", "notify_flags_to_string",
    "NOTIFY_ALL", "NOTIFY_EVICTED", "NOTIFY_EXPIRED", "NOTIFY_GENERIC",
    "NOTIFY_HASH", "NOTIFY_KEY_MISS", "NOTIFY_KEYEVENT", "NOTIFY_KEYSPACE",
    "NOTIFY_LIST", "NOTIFY_LOADED", "NOTIFY_MODULE", "NOTIFY_NEW",
    "NOTIFY_SET", "NOTIFY_STREAM", "NOTIFY_STRING", "NOTIFY_ZSET",
]
