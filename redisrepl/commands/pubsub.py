"""Pub/Sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH
PUBSUB (Redis 7.0's pubsub.c). The registry and delivery are redisrepl/pubsub.py.

(Un)subscribing answers one message per channel, each a push in RESP3 and an
array in RESP2, so a handler returns them already encoded for the client's
protocol, together, as one Raw reply: inside EXEC they sit in the EXEC array
as Redis writes them there (one element per queued command, however many
messages it produced).
"""

from redisrepl import errors
from redisrepl.commands.help import help_reply
from redisrepl.commands.table import command
from redisrepl.glob import glob_match
from redisrepl.propagation import REPL
from redisrepl.resp.encoder import encoder_for
from redisrepl.resp.values import Push, Raw


def _confirmations(client, kind, names, change):
    """Apply ``change(client, name)`` to each name and answer Redis's
    per-name confirmation: [kind, name, subscriptions now held]."""
    encode = encoder_for(client.resp)
    out = []
    for name in names:
        change(client, name)
        out.append(encode(Push([kind, name,
                                len(client.channels) + len(client.patterns)])))
    return Raw(b"".join(out))


def _unsubscribe_all(client, kind, held, change):
    """The no-argument forms: leave every one held."""
    if not held:
        # Holding none, Redis still confirms once, with a null name.
        return _confirmations(client, kind, [None], _no_change)
    return _confirmations(client, kind, list(held), change)


def _no_change(client, name):
    pass


@command("subscribe")
def subscribe(client, argv):
    return _confirmations(client, b"subscribe", argv[1:],
                          client.server.pubsub.subscribe)


@command("psubscribe")
def psubscribe(client, argv):
    return _confirmations(client, b"psubscribe", argv[1:],
                          client.server.pubsub.psubscribe)


@command("unsubscribe")
def unsubscribe(client, argv):
    change = client.server.pubsub.unsubscribe
    if len(argv) == 1:
        return _unsubscribe_all(client, b"unsubscribe", client.channels, change)
    return _confirmations(client, b"unsubscribe", argv[1:], change)


@command("punsubscribe")
def punsubscribe(client, argv):
    change = client.server.pubsub.punsubscribe
    if len(argv) == 1:
        return _unsubscribe_all(client, b"punsubscribe", client.patterns,
                                change)
    return _confirmations(client, b"punsubscribe", argv[1:], change)


@command("publish")
def publish(client, argv):
    server = client.server
    receivers = server.pubsub.publish(argv[1], argv[2])
    # Replicas get every PUBLISH (their own subscribers hear it), the AOF
    # none, and the dataset is unchanged: no dirty (forceCommandPropagation
    # with PROPAGATE_REPL).
    server.also_propagate(client.db.id, argv, REPL)
    return receivers


# -- PUBSUB --------------------------------------------------------------------

_PUBSUB_HELP = [
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
]


@command("pubsub|help")
def pubsub_help(client, argv):
    return help_reply(argv, _PUBSUB_HELP)


@command("pubsub|channels")
def pubsub_channels(client, argv):
    if len(argv) > 3:
        raise errors.subcommand_syntax_error(argv)
    channels = client.server.pubsub.channels
    if len(argv) == 2:
        return list(channels)
    pattern = argv[2]
    return [channel for channel in channels if glob_match(pattern, channel)]


@command("pubsub|numsub")
def pubsub_numsub(client, argv):
    channels = client.server.pubsub.channels
    reply = []
    for channel in argv[2:]:
        reply.append(channel)
        reply.append(len(channels.get(channel, ())))
    return reply


@command("pubsub|numpat")
def pubsub_numpat(client, argv):
    # Distinct patterns, not subscriptions: Redis 7.0 counts its dict.
    return len(client.server.pubsub.patterns)


# Shard channels (SSUBSCRIBE) are not served here, so none is ever active.

@command("pubsub|shardchannels")
def pubsub_shardchannels(client, argv):
    if len(argv) > 3:
        raise errors.subcommand_syntax_error(argv)
    return []


@command("pubsub|shardnumsub")
def pubsub_shardnumsub(client, argv):
    reply = []
    for channel in argv[2:]:
        reply.append(channel)
        reply.append(0)
    return reply
