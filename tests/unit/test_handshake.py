"""The replica's handshake state machine (redisrepl.replication.handshake)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redisrepl.replication.handshake import (
    TERMINAL_EVENTS,
    CachedMaster,
    Continue,
    Failed,
    FullResync,
    Handshake,
    HandshakeUsageError,
    Legacy,
    Log,
    ReplState,
    RetryLater,
    Send,
)

ID_A = b"a" * 40
ID_B = b"b" * 40

# What a real Redis 7.0.15 replica sent (captured with --masteruser u --masterauth x
# --replica-announce-ip 10.1.2.3 --port 52321; see tests/interop/test_handshake_interop.py).
REAL_PING = b"*1\r\n$4\r\nPING\r\n"
REAL_HANDSHAKE = (b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\nx\r\n"
                  b"*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$5\r\n52321\r\n"
                  b"*3\r\n$8\r\nREPLCONF\r\n$10\r\nip-address\r\n$8\r\n10.1.2.3\r\n"
                  b"*5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n$4\r\ncapa\r\n"
                  b"$6\r\npsync2\r\n")
REAL_PSYNC_FRESH = b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n"


def sent(events):
    return b"".join(e.data for e in events if isinstance(e, Send))


def logs(events):
    return [(e.level, e.message) for e in events if isinstance(e, Log)]


def acts(events):
    """The events other than Log lines."""
    return [e for e in events if not isinstance(e, Log)]


def to_psync(hs):
    """Walk a machine through to RECEIVE_PSYNC_REPLY with OK replies."""
    hs.connected()
    hs.reply(b"+PONG")
    while hs.state != ReplState.RECEIVE_PSYNC_REPLY:
        hs.reply(b"+OK")
    return hs


def full_handshake():
    return Handshake(52321, masterauth="x", masteruser="u", announce_ip="10.1.2.3")


def test_bytes_match_a_real_redis_replica():
    """With user, password and announce ip, the bytes sent equal a real Redis 7.0 replica's."""
    hs = full_handshake()
    out = hs.connected()
    assert sent(out) == REAL_PING
    assert logs(out) == [("notice", "Non blocking connect for SYNC fired the event.")]
    out = hs.reply(b"+PONG")
    assert sent(out) == REAL_HANDSHAKE  # AUTH and all REPLCONFs pipelined in one write
    assert logs(out) == [("notice", "Master replied to PING, replication can continue...")]
    assert hs.state == ReplState.RECEIVE_AUTH_REPLY
    assert hs.reply(b"+OK") == [] and hs.state == ReplState.RECEIVE_PORT_REPLY
    assert hs.reply(b"+OK") == [] and hs.state == ReplState.RECEIVE_IP_REPLY
    assert hs.reply(b"+OK") == [] and hs.state == ReplState.RECEIVE_CAPA_REPLY
    out = hs.reply(b"+OK")
    assert sent(out) == REAL_PSYNC_FRESH
    assert logs(out) == [("notice", "Partial resynchronization not possible (no cached master)")]
    assert hs.state == ReplState.RECEIVE_PSYNC_REPLY


def test_minimal_handshake_skips_auth_and_ip():
    """Without masterauth and announce ip: no AUTH, no ip-address, and no reply awaited for them."""
    hs = Handshake(6380)
    hs.connected()
    out = hs.reply(b"+PONG")
    assert sent(out) == (b"*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n6380\r\n"
                         b"*5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n$4\r\ncapa\r\n"
                         b"$6\r\npsync2\r\n")
    assert hs.state == ReplState.RECEIVE_PORT_REPLY
    hs.reply(b"+OK")
    assert hs.state == ReplState.RECEIVE_CAPA_REPLY
    hs.reply(b"+OK")
    assert hs.state == ReplState.RECEIVE_PSYNC_REPLY


def test_auth_without_user_sends_password_only():
    """masterauth without masteruser sends the one-argument AUTH."""
    hs = Handshake(1, masterauth=b"secret")
    hs.connected()
    assert sent(hs.reply(b"+PONG")).startswith(b"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*3\r\n")


