"""The configuration registry: redis.conf grammar, loading, CONFIG GET/SET/REWRITE.

Expected texts and values were taken from a real redis-server 7.0.15.
"""

import errno
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redisrepl.config import (
    DIRECTIVES,
    IGNORED,
    NOTIFY_ALL,
    NOTIFY_KEYEVENT,
    NOTIFY_KEYSPACE,
    NOTIFY_NEW,
    Config,
    ConfigError,
    grammar,
)
from redisrepl.ctext import split_args

ROOT = Path(__file__).resolve().parents[2]
FATAL = "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"


class FakeCwd:
    """Stands in for os.chdir/os.getcwd so `dir` never moves the test run."""

    def __init__(self, cwd="/srv/redis", existing=("/srv/redis", "/data")):
        self.cwd = cwd
        self.existing = set(existing)

    def chdir(self, path):
        path = os.path.normpath(os.path.join(self.cwd, path))
        if path not in self.existing:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        self.cwd = path

    def getcwd(self):
        return self.cwd


def make(text=None, **kw):
    fake = FakeCwd()
    config = Config(chdir=fake.chdir, getcwd=fake.getcwd, **kw)
    if text is not None:
        config.load_text(text)
    return config


def get(config, name):
    return dict(config.get_matching([name.encode()]))[name.encode()]


def fatal_of(call):
    with pytest.raises(ConfigError) as info:
        call()
    return info.value


# -- grammar -------------------------------------------------------------------

@pytest.mark.parametrize("line, words", [
    (b"save 900 1", [b"save", b"900", b"1"]),
    (b"  bind   127.0.0.1\t-::1 ", [b"bind", b"127.0.0.1", b"-::1"]),
    (b'requirepass "a b\\"c\\x41\\n"', [b"requirepass", b'a b"cA\n']),
    (b"requirepass 'it\\'s \\n'", [b"requirepass", b"it's \\n"]),
    (b'save ""', [b"save", b""]),
    (b'ab"c d"e', None),
    (b'ab"c d" e', [b"abc d", b"e"]),
    (b'port "6379', None),
    (b"port '6379", None),
    (b'port "6379"x', None),
    (b"", []),
])
def test_split_args_is_sdssplitargs(line, words):
    """Words, quotes and escapes split as Redis's sdssplitargs does."""
    assert split_args(line) == words


@given(st.binary(max_size=40))
def test_quote_round_trips_any_bytes(value):
    """What CONFIG REWRITE writes for a string reads back as the same bytes."""
    assert split_args(b"x " + grammar.quote(value)) == [b"x", value]


@pytest.mark.parametrize("text, value", [
    (b"0", 0), (b"-12", -12), (b"9223372036854775807", 2**63 - 1),
    (b"+1", None), (b"01", None), (b"-0", None), (b" 1", None), (b"", None),
    (b"9223372036854775808", None), (b"1.5", None),
])
def test_string2ll_is_strict(text, value):
    """Integers are canonical decimal only, within 64 bits."""
    assert grammar.string2ll(text) == value


@pytest.mark.parametrize("text, value", [
    (b"1k", 1000), (b"1kb", 1024), (b"1K", 1000), (b"1KB", 1024),
    (b"2m", 2_000_000), (b"2mb", 2 << 20), (b"3g", 3_000_000_000), (b"3Gb", 3 << 30),
    (b"100", 100), (b"7b", 7), (b"", 0), (b"kb", 0),
    (b"-1", None), (b"1x", None), (b"1 kb", None),
    (b"99999999999999999999", 2**64 - 1), (b"99999999999999999999k", None),
])
def test_memtoull_units(text, value):
    """Memory sizes: k=1000, kb=1024 ... any case, Redis's quirks kept."""
    assert grammar.memtoull(text) == value


def test_format_memory_uses_largest_exact_unit():
    """CONFIG REWRITE writes 1gb / 64mb / 3kb / 1000."""
    assert grammar.format_memory(1 << 30) == b"1gb"
    assert grammar.format_memory(64 << 20) == b"64mb"
    assert grammar.format_memory(3072) == b"3kb"
    assert grammar.format_memory(1000) == b"1000"
    assert grammar.format_memory(0) == b"0"


def test_arguments_to_text_like_redis_server_main():
    """--name starts a line; its words follow quoted; bare --save means save ""."""
    text = grammar.arguments_to_text(
        ["--port", "6380", "--save", "900", "1", "--bind", "127.0.0.1", "::1",
         "--requirepass", "a b", "--save"])
    assert text.split(b"\n") == [
        b'port "6380" ', b'save "900" "1" ', b'bind "127.0.0.1" "::1" ',
        b'requirepass "a b" ', b'save ""']
    assert grammar.arguments_to_text(["--save", "--port", "1"]) == b'save ""\nport "1" '
    # After a bare --name the next word is its value even if it starts with --.
    assert grammar.arguments_to_text(["--replicaof", "--x", "1"]) == \
        b'replicaof "--x" "1" '


