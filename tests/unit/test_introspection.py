"""COMMAND, COMMAND COUNT/INFO/DOCS/LIST/GETKEYS/GETKEYSANDFLAGS/HELP."""

import json
import os
import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redisrepl.commands import table as table_module
from redisrepl.commands.introspection import (
    command_getkeysandflags,
    command_list,
    to_reply,
)
from redisrepl.resp.encoder import encode
from redisrepl.resp.values import ReplyError

# Raw replies of a real redis-server 7.0.15 (read off the socket).
REDIS_COMMAND_INFO_GET_SET = (
    b"*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n"
    b":1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\n"
    b"flags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\n"
    b"type\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\n"
    b"find_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\n"
    b"lastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"
    b"*10\r\n$3\r\nset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n"
    b"*3\r\n+@write\r\n+@string\r\n+@slow\r\n*0\r\n*1\r\n*8\r\n$5\r\nnotes\r\n"
    b"$48\r\nRW and ACCESS due to the optional `GET` argument\r\n$5\r\nflags\r\n"
    b"*4\r\n+RW\r\n+access\r\n+update\r\n+variable_flags\r\n$12\r\n"
    b"begin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n"
    b"$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n"
    b"$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\n"
    b"limit\r\n:0\r\n*0\r\n")
REDIS_COMMAND_DOCS_GET = (
    b"*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a "
    b"key\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\n"
    b"complexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n"
    b"$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n")
REDIS_COMMAND_HELP = (
    b"*21\r\n+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
    b"+(no subcommand)\r\n+    Return details about all Redis commands.\r\n"
    b"+COUNT\r\n+    Return the total number of commands in this Redis server.\r\n"
    b"+LIST\r\n+    Return a list of all commands in this Redis server.\r\n"
    b"+INFO [<command-name> ...]\r\n"
    b"+    Return details about multiple Redis commands.\r\n"
    b"+    If no command names are given, documentation details for all\r\n"
    b"+    commands are returned.\r\n+DOCS [<command-name> ...]\r\n"
    b"+    Return documentation details about multiple Redis commands.\r\n"
    b"+    If no command names are given, documentation details for all\r\n"
    b"+    commands are returned.\r\n+GETKEYS <full-command>\r\n"
    b"+    Return the keys from a full Redis command.\r\n"
    b"+GETKEYSANDFLAGS <full-command>\r\n"
    b"+    Return the keys and the access flags from a full Redis command.\r\n"
    b"+HELP\r\n+    Prints this help.\r\n")

# COMMAND GETKEYSANDFLAGS <line> as redis-server 7.0.15 answers it.
REDIS_GETKEYS = [
    ("GET a", [("a", ("RO", "access"))]),
    ("get a b", "ERR Invalid number of arguments specified for command"),
    ("object encoding k", [("k", ("RO",))]),
    ("eval s 0", []),
    ("eval s 1", []),
    ("zunionstore d 0 a", "ERR Invalid arguments specified for command"),
    ("zunionstore d 02 a b", [("a", ()), ("b", ()), ("d", ())]),
    ("set k v get", [("k", ("RW", "access", "update"))]),
    ("set k v ex 10", [("k", ("OW", "update"))]),
    ("sort k by x store d", [("k", ("RO", "access")), ("d", ("OW", "update"))]),
    ("sort k limit 0 1 store d store e",
     [("k", ("RO", "access")), ("e", ("OW", "update"))]),
    ("sort_ro k store x", [("k", ("RO", "access"))]),
    ('migrate h p "" 0 1 keys a b',
     [("a", ("RW", "access", "delete")), ("b", ("RW", "access", "delete"))]),
    ("migrate h p k 0 1 keys a b", "ERR Invalid arguments specified for command"),
    ('migrate h p "" 0 1 auth2 u pw copy keys a',
     [("a", ("RW", "access", "delete"))]),
    ("bitfield k get u8 0", [("k", ("RO", "access"))]),
    ("bitfield k overflow wrap set u8 0 1", [("k", ("RW", "access", "update"))]),
    ("mset a 1 b 2", [("a", ("OW", "update")), ("b", ("OW", "update"))]),
    ("lmove a b left right",
     [("a", ("RW", "access", "delete")), ("b", ("RW", "insert"))]),
    ("georadius k 1 2 3 m storedist d",
     [("k", ("RO", "access")), ("d", ("OW", "update"))]),
    ("xread count 1 foo bar", "ERR Invalid arguments specified for command"),
    ("xread streams a b 0 0", [("a", ("RO", "access")), ("b", ("RO", "access"))]),
    ("xreadgroup group g c streams a 0", [("a", ("RO", "access"))]),
    ("memory usage k", [("k", ("RO",))]),
    ("blmpop 0 2 a b left",
     [("a", ("RW", "access", "delete")), ("b", ("RW", "access", "delete"))]),
    ("nosuch a", "ERR Invalid command specified"),
    ("ping a", "ERR The command has no key arguments"),
    ("config get x", "ERR The command has no key arguments"),
    ("config nosuch x", "ERR Invalid command specified"),
    ("spublish a m", "ERR The command has no key arguments"),
]