def test_psync_with_cached_master_asks_offset_plus_one():
    """A cached master makes PSYNC ask for its replid and the byte after its offset."""
    hs = Handshake(1, cached=CachedMaster(ID_A, 1000))
    hs.connected()
    hs.reply(b"+PONG")
    hs.reply(b"+OK")
    out = hs.reply(b"+OK")
    assert sent(out) == b"*3\r\n$5\r\nPSYNC\r\n$40\r\n" + ID_A + b"\r\n$4\r\n1001\r\n"
    assert logs(out) == [("notice", f"Trying a partial resynchronization "
                                    f"(request {ID_A.decode()}:1001).")]


@pytest.mark.parametrize("line", [b"+PONG", b"", b":1", b"-NOAUTH Authentication required.",
                                  b"-NOPERM this user has no permissions",
                                  b"-ERR operation not permitted"])
def test_ping_replies_that_let_the_handshake_go_on(line):
    """PONG, any non-error line and the three 'authenticate first' errors all go on to AUTH."""
    hs = full_handshake()
    hs.connected()
    out = hs.reply(line)
    assert sent(out) == REAL_HANDSHAKE
    assert hs.state == ReplState.RECEIVE_AUTH_REPLY


def test_ping_error_fails():
    """Any other error to PING fails the attempt with Redis's log text."""
    hs = full_handshake()
    hs.connected()
    out = hs.reply(b"-ERR unknown command")
    msg = "Error reply to PING from master: '-ERR unknown command'"
    assert out == [Log("warning", msg), Failed(msg)]
    assert hs.state == ReplState.CONNECT


def test_auth_error_fails():
    """An error to AUTH fails the attempt with 'Unable to AUTH to MASTER'."""
    hs = full_handshake()
    hs.connected()
    hs.reply(b"+PONG")
    out = hs.reply(b"-WRONGPASS invalid username-password pair or user is disabled.")
    msg = ("Unable to AUTH to MASTER: -WRONGPASS invalid username-password pair "
           "or user is disabled.")
    assert out == [Log("warning", msg), Failed(msg)]
    assert hs.state == ReplState.CONNECT


@pytest.mark.parametrize("position,what", [(1, "listening-port"), (2, "ip-address"),
                                           (3, "capa")])
def test_replconf_errors_are_non_critical(position, what):
    """An error to any REPLCONF is logged as non critical and the handshake goes on."""
    hs = full_handshake()
    hs.connected()
    hs.reply(b"+PONG")
    for _ in range(position):
        hs.reply(b"+OK")
    out = hs.reply(b"-ERR nope")
    assert (("notice", f"(Non critical) Master does not understand REPLCONF {what}: -ERR nope")
            in logs(out))
    assert not any(isinstance(e, (Failed, RetryLater)) for e in out)
    assert hs.state > ReplState.RECEIVE_AUTH_REPLY + position


def test_fullresync():
    """+FULLRESYNC gives the master's replid and offset and moves to TRANSFER."""
    hs = to_psync(full_handshake())
    out = hs.reply(b"+FULLRESYNC " + ID_A + b" 12345")
    assert acts(out) == [FullResync(ID_A, 12345)]
    assert logs(out) == [("notice", f"Full resync from master: {ID_A.decode()}:12345")]
    assert hs.state == ReplState.TRANSFER and hs.role_state == "sync"
    hs.transfer_complete()
    assert hs.state == ReplState.CONNECTED and hs.role_state == "connected"


@pytest.mark.parametrize("line", [b"+FULLRESYNC", b"+FULLRESYNC short 5",
                                  b"+FULLRESYNC " + ID_A])
def test_malformed_fullresync_syncs_without_an_id(line):
    """A malformed +FULLRESYNC still syncs, with no id and offset -1, as Redis does."""
    hs = to_psync(full_handshake())
    out = hs.reply(line)
    assert out == [Log("warning", "Master replied with wrong +FULLRESYNC syntax."),
                   FullResync(None, -1)]


def test_fullresync_offset_parsed_like_strtoll():
    """The offset is read as C strtoll reads it (digits up to the first non-digit)."""
    hs = to_psync(Handshake(1))
    assert acts(hs.reply(b"+FULLRESYNC " + ID_A + b" 77xyz")) == [FullResync(ID_A, 77)]