# -- defaults and typed values -------------------------------------------------

def test_defaults_match_redis_7_0_config_get():
    """CONFIG GET * lists Redis 7.0.15's 192 names with its default texts."""
    values = dict(make().get_matching([b"*"]))
    assert len(values) == 192
    assert values[b"save"] == b"3600 1 300 100 60 10000"
    assert values[b"client-output-buffer-limit"] == \
        b"normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    assert values[b"bind"] == b"* -::*"
    assert values[b"port"] == b"6379"
    assert values[b"maxmemory"] == b"0"
    assert values[b"proto-max-bulk-len"] == b"536870912"
    assert values[b"notify-keyspace-events"] == b""
    assert values[b"latency-tracking-info-percentiles"] == b"50 99 99.9"
    assert values[b"oom-score-adj-values"] == b"0 200 800"
    assert values[b"unixsocketperm"] == b"0"
    assert values[b"shutdown-on-sigint"] == b"default"
    assert values[b"dir"] == b"/srv/redis"
    assert values[b"slaveof"] == values[b"replicaof"] == b""
    assert values[b"slave-priority"] == b"100"


def test_typed_values():
    """__getitem__ gives Python values; aliases read the canonical directive."""
    config = make()
    assert config["port"] == 6379
    assert config["protected-mode"] is True
    assert config["maxmemory-policy"] == "noeviction"
    assert config["save"] == [(3600, 1), (300, 100), (60, 10000)]
    assert config["client-output-buffer-limit"]["replica"] == (256 << 20, 64 << 20, 60)
    assert config["bind"] == ["*", "-::*"]
    assert config["replicaof"] is None
    assert config["requirepass"] == ""
    assert config["notify-keyspace-events"] == 0
    assert config["slave-priority"] == config["replica-priority"] == 100
    assert config["SLAVEOF"] is None
    with pytest.raises(KeyError):
        config["no-such-directive"]


def test_returned_lists_are_copies():
    """Mutating a returned list does not change the configuration."""
    config = make()
    config["bind"].append("1.2.3.4")
    assert config["bind"] == ["*", "-::*"]


def test_every_directive_is_marked_honoured_or_ignored():
    """The table says, for each directive, whether redisrepl acts on it."""
    effects = {d.name: d.effect for d in DIRECTIVES}
    assert set(effects.values()) == {"honoured", "ignored"}
    for name in ("jemalloc-bg-thread", "io-threads", "activedefrag", "oom-score-adj",
                 "disable-thp", "lazyfree-lazy-server-del", "cluster-enabled",
                 "busy-reply-threshold", "tracking-table-max-keys", "set-proc-title",
                 "proc-title-template", "always-show-logo", "tls-port", "aclfile"):
        assert effects[name] == IGNORED, name
    for name in ("port", "bind", "save", "appendonly", "replicaof", "maxmemory",
                 "loglevel", "notify-keyspace-events", "slowlog-log-slower-than",
                 "latency-monitor-threshold", "supervised", "repl-backlog-size",
                 "lazyfree-lazy-expire", "lazyfree-lazy-user-del"):
        assert effects[name] == "honoured", name


# -- loading ---------------------------------------------------------------------

def test_units_case_and_booleans():
    """Memory units and yes/no are case-insensitive; the last line wins."""
    config = make("MAXMEMORY 1GB\nmaxmemory 2mb\nappendonly YES\nmaxmemory-policy ALLKEYS-LRU\n")
    assert config["maxmemory"] == 2 << 20
    assert config["appendonly"] is True
    assert config["maxmemory-policy"] == "allkeys-lru"


def test_slave_aliases_in_files():
    """slaveof / slave-* lines set the replica directives."""
    config = make("slaveof 10.0.0.1 6380\nslave-read-only no\nmin-slaves-to-write 2\n")
    assert config["replicaof"] == ("10.0.0.1", 6380)
    assert config["replica-read-only"] is False
    assert config["min-replicas-to-write"] == 2
    assert make("replicaof 10.0.0.1 6380\nreplicaof no one\n")["replicaof"] is None


def test_first_save_line_drops_defaults_and_later_ones_append():
    """save lines accumulate after the first one replaced the defaults."""
    assert make("save 900 1\nsave 300 10\n")["save"] == [(900, 1), (300, 10)]
    assert make("save 900 1 300 10\n")["save"] == [(900, 1), (300, 10)]
    assert make('save 900 1\nsave ""\n')["save"] == []
    assert make('save ""\nsave 900 1\n')["save"] == [(900, 1)]
    assert make("port 1\n")["save"] == [(3600, 1), (300, 100), (60, 10000)]


