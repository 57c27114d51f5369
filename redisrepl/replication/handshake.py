"""The replica's handshake with its master, as a sans-IO state machine.

Theory of operation
-------------------
One ``Handshake`` lives for one connection attempt to the master. It does no
I/O: the caller (the Twisted MasterLink protocol) tells it what happened on the
wire and gets back a list of events saying what to do, in order, as h11 does.

    caller                               Handshake
    ------                               ---------
    TCP connected          connected() -> [Log, Send(PING)]
    one reply line read    reply(line) -> [Log..., Send(...)]         (handshake goes on)
                                       -> [Log..., FullResync(id, off)]   then the payload
                                       -> [Log..., Continue(new_id)]     then the stream
                                       -> [Log..., Send(SYNC), Legacy(why)]  then the payload
                                       -> [Log..., RetryLater(why)]  close, redial later
                                       -> [Log..., Failed(why)]      close, redial later
    connection closed      connection_lost(why) -> [Log..., Failed | RetryLater] or []
    repl-timeout elapsed   timed_out() -> [Log, Failed] or []
    payload loaded         transfer_complete()   (TRANSFER -> CONNECTED, for ROLE/INFO)

The caller's contract: write every ``Send`` to the master, log every ``Log`` at
its level, and after a terminal event (FullResync, Continue, Legacy,
RetryLater, Failed) stop feeding reply lines: what follows on the wire is a
payload or the command stream, not handshake replies. ``line`` is one reply
line without its CRLF (Redis's connSyncReadLine strips it).

The walk is Redis 7.0's syncWithMaster / slaveTryPartialResynchronization:

1. On connect, send ``PING``. Any reply not starting with ``-`` (even an empty
   line) is fine; so are ``-NOAUTH``, ``-NOPERM`` and ``-ERR operation not
   permitted`` (the master wants AUTH first). Any other error fails.
2. Pipeline, in one write: ``AUTH [masteruser] masterauth`` (only with a
   masterauth), ``REPLCONF listening-port <port>``, ``REPLCONF ip-address <ip>``
   (only with an announce ip), ``REPLCONF capa eof capa psync2``.
3. Read their replies one by one, in that order. An AUTH error fails the
   attempt; REPLCONF errors are logged as "(Non critical)" and ignored.
4. Send ``PSYNC <cached replid> <cached offset + 1>``, or ``PSYNC ? -1`` with no
   cached master, and wait for its reply, ignoring empty keepalive lines:
   ``+FULLRESYNC <replid> <offset>`` -> full sync; ``+CONTINUE [<newid>]`` ->
   partial; ``-NOMASTERLINK`` / ``-LOADING`` -> try later; anything else (``-ERR``
   or garbage) -> fall back to the old ``SYNC``, exactly as Redis 7.0 does.

Every log line Redis prints along this walk comes out as a ``Log`` event with
Redis's own text and level ("notice" or "warning"), so a redisrepl replica's
log reads like a real one's.
"""

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from redisrepl.ctext import atoll
from redisrepl.resp.encoder import encode_command

RUN_ID_SIZE = 40  # CONFIG_RUN_ID_SIZE: a replication id is 40 hex characters

# Errors to PING that only mean "authenticate first" (older masters said the last).
_PING_AUTH_ERRORS = (b"-NOAUTH", b"-NOPERM", b"-ERR operation not permitted")
# Errors to PSYNC that mean the master will be able to serve us later.
_TRANSIENT_PSYNC_ERRORS = (b"-NOMASTERLINK", b"-LOADING")


class ReplState(IntEnum):
    """Redis 7.0's ``repl_state`` (server.h), same names, order and numbers."""

    NONE = 0                  # no active replication: not a replica
    CONNECT = 1               # must (re)connect: no attempt yet, or the last one ended in error
    CONNECTING = 2            # TCP connect to the master in progress, nothing sent yet
    RECEIVE_PING_REPLY = 3    # PING sent, waiting for PONG (or an auth-needed error)
    SEND_HANDSHAKE = 4        # pipelining AUTH + REPLCONFs (transient, within one reply())
    RECEIVE_AUTH_REPLY = 5    # waiting for the AUTH reply (skipped without masterauth)
    RECEIVE_PORT_REPLY = 6    # waiting for the REPLCONF listening-port reply
    RECEIVE_IP_REPLY = 7      # waiting for the REPLCONF ip-address reply (skipped without ip)
    RECEIVE_CAPA_REPLY = 8    # waiting for the REPLCONF capa reply
    SEND_PSYNC = 9            # sending PSYNC (transient, within one reply())
    RECEIVE_PSYNC_REPLY = 10  # waiting for +FULLRESYNC/+CONTINUE/error; empty lines are keepalives
    TRANSFER = 11             # receiving the RDB payload (after +FULLRESYNC or SYNC)
    CONNECTED = 12            # link up: applying the master's command stream


