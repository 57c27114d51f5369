"""Channels, patterns and keyspace notifications. Sans-IO.

Messages go out of band, encoded for each subscriber's protocol (a push in
RESP3, an array in RESP2) through ``client.push``.
"""

from redisrepl.config import NOTIFY_KEYEVENT, NOTIFY_KEYSPACE
from redisrepl.glob import glob_match
from redisrepl.resp.encoder import encoder_for
from redisrepl.resp.values import Push


class PubSub:
    def __init__(self, server):
        self.server = server
        # Insertion-ordered dicts as ordered sets: delivery follows
        # subscription order, as Redis's lists do.
        self.channels = {}   # channel -> {client: None}
        self.patterns = {}   # pattern -> {client: None}

    # -- subscriptions ---------------------------------------------------

    def subscribe(self, client, channel):
        """True if newly subscribed."""
        if channel in client.channels:
            return False
        client.channels[channel] = None
        self.channels.setdefault(channel, {})[client] = None
        return True

    def unsubscribe(self, client, channel):
        """True if it was subscribed."""
        if client.channels.pop(channel, _MISSING) is _MISSING:
            return False
        subscribers = self.channels[channel]
        del subscribers[client]
        if not subscribers:
            del self.channels[channel]
        return True

    def psubscribe(self, client, pattern):
        if pattern in client.patterns:
            return False
        client.patterns[pattern] = None
        self.patterns.setdefault(pattern, {})[client] = None
        return True

    def punsubscribe(self, client, pattern):
        if client.patterns.pop(pattern, _MISSING) is _MISSING:
            return False
        subscribers = self.patterns[pattern]
        del subscribers[client]
        if not subscribers:
            del self.patterns[pattern]
        return True

    def remove_client(self, client):
        for channel in list(client.channels):
            self.unsubscribe(client, channel)
        for pattern in list(client.patterns):
            self.punsubscribe(client, pattern)

    # -- delivery --------------------------------------------------------

    def publish(self, channel, message):
        """Deliver to subscribers and matching patterns; the receiver count."""
        receivers = 0
        subscribers = self.channels.get(channel)
        if subscribers:
            _deliver(subscribers, [b"message", channel, message])
            receivers += len(subscribers)
        if self.patterns:
            for pattern, clients in list(self.patterns.items()):
                if glob_match(pattern, channel):
                    _deliver(clients, [b"pmessage", pattern, channel, message])
                    receivers += len(clients)
        return receivers

    def notify(self, event_class, event, key, db_id):
        """notifyKeyspaceEvent: publish ``event`` on ``key`` if configured."""
        flags = self.server.notify_flags
        if not flags & event_class:
            return
        if flags & NOTIFY_KEYSPACE:
            self.publish(b"__keyspace@%d__:%s" % (db_id, key), event)
        if flags & NOTIFY_KEYEVENT:
            self.publish(b"__keyevent@%d__:%s" % (db_id, event), key)


def _deliver(clients, items):
    """Send one message to each client, encoded once per protocol."""
    encoded = {}
    for client in list(clients):
        resp = client.resp
        data = encoded.get(resp)
        if data is None:
            data = encoded[resp] = encoder_for(resp)(Push(items))
        client.send(data)


_MISSING = object()