def test_save_after_include_replaces_as_redis_7_0_does(tmp_path, monkeypatch):
    """After an include, each later save line starts afresh (Redis 7.0 quirk)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.conf").write_text("save 200 2\n")
    config = make("save 100 1\ninclude b.conf\nsave 300 3\nsave 400 4\n")
    assert config["save"] == [(400, 4)]


def test_client_output_buffer_limit_accumulates_by_class():
    """Each line sets only the classes it names; slave and replica are one."""
    config = make("client-output-buffer-limit replica 1mb 2k 3\n"
                  "client-output-buffer-limit PUBSUB 0 0 0 normal 1 2 3\n")
    assert config["client-output-buffer-limit"] == {
        "normal": (1, 2, 3), "replica": (1 << 20, 2000, 3), "pubsub": (0, 0, 0)}
    assert get(config, "client-output-buffer-limit") == \
        b"normal 1 2 3 slave 1048576 2000 3 pubsub 0 0 0"


def test_bind_and_other_multi_word_directives():
    """bind takes up to 16 words, "" for none; percentiles and flags too."""
    config = make('bind 127.0.0.1 -::1\nlatency-tracking-info-percentiles 1 2.5 99.99\n'
                  'shutdown-on-sigint nosave now\noom-score-adj-values -1 0 1\n')
    assert config["bind"] == ["127.0.0.1", "-::1"]
    assert get(config, "latency-tracking-info-percentiles") == b"1 2.5 99.99"
    assert config["shutdown-on-sigint"] == frozenset({"nosave", "now"})
    assert get(config, "shutdown-on-sigint") == b"nosave now"
    assert config["oom-score-adj-values"] == (-1, 0, 1)
    assert make('bind ""\n')["bind"] == []


def test_hz_is_kept_between_1_and_500():
    """hz out of range is clamped, as Redis does after loading."""
    assert make("hz 1000\n")["hz"] == 500
    assert make("hz 0\n")["hz"] == 1


def test_quoted_values():
    """Quoted values keep their blanks and escapes."""
    config = make('requirepass "se cret"\nmasterauth \'x\\\'y\'\nlogfile "/tmp/a\\x41.log"\n')
    assert config["requirepass"] == "se cret"
    assert config["masterauth"] == "x'y"
    assert config["logfile"] == "/tmp/aA.log"


def test_unknown_directive_is_fatal_with_redis_text():
    """An unknown directive stops start-up with Redis's exact message."""
    error = fatal_of(lambda: make("# comment\nfoo bar\n"))
    assert error.message == (FATAL + "Reading the configuration file, at line 2\n"
                             ">>> 'foo bar'\nBad directive or wrong number of arguments")
    assert (error.line_number, error.line) == (2, "foo bar")


@pytest.mark.parametrize("line, reason", [
    ("port abc", "argument couldn't be parsed into an integer"),
    ("port 70000", "argument must be between 0 and 65535 inclusive"),
    ("port 1 2", "wrong number of arguments"),
    ("save 900", "Invalid save parameters"),
    ("maxmemory 1x", "argument must be a memory value"),
    ("appendonly maybe", "argument must be 'yes' or 'no'"),
    ("maxmemory-policy bogus", "argument(s) must be one of the following: volatile-lru, "
     "volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, "
     "allkeys-random, noeviction"),
    ('port "6379', "Unbalanced quotes in configuration line"),
    ("client-output-buffer-limit master 1 2 3",
     "Invalid client class specified in buffer limit configuration."),
    ("notify-keyspace-events Q", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
    ("dbfilename a/b", "dbfilename can't be a path, just a filename"),
    ("replicaof host", "wrong number of arguments"),
    ("replicaof host x", "Invalid master port"),
    ("bind " + " ".join(["1"] * 17), "Too many bind addresses specified."),
    ("unixsocketperm 800", "argument couldn't be parsed as an octal number"),
    ("unixsocketperm 1777", "argument must be between 0 and 777 inclusive"),
    ("maxclients 0", "argument must be between 1 and 4294967295 inclusive"),
    ("sentinel monitor a", "sentinel directive while not in sentinel mode"),
    ("foo.bar", "Module config specified without value"),
    ("shutdown-on-sigterm save nosave",
     "shutdown options SAVE and NOSAVE can't be used simultaneously"),
])
def test_bad_values_are_fatal_with_redis_reasons(line, reason):
    """Each kind refuses a bad value with Redis's own reason text."""
    error = fatal_of(lambda: make("\n" + line + "\n"))
    assert error.message == (FATAL + "Reading the configuration file, at line 2\n"
                             ">>> '%s'\n%s" % (line, reason))


def test_whole_configuration_checks():
    """replicaof with cluster-enabled is refused after reading, with no line."""
    error = fatal_of(lambda: make("cluster-enabled yes\nreplicaof a 1\n"))
    assert error.message == FATAL + "replicaof directive not allowed in cluster mode"


def test_modules_are_refused():
    """loadmodule and module configs stop start-up as they do without the module."""
    assert fatal_of(lambda: make("loadmodule /x.so\n")).message == \
        "Can't load module from /x.so: server aborting"
    assert fatal_of(lambda: make("foo.bar 1\n")).message == (
        "Module Configuration detected without loadmodule directive or no "
        "ApplyConfig call: aborting")


def test_load_file_sets_absolute_path_and_reads(tmp_path, monkeypatch):
    """load_file remembers the absolute path CONFIG REWRITE will write."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.conf").write_text("port 7000\r\n  # indented comment\n\t\nloglevel debug")
    config = make()
    config.load_file("r.conf")
    assert config.path == str(tmp_path / "r.conf")
    assert (config["port"], config["loglevel"]) == (7000, "debug")


def test_missing_files(tmp_path, monkeypatch):
    """A missing file or include is fatal; an include glob matching nothing is not."""
    monkeypatch.chdir(tmp_path)
    error = fatal_of(lambda: make().load_file(str(tmp_path / "none.conf")))
    assert error.message == ("Fatal error, can't open config file '%s': No such file "
                             "or directory" % (tmp_path / "none.conf"))
    error = fatal_of(lambda: make("include /nonexistent.conf\n"))
    assert error.message == ("Fatal error, can't open config file '/nonexistent.conf': "
                             "No such file or directory")
    assert make("include nothing-*.conf\nport 1\n")["port"] == 1


def test_include_is_relative_to_cwd_and_reports_its_own_lines(tmp_path, monkeypatch):
    """Includes resolve against the cwd; their errors cite their own line."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.conf").write_text("port 7001\n")
    (tmp_path / "b.conf").write_text("# b\n\nport x\n")
    (tmp_path / "c1.conf").write_text("maxmemory 1mb\n")
    (tmp_path / "c2.conf").write_text("maxmemory 2mb\n")
    assert make("include a.conf\n")["port"] == 7001
    assert make("include c*.conf\n")["maxmemory"] == 2 << 20
    error = fatal_of(lambda: make("port 1\ninclude b.conf\n"))
    assert "at line 3\n>>> 'port x'\n" in error.message