class _Stub:
    """A client whose server has every Redis 7.0 command in its table."""

    def __init__(self, table):
        self.server = self
        self.table = table


@pytest.fixture(scope="module")
def redis_client():
    """A stub client over a table holding all of Redis 7.0's commands."""
    path = os.path.join(os.path.dirname(table_module.__file__),
                        "redis70_commands.json")
    with open(path) as f:
        metadata = json.load(f)["commands"]
    table = table_module.CommandTable()
    for name, meta in metadata.items():
        table.register(name, None)
        if isinstance(meta["info"][9], list):
            for sub in meta["info"][9]:
                table.register(sub[0], None)
    return _Stub(table)


def names(reply):
    return [entry[0] for entry in reply]


def test_count_is_the_table_size(srv):
    """COMMAND COUNT is the number of top-level commands with handlers."""
    assert srv("COMMAND", "COUNT") == len(srv.server.table)


def test_command_describes_every_served_command(srv):
    """COMMAND alone describes each command of the table once."""
    reply = srv("COMMAND")
    assert sorted(names(reply)) == sorted(
        cmd.fullname.encode() for cmd in srv.server.table)


def test_info_without_names_describes_every_served_command(srv):
    """COMMAND INFO with no names is COMMAND."""
    reply = srv("COMMAND", "INFO")
    assert len(reply) == len(srv.server.table)
    assert sorted(names(reply)) == sorted(
        cmd.fullname.encode() for cmd in srv.server.table)


def test_info_bytes_equal_redis(srv):
    """COMMAND INFO get set is byte for byte redis-server 7.0.15's reply."""
    assert encode(srv("COMMAND", "INFO", "get", "set")) == REDIS_COMMAND_INFO_GET_SET


def test_docs_bytes_equal_redis(srv):
    """COMMAND DOCS get is byte for byte redis-server 7.0.15's reply."""
    assert encode(srv("COMMAND", "DOCS", "get")) == REDIS_COMMAND_DOCS_GET


def test_help_bytes_equal_redis(srv):
    """COMMAND HELP is byte for byte redis-server 7.0.15's reply."""
    assert encode(srv("COMMAND", "HELP")) == REDIS_COMMAND_HELP


def test_info_of_unknown_names_is_nil(srv):
    """An unknown name gets a nil entry in COMMAND INFO, in its place."""
    reply = srv("COMMAND", "INFO", "nosuch", "GET", "get|x", "config|get|x")
    assert reply[0] is None and reply[2] is None and reply[3] is None
    assert reply[1][0] == b"get"
    assert encode(srv("COMMAND", "INFO", "nosuch")) == b"*1\r\n$-1\r\n"


def test_docs_skips_unknown_names(srv):
    """COMMAND DOCS leaves unknown names out of its map."""
    assert encode(srv("COMMAND", "DOCS", "nosuch")) == b"*0\r\n"
    assert [key for key, _ in srv("COMMAND", "DOCS", "nosuch", "get", "GET")] \
        == [b"get", b"get"]


def test_docs_without_names_covers_the_table(srv):
    """COMMAND DOCS alone maps every served command to its docs."""
    reply = srv("COMMAND", "DOCS")
    assert sorted(key for key, _ in reply) == sorted(
        cmd.fullname.encode() for cmd in srv.server.table)


def test_subcommands_by_full_name_any_case(srv):
    """COMMAND INFO/DOCS accept container|sub names in any case."""
    reply = srv("COMMAND", "INFO", "COMMAND|COUNT")
    assert reply[0][0] == b"command|count"
    assert [key for key, _ in srv("COMMAND", "DOCS", "command|count")] \
        == [b"command|count"]


def test_containers_list_only_registered_subcommands(srv):
    """A container's INFO and DOCS name exactly its registered subcommands."""
    cmd = srv.server.table.lookup(b"command")
    served = sorted(sub.fullname.encode() for sub in cmd.subcommands.values())
    info = srv("COMMAND", "INFO", "command")[0]
    assert sorted(names(info[9])) == served
    docs = dict(srv("COMMAND", "DOCS", "command")[0][1])
    assert sorted(key for key, _ in docs[b"subcommands"]) == served
    del cmd.subcommands["help"]
    info = srv("COMMAND", "INFO", "command")[0]
    assert b"command|help" not in names(info[9])