@pytest.mark.parametrize("line", [b"+CONTINUE", b"+CONTINUE " + ID_A, b"+CONTINUE short"])
def test_continue_same_id(line):
    """+CONTINUE without an id, with our id, or with a malformed id: no id change."""
    hs = to_psync(Handshake(1, cached=CachedMaster(ID_A, 10)))
    out = hs.reply(line)
    assert acts(out) == [Continue(None)]
    assert logs(out) == [
        ("notice", "Successful partial resynchronization with master."),
        ("notice", "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")]
    assert hs.state == ReplState.CONNECTED


def test_continue_new_id():
    """+CONTINUE <newid> tells the caller to shift ids, and says so in the log."""
    hs = to_psync(Handshake(1, cached=CachedMaster(ID_A, 10)))
    out = hs.reply(b"+CONTINUE " + ID_B)
    assert acts(out) == [Continue(ID_B)]
    assert ("warning", f"Master replication ID changed to {ID_B.decode()}") in logs(out)


def test_empty_line_while_waiting_for_psync_is_a_keepalive():
    """An empty line before the PSYNC reply is ignored."""
    hs = to_psync(Handshake(1))
    assert hs.reply(b"") == [] and hs.state == ReplState.RECEIVE_PSYNC_REPLY
    assert acts(hs.reply(b"+FULLRESYNC " + ID_A + b" 0")) == [FullResync(ID_A, 0)]


@pytest.mark.parametrize("line", [b"-NOMASTERLINK Can't SYNC while not connected with my master",
                                  b"-LOADING Redis is loading the dataset in memory"])
def test_transient_psync_errors_retry_later(line):
    """-NOMASTERLINK and -LOADING mean: try again later."""
    hs = to_psync(Handshake(1))
    out = hs.reply(line)
    msg = f"Master is currently unable to PSYNC but should be in the future: {line.decode()}"
    assert out == [Log("notice", msg), RetryLater(msg)]
    assert hs.state == ReplState.CONNECT


def test_psync_err_falls_back_to_sync():
    """-ERR to PSYNC sends the inline SYNC and reports Legacy, as Redis does."""
    hs = to_psync(Handshake(1))
    out = hs.reply(b"-ERR unknown command 'PSYNC'")
    msg = "Master does not support PSYNC or is in error state (reply: -ERR unknown command 'PSYNC')"
    assert out == [Log("notice", msg), Log("notice", "Retrying with SYNC..."),
                   Send(b"SYNC\r\n"), Legacy(msg)]
    assert hs.state == ReplState.TRANSFER


@pytest.mark.parametrize("line", [b"garbage here", b"-NOAUTH x", b"+OK"])
def test_unexpected_psync_reply_falls_back_to_sync_with_a_warning(line):
    """Anything else to PSYNC is logged as unexpected and Redis 7.0 still retries with SYNC."""
    hs = to_psync(Handshake(1))
    out = hs.reply(line)
    msg = f"Unexpected reply to PSYNC from master: {line.decode()}"
    assert out[0] == Log("warning", msg)
    assert acts(out) == [Send(b"SYNC\r\n"), Legacy(msg)]


def test_continue_without_cached_master_is_unexpected():
    """+CONTINUE to 'PSYNC ? -1' cannot be honoured: treated as an unexpected reply."""
    hs = to_psync(Handshake(1))
    assert acts(hs.reply(b"+CONTINUE")) == [Send(b"SYNC\r\n"),
                                            Legacy("Unexpected reply to PSYNC from master: "
                                                   "+CONTINUE")]


def test_connection_lost_during_handshake_fails():
    """A closed link mid-handshake fails with Redis's no-response text."""
    hs = full_handshake()
    hs.connected()
    out = hs.connection_lost("Connection reset by peer")
    assert logs(out)[0] == ("warning",
                            "Failed to read response from the server: Connection reset by peer")
    assert acts(out) == [Failed("Master did not respond to command during SYNC handshake")]
    assert hs.state == ReplState.CONNECT