def test_arguments_override_the_file(tmp_path):
    """--name value overrides follow the file, as redis-server's do."""
    path = tmp_path / "r.conf"
    path.write_text("port 7000\nsave 900 1\nbind 127.0.0.1\n")
    config = make()
    config.load_file(str(path))
    config.apply_arguments(["--port", "6380", "--save", "60", "2", "--bind", "127.0.0.1",
                            "::1", "--requirepass", "a b"])
    assert config["port"] == 6380
    assert config["save"] == [(900, 1), (60, 2)]
    assert config["bind"] == ["127.0.0.1", "::1"]
    assert config["requirepass"] == "a b"
    config.apply_arguments(["--save"])
    assert config["save"] == []


def test_argument_errors_count_lines_after_the_file(tmp_path):
    """An override error cites the line Redis would: file lines + 2."""
    path = tmp_path / "r.conf"
    path.write_text("port 5\n")
    config = make()
    config.load_file(str(path))
    error = fatal_of(lambda: config.apply_arguments(["--port", "abc"]))
    assert error.message == (FATAL + "Reading the configuration file, at line 3\n"
                             ">>> 'port \"abc\"'\nargument couldn't be parsed into an integer")
    error = fatal_of(lambda: make().apply_arguments(["--foo", "a b", 'c"d']))
    assert "at line 2\n>>> 'foo \"a b\" \"c\\\"d\"'\n" in error.message


def test_ignored_directives_warn_once():
    """Each accepted-but-ineffective directive adds exactly one warning line."""
    config = make("jemalloc-bg-thread yes\njemalloc-bg-thread no\nport 1\n"
                  "user default on\nuser bob off\nlist-max-ziplist-entries 5\n"
                  "cluster-slave-no-failover yes\ncluster-replica-no-failover no\n")
    assert config.warnings == [
        "Directive 'jemalloc-bg-thread' has no effect in redisrepl; accepted and ignored",
        "Directive 'user' has no effect in redisrepl; accepted and ignored",
        "Directive 'list-max-ziplist-entries' has no effect in redisrepl; accepted "
        "and ignored",
        "Directive 'cluster-slave-no-failover' has no effect in redisrepl; accepted "
        "and ignored",
    ]
    assert config["jemalloc-bg-thread"] is False


STOCK = [p for p in ("/tmp/debian-stock-redis.conf", "/etc/redis/redis.conf")
         if os.path.exists(p)]


@pytest.mark.skipif(not STOCK, reason="no Debian redis.conf on this machine")
def test_debian_stock_config_loads():
    """Debian's stock redis.conf loads; only ignored directives warn."""
    fake = FakeCwd(existing=("/srv/redis", "/var/lib/redis"))
    config = Config(chdir=fake.chdir, getcwd=fake.getcwd)
    config.load_file(STOCK[0])
    assert config["dir"] == "/var/lib/redis"
    assert config["bind"] == ["127.0.0.1", "-::1"]
    ignored = {d.name for d in DIRECTIVES if d.effect == IGNORED}
    for line in config.warnings:
        assert line.split("'")[1] in ignored
    assert "Directive 'jemalloc-bg-thread' has no effect in redisrepl; accepted and " \
           "ignored" in config.warnings


