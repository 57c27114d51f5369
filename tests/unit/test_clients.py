"""CLIENT subcommands, with error texts captured from redis-server 7.0.15."""

import pytest

from redisrepl.commands.clients import client_info_line, client_type, flags_string
from redisrepl.engine import PAUSED
from redisrepl.resp.values import OK, Map, ReplyError, Status

# `CLIENT LIST` of a real redis-server 7.0.15, field names in order.
REDIS_7_0_15_FIELDS = [
    "id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub",
    "psub", "ssub", "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem",
    "rbs", "rbp", "obl", "oll", "omem", "tot-mem", "events", "cmd", "user",
    "redir", "resp"]


def parse_line(line):
    """One CLIENT LIST line as an ordered list of (field, value)."""
    return [tuple(item.split(b"=", 1)) for item in line.split(b" ")]


def listed_ids(reply):
    """The ids of a CLIENT LIST reply, in order."""
    return [int(dict(parse_line(line))[b"id"]) for line in reply.split(b"\n")[:-1]]


def fields_of(srv, client=None):
    """The caller's CLIENT INFO as a dict of str -> bytes."""
    reply = srv("CLIENT", "INFO", client=client)
    assert reply.endswith(b"\n")
    return {k.decode(): v for k, v in parse_line(reply[:-1])}


def err(text):
    return ReplyError(text)


# -- ID, SETNAME, GETNAME -------------------------------------------------------

def test_id_is_the_client_id(srv):
    """CLIENT ID answers the connection's own id, different for each client."""
    other = srv.new_client()
    assert srv("CLIENT", "ID") == srv.client.id
    assert srv("CLIENT", "ID", client=other) == other.id != srv.client.id


def test_setname_then_getname(srv):
    """SETNAME stores the name GETNAME returns; no name is a null bulk."""
    assert srv("CLIENT", "GETNAME") is None
    assert srv("CLIENT", "SETNAME", "worker-1") == OK
    assert srv("CLIENT", "GETNAME") == b"worker-1"


def test_setname_empty_clears_the_name(srv):
    """An empty name removes the name, as Redis does."""
    srv("CLIENT", "SETNAME", "x")
    assert srv("CLIENT", "SETNAME", "") == OK
    assert srv("CLIENT", "GETNAME") is None


@pytest.mark.parametrize("name", [b"a b", b"a\nb", b"\x7f", "é".encode(), b"\x00"])
def test_setname_rejects_special_characters(srv, name):
    """Spaces, newlines and non-printable bytes are refused with Redis's text."""
    assert srv("CLIENT", "SETNAME", name) == err(
        "ERR Client names cannot contain spaces, newlines or special characters.")
    assert srv("CLIENT", "GETNAME") is None


def test_wrong_arity_names_the_subcommand(srv):
    """Arity errors name client|sub, as Redis 7.0 does."""
    assert srv("CLIENT", "SETNAME") == err(
        "ERR wrong number of arguments for 'client|setname' command")
    assert srv("CLIENT", "ID", "x") == err(
        "ERR wrong number of arguments for 'client|id' command")


def test_unimplemented_tracking_subcommands_are_unknown(srv):
    """TRACKING and UNBLOCK are not registered: unknown subcommand."""
    assert srv("CLIENT", "TRACKING", "on") == err(
        "ERR unknown subcommand 'TRACKING'. Try CLIENT HELP.")
    assert srv("CLIENT", "UNBLOCK", "1") == err(
        "ERR unknown subcommand 'UNBLOCK'. Try CLIENT HELP.")


# -- LIST, INFO -----------------------------------------------------------------

def test_list_fields_are_redis_7_0_15s_in_order(srv):
    """CLIENT LIST prints exactly Redis 7.0.15's fields, in its order."""
    srv.new_client(addr=b"127.0.0.1:50001")
    lines = srv("CLIENT", "LIST").split(b"\n")
    assert lines[-1] == b""
    assert len(lines[:-1]) == 2
    for line in lines[:-1]:
        assert [k.decode() for k, _ in parse_line(line)] == REDIS_7_0_15_FIELDS


