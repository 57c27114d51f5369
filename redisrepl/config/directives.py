"""The directive table: every redis.conf directive of Redis 7.0.15.

One row a directive: its kind (how it parses and prints), its default, its
aliases, whether CONFIG SET may change it, Redis's flags, and `effect`:

    effect="honoured"   redisrepl acts on it (now, or in a planned feature:
                        networking, RDB/AOF, replication, limits, logging,
                        keyspace events, slowlog, latency)
    effect="ignored"    accepted, shown by CONFIG GET, settable where Redis
                        allows it, but it changes nothing here; loading it
                        from a file or the command line adds one warning.

Rows are in Redis's own table order; CONFIG REWRITE appends in this order.
What applying a change does is not here: server code registers watchers
(Config.watch) for the live ones (port, bind, hz, maxclients ...).
"""

from dataclasses import dataclass

from .kinds import (
    Bind,
    Bool,
    ClientOutputBufferLimit,
    Dir,
    Enum,
    Flags,
    LatencyPercentiles,
    NotifyKeyspaceEvents,
    Number,
    OOMScoreAdjValues,
    ReplicaOf,
    Save,
    String,
)

INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
UINT_MAX = (1 << 32) - 1
LONG_MAX = LLONG_MAX = (1 << 63) - 1
ULLONG_MAX = (1 << 64) - 1
MB = 1 << 20

HONOURED, IGNORED = "honoured", "ignored"


@dataclass(frozen=True)
class Directive:
    name: str                       # canonical (lowercase) name
    kind: object                    # a kinds.Kind
    default: object                 # typed default value
    aliases: tuple = ()             # e.g. ("slave-priority",)
    mutable: bool = True            # CONFIG SET may change it
    effect: str = HONOURED          # or IGNORED
    protected: bool = False         # needs enable-protected-configs
    sensitive: bool = False         # redact its value in logs/MONITOR
    deny_loading: bool = False      # CONFIG SET refused while loading
    hidden: bool = False            # CONFIG GET patterns skip it


def _bool(name, default, **kw):
    return Directive(name, Bool(), default, **kw)


def _num(name, lo, hi, default, *, unsigned=False, memory=False,
         percent=False, octal=False, clamp=None, set_min=None, **kw):
    return Directive(name, Number(lo, hi, unsigned=unsigned, memory=memory,
                                  percent=percent, octal=octal, clamp=clamp,
                                  set_min=set_min),
                     default, **kw)


def _str(name, default="", *, null=False, check=None, **kw):
    return Directive(name, String(empty_is_null=null, check=check),
                     default, **kw)


def _enum(name, choices, default, **kw):
    return Directive(name, Enum(*choices), default, **kw)


# -- validators (return Redis's error text, or None) -------------------------

def _is_basename(v: bytes):
    return b"/" not in v and b"\\" not in v


def _check_dbfilename(v):
    if not _is_basename(v):
        return "dbfilename can't be a path, just a filename"


def _check_appendfilename(v):
    if v == b"":
        return "appendfilename can't be empty"
    if not _is_basename(v):
        return "appendfilename can't be a path, just a filename"


def _check_appenddirname(v):
    if v == b"":
        return "appenddirname can't be empty"
    if not _is_basename(v):
        return "appenddirname can't be a path, just a dirname"


def _check_hostname(v):
    if len(v) >= 256:
        return "Hostnames must be less than 256 characters"
    for c in v:
        if not (chr(c).isascii() and (chr(c).isalnum() or c in b"-.")):
            return ("Hostnames may only contain alphanumeric characters, "
                    "hyphens or dots")


_TITLE_VARS = {b"title": b"", b"listen-addr": b"127.0.0.1:6379",
               b"server-mode": b"", b"port": b"6379", b"tls-port": b"0",
               b"unixsocket": b"", b"config-file": b""}