@pytest.mark.parametrize("name", ["redis.conf", "replica.conf"])
def test_shipped_configs_load_without_warnings(name):
    """etc/redis.conf and etc/replica.conf use only honoured directives."""
    config = make()
    config.load_file(str(ROOT / "etc" / name))
    assert config.warnings == []
    assert config["bind"] == ["127.0.0.1", "-::1"]
    assert config["dir"] == "/srv/redis"          # "./": no change of cwd
    if name == "replica.conf":
        assert (config["port"], config["replicaof"]) == (6380, ("127.0.0.1", 6379))
        assert config["dbfilename"] != "dump.rdb"
    else:
        assert (config["port"], config["replicaof"], config["logfile"]) == (6379, None, "")


def test_rename_command_is_recorded_and_checked():
    """rename-command lines are kept in order, checked against known commands."""
    config = make('rename-command FLUSHALL ""\nrename-command CONFIG cfg\n')
    assert config.rename_commands == [("FLUSHALL", ""), ("CONFIG", "cfg")]
    names = ["get", "set", "config"]
    assert fatal_of(lambda: make("rename-command nope x\n", command_names=names)).reason \
        == "No such command in rename-command"
    assert fatal_of(lambda: make("rename-command get set\n", command_names=names)).reason \
        == "Target command name already exists"
    assert make("rename-command get g\nrename-command g get2\n",
                command_names=names).rename_commands == [("get", "g"), ("g", "get2")]


def test_dir_changes_the_working_directory():
    """dir chdir()s as it is read; a missing directory is fatal with strerror."""
    config = make("dir /data\n")
    assert config["dir"] == "/data"
    assert fatal_of(lambda: make("dir /nope\n")).reason == "No such file or directory"


# -- CONFIG SET ------------------------------------------------------------------

def set_error(config, *pairs, **kw):
    with pytest.raises(ConfigError) as info:
        config.set_many(list(pairs), **kw)
    return info.value.message


def test_set_changes_values():
    """CONFIG SET parses like the file, several pairs at once."""
    config = make()
    config.set_many([(b"maxmemory", b"1gb"), (b"SLAVE-PRIORITY", b"5"),
                     (b"appendfsync", b"ALWAYS"), (b"save", b"100 1 50 2")])
    assert config["maxmemory"] == 1 << 30
    assert config["replica-priority"] == 5
    assert config["appendfsync"] == "always"
    assert config["save"] == [(100, 1), (50, 2)]
    config.set_many([(b"save", b"")])
    assert config["save"] == []


def test_set_error_texts():
    """Unknown, immutable, protected and duplicate names get Redis's replies."""
    config = make()
    assert set_error(config, (b"foo", b"1")) == \
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    assert set_error(config, (b"DAEMONIZE", b"yes")) == \
        "ERR CONFIG SET failed (possibly related to argument 'DAEMONIZE') - " \
        "can't set immutable config"
    assert set_error(config, (b"slaveof", b"a 1")) == \
        "ERR CONFIG SET failed (possibly related to argument 'slaveof') - " \
        "can't set immutable config"
    assert set_error(config, (b"dir", b"/data")) == \
        "ERR CONFIG SET failed (possibly related to argument 'dir') - " \
        "can't set protected config"
    assert set_error(config, (b"port", b"1"), (b"PORT", b"2")) == \
        "ERR CONFIG SET failed (possibly related to argument 'PORT') - duplicate parameter"
    assert set_error(config, (b"maxmemory-policy", b"bogus")) == (
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - "
        "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
        "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")
    assert set_error(config, (b"SLAVE-PRIORITY", b"abc")) == (
        "ERR CONFIG SET failed (possibly related to argument 'slave-priority') - "
        "argument couldn't be parsed into an integer")
    assert set_error(config, (b"maxclients", b"-1")) == (
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
        "argument must be between 1 and 4294967295 inclusive")
    assert set_error(config, (b"maxmemory-clients", b"101%")) == (
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - "
        "percentage argument must be less or equal to 100")
    assert set_error(config, (b"save", b"3600  1")) == (
        "ERR CONFIG SET failed (possibly related to argument 'save') - "
        "Invalid save parameters")


def test_name_problems_are_found_before_value_problems():
    """All names are checked before any value: the first name problem wins."""
    config = make()
    assert set_error(config, (b"port", b"abc"), (b"foo", b"1")) == \
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    assert set_error(config, (b"foo", b"1"), (b"daemonize", b"yes")).endswith("'foo'")
    assert "'daemonize'" in set_error(config, (b"daemonize", b"yes"), (b"foo", b"1"))


def test_alias_and_name_in_one_call_are_not_duplicates():
    """slave-priority and replica-priority are different entries: last wins."""
    config = make()
    config.set_many([(b"slave-priority", b"5"), (b"replica-priority", b"6")])
    assert config["replica-priority"] == 6


