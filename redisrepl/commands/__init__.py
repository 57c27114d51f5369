"""Command families, one module each. Importing a module registers its
handlers (see table.py); ALL_MODULES is what build_table() loads."""

from redisrepl.commands import (  # noqa: F401
    bits,
    blocking_lists,
    clients,
    connection,
    dump,
    expire,
    hashes,
    hyperloglog,
    info,
    introspection,
    keys,
    lists,
    persistence,
    pubsub,
    server,
    sets,
    sort,
    stream_groups,
    stream_info,
    stream_read,
    streams,
    strings,
    transactions,
    zsets,
    zsets_ops,
    zsets_pop,
    zsets_ranges,
)

ALL_MODULES = (bits, blocking_lists, clients, connection, dump, expire, hashes,
               hyperloglog, info, introspection, keys, lists, persistence, pubsub, server,
               sets, sort, streams, stream_groups, stream_info,
               stream_read, strings, transactions, zsets,
               zsets_ops, zsets_pop, zsets_ranges)