def _check_proc_title_template(v):
    """validateProcTitleTemplate (sdstemplate): "{{" is a literal "{", every
    other "{" opens a known {variable}; the expansion must not be blank."""
    out, i = bytearray(), 0
    while i < len(v):
        brace = v.find(b"{", i)
        if brace < 0:
            out += v[i:]
            break
        out += v[i:brace]
        if v[brace + 1:brace + 2] == b"{":
            out += b"{"
            i = brace + 2
            continue
        end = v.find(b"}", brace + 1)
        if end < 0 or v[brace + 1:end] not in _TITLE_VARS:
            return "template format is invalid or contains unknown variables"
        out += _TITLE_VARS[v[brace + 1:end]]
        i = end + 1
    if not out.strip(b" "):
        return "template format is invalid or contains unknown variables"


def _check_shutdown_flags(words):
    if "save" in words and "nosave" in words:
        return "shutdown options SAVE and NOSAVE can't be used simultaneously"


_PROTECTED_ACTION = ("no", "yes", "local")
_SHUTDOWN_FLAGS = (("default", 0), ("save", 1), ("nosave", 2), ("now", 4),
                   ("force", 8))

_I = {"effect": IGNORED}
_IMM = {"mutable": False}
_IMM_I = {"mutable": False, "effect": IGNORED}