def test_set_is_all_or_nothing():
    """A bad value leaves every earlier pair of the call unchanged."""
    config = make()
    error = set_error(config, (b"port", b"7000"), (b"maxmemory", b"1gb"), (b"hz", b"x"))
    assert "'hz'" in error
    assert (config["port"], config["maxmemory"], config["hz"]) == (6379, 0, 10)


def test_protected_configs_follow_enable_protected_configs():
    """dir/dbfilename need enable-protected-configs yes, or local and a local client."""
    config = make("enable-protected-configs local\n")
    assert "can't set protected config" in set_error(config, (b"dbfilename", b"x.rdb"))
    config.set_many([(b"dbfilename", b"x.rdb"), (b"dir", b"/data")], local=True)
    assert (config["dbfilename"], config["dir"]) == ("x.rdb", "/data")
    config = make("enable-protected-configs yes\n")
    assert set_error(config, (b"dir", b"/nope")) == \
        "ERR CONFIG SET failed (possibly related to argument 'dir') - " \
        "No such file or directory"


def test_loading_refuses_deny_loading_directives():
    """appendonly, dir, repl-diskless-load are refused while loading."""
    config = make()
    assert set_error(config, (b"appendonly", b"yes"), loading=True) == \
        "LOADING Redis is loading the dataset in memory"
    config.set_many([(b"port", b"7000")], loading=True)


def test_set_formats_like_redis():
    """Values read back through CONFIG GET in Redis's canonical forms."""
    config = make()
    config.set_many([(b"notify-keyspace-events", b"KEA")])
    assert get(config, "notify-keyspace-events") == b"AKE"
    assert config["notify-keyspace-events"] == NOTIFY_ALL | NOTIFY_KEYSPACE | NOTIFY_KEYEVENT
    config.set_many([(b"notify-keyspace-events", b"g$lshzxetd")])
    assert get(config, "notify-keyspace-events") == b"A"
    config.set_many([(b"notify-keyspace-events", b"Anm")])
    assert get(config, "notify-keyspace-events") == b"Am"
    assert config["notify-keyspace-events"] & NOTIFY_NEW
    config.set_many([(b"maxmemory", b"99999999999999999999"), (b"maxmemory-clients", b"10%"),
                     (b"oom-score-adj", b"relative"), (b"hz", b"1000"),
                     (b"client-output-buffer-limit", b"replica 1mb 2k 3"),
                     (b"latency-tracking-info-percentiles", b"0.0001 1e2")])
    assert get(config, "maxmemory") == b"18446744073709551615"
    assert get(config, "maxmemory-clients") == b"10%"
    assert get(config, "oom-score-adj") == b"yes"
    assert get(config, "hz") == b"500"
    assert get(config, "client-output-buffer-limit") == \
        b"normal 0 0 0 slave 1048576 2000 3 pubsub 33554432 8388608 60"
    assert get(config, "latency-tracking-info-percentiles") == b"0.0001 100"


def test_repl_backlog_size_minimum_applies_to_config_set_only():
    """CONFIG SET raises repl-backlog-size to 16kb; a config file does not."""
    assert make("repl-backlog-size 1\n")["repl-backlog-size"] == 1
    config = make()
    config.set_many([(b"repl-backlog-size", b"1")])
    assert config["repl-backlog-size"] == 16384


def test_assign_bypasses_checks():
    """Server code (REPLICAOF) stores immutable directives with assign()."""
    config = make()
    config.assign("slaveof", ("10.0.0.1", 6380))
    assert get(config, "replicaof") == b"10.0.0.1 6380"


# -- watchers --------------------------------------------------------------------

def test_watchers_run_after_all_values_are_stored():
    """Watchers see (old, new) once every pair of the call is in place."""
    config = make()
    seen = []
    config.watch("port", lambda old, new: seen.append(("port", old, new, config["bind"])))
    config.watch("slave-priority", lambda old, new: seen.append(("prio", old, new)))
    config.set_many([(b"port", b"7000"), (b"bind", b"127.0.0.1")])
    assert seen == [("port", 6379, 7000, ["127.0.0.1"])]
    config.set_many([(b"port", b"7000"), (b"replica-priority", b"1")])
    assert seen[1:] == [("prio", 100, 1)]


def test_refusing_watcher_rolls_everything_back():
    """A watcher raising ConfigError undoes the whole call, and earlier watchers."""
    config = make()
    calls = []
    config.watch("maxclients", lambda old, new: calls.append(("maxclients", old, new)))

    def refuse(old, new):
        raise ConfigError("Unable to listen on this port. Check server logs.")
    config.watch("port", refuse)
    error = set_error(config, (b"maxclients", b"10"), (b"port", b"7000"))
    assert error == ("ERR CONFIG SET failed (possibly related to argument 'port') - "
                     "Unable to listen on this port. Check server logs.")
    assert (config["maxclients"], config["port"]) == (10000, 6379)
    assert calls == [("maxclients", 10000, 10), ("maxclients", 10, 10000)]


