"""Channels, patterns and keyspace notifications. Sans-IO.

Messages go out of band, encoded for each subscriber's protocol (a push in
RESP3, an array in RESP2) through ``client.push``.
"""

from redisrepl.config import NOTIFY_KEYEVENT, NOTIFY_KEYSPACE
from redisrepl.glob import glob_match


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
            for client in subscribers:
                client.push([b"message", channel, message])
                receivers += 1
        for pattern, clients in self.patterns.items():
            if glob_match(pattern, channel):
                for client in clients:
                    client.push([b"pmessage", pattern, channel, message])
                    receivers += 1
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


_MISSING = object()