# ROLE's word for each state outside the handshake (roleCommand); the
# replica role uses it for states it holds between connections.
ROLE_WORDS = {
    ReplState.NONE: "none",
    ReplState.CONNECT: "connect",
    ReplState.CONNECTING: "connecting",
    ReplState.TRANSFER: "sync",
    ReplState.CONNECTED: "connected",
}


class CachedMaster(NamedTuple):
    """What we know of the master we followed before: its replid and the
    offset we processed up to (PSYNC asks for ``offset + 1``)."""
    replid: bytes
    offset: int


# --- Events -----------------------------------------------------------------

@dataclass(frozen=True)
class Send:
    """Write ``data`` to the master."""
    data: bytes


@dataclass(frozen=True)
class Log:
    """A line for the log, Redis's text; ``level`` is "notice" or "warning"."""
    level: str
    message: str


@dataclass(frozen=True)
class FullResync:
    """+FULLRESYNC: an RDB payload follows. ``replid`` is None (and ``offset``
    -1) when the reply was malformed: Redis then syncs anyway but blanks the id
    so the next PSYNC cannot continue from it."""
    replid: bytes | None
    offset: int


@dataclass(frozen=True)
class Continue:
    """+CONTINUE: the stream resumes at our cached offset. ``new_replid`` is set
    when the master's id changed: make it our replid, move the old one to
    replid2 with second_repl_offset = our offset + 1, drop our sub-replicas."""
    new_replid: bytes | None


@dataclass(frozen=True)
class Legacy:
    """PSYNC was refused or not understood: SYNC has been sent (see the Send
    just before); an RDB payload follows, with no replid and offset -1."""
    reason: str


@dataclass(frozen=True)
class RetryLater:
    """The master cannot serve us now (-LOADING, -NOMASTERLINK, no reply to
    PSYNC): close and redial later."""
    reason: str


@dataclass(frozen=True)
class Failed:
    """This attempt failed (``reason`` is Redis's log text): close, redial later."""
    reason: str


TERMINAL_EVENTS = (FullResync, Continue, Legacy, RetryLater, Failed)


class HandshakeUsageError(Exception):
    """The caller fed the machine in a state that expects no input (a bug)."""


# --- The machine --------------------------------------------------------------