def test_list_values_describe_the_client(srv):
    """id, addr, laddr, fd, name, db, cmd, user, resp reflect the client."""
    srv("CLIENT", "SETNAME", "me")
    srv("SELECT", "3")
    f = fields_of(srv)
    assert f["id"] == b"%d" % srv.client.id
    assert f["addr"] == b"127.0.0.1:50000"
    assert f["laddr"] == b"127.0.0.1:6379"
    assert f["fd"] == b"8"
    assert f["name"] == b"me"
    assert f["db"] == b"3"
    assert f["flags"] == b"N"
    assert f["multi"] == b"-1"
    assert f["cmd"] == b"client|info"
    assert f["user"] == b"default"
    assert f["redir"] == b"-1"
    assert f["resp"] == b"2"
    assert f["events"] == b"r"
    assert f["sub"] == f["psub"] == f["ssub"] == b"0"


def test_list_argv_mem_counts_the_callers_arguments_only(srv):
    """argv-mem is the running command's argument bytes, 0 for others."""
    other = srv.new_client(addr=b"127.0.0.1:50001")
    lines = srv("CLIENT", "LIST").split(b"\n")
    mine = dict(parse_line(lines[0]))
    theirs = dict(parse_line(lines[1]))
    assert mine[b"argv-mem"] == b"10"      # "CLIENT" + "LIST", as Redis
    assert theirs[b"argv-mem"] == b"0"
    assert theirs[b"id"] == b"%d" % other.id


def test_a_fresh_client_last_command_is_null(srv):
    """A client that has run nothing shows cmd=NULL, as Redis does."""
    other = srv.new_client(addr=b"127.0.0.1:50001")
    line = srv("CLIENT", "LIST", "ID", str(other.id))
    assert dict(parse_line(line[:-1]))[b"cmd"] == b"NULL"


def test_age_and_idle_follow_the_clock(srv):
    """age counts from connect; idle from the last interaction."""
    srv.advance(5)
    srv.client.last_interaction_ms = srv.server.now_ms()
    srv.advance(3)
    f = fields_of(srv)
    assert (f["age"], f["idle"]) == (b"8", b"3")


def test_multi_flag_and_counts(srv):
    """Inside MULTI: flags x, multi = queued count, multi-mem as Redis counts it."""
    table = srv.server.table
    srv.client.multi = [(table.lookup(b"set"), [b"set", b"k", b"v"]),
                        (table.lookup(b"get"), [b"get", b"k"])]
    # Called directly: inside MULTI the engine would queue CLIENT INFO.
    line = client_info_line(srv.client, srv.client)
    f = {k.decode(): v for k, v in parse_line(line)}
    assert f["flags"] == b"x"
    assert f["multi"] == b"2"
    # Redis 7.0.15 shows multi-mem=49 for exactly this queue.
    assert f["multi-mem"] == b"49"


def test_qbuf_reports_the_connections_pending_bytes(srv):
    """qbuf is what conn.query_buffer_size() says is waiting."""
    srv.client.conn.query_buffer_size = lambda: 17
    assert fields_of(srv)["qbuf"] == b"17"


def test_flags_follow_redis_order(srv):
    """Letters from client state and client.flags print in Redis's order."""
    client = srv.client
    client.flags = "P"
    client.no_evict = True
    client.is_unix = True
    client.close_after_reply = True
    client.multi = []
    assert flags_string(client) == "PxcUe"
    client.flags = "S"
    client.no_evict = client.is_unix = client.close_after_reply = False
    client.multi = None
    assert flags_string(client) == "S"


