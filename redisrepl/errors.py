"""Redis 7.0's error replies, shared by every command family.

The texts are Redis's own (server.c shared.* objects and the handlers'
addReplyError calls): clients and tests match them byte for byte.
"""

from redisrepl.resp.values import ReplyError

WRONGTYPE = ReplyError(
    "WRONGTYPE Operation against a key holding the wrong kind of value")
SYNTAX = ReplyError("ERR syntax error")
NOT_INTEGER = ReplyError("ERR value is not an integer or out of range")
NOT_FLOAT = ReplyError("ERR value is not a valid float")
NO_SUCH_KEY = ReplyError("ERR no such key")
DB_INDEX_OUT_OF_RANGE = ReplyError("ERR DB index is out of range")
INVALID_DB_INDEX = ReplyError("ERR invalid DB index")
OVERFLOW = ReplyError("ERR increment or decrement would overflow")
NOAUTH = ReplyError("NOAUTH Authentication required.")
WRONGPASS = ReplyError(
    "WRONGPASS invalid username-password pair or user is disabled.")
OUT_OF_RANGE = ReplyError("ERR index out of range")
BIT_OFFSET = ReplyError("ERR bit offset is not an integer or out of range")
STRING_TOO_LONG = ReplyError(
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)")


def wrong_arity(fullname):
    return ReplyError(
        "ERR wrong number of arguments for '%s' command" % fullname)


def unknown_command(argv):
    """Redis's unknown-command text, quoting up to 128 chars of arguments."""
    args = b""
    for arg in argv[1:]:
        if len(args) >= 128:
            break
        args += b"'" + arg[:128 - len(args)] + b"' "
    return ReplyError(
        b"ERR unknown command '%s', with args beginning with: %s"
        % (argv[0][:128], args))


def unknown_subcommand(argv):
    return ReplyError(
        b"ERR unknown subcommand '%s'. Try %s HELP."
        % (argv[1][:128], argv[0].upper()))


def subcommand_syntax_error(argv):
    """addReplySubcommandSyntaxError: a known subcommand with a bad shape."""
    return ReplyError(
        b"ERR unknown subcommand or wrong number of arguments for '%s'. "
        b"Try %s HELP." % (argv[1][:128], argv[0].upper()))


SAME_OBJECT = ReplyError("ERR source and destination objects are the same")


def invalid_expire_time(command_name):
    """addReplyErrorExpireTime: an expire time that overflows."""
    return ReplyError(
        f"ERR invalid expire time in '{command_name}' command")


# getIntFromObjectOrReply past 32 bits (getRangeLongFromObjectOrReply).
INT32_RANGE = ReplyError(
    "ERR value is out of range, value must between -2147483648 and "
    "2147483647")
INVALID_CURSOR = ReplyError("ERR invalid cursor")

NOT_IN_MULTI = ReplyError("ERR Command not allowed inside a transaction")


def pubsub_context(fullname):
    """A RESP2 client in subscribed state ran something else."""
    return ReplyError(
        "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
        "PING / QUIT / RESET are allowed in this context" % fullname)

# getPositiveLongFromObjectOrReply with no message of its own (LPOP count).
MUST_BE_POSITIVE = ReplyError("ERR value is out of range, must be positive")
# getTimeoutFromObjectOrReply (BLPOP, BZPOPMIN... timeouts in seconds).
TIMEOUT_NOT_FLOAT = ReplyError("ERR timeout is not a float or out of range")
TIMEOUT_NEGATIVE = ReplyError("ERR timeout is negative")
# LMPOP/BLMPOP/ZMPOP/BZMPOP argument checks.
NUMKEYS_NOT_POSITIVE = ReplyError("ERR numkeys should be greater than 0")
COUNT_NOT_POSITIVE = ReplyError("ERR count should be greater than 0")

# While the dataset loads (processCommand's shared.loadingerr).
LOADING = ReplyError("LOADING Redis is loading the dataset in memory")
# stop-writes-on-bgsave-error after a failed save (shared.bgsaveerr).
MISCONF_RDB = ReplyError(
    "MISCONF Redis is configured to save RDB snapshots, but it's currently "
    "unable to persist to disk. Commands that may modify the data set are "
    "disabled, because this instance is configured to report errors during "
    "writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). "
    "Please check the Redis logs for details about the RDB error.")

# Replication gates (processCommand) and role changes.
READONLY = ReplyError("READONLY You can't write against a read only replica.")
MASTERDOWN = ReplyError(
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
UNBLOCKED_ROLE_CHANGE = ReplyError(
    "UNBLOCKED force unblock from blocking operation, instance state changed "
    "(master -> replica?)")
NOMASTERLINK = ReplyError("NOMASTERLINK Can't SYNC while not connected with my master")
