"""Blocked clients: BLPOP, BZPOPMIN, XREAD BLOCK and friends. Sans-IO.

A handler that finds nothing to serve returns ``block(client, ...)``. The
client then runs nothing more until it is served or times out; its connection
keeps the rest of its pipeline. Writes that give a key elements call
``db.signal_ready(key)``; once the command that did so has finished (Redis's
handleClientsBlockedOnKeys, run after each top-level command), the clients
blocked on that key are offered it first-come-first-served: each one's
``serve(client, db, key)`` either returns a reply (served: it is unblocked
with it) or None (still nothing for it: it keeps waiting). ``serve`` runs as a
command would: what it changes is propagated (as LPOP for BLPOP, say), inside
its own call, so replicas and the AOF see the non-blocking form.
"""

from collections import OrderedDict, deque

from twisted.logger import Logger

log = Logger()


class _Blocked:
    """Returned by block(): the engine hands it to the connection."""

    __slots__ = ()

    def __repr__(self):
        return "BLOCKED"


BLOCKED = _Blocked()


class Waiter:
    __slots__ = ("client", "db", "keys", "serve", "timeout_reply", "timer")

    def __init__(self, client, db, keys, serve, timeout_reply):
        self.client = client
        self.db = db
        self.keys = keys
        self.serve = serve
        self.timeout_reply = timeout_reply
        self.timer = None


class Blocking:
    """Which clients wait on which keys, and serving them when keys fill."""

    def __init__(self, server):
        self.server = server
        self.waiting = {}          # (db id, key) -> deque of Waiter, FIFO
        self.ready = OrderedDict()  # (db id, key) -> db, in signal order
        self.by_client = {}        # client -> Waiter

    def __len__(self):
        """blocked_clients for INFO."""
        return len(self.by_client)

    def with_timeout(self):
        """clients_in_timeout_table for INFO: blocked with a deadline."""
        return sum(1 for waiter in self.by_client.values() if waiter.timer is not None)

    def block(self, client, keys, timeout_ms, serve, timeout_reply):
        """Block ``client`` on ``keys`` of its db; 0 waits forever.

        Inside MULTI/EXEC nothing blocks: the timeout reply comes at once,
        as Redis answers a blocking command in a transaction.
        """
        if client.in_exec:
            return timeout_reply
        waiter = Waiter(client, client.db, list(dict.fromkeys(keys)), serve,
                        timeout_reply)
        db_id = client.db.id
        for key in waiter.keys:
            self.waiting.setdefault((db_id, key), deque()).append(waiter)
        self.by_client[client] = waiter
        self.server.keyspace.has_blocked = True
        if timeout_ms:
            waiter.timer = self.server.clock.callLater(
                timeout_ms / 1000.0, self._timed_out, waiter)
        return BLOCKED

    def signal_db(self, db):
        """Every waited-for key of ``db`` may have changed (SWAPDB): offer
        them all, as Redis's scanDatabaseForReadyKeys."""
        for db_id, key in list(self.waiting):
            if db_id == db.id and key in db.data:
                self.signal_ready(db, key)

    def signal_ready(self, db, key):
        entry = (db.id, key)
        if entry in self.waiting and entry not in self.ready:
            self.ready[entry] = db

    def serve_ready(self):
        """Offer every key signalled ready to its waiters, in order."""
        server = self.server
        while self.ready:
            (db_id, key), db = self.ready.popitem(last=False)
            queue = self.waiting.get((db_id, key))
            # Each waiter is offered the key once; one served may have
            # emptied it, the next one then finds nothing and waits on.
            for waiter in list(queue or ()):
                if waiter.client not in self.by_client:
                    continue
                server.call_depth += 1
                try:
                    reply = waiter.serve(waiter.client, db, key)
                finally:
                    server.call_depth -= 1
                if server.pending_ops:
                    server.flush_propagation()
                if reply is not None:
                    self._unblock(waiter, reply)

    def _timed_out(self, waiter):
        waiter.timer = None
        if self.by_client.get(waiter.client) is waiter:
            self._unblock(waiter, waiter.timeout_reply)

    def unblock(self, client, reply):
        """CLIENT UNBLOCK and friends: end the wait with ``reply``."""
        waiter = self.by_client.get(client)
        if waiter is None:
            return False
        self._unblock(waiter, reply)
        return True

    def unblock_all(self, reply):
        """End every wait with ``reply`` (Redis's disconnectAllBlockedClients,
        when a master becomes a replica)."""
        for client in list(self.by_client):
            self.unblock(client, reply)

    def _unblock(self, waiter, reply):
        self._forget(waiter)
        waiter.client.conn.unblocked(reply)

    def remove_client(self, client):
        """The connection went away: drop its wait, send nothing."""
        waiter = self.by_client.get(client)
        if waiter is not None:
            self._forget(waiter)

    def _forget(self, waiter):
        del self.by_client[waiter.client]
        self.server.keyspace.has_blocked = bool(self.by_client)
        if waiter.timer is not None and waiter.timer.active():
            waiter.timer.cancel()
        waiter.timer = None
        db_id = waiter.db.id
        for key in waiter.keys:
            queue = self.waiting.get((db_id, key))
            if queue is not None:
                queue.remove(waiter)
                if not queue:
                    del self.waiting[(db_id, key)]

    # -- waits on no key (WAIT) ------------------------------------------

    def block_keyless(self, client, timeout_ms, on_timeout):
        """Block ``client`` on no key at all (WAIT): only ``unblock(client,
        reply)`` ends the wait, or the timeout (0: for ever), whose reply
        ``on_timeout(client)`` computes when it fires. Callers answer
        inside MULTI/EXEC themselves: this always blocks."""
        waiter = Waiter(client, client.db, [], None, None)
        self.by_client[client] = waiter
        self.server.keyspace.has_blocked = True
        if timeout_ms:
            waiter.timer = self.server.clock.callLater(
                timeout_ms / 1000.0, self._keyless_timed_out, waiter, on_timeout)
        return BLOCKED

    def _keyless_timed_out(self, waiter, on_timeout):
        waiter.timer = None
        if self.by_client.get(waiter.client) is waiter:
            self._unblock(waiter, on_timeout(waiter.client))