def test_client_type_from_flags(srv):
    """Replica, master, pubsub and normal clients are told apart; MONITOR is normal."""
    c = srv.client
    for flags, kind in [("", "normal"), ("S", "replica"), ("M", "master"),
                        ("P", "pubsub"), ("O", "normal")]:
        c.flags = flags
        assert client_type(c) == kind


def test_list_type_filters(srv):
    """LIST TYPE shows only clients of that type (slave is replica)."""
    replica = srv.new_client(addr=b"127.0.0.1:50001")
    replica.flags = "S"
    assert listed_ids(srv("CLIENT", "LIST", "TYPE", "normal")) == [srv.client.id]
    assert listed_ids(srv("CLIENT", "LIST", "TYPE", "replica")) == [replica.id]
    assert listed_ids(srv("CLIENT", "LIST", "TYPE", "SLAVE")) == [replica.id]
    assert srv("CLIENT", "LIST", "TYPE", "pubsub") == b""
    assert srv("CLIENT", "LIST", "TYPE", "master") == b""


def test_list_id_filter_keeps_the_order_given(srv):
    """LIST ID shows the named clients in argument order, skipping unknown ids."""
    other = srv.new_client(addr=b"127.0.0.1:50001")
    reply = srv("CLIENT", "LIST", "ID", str(other.id), "999", str(srv.client.id))
    assert listed_ids(reply) == [other.id, srv.client.id]
    assert srv("CLIENT", "LIST", "ID", "999") == b""


@pytest.mark.parametrize("args, error", [
    (["TYPE"], "ERR syntax error"),
    (["ID"], "ERR syntax error"),
    (["foo"], "ERR syntax error"),
    (["foo", "bar"], "ERR syntax error"),
    (["TYPE", "normal", "ID", "1"], "ERR syntax error"),
    (["TYPE", "foo"], "ERR Unknown client type 'foo'"),
    (["ID", "abc"], "ERR Invalid client ID"),
    (["ID", "1", "abc"], "ERR Invalid client ID"),
    (["ID", "1", "2", "TYPE", "normal"], "ERR Invalid client ID"),
])
def test_list_errors(srv, args, error):
    """LIST's syntax and argument errors carry Redis 7.0.15's texts."""
    assert srv("CLIENT", "LIST", *args) == err(error)


def test_info_is_the_callers_list_line(srv):
    """CLIENT INFO is the caller's own CLIENT LIST line (bar its own command)."""
    srv.new_client(addr=b"127.0.0.1:50001")
    info = parse_line(srv("CLIENT", "INFO")[:-1])
    listed = parse_line(srv("CLIENT", "LIST", "ID", str(srv.client.id))[:-1])
    differ = {k for (k, a), (_, b) in zip(info, listed, strict=True) if a != b}
    assert differ == {b"cmd", b"argv-mem", b"tot-mem"}
    assert dict(info)[b"argv-mem"] == b"10"      # CLIENT INFO
    assert dict(listed)[b"argv-mem"] == b"13"    # CLIENT LIST ID <id>


# -- KILL -------------------------------------------------------------------------

def test_kill_old_form_closes_the_named_client(srv):
    """CLIENT KILL ip:port answers +OK, closes that client and forgets it."""
    victim = srv.new_client(addr=b"10.0.0.2:4000")
    assert srv("CLIENT", "KILL", "10.0.0.2:4000") == OK
    assert victim.conn.closed and victim.closed
    assert victim.id not in srv.server.clients
    assert not srv.client.close_after_reply


def test_kill_old_form_without_match(srv):
    """The old form with no match is Redis's "No such client" error."""
    assert srv("CLIENT", "KILL", "1.2.3.4:5") == err("ERR No such client")
    assert srv("CLIENT", "KILL", "id") == err("ERR No such client")


def test_kill_old_form_may_kill_the_caller(srv):
    """The old form kills the caller too: it closes after its reply."""
    assert srv("CLIENT", "KILL", "127.0.0.1:50000") == OK
    assert srv.client.close_after_reply
    assert not srv.client.conn.closed      # the reply is written first