DIRECTIVES = (
    # -- booleans ------------------------------------------------------------
    _bool("rdbchecksum", True, **_IMM),
    _bool("daemonize", False, **_IMM_I),       # twistd -n / twistd decide
    _bool("io-threads-do-reads", False, **_IMM_I),
    _bool("always-show-logo", False, **_IMM_I),
    _bool("protected-mode", True),
    _bool("rdbcompression", True),
    _bool("rdb-del-sync-files", False),
    _bool("activerehashing", True, **_I),
    _bool("stop-writes-on-bgsave-error", True),
    _bool("set-proc-title", True, **_IMM_I),
    _bool("dynamic-hz", True, **_I),
    # Freeing is never "lazy" here, but these three choose what is
    # propagated for the deletion (DEL or UNLINK), which replicas see.
    _bool("lazyfree-lazy-eviction", False),
    _bool("lazyfree-lazy-expire", False),
    _bool("lazyfree-lazy-server-del", False, **_I),
    _bool("lazyfree-lazy-user-del", False),
    _bool("lazyfree-lazy-user-flush", False, **_I),
    _bool("repl-disable-tcp-nodelay", False),
    _bool("repl-diskless-sync", True),
    _bool("aof-rewrite-incremental-fsync", True),
    _bool("no-appendfsync-on-rewrite", False),
    _bool("cluster-require-full-coverage", True, **_I),
    _bool("rdb-save-incremental-fsync", True),
    _bool("aof-load-truncated", True),
    _bool("aof-use-rdb-preamble", True),
    _bool("aof-timestamp-enabled", False, **_I),
    _bool("cluster-replica-no-failover", False,
          aliases=("cluster-slave-no-failover",), **_I),
    _bool("replica-lazy-flush", False, aliases=("slave-lazy-flush",), **_I),
    _bool("replica-serve-stale-data", True,
          aliases=("slave-serve-stale-data",)),
    _bool("replica-read-only", True, aliases=("slave-read-only",)),
    _bool("replica-ignore-maxmemory", True,
          aliases=("slave-ignore-maxmemory",)),
    _bool("jemalloc-bg-thread", True, **_I),
    _bool("activedefrag", False, **_I),
    _bool("syslog-enabled", False, **_IMM),
    _bool("cluster-enabled", False, **_IMM_I),
    _bool("appendonly", False, deny_loading=True),
    _bool("cluster-allow-reads-when-down", False, **_I),
    _bool("cluster-allow-pubsubshard-when-down", True, **_I),
    _bool("crash-log-enabled", True, **_I),
    _bool("crash-memcheck-enabled", True, **_I),
    _bool("use-exit-on-panic", False, hidden=True, **_I),
    _bool("disable-thp", True, **_IMM_I),
    _bool("cluster-allow-replica-migration", True, **_I),
    _bool("replica-announced", True),
    _bool("latency-tracking", True),
    _bool("aof-disable-auto-gc", False),
    _bool("replica-ignore-disk-write-errors", False),

    # -- strings -------------------------------------------------------------
    _str("aclfile", **_IMM_I),
    _str("unixsocket", null=True, **_IMM),
    _str("pidfile", null=True, **_IMM),
    _str("replica-announce-ip", null=True, aliases=("slave-announce-ip",)),
    _str("masteruser", null=True, sensitive=True),
    _str("cluster-announce-ip", null=True, **_I),
    _str("cluster-config-file", "nodes.conf", **_IMM_I),
    _str("cluster-announce-hostname", null=True, check=_check_hostname, **_I),
    _str("syslog-ident", "redis", **_IMM),
    _str("dbfilename", "dump.rdb", check=_check_dbfilename, protected=True),
    _str("appendfilename", "appendonly.aof", check=_check_appendfilename,
         **_IMM),
    _str("appenddirname", "appendonlydir", check=_check_appenddirname,
         **_IMM),
    _str("server_cpulist", null=True, **_IMM_I),
    _str("bio_cpulist", null=True, **_IMM_I),
    _str("aof_rewrite_cpulist", null=True, **_IMM_I),
    _str("bgsave_cpulist", null=True, **_IMM_I),
    _str("ignore-warnings", **_I),
    _str("proc-title-template", "{title} {listen-addr} {server-mode}",
         check=_check_proc_title_template, **_I),
    _str("bind-source-addr", null=True),
    _str("logfile", **_IMM),
    _str("masterauth", null=True, sensitive=True),
    _str("requirepass", null=True, sensitive=True),

    # -- enums ---------------------------------------------------------------
    _enum("supervised", ("upstart", "systemd", "auto", "no"), "no", **_IMM),
    _enum("syslog-facility", ("user", "local0", "local1", "local2", "local3",
                              "local4", "local5", "local6", "local7"),
          "local0", **_IMM),
    _enum("repl-diskless-load", ("disabled", "on-empty-db", "swapdb"),
          "disabled", deny_loading=True),
    _enum("loglevel", ("debug", "verbose", "notice", "warning"), "notice"),
    _enum("maxmemory-policy", (
        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
        "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"),
        "noeviction"),
    _enum("appendfsync", ("everysec", "always", "no"), "everysec"),
    _enum("oom-score-adj", (("no", 0), ("yes", 1), ("relative", 1),
                            ("absolute", 2)), "no", **_I),
    _enum("acl-pubsub-default", ("allchannels", "resetchannels"),
          "resetchannels", **_I),
    _enum("sanitize-dump-payload", ("no", "yes", "clients"), "no", **_I),
    _enum("enable-protected-configs", _PROTECTED_ACTION, "no", **_IMM),
    _enum("enable-debug-command", _PROTECTED_ACTION, "no", **_IMM),
    _enum("enable-module-command", _PROTECTED_ACTION, "no", **_IMM_I),
    _enum("cluster-preferred-endpoint-type",
          ("ip", "hostname", "unknown-endpoint"), "ip", **_I),
    _enum("propagation-error-behavior",
          ("ignore", "panic", "panic-on-replicas"), "ignore"),
    Directive("shutdown-on-sigint",
              Flags(*_SHUTDOWN_FLAGS, check=_check_shutdown_flags),
              frozenset()),
    Directive("shutdown-on-sigterm",
              Flags(*_SHUTDOWN_FLAGS, check=_check_shutdown_flags),
              frozenset()),

    # -- integers ------------------------------------------------------------
    _num("databases", 1, INT_MAX, 16, **_IMM),
    _num("port", 0, 65535, 6379),
    _num("io-threads", 1, 128, 1, **_IMM_I),
    _num("auto-aof-rewrite-percentage", 0, INT_MAX, 100),
    _num("cluster-replica-validity-factor", 0, INT_MAX, 10,
         aliases=("cluster-slave-validity-factor",), **_I),
    _num("list-max-listpack-size", INT_MIN, INT_MAX, -2,
         aliases=("list-max-ziplist-size",)),
    _num("tcp-keepalive", 0, INT_MAX, 300),
    _num("cluster-migration-barrier", 0, INT_MAX, 1, **_I),
    _num("active-defrag-cycle-min", 1, 99, 1, **_I),
    _num("active-defrag-cycle-max", 1, 99, 25, **_I),
    _num("active-defrag-threshold-lower", 0, 1000, 10, **_I),
    _num("active-defrag-threshold-upper", 0, 1000, 100, **_I),
    _num("lfu-log-factor", 0, INT_MAX, 10),
    _num("lfu-decay-time", 0, INT_MAX, 1),
    _num("replica-priority", 0, INT_MAX, 100, aliases=("slave-priority",)),
    _num("repl-diskless-sync-delay", 0, INT_MAX, 5),
    _num("maxmemory-samples", 1, INT_MAX, 5),
    _num("maxmemory-eviction-tenacity", 0, 100, 10),
    _num("timeout", 0, INT_MAX, 0),
    _num("replica-announce-port", 0, 65535, 0,
         aliases=("slave-announce-port",)),
    _num("tcp-backlog", 0, INT_MAX, 511, **_IMM),
    _num("cluster-port", 0, 65535, 0, **_IMM_I),
    _num("cluster-announce-bus-port", 0, 65535, 0, **_I),
    _num("cluster-announce-port", 0, 65535, 0, **_I),
    _num("cluster-announce-tls-port", 0, 65535, 0, **_I),
    _num("repl-timeout", 1, INT_MAX, 60),
    _num("repl-ping-replica-period", 1, INT_MAX, 10,
         aliases=("repl-ping-slave-period",)),
    _num("list-compress-depth", 0, INT_MAX, 0, **_I),
    _num("rdb-key-save-delay", INT_MIN, INT_MAX, 0, hidden=True),
    _num("key-load-delay", INT_MIN, INT_MAX, 0, hidden=True),
    _num("active-expire-effort", 1, 10, 1),
    _num("hz", 0, INT_MAX, 10, clamp=(1, 500)),
    _num("min-replicas-to-write", 0, INT_MAX, 0,
         aliases=("min-slaves-to-write",)),
    _num("min-replicas-max-lag", 0, INT_MAX, 10,
         aliases=("min-slaves-max-lag",)),
    _num("watchdog-period", 0, INT_MAX, 0, hidden=True, **_I),
    _num("shutdown-timeout", 0, INT_MAX, 10),
    _num("repl-diskless-sync-max-replicas", 0, INT_MAX, 0),
    _num("maxclients", 1, UINT_MAX, 10000, unsigned=True),
    _num("unixsocketperm", 0, 0o777, 0, unsigned=True, octal=True, **_IMM),
    _num("socket-mark-id", 0, UINT_MAX, 0, unsigned=True, **_IMM_I),
    _num("active-defrag-max-scan-fields", 1, LONG_MAX, 1000, **_I),
    _num("slowlog-max-len", 0, LONG_MAX, 128),
    _num("acllog-max-len", 0, LONG_MAX, 128, **_I),
    _num("busy-reply-threshold", 0, LONG_MAX, 5000,
         aliases=("lua-time-limit",), **_I),
    _num("cluster-node-timeout", 0, LLONG_MAX, 15000, **_I),
    _num("slowlog-log-slower-than", -1, LLONG_MAX, 10000),
    _num("latency-monitor-threshold", 0, LLONG_MAX, 0),
    _num("proto-max-bulk-len", MB, LONG_MAX, 512 * MB, memory=True),
    _num("stream-node-max-entries", 0, LLONG_MAX, 100, **_I),
    # CONFIG SET raises it to 16kb (resizeReplicationBacklog); a file not.
    _num("repl-backlog-size", 1, LLONG_MAX, MB, memory=True,
         set_min=16 * 1024),
    _num("maxmemory", 0, ULLONG_MAX, 0, unsigned=True, memory=True),
    _num("cluster-link-sendbuf-limit", 0, ULLONG_MAX, 0, unsigned=True,
         memory=True, **_I),
    _num("hash-max-listpack-entries", 0, LONG_MAX, 512, unsigned=True,
         aliases=("hash-max-ziplist-entries",)),
    _num("set-max-intset-entries", 0, LONG_MAX, 512, unsigned=True),
    _num("zset-max-listpack-entries", 0, LONG_MAX, 128, unsigned=True,
         aliases=("zset-max-ziplist-entries",)),
    _num("active-defrag-ignore-bytes", 1, LLONG_MAX, 100 * MB, unsigned=True,
         memory=True, **_I),
    _num("hash-max-listpack-value", 0, LONG_MAX, 64, unsigned=True,
         memory=True, aliases=("hash-max-ziplist-value",)),
    _num("stream-node-max-bytes", 0, LONG_MAX, 4096, unsigned=True,
         memory=True, **_I),
    _num("zset-max-listpack-value", 0, LONG_MAX, 64, unsigned=True,
         memory=True, aliases=("zset-max-ziplist-value",)),
    _num("hll-sparse-max-bytes", 0, LONG_MAX, 3000, unsigned=True,
         memory=True, **_I),
    _num("tracking-table-max-keys", 0, LONG_MAX, 1000000, unsigned=True,
         **_I),
    _num("client-query-buffer-limit", MB, LONG_MAX, 1024 * MB,
         unsigned=True, memory=True),
    _num("maxmemory-clients", -100, LONG_MAX, 0, memory=True, percent=True,
         **_I),
    _num("repl-backlog-ttl", 0, LONG_MAX, 3600),
    _num("auto-aof-rewrite-min-size", 0, LLONG_MAX, 64 * MB, memory=True),
    _num("loading-process-events-interval-bytes", 1024, INT_MAX, 2 * MB,
         hidden=True),

    # -- TLS: redisrepl speaks plain TCP only --------------------------------
    _num("tls-port", 0, 65535, 0, **_I),
    _num("tls-session-cache-size", 0, INT_MAX, 20 * 1024, **_I),
    _num("tls-session-cache-timeout", 0, INT_MAX, 300, **_I),
    _bool("tls-cluster", False, **_I),
    _bool("tls-replication", False, **_I),
    _enum("tls-auth-clients", ("no", "yes", "optional"), "yes", **_I),
    _bool("tls-prefer-server-ciphers", False, **_I),
    _bool("tls-session-caching", True, **_I),
    _str("tls-cert-file", null=True, **_I),
    _str("tls-key-file", null=True, **_I),
    _str("tls-key-file-pass", null=True, sensitive=True, **_I),
    _str("tls-client-cert-file", null=True, **_I),
    _str("tls-client-key-file", null=True, **_I),
    _str("tls-client-key-file-pass", null=True, sensitive=True, **_I),
    _str("tls-dh-params-file", null=True, **_I),
    _str("tls-ca-cert-file", null=True, **_I),
    _str("tls-ca-cert-dir", null=True, **_I),
    _str("tls-protocols", null=True, **_I),
    _str("tls-ciphers", null=True, **_I),
    _str("tls-ciphersuites", null=True, **_I),

    # -- special -------------------------------------------------------------
    Directive("dir", Dir(), None, protected=True, deny_loading=True),
    Directive("save", Save(), [(3600, 1), (300, 100), (60, 10000)]),
    Directive("client-output-buffer-limit", ClientOutputBufferLimit(),
              {"normal": (0, 0, 0), "replica": (256 * MB, 64 * MB, 60),
               "pubsub": (32 * MB, 8 * MB, 60)}),
    Directive("oom-score-adj-values", OOMScoreAdjValues(), (0, 200, 800),
              effect=IGNORED),
    Directive("notify-keyspace-events", NotifyKeyspaceEvents(), 0),
    Directive("bind", Bind(), ["*", "-::*"]),
    Directive("replicaof", ReplicaOf(), None, aliases=("slaveof",),
              mutable=False),
    Directive("latency-tracking-info-percentiles", LatencyPercentiles(),
              [50.0, 99.0, 99.9]),
)

# Directives outside the table: accepted in a config file, no CONFIG GET.
# Redis 7.0 skips these three silently when given exactly one argument.
DEPRECATED = ("list-max-ziplist-entries", "list-max-ziplist-value",
              "lua-replicate-commands")

# Lines CONFIG REWRITE keeps as they are (not "# ??? "-commented) although
# they are not CONFIG GET parameters.
REWRITE_KEEPS = ("include", "rename-command", "user", "loadmodule",
                 "sentinel")

# Every name CONFIG GET/SET knows, canonical names and aliases, in table
# order: name -> Directive.
NAMES = {}
for _d in DIRECTIVES:
    NAMES[_d.name] = _d
    for _alias in _d.aliases:
        NAMES[_alias] = _d
BY_CANONICAL = {d.name: d for d in DIRECTIVES}
