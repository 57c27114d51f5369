"""One connected client's state. Sans-IO: the network side is ``conn``.

``conn`` is whatever carries the bytes (RedisProtocol in production, a fake in
tests). It must offer ``send(data)``, ``close()`` (after pending replies),
``query_buffer_size()``, ``resp_changed(resp)`` (HELLO switched protocol:
encode replies as RESP ``resp`` from now on) and ``unblocked(reply)`` (a
blocking command is served or timed out: send ``reply``, go on).
"""


from redisrepl.resp.encoder import encoder_for
from redisrepl.resp.values import Push


class Client:
    __slots__ = (
        "id", "server", "conn", "db", "authenticated", "name", "lib_name",
        "lib_ver", "addr", "laddr", "fd", "created_ms", "last_interaction_ms",
        "argv", "cmd", "resp", "reply_off", "reply_skip",
        "close_after_reply", "closed", "multi", "multi_error", "flags",
        "no_evict", "is_unix", "in_exec", "dirty_cas", "watching",
        "channels", "patterns",
        "net_input_bytes", "net_output_bytes", "woff", "is_master",
    )

    def __init__(self, server, conn, client_id, addr=b"", laddr=b"", fd=-1,
                 is_unix=False):
        self.id = client_id
        self.server = server
        self.conn = conn
        self.db = server.keyspace.dbs[0]
        self.authenticated = not server.requirepass
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.addr = addr
        self.laddr = laddr
        self.fd = fd
        self.is_unix = is_unix
        self.created_ms = self.last_interaction_ms = server.now_ms()
        self.argv = None
        self.cmd = None          # the running or last command (CLIENT LIST cmd=)
        self.resp = 2
        self.reply_off = False   # CLIENT REPLY OFF
        self.reply_skip = False  # CLIENT REPLY SKIP: drop the next reply
        self.close_after_reply = False
        self.closed = False
        self.multi = None        # list of queued (cmd, argv) inside MULTI
        self.multi_error = False  # a queuing error: EXEC must abort
        self.in_exec = False     # running EXEC's queue: nothing blocks
        self.dirty_cas = False   # a WATCHed key changed: EXEC must fail
        self.watching = []       # (db, key) pairs this client WATCHes
        self.channels = {}       # subscribed channels (an ordered set)
        self.patterns = {}       # subscribed patterns (an ordered set)
        self.flags = ""          # CLIENT LIST flags beyond the derived ones
        self.no_evict = False
        self.net_input_bytes = 0
        self.net_output_bytes = 0
        # The replication offset right after this client's last propagated
        # write: what WAIT waits for replicas to acknowledge (Redis's woff).
        self.woff = 0
        # The master client of a replica (CLIENT_MASTER): its commands pass
        # the read-only, MISCONF and pause gates, and get no replies.
        self.is_master = False

    def is_local(self):
        """Redis's islocalClient: a unix socket, or 127.0.0.1 / ::1 exactly."""
        if self.is_unix:
            return True
        host = self.addr.rpartition(b":")[0]
        return host in (b"127.0.0.1", b"[::1]")

    def select(self, index):
        self.db = self.server.keyspace.dbs[index]

    @property
    def subscribed(self):
        return bool(self.channels or self.patterns)

    def send(self, data):
        """Out-of-band bytes (pub/sub messages, late replies)."""
        self.conn.send(data)

    def push(self, items):
        """An out-of-band message (pub/sub): a push in RESP3, an array in RESP2."""
        self.conn.send(encoder_for(self.resp)(Push(items)))

    def close(self):
        """Close once what is already queued has been written."""
        self.conn.close()

    def __repr__(self):
        return f"<Client id={self.id} addr={self.addr!r}>"
