"""Command families, one module each. Importing a module registers its
handlers (see table.py); ALL_MODULES is what build_table() loads."""

from redisrepl.commands import (  # noqa: F401
    bits,
    clients,
    connection,
    expire,
    info,
    introspection,
    keys,
    server,
    strings,
)

ALL_MODULES = (bits, clients, connection, expire, info, introspection, keys,
               server, strings)
