"""CLIENT REPLY, KILL, PAUSE and SHUTDOWN seen from the wire: RedisProtocol
over StringTransport, so what is (not) written and when the link closes."""

import os
from unittest.mock import Mock

import pytest

from redisrepl.resp.encoder import encode_command
from tests.unit.harness import Harness
from tests.unit.test_protocol import connect


def cmd(*args):
    return encode_command([a if isinstance(a, bytes) else str(a).encode()
                           for a in args])


def send(proto, transport, *commands):
    """Feed commands in one read; return (and clear) what was written."""
    transport.clear()
    proto.dataReceived(b"".join(cmd(*c) for c in commands))
    return transport.value()


@pytest.fixture
def srv():
    return Harness()


def test_reply_off_silences_until_on(srv):
    """REPLY OFF: no bytes for it or what follows; REPLY ON answers +OK again."""
    proto, transport = connect(srv)
    assert send(proto, transport, ["CLIENT", "REPLY", "OFF"], ["PING"],
                ["ECHO", "x"]) == b""
    assert send(proto, transport, ["CLIENT", "REPLY", "ON"], ["PING"]) == \
        b"+OK\r\n+PONG\r\n"


def test_reply_off_hides_errors_too(srv):
    """While OFF even error replies are dropped, as Redis does."""
    proto, transport = connect(srv)
    assert send(proto, transport, ["CLIENT", "REPLY", "OFF"], ["NOSUCH"]) == b""


def test_reply_skip_answers_nothing_itself(srv):
    """REPLY SKIP has no reply of its own."""
    proto, transport = connect(srv)
    reply = send(proto, transport, ["CLIENT", "REPLY", "SKIP"])
    assert reply == b""


def test_reply_skip_drops_only_the_next_reply(srv):
    """REPLY SKIP drops the next command's reply, then replies resume."""
    proto, transport = connect(srv)
    assert send(proto, transport, ["CLIENT", "REPLY", "SKIP"], ["ECHO", "a"],
                ["ECHO", "b"]) == b"$1\r\nb\r\n"


def test_kill_self_replies_then_closes(srv):
    """CLIENT KILL of oneself writes the reply, then closes; later commands never run."""
    proto, transport = connect(srv)
    addr = proto.client.addr
    out = send(proto, transport, ["CLIENT", "KILL", addr], ["SET", "k", "v"])
    assert out == b"+OK\r\n"
    assert transport.disconnecting
    assert srv.db.get(b"k") is None


def test_kill_other_closes_its_transport(srv):
    """CLIENT KILL ID closes the other connection at once."""
    proto_a, transport_a = connect(srv)
    proto_b, transport_b = connect(srv)
    assert send(proto_a, transport_a, ["CLIENT", "KILL", "ID", proto_b.client.id]) \
        == b":1\r\n"
    assert transport_b.disconnecting and not transport_a.disconnecting
    assert proto_b.client.id not in srv.server.clients


def test_pause_write_holds_a_write_until_the_deadline(srv):
    """Under PAUSE WRITE a SET waits (no reply) while a GET elsewhere answers;
    the cron releases the SET at the deadline."""
    admin, admin_t = connect(srv)
    writer, writer_t = connect(srv)
    reader, reader_t = connect(srv)
    assert send(admin, admin_t, ["CLIENT", "PAUSE", "500", "WRITE"]) == b"+OK\r\n"
    assert send(writer, writer_t, ["SET", "k", "v"], ["GET", "k"]) == b""
    assert writer_t.producerState == "paused"
    assert send(reader, reader_t, ["GET", "k"]) == b"$-1\r\n"
    srv.advance(0.499)
    srv.server.cron()
    assert writer_t.value() == b""
    srv.advance(0.001)
    srv.server.cron()
    # The held SET runs, then the GET queued behind it, in order.
    assert writer_t.value() == b"+OK\r\n$1\r\nv\r\n"
    assert writer_t.producerState == "producing"


def test_shutdown_nosave_writes_nothing_and_closes(srv):
    """SHUTDOWN NOSAVE: the hook runs, no reply is written, the link closes."""
    srv.server.shutdown_hook = Mock()
    proto, transport = connect(srv)
    assert send(proto, transport, ["SHUTDOWN", "NOSAVE"], ["PING"]) == b""
    assert transport.disconnecting
    srv.server.shutdown_hook.assert_called_once_with()


def test_failed_shutdown_answers_and_stays_open(srv):
    """A refused SHUTDOWN (its final save failed) answers its error and the link lives."""
    os.mkdir("dump.rdb")      # the rename over dbfilename fails
    srv.server.shutdown_hook = Mock()
    proto, transport = connect(srv)
    assert send(proto, transport, ["SHUTDOWN"], ["PING"]) == \
        b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n+PONG\r\n"
    assert not transport.disconnecting