class Handshake:
    """One connection attempt's handshake.

    ``listening_port``: replica-announce-port if set, else our port.
    ``masterauth`` / ``masteruser``: AUTH [user] pass, only with a masterauth.
    ``announce_ip``: replica-announce-ip, or None to skip REPLCONF ip-address.
    ``cached``: a CachedMaster to try a partial resync from, or None (PSYNC ? -1).
    ``failover``: this is a master handing over with FAILOVER: PSYNC carries
    FAILOVER (the target promotes itself), and any answer but +FULLRESYNC /
    +CONTINUE fails the attempt (no SYNC fallback: the failover aborts).
    """

    def __init__(self, listening_port, masterauth=None, masteruser=None,
                 announce_ip=None, cached=None, failover=False):
        self.listening_port = int(listening_port)
        self.masterauth = _as_bytes(masterauth) or None
        self.masteruser = _as_bytes(masteruser) or None
        self.announce_ip = _as_bytes(announce_ip) or None
        self.cached = cached
        self.failover = failover
        self.psync_sent = False   # PSYNC went out: its answer decides a failover
        self.state = ReplState.CONNECTING

    # -- what the caller reports --

    def connected(self):
        """The TCP connection is up: send PING."""
        self._expect(ReplState.CONNECTING)
        self.state = ReplState.RECEIVE_PING_REPLY
        return [Log("notice", "Non blocking connect for SYNC fired the event."),
                Send(encode_command([b"PING"]))]

    def reply(self, line):
        """One reply line from the master, without its CRLF."""
        handler = self._REPLY_HANDLERS.get(self.state)
        if handler is None:
            raise HandshakeUsageError(f"no reply expected in state {self.state.name}")
        return handler(self, bytes(line))

    def connection_lost(self, why):
        """The connection closed (or failed to open); ``why`` says how."""
        state = self.state
        if state == ReplState.CONNECTING:
            return self._fail(f"Error condition on socket for SYNC: {why}")
        if self.in_handshake:
            read_error = Log("warning", f"Failed to read response from the server: {why}")
            if state == ReplState.RECEIVE_PSYNC_REPLY:
                return [read_error] + self._retry_later(
                    "Master did not reply to PSYNC, will try later", "warning")
            return [read_error] + self._fail(
                "Master did not respond to command during SYNC handshake")
        self.state = ReplState.CONNECT
        return []

    def timed_out(self):
        """repl-timeout passed with no reply while connecting or handshaking
        (replicationCron). Past the handshake, timeouts are the caller's."""
        if self.state == ReplState.CONNECTING or self.in_handshake:
            return self._fail("Timeout connecting to the MASTER...")
        return []

    def transfer_complete(self):
        """The payload after FullResync/Legacy is loaded: the link is up."""
        self._expect(ReplState.TRANSFER)
        self.state = ReplState.CONNECTED

    # -- what the caller can ask --

    @property
    def in_handshake(self):
        """slaveIsInHandshakeState(): between PING sent and PSYNC reply read."""
        return ReplState.RECEIVE_PING_REPLY <= self.state <= ReplState.RECEIVE_PSYNC_REPLY

    @property
    def role_state(self):
        """The word ROLE shows for this state (any handshake state: "handshake")."""
        if self.in_handshake:
            return "handshake"
        return ROLE_WORDS[self.state]

    def describe(self):
        """For logs and INFO: e.g. ``handshake (RECEIVE_PSYNC_REPLY)``."""
        return f"{self.role_state} ({self.state.name})"

    # -- the states --

    def _on_ping_reply(self, line):
        if line.startswith(b"-") and not line.startswith(_PING_AUTH_ERRORS):
            return self._fail(f"Error reply to PING from master: '{_text(line)}'")
        events = [Log("notice", "Master replied to PING, replication can continue...")]
        self.state = ReplState.SEND_HANDSHAKE
        events.append(Send(self._handshake_commands()))
        self.state = (ReplState.RECEIVE_AUTH_REPLY if self.masterauth
                      else ReplState.RECEIVE_PORT_REPLY)
        return events

    def _on_auth_reply(self, line):
        if line.startswith(b"-"):
            return self._fail(f"Unable to AUTH to MASTER: {_text(line)}")
        self.state = ReplState.RECEIVE_PORT_REPLY
        return []

    def _on_port_reply(self, line):
        self.state = (ReplState.RECEIVE_IP_REPLY if self.announce_ip
                      else ReplState.RECEIVE_CAPA_REPLY)
        return _non_critical(line, "listening-port")

    def _on_ip_reply(self, line):
        self.state = ReplState.RECEIVE_CAPA_REPLY
        return _non_critical(line, "ip-address")

    def _on_capa_reply(self, line):
        events = _non_critical(line, "capa")
        self.state = ReplState.SEND_PSYNC
        if self.cached is None:
            replid, offset = b"?", b"-1"
            events.append(Log("notice",
                              "Partial resynchronization not possible (no cached master)"))
        else:
            replid, offset = self.cached.replid, b"%d" % (self.cached.offset + 1)
            events.append(Log("notice", "Trying a partial resynchronization "
                                        f"(request {_text(replid)}:{_text(offset)})."))
        psync = [b"PSYNC", replid, offset] + ([b"FAILOVER"] if self.failover else [])
        events.append(Send(encode_command(psync)))
        self.psync_sent = True
        self.state = ReplState.RECEIVE_PSYNC_REPLY
        return events

    def _on_psync_reply(self, line):
        if not line:
            return []  # the master's keepalive while it prepares the payload
        if line.startswith(b"+FULLRESYNC"):
            return self._full_resync(line)
        if line.startswith(b"+CONTINUE") and self.cached is not None:
            return self._continue(line)
        if line.startswith(_TRANSIENT_PSYNC_ERRORS):
            return self._retry_later("Master is currently unable to PSYNC but should be "
                                     f"in the future: {_text(line)}", "notice")
        if line.startswith(b"-ERR"):
            reason = Log("notice", "Master does not support PSYNC or is in error state "
                                   f"(reply: {_text(line)})")
        else:
            reason = Log("warning", f"Unexpected reply to PSYNC from master: {_text(line)}")
        if self.failover:
            # Redis's syncWithMaster aborts the failover before any SYNC.
            self.state = ReplState.CONNECT
            return [reason, Failed(reason.message)]
        self.state = ReplState.TRANSFER
        return [reason, Log("notice", "Retrying with SYNC..."), Send(b"SYNC\r\n"),
                Legacy(reason.message)]

    def _full_resync(self, line):
        self.state = ReplState.TRANSFER
        parts = line.split(b" ", 2)
        if len(parts) < 3 or len(parts[1]) != RUN_ID_SIZE:
            return [Log("warning", "Master replied with wrong +FULLRESYNC syntax."),
                    FullResync(None, -1)]
        replid, offset = parts[1], atoll(parts[2])
        return [Log("notice", f"Full resync from master: {_text(replid)}:{offset}"),
                FullResync(replid, offset)]

    def _continue(self, line):
        self.state = ReplState.CONNECTED
        events = [Log("notice", "Successful partial resynchronization with master.")]
        new_replid = _continue_replid(line)
        if new_replid is not None and new_replid != self.cached.replid:
            events.append(Log("warning",
                              f"Master replication ID changed to {_text(new_replid)}"))
        else:
            new_replid = None
        events.append(Log("notice", "MASTER <-> REPLICA sync: Master accepted a "
                                    "Partial Resynchronization."))
        events.append(Continue(new_replid))
        return events

    _REPLY_HANDLERS = {
        ReplState.RECEIVE_PING_REPLY: _on_ping_reply,
        ReplState.RECEIVE_AUTH_REPLY: _on_auth_reply,
        ReplState.RECEIVE_PORT_REPLY: _on_port_reply,
        ReplState.RECEIVE_IP_REPLY: _on_ip_reply,
        ReplState.RECEIVE_CAPA_REPLY: _on_capa_reply,
        ReplState.RECEIVE_PSYNC_REPLY: _on_psync_reply,
    }

    # -- helpers --

    def _handshake_commands(self):
        """AUTH and the REPLCONFs, pipelined as Redis 7.0 sends them."""
        commands = []
        if self.masterauth:
            user = [self.masteruser] if self.masteruser else []
            commands.append([b"AUTH", *user, self.masterauth])
        commands.append([b"REPLCONF", b"listening-port", b"%d" % self.listening_port])
        if self.announce_ip:
            commands.append([b"REPLCONF", b"ip-address", self.announce_ip])
        commands.append([b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        return b"".join(encode_command(argv) for argv in commands)

    def _fail(self, message):
        self.state = ReplState.CONNECT
        return [Log("warning", message), Failed(message)]

    def _retry_later(self, message, level):
        self.state = ReplState.CONNECT
        return [Log(level, message), RetryLater(message)]

    def _expect(self, state):
        if self.state != state:
            raise HandshakeUsageError(f"expected state {state.name}, in {self.state.name}")


def _non_critical(line, what):
    """REPLCONF errors: old masters don't know every REPLCONF; log and go on."""
    if line.startswith(b"-"):
        return [Log("notice", f"(Non critical) Master does not understand REPLCONF {what}: "
                              f"{_text(line)}")]
    return []


def _continue_replid(line):
    """The id after ``+CONTINUE `` if it is exactly RUN_ID_SIZE long, else None
    (Redis reads from byte 10 up to the first CR, LF or NUL)."""
    end = 9
    while end < len(line) and line[end] not in b"\r\n\0":
        end += 1
    if end - 10 != RUN_ID_SIZE:
        return None
    return line[10:end]


def _as_bytes(value):
    return value.encode() if isinstance(value, str) else value


def _text(data):
    return data.decode("utf-8", "replace")