def test_one_callback_for_several_names_runs_once():
    """A callable watching port and bind runs once when both change."""
    config = make()
    calls = []

    def rebind(old, new):
        calls.append((config["bind"], config["port"]))
    config.watch("port", rebind)
    config.watch("bind", rebind)
    config.set_many([(b"bind", b"127.0.0.1"), (b"port", b"7000")])
    assert calls == [(["127.0.0.1"], 7000)]


# -- CONFIG GET ------------------------------------------------------------------

def test_get_exact_names_and_patterns():
    """Exact names echo as typed; patterns are case-insensitive Redis globs."""
    config = make()
    assert config.get_matching([b"PORT", b"port", b"po*"]) == [(b"PORT", b"6379")]
    assert dict(config.get_matching([b"Por*"])) == {b"port": b"6379"}
    assert set(dict(config.get_matching([b"*-PRIORITY"]))) == \
        {b"slave-priority", b"replica-priority"}
    assert config.get_matching([b"nope", b"no*pe"]) == []
    assert dict(config.get_matching([b"hz", b"maxmemory"])) == \
        {b"hz": b"10", b"maxmemory": b"0"}


def test_get_slave_pattern_returns_alias_names():
    """CONFIG GET slave* lists the slave-* aliases, as Redis does."""
    names = set(dict(make().get_matching([b"slave*"])))
    assert names == {b"slave-priority", b"slave-read-only", b"slave-announce-port",
                     b"slave-serve-stale-data", b"slave-ignore-maxmemory",
                     b"slave-announce-ip", b"slaveof", b"slave-lazy-flush"}


def test_hidden_directives_need_their_exact_name():
    """Hidden debugging directives never match a pattern."""
    config = make()
    assert config.get_matching([b"rdb-key-save-delay"]) == [(b"rdb-key-save-delay", b"0")]
    assert b"rdb-key-save-delay" not in dict(config.get_matching([b"*delay*"]))


# -- CONFIG REWRITE --------------------------------------------------------------

ORIGINAL = """# top comment

save 900 1
save 300 10
  # indented comment
slave-read-only yes
slave-priority 50
maxmemory 100mb
maxmemory 200mb
client-output-buffer-limit replica 256mb 64mb 60
client-output-buffer-limit pubsub 32mb 8mb 60
bind 127.0.0.1 -::1
loglevel notice
requirepass "p w\\"x"
notify-keyspace-events "Ex"
user default on nopass ~* &* +@all
rename-command FLUSHALL ""
dir ./
appendfsync always
# Generated by CONFIG REWRITE
hz 10


latency-tracking-info-percentiles 50 99
"""

REWRITTEN = """# top comment

save 60 5

# indented comment
replica-read-only no
replica-priority 7
maxmemory 3000

client-output-buffer-limit normal 1mb 1kb 5
client-output-buffer-limit replica 256mb 64mb 60
bind 127.0.0.1 -::1
loglevel debug
requirepass "p w\\"x"
notify-keyspace-events ""
user default on nopass ~* &* +@all
rename-command FLUSHALL ""
dir "/srv/redis"
appendfsync everysec
# Generated by CONFIG REWRITE
hz 20

latency-tracking-info-percentiles 50 99

masterauth "a\\"b"
maxmemory-policy allkeys-lru
lfu-log-factor 11
hash-max-listpack-value 1kb
maxmemory-clients 5%
oom-score-adj-values 0 200 801
"""


def test_rewrite_like_redis(tmp_path):
    """Lines are replaced in place, duplicates blanked, new ones appended."""
    path = tmp_path / "redis.conf"
    path.write_text(ORIGINAL)
    config = make()
    config.load_file(str(path))
    for pairs in ([(b"maxmemory", b"3000")],
                  [(b"slave-priority", b"7"), (b"replica-read-only", b"no"), (b"hz", b"20")],
                  [(b"save", b"60 5")],
                  [(b"client-output-buffer-limit", b"normal 1mb 1kb 5")],
                  [(b"notify-keyspace-events", b"")],
                  [(b"maxmemory-policy", b"allkeys-lru"), (b"loglevel", b"debug")],
                  [(b"masterauth", b'a"b')], [(b"appendfsync", b"everysec")],
                  [(b"oom-score-adj-values", b"0 200 801")], [(b"maxmemory-clients", b"5%")],
                  [(b"lfu-log-factor", b"11"), (b"hash-max-listpack-value", b"1024")]):
        config.set_many(pairs)
    config.rewrite()
    assert path.read_text() == REWRITTEN
    assert os.listdir(tmp_path) == ["redis.conf"]


def test_rewrite_of_a_minimal_file(tmp_path):
    """A file with no directives gets the signature and always-written lines."""
    path = tmp_path / "r.conf"
    path.write_text("")
    config = make()
    config.load_file(str(path))
    config.set_many([(b"maxmemory", b"1gb")])
    config.assign("replicaof", ("10.0.0.1", 6379))
    config.rewrite()
    assert path.read_text() == (
        "# Generated by CONFIG REWRITE\n"
        "maxmemory 1gb\n"
        'dir "/srv/redis"\n'
        "save 3600 1\nsave 300 100\nsave 60 10000\n"
        "replicaof 10.0.0.1 6379\n"
        "latency-tracking-info-percentiles 50 99 99.9\n")