def test_connection_lost_waiting_for_psync_retries_later():
    """A closed link while waiting for the PSYNC reply means: try later."""
    hs = to_psync(Handshake(1))
    assert acts(hs.connection_lost("eof")) == [
        RetryLater("Master did not reply to PSYNC, will try later")]


def test_connection_lost_while_connecting_and_after_handshake():
    """Connect errors fail with the socket error; after the handshake it only resets state."""
    hs = Handshake(1)
    assert acts(hs.connection_lost("refused")) == [
        Failed("Error condition on socket for SYNC: refused")]
    hs = to_psync(Handshake(1))
    hs.reply(b"+FULLRESYNC " + ID_A + b" 1")
    assert hs.connection_lost("eof") == [] and hs.state == ReplState.CONNECT


def test_timeout():
    """repl-timeout while connecting or handshaking fails; once transferring it is not ours."""
    for hs in (Handshake(1), to_psync(Handshake(1))):
        assert acts(hs.timed_out()) == [Failed("Timeout connecting to the MASTER...")]
    hs = to_psync(Handshake(1))
    hs.reply(b"+FULLRESYNC " + ID_A + b" 1")
    assert hs.timed_out() == [] and hs.state == ReplState.TRANSFER


def test_role_words_and_describe():
    """ROLE's words: connecting, handshake for every handshake state, then sync."""
    hs = Handshake(1)
    assert hs.role_state == "connecting"
    hs.connected()
    assert hs.role_state == "handshake"
    assert hs.describe() == "handshake (RECEIVE_PING_REPLY)"
    hs.reply(b"-ERR x")
    assert hs.role_state == "connect"


def test_misuse_raises():
    """Feeding a reply where none is expected is a caller bug and says so."""
    hs = Handshake(1)
    with pytest.raises(HandshakeUsageError):
        hs.reply(b"+PONG")
    hs.connected()
    with pytest.raises(HandshakeUsageError):
        hs.connected()
    with pytest.raises(HandshakeUsageError):
        hs.transfer_complete()


def test_states_are_redis_numbers():
    """The enum keeps Redis 7.0's repl_state numbering and order."""
    assert [s.value for s in ReplState] == list(range(13))
    assert ReplState.RECEIVE_PSYNC_REPLY == 10 and ReplState.CONNECTED == 12


_REPLY_LINES = st.one_of(
    st.sampled_from([b"", b"+PONG", b"+OK", b"-ERR x", b"-NOAUTH x", b"-NOPERM x",
                     b"-LOADING x", b"-NOMASTERLINK x", b"+CONTINUE", b"+CONTINUE " + ID_B,
                     b"+FULLRESYNC " + ID_A + b" 5", b"+FULLRESYNC x y"]),
    st.binary(max_size=60).filter(lambda b: b"\n" not in b))


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(_REPLY_LINES, max_size=12), cached=st.booleans(),
       auth=st.booleans(), ip=st.booleans())
def test_random_replies_give_only_documented_events(lines, cached, auth, ip):
    """Any reply sequence yields only documented events, at most one terminal, and never raises."""
    hs = Handshake(7000, masterauth="p" if auth else None, announce_ip="1.2.3.4" if ip else None,
                   cached=CachedMaster(ID_A, 3) if cached else None)
    events = hs.connected()
    for line in lines:
        events += hs.reply(line)
        if any(isinstance(e, TERMINAL_EVENTS) for e in events):
            break
        assert hs.in_handshake
    allowed = (Send, Log) + TERMINAL_EVENTS
    assert all(isinstance(e, allowed) for e in events)
    terminals = [e for e in events if isinstance(e, TERMINAL_EVENTS)]
    assert len(terminals) <= 1
    assert all(e.level in ("notice", "warning") for e in events if isinstance(e, Log))
    if terminals:
        expected = {FullResync: ReplState.TRANSFER, Legacy: ReplState.TRANSFER,
                    Continue: ReplState.CONNECTED, RetryLater: ReplState.CONNECT,
                    Failed: ReplState.CONNECT}[type(terminals[0])]
        assert hs.state == expected
    assert isinstance(hs.describe(), str)