def test_kill_by_id_counts(srv):
    """KILL ID answers the number killed."""
    victim = srv.new_client(addr=b"10.0.0.2:4000")
    assert srv("CLIENT", "KILL", "ID", str(victim.id)) == 1
    assert victim.conn.closed
    assert srv("CLIENT", "KILL", "ID", "999") == 0


def test_kill_skips_the_caller_by_default(srv):
    """New-form filters spare the caller unless SKIPME no."""
    srv.new_client(addr=b"10.0.0.2:4000")
    assert srv("CLIENT", "KILL", "TYPE", "normal") == 1
    assert not srv.client.close_after_reply
    assert srv("CLIENT", "KILL", "ID", str(srv.client.id)) == 0
    assert srv("CLIENT", "KILL", "ID", str(srv.client.id), "SKIPME", "no") == 1
    assert srv.client.close_after_reply


def test_kill_filters_combine(srv):
    """ADDR, LADDR, TYPE, USER and ID must all match."""
    a = srv.new_client(addr=b"10.0.0.2:4000")
    b = srv.new_client(addr=b"10.0.0.3:4000")
    b.laddr = b"127.0.0.1:6380"
    b.flags = "S"
    assert srv("CLIENT", "KILL", "ADDR", "10.0.0.3:4000", "TYPE", "normal") == 0
    assert srv("CLIENT", "KILL", "LADDR", "127.0.0.1:6379", "USER", "default",
               "ID", str(b.id)) == 0
    assert srv("CLIENT", "KILL", "LADDR", "127.0.0.1:6380", "TYPE", "replica") == 1
    assert b.conn.closed and not a.conn.closed
    assert srv("CLIENT", "KILL", "USER", "default") == 1
    assert a.conn.closed
    assert list(srv.server.clients) == [srv.client.id]


@pytest.mark.parametrize("args, error", [
    (["ID", "abc"], "ERR client-id should be greater than 0"),
    (["ID", "0"], "ERR client-id should be greater than 0"),
    (["ID", "-5"], "ERR client-id should be greater than 0"),
    (["TYPE", "foo"], "ERR Unknown client type 'foo'"),
    (["SKIPME", "maybe"], "ERR syntax error"),
    (["USER", "nouser"], "ERR No such user 'nouser'"),
    (["MAXAGE", "100"], "ERR syntax error"),      # MAXAGE arrived in 7.4
    (["foo", "bar"], "ERR syntax error"),
    (["ADDR", "1:1", "foo"], "ERR syntax error"),
])
def test_kill_errors(srv, args, error):
    """KILL's filter errors carry Redis 7.0.15's texts and kill nobody."""
    other = srv.new_client(addr=b"1:1")
    assert srv("CLIENT", "KILL", *args) == err(error)
    assert not other.conn.closed


# -- PAUSE, UNPAUSE ---------------------------------------------------------------

def test_pause_write_holds_writes_not_reads_until_the_deadline(srv):
    """PAUSE n WRITE holds SET but not GET; the cron lifts it at the deadline."""
    other = srv.new_client(addr=b"127.0.0.1:50001")
    assert srv("CLIENT", "PAUSE", "1000", "WRITE") == OK
    assert srv("SET", "k", "v", client=other) is PAUSED
    assert srv("GET", "k", client=other) is None
    resumed = []
    srv.server.on_unpause.append(lambda: resumed.append(True))
    srv.advance(0.999)
    srv.server.cron()
    assert resumed == []
    assert srv("SET", "k", "v", client=other) is PAUSED
    srv.advance(0.001)
    srv.server.cron()
    assert resumed == [True]
    assert srv("SET", "k", "v", client=other) == OK