def test_rewrite_handles_foreign_and_alias_lines(tmp_path):
    """Unknown lines become "# ??? ", aliases are rewritten under their name."""
    path = tmp_path / "r.conf"
    path.write_text('port 0\nsave ""\nlua-time-limit 10\n')
    config = make()
    config.load_file(str(path))
    config.set_many([(b"busy-reply-threshold", b"20"), (b"bind", b"* -::*")])
    with path.open("a") as f:
        f.write('foo bar\nx "unbalanced\nSLAVEOF 1.2.3.4 5\nMaxMemory 5mb\n'
                'include other.conf\nbind 1.2.3.4\nsave 1 2\nlist-max-ziplist-entries 5\n')
    config.rewrite()
    assert path.read_text() == (
        'port 0\nsave ""\nbusy-reply-threshold 20\n'
        '# ??? foo bar\n# ??? x "unbalanced\n\nmaxmemory 0\ninclude other.conf\n\n'
        "# ??? list-max-ziplist-entries 5\n\n"
        "# Generated by CONFIG REWRITE\n"
        'dir "/srv/redis"\n'
        "latency-tracking-info-percentiles 50 99 99.9\n")


def test_rewrite_drops_unset_passwords(tmp_path):
    """An emptied requirepass loses its line; unixsocketperm is written in octal."""
    path = tmp_path / "r.conf"
    path.write_text("requirepass foo\nunixsocketperm 700\nsave 60 1\n")
    config = make()
    config.load_file(str(path))
    config.set_many([(b"requirepass", b"")])
    config.rewrite()
    assert path.read_text() == "\nunixsocketperm 700\nsave 60 1\n\n" \
        "# Generated by CONFIG REWRITE\n" 'dir "/srv/redis"\n' \
        "latency-tracking-info-percentiles 50 99 99.9\n"


def test_rewrite_needs_a_config_file():
    """Without a file CONFIG REWRITE answers Redis's error."""
    with pytest.raises(ConfigError) as info:
        make().rewrite()
    assert info.value.message == "ERR The server is running without a config file"


def test_rewrite_failure_reports_strerror(tmp_path):
    """A write failure comes back as "ERR Rewriting config file: <strerror>"."""
    path = tmp_path / "gone" / "r.conf"
    config = make()
    config.path = str(path)
    with pytest.raises(ConfigError) as info:
        config.rewrite()
    assert info.value.message == "ERR Rewriting config file: No such file or directory"


def test_rewrite_file_mode(tmp_path):
    """The rewritten file is 0644 less the umask, written via a renamed temp file."""
    path = tmp_path / "r.conf"
    path.write_text("port 1\n")
    path.chmod(0o600)
    config = make()
    config.load_file(str(path))
    mask = os.umask(0o022)
    try:
        config.rewrite()
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644


_SETTABLE = st.sampled_from([
    (b"maxmemory", [b"0", b"1kb", b"3000", b"2gb", b"1048576"]),
    (b"save", [b"", b"60 1", b"900 1 300 10"]),
    (b"client-output-buffer-limit", [b"normal 1mb 1kb 5", b"replica 0 0 0", b"pubsub 1 2 3"]),
    (b"notify-keyspace-events", [b"", b"KEA", b"Ex", b"Kgn"]),
    (b"requirepass", [b"", b"p w\"x", b"\x00\xff\\"]),
    (b"bind", [b"127.0.0.1 -::1", b"* -::*", b"", b"0.0.0.0"]),
    (b"loglevel", [b"debug", b"notice"]),
    (b"slave-read-only", [b"yes", b"no"]),
    (b"maxmemory-clients", [b"0", b"5%", b"1mb"]),
    (b"latency-tracking-info-percentiles", [b"", b"50 99.9"]),
    (b"shutdown-on-sigterm", [b"default", b"nosave now"]),
    (b"list-max-ziplist-size", [b"-2", b"5"]),
    (b"hz", [b"10", b"100"]),
])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_SETTABLE, st.integers(0, 4)), max_size=8))
def test_rewrite_then_reload_gives_the_same_configuration(tmp_path_factory, changes):
    """Whatever CONFIG SET did, the rewritten file loads back to the same values."""
    path = tmp_path_factory.mktemp("rw") / "r.conf"
    path.write_text("# mine\nsave 900 1\nslave-read-only yes\nport 7000\n")
    config = make()
    config.load_file(str(path))
    for (name, values), i in changes:
        config.set_many([(name, values[i % len(values)])])
    config.rewrite()
    again = make()
    again.load_file(str(path))
    assert again.get_matching([b"*"]) == config.get_matching([b"*"])
