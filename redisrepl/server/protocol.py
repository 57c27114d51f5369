"""RedisProtocol: bytes in, replies out. An adapter: parsing is resp/, the
command path is engine.call().

Commands are run as soon as they are complete, in order; their replies are
gathered and written once per read batch (one transport.write per
dataReceived, not one per command). A protocol error is answered, then the
connection closes, as Redis does.
"""

from twisted.internet.protocol import Protocol
from twisted.logger import Logger

from redisrepl.blocking import BLOCKED
from redisrepl.engine import PAUSED, call
from redisrepl.resp.encoder import encode, encoder_for
from redisrepl.resp.parser import ProtocolError, QueryBufferLimitExceeded, RespParser
from redisrepl.resp.values import NO_REPLY

log = Logger()


class RedisProtocol(Protocol):
    client = None
    _blocked = False      # a blocking command waits (BLPOP...)
    _gathering = None     # the replies of the batch being run, if any
    _write_through = False   # see send()
    _held = None          # a command CLIENT PAUSE is holding back
    _processing = False   # re-entry guard for _process

    def __init__(self, server):
        self.server = server
        self._encode = encode   # the client's RESP version's: resp_changed

    # -- connection lifetime ----------------------------------------------

    def connectionMade(self):
        server = self.server
        addr, laddr, is_unix = self.factory.describe(self.transport)
        if len(server.clients) >= server.config["maxclients"]:
            server.rejected_connections += 1
            log.warn("Rejected client {addr}: max number of clients reached "
                     "(maxclients {maxclients})", addr=addr.decode(),
                     maxclients=server.config["maxclients"])
            self.transport.write(b"-ERR max number of clients reached\r\n")
            self.transport.loseConnection()
            return
        denied = self.factory.protected_mode_denial(self.transport, is_unix)
        if denied:
            log.warn("Rejected client {addr}: protected mode", addr=addr.decode())
            self.transport.write(denied)
            self.transport.loseConnection()
            return
        self.client = server.new_client(self, addr, laddr, transport_fd(self.transport),
                                        is_unix)
        config = server.config
        self.parser = RespParser(config["proto-max-bulk-len"],
                                 config["client-query-buffer-limit"])
        self.parser.authenticated = self.client.authenticated
        self.factory.configure_socket(self.transport, is_unix)
        self._write_through = _can_write_through(self.transport)

    def connectionLost(self, reason):
        if self.client is not None:
            if self._held is not None and self._resume in self.server.on_unpause:
                self.server.on_unpause.remove(self._resume)
            self.server.remove_client(self.client)

    # -- the conn interface Client expects --------------------------------

    def send(self, data):
        """Bytes for this client: joined to the replies being gathered, so
        a message published to oneself in a pipeline keeps its place."""
        if self._gathering is not None:
            self._gathering.append(data)
        else:
            self._write(data)

    def _write(self, data):
        self.client.net_output_bytes += len(data)
        server = self.server
        server.net_output_bytes += len(data)
        server.total_writes_processed += 1
        transport = self.transport
        if self._write_through and not transport._tempDataLen \
                and len(transport.dataBuffer) == transport.offset:
            # Nothing queued: try the socket now, as Redis writes replies
            # before going back to epoll. transport.write would register for
            # writability and send on the next reactor turn: two epoll_ctl
            # calls and a loop iteration per reply.
            sent = transport.writeSomeData(data)
            if type(sent) is int:
                if sent == len(data):
                    return
                data = data[sent:]
            # else: the connection is lost; transport.write lets Twisted
            # find out the usual way.
        transport.write(data)

    def close(self):
        self.transport.loseConnection()

    def query_buffer_size(self):
        return self.parser.pending if self.client else 0

    def resp_changed(self, resp):
        """HELLO/RESET switched the client's protocol: replies from now on."""
        self._encode = encoder_for(resp)

    # -- bytes in ----------------------------------------------------------

    def dataReceived(self, data):
        client = self.client
        if client is None or client.closed:
            return
        server = self.server
        client.last_interaction_ms = server.now_ms()
        client.net_input_bytes += len(data)
        server.net_input_bytes += len(data)
        server.total_reads_processed += 1
        self.parser.feed(data)
        if self._held is None and not self._blocked:
            self._process()

    def _process(self):
        if self._processing:
            return
        self._processing = True
        try:
            self._run_commands()
        finally:
            self._processing = False

    def _run_commands(self):
        client = self.client
        parser = self.parser
        out = self._gathering = []
        try:
            self._run_batch(client, parser, out)
        finally:
            self._gathering = None
        parser.authenticated = client.authenticated
        if out and not client.closed:   # closed: aborted, nothing more to say
            self._write(b"".join(out))
        if client.close_after_reply:
            self.transport.loseConnection()

    def _run_batch(self, client, parser, out):
        while not client.close_after_reply:
            argv = self._held
            if argv is not None:
                self._held = None
            else:
                try:
                    argv = parser.get_command()
                except QueryBufferLimitExceeded:
                    log.warn("Closing client that reached max query buffer "
                             "length: {addr} (qbuf initial bytes: {limit})",
                             addr=client.addr.decode(),
                             limit=self.server.config["client-query-buffer-limit"])
                    self.transport.abortConnection()
                    client.closed = True
                    return
                except ProtocolError as error:
                    log.info("Protocol error ({error}) from client: {addr}",
                             error=error.message, addr=client.addr.decode())
                    out.append(b"-ERR %s\r\n" % error.message.encode())
                    client.close_after_reply = True
                    break
                if argv is None:
                    break
            reply = call(client, argv)
            if reply is PAUSED:
                self._hold(argv)
                break
            if reply is BLOCKED:
                self._blocked = True
                break
            if reply is NO_REPLY or client.reply_off:
                continue
            if client.reply_skip:
                client.reply_skip = False
                continue
            out.append(self._encode(reply))

    # -- blocked clients -----------------------------------------------------

    def unblocked(self, reply):
        """The blocking command is served or timed out: reply, then go on
        with the pipeline after the current event, as Redis's
        processUnblockedClients does before the event loop sleeps."""
        self._blocked = False
        client = self.client
        if not (reply is NO_REPLY or client.reply_off):
            self.send(self._encode(reply))
        self.server.clock.callLater(0, self._continue)

    def _continue(self):
        if not self.client.closed and not self._blocked and self._held is None:
            self._process()

    # -- CLIENT PAUSE --------------------------------------------------------

    def _hold(self, argv):
        self._held = argv
        self.server.on_unpause.append(self._resume)
        # Stop reading: TCP carries the backpressure while we are paused.
        self.transport.pauseProducing()

    def _resume(self):
        if self.client.closed:
            return
        self.transport.resumeProducing()
        self._process()


def _can_write_through(transport):
    """True for Twisted socket transports whose buffer send() can see."""
    # These are FileDescriptor internals (abstract.py); if a Twisted release
    # changes them, fall back to plain transport.write.
    return (hasattr(transport, "writeSomeData")
            and isinstance(getattr(transport, "_tempDataLen", None), int)
            and isinstance(getattr(transport, "dataBuffer", None), bytes)
            and isinstance(getattr(transport, "offset", None), int))


def transport_fd(transport):
    """The socket's fd for CLIENT LIST, -1 for a transport without one
    (test transports have no handle at all)."""
    handle = getattr(transport, "getHandle", lambda: None)()
    return handle.fileno() if hasattr(handle, "fileno") else -1