def test_pause_all_holds_reads_too(srv):
    """PAUSE n (ALL by default) holds every command."""
    assert srv("CLIENT", "PAUSE", "100") == OK
    assert srv("GET", "k") is PAUSED
    srv.server.unpause()
    assert srv("CLIENT", "PAUSE", "100", "all") == OK
    assert srv("PING") is PAUSED


def test_unpause_ends_the_pause(srv):
    """CLIENT UNPAUSE lifts a pause at once."""
    srv("CLIENT", "PAUSE", "100000", "WRITE")
    assert srv("CLIENT", "UNPAUSE") == OK
    assert srv("SET", "k", "v") == OK


def test_pause_zero_or_overflowing_pauses_nothing(srv):
    """A 0 timeout ends at once; one past INT64_MAX wraps (Redis 7.0 answers OK)."""
    assert srv("CLIENT", "PAUSE", "0", "WRITE") == OK
    assert srv("SET", "k", "v") == OK
    assert srv("CLIENT", "PAUSE", "9223372036854775807") == OK
    assert srv("SET", "k", "v") == OK


@pytest.mark.parametrize("args, error", [
    (["abc"], "ERR timeout is not an integer or out of range"),
    (["-1"], "ERR timeout is negative"),
    (["100", "foo"], "ERR CLIENT PAUSE mode must be WRITE or ALL"),
    (["abc", "foo"], "ERR CLIENT PAUSE mode must be WRITE or ALL"),
    (["100", "all", "x"], ("ERR unknown subcommand or wrong number of "
                           "arguments for 'PAUSE'. Try CLIENT HELP.")),
])
def test_pause_errors(srv, args, error):
    """PAUSE's errors, mode checked before timeout, as Redis 7.0.15."""
    assert srv("CLIENT", "PAUSE", *args) == err(error)
    assert srv.server.pause_end_ms == 0


# -- NO-EVICT, REPLY ----------------------------------------------------------------

def test_no_evict(srv):
    """NO-EVICT on/off sets the flag shown as e; anything else is a syntax error."""
    assert srv("CLIENT", "NO-EVICT", "ON") == OK
    assert srv.client.no_evict and fields_of(srv)["flags"] == b"e"
    assert srv("CLIENT", "NO-EVICT", "off") == OK
    assert not srv.client.no_evict
    assert srv("CLIENT", "NO-EVICT", "maybe") == err("ERR syntax error")


def test_reply_modes_set_the_client_flags(srv):
    """REPLY OFF/SKIP set the flags the protocol honours; ON clears both."""
    srv("CLIENT", "REPLY", "OFF")
    assert srv.client.reply_off
    srv("CLIENT", "REPLY", "SKIP")      # ignored while OFF, as Redis
    assert not srv.client.reply_skip
    assert srv("CLIENT", "REPLY", "on") == OK
    assert not srv.client.reply_off
    srv("CLIENT", "REPLY", "skip")
    assert srv.client.reply_skip
    assert srv("CLIENT", "REPLY", "maybe") == err("ERR syntax error")


# -- tracking stand-ins, HELP -----------------------------------------------------

def test_tracking_is_reported_off(srv):
    """GETREDIR, TRACKINGINFO and CACHING answer as Redis with tracking off."""
    assert srv("CLIENT", "GETREDIR") == -1
    assert srv("CLIENT", "TRACKINGINFO") == Map(
        [(b"flags", [b"off"]), (b"redirect", -1), (b"prefixes", [])])
    assert srv("CLIENT", "CACHING", "yes") == err(
        "ERR CLIENT CACHING can be called only when the client is in tracking "
        "mode with OPTIN or OPTOUT mode enabled")


def test_help_is_redis_text(srv):
    """CLIENT HELP is Redis 7.0.15's 48 status lines."""
    reply = srv("CLIENT", "HELP")
    assert len(reply) == 48
    assert all(type(line) is Status for line in reply)
    assert reply[0] == b"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert reply[11] == b"KILL <ip:port>"
    assert reply[-2:] == [b"HELP", b"    Prints this help."]