def test_list_names_commands_and_their_subcommands(srv):
    """COMMAND LIST names every command, each followed by its subcommands."""
    listed = srv("COMMAND", "LIST")
    position = listed.index(b"command")
    served = srv.server.table.lookup(b"command").subcommands
    assert sorted(listed[position + 1:position + 1 + len(served)]) == sorted(
        b"command|" + name.encode() for name in served)
    assert len(listed) == sum(1 + len(cmd.subcommands) for cmd in srv.server.table)


def test_list_filters(redis_client):
    """FILTERBY PATTERN (nocase glob), ACLCAT and MODULE, as Redis filters."""
    def listed(*args):
        argv = [b"COMMAND", b"LIST", b"FILTERBY"] + [a.encode() for a in args]
        return sorted(command_list(redis_client, argv))
    assert listed("PATTERN", "CONFIG*") == [
        b"config", b"config|get", b"config|help", b"config|resetstat",
        b"config|rewrite", b"config|set"]
    assert listed("aclcat", "HyperLogLog") == [
        b"pfadd", b"pfcount", b"pfdebug", b"pfmerge", b"pfselftest"]
    assert listed("aclcat", "@hyperloglog") == []
    assert listed("aclcat", "nosuchcategory") == []
    assert listed("module", "anything") == []


@pytest.mark.parametrize("args", [
    ["FOO"], ["FILTERBY"], ["FILTERBY", "bogus", "x"],
    ["FILTERBY", "pattern", "x", "extra"], ["FILTERBY", "pattern"]])
def test_list_syntax_errors(srv, args):
    """Anything but one trailing FILTERBY <type> <arg> is a syntax error."""
    assert srv("COMMAND", "LIST", *args) == ReplyError("ERR syntax error")


@pytest.mark.parametrize("line, expected", REDIS_GETKEYS)
def test_getkeysandflags_matches_redis(redis_client, line, expected):
    """GETKEYSANDFLAGS finds Redis's keys and flags, or gives its error."""
    argv = [b"COMMAND", b"GETKEYSANDFLAGS"] + [
        word.encode() for word in shlex.split(line)]
    try:
        reply = command_getkeysandflags(redis_client, argv)
    except ReplyError as error:
        assert error.message.decode() == expected
        return
    got = [(key.decode(), tuple(flag.decode() for flag in flags))
           for key, flags in reply]
    assert got == expected


def test_getkeys_through_the_server(srv):
    """COMMAND GETKEYS answers with the keys' arguments; errors as Redis."""
    assert srv("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == [b"a", b"b"]
    assert srv("COMMAND", "GETKEYS", "get", "a", "b") == ReplyError(
        "ERR Invalid number of arguments specified for command")
    assert srv("COMMAND", "GETKEYS", "nosuch", "a") == ReplyError(
        "ERR Invalid command specified")
    assert srv("COMMAND", "GETKEYS", "ping", "x") == ReplyError(
        "ERR The command has no key arguments")
    assert encode(srv("COMMAND", "GETKEYSANDFLAGS", "set", "k", "v", "get")) == (
        b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n")


# -- the metadata converter ---------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",),
                              blacklist_characters="\r\n"), max_size=8)
_typed_json = st.recursive(
    st.one_of(_text, st.integers(-2**63, 2**63 - 1),
              st.builds(lambda s: {"+": s}, _text)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.builds(lambda items: {"~": items}, st.lists(inner, max_size=4)),
        st.builds(lambda pairs: {"%": pairs},
                  st.lists(st.tuples(_text, inner).map(list), max_size=4))),
    max_leaves=20)


def _resp2(node):
    """A reference RESP2 encoding of the captured typed JSON."""
    if isinstance(node, str):
        data = node.encode()
        return b"$%d\r\n%s\r\n" % (len(data), data)
    if isinstance(node, int):
        return b":%d\r\n" % node
    if isinstance(node, list):
        return b"*%d\r\n" % len(node) + b"".join(_resp2(n) for n in node)
    (kind, value), = node.items()
    if kind == "+":
        return b"+%s\r\n" % value.encode()
    if kind == "~":
        return b"*%d\r\n" % len(value) + b"".join(_resp2(n) for n in value)
    return b"*%d\r\n" % (2 * len(value)) + b"".join(
        _resp2(k) + _resp2(v) for k, v in value)


@given(_typed_json)
def test_converter_encodes_maps_and_sets_as_resp2_arrays(node):
    """to_reply keeps each RESP3 type; in RESP2 maps flatten, sets are arrays."""
    assert encode(to_reply(node)) == _resp2(node)


def test_converter_types():
    """Simple strings, bulk strings, integers, maps and sets map to reply values."""
    reply = to_reply({"%": [["flags", {"~": [{"+": "RO"}]}], ["n", 3]]})
    assert encode(reply) == b"*4\r\n$5\r\nflags\r\n*1\r\n+RO\r\n$1\r\nn\r\n:3\r\n"
