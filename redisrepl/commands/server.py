"""Server administration: CONFIG, TIME, SHUTDOWN, DEBUG, SLOWLOG, LATENCY
(SAVE, BGSAVE and LASTSAVE are in persistence.py).

Handlers are thin: the work lives in the config registry, the slowlog and
the Instance. Texts are Redis 7.0's (config.c, server.c, debug.c, slowlog.c,
latency.c).
"""

import math
import re
import time
from itertools import islice

from twisted.logger import Logger

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.commands.help import help_reply
from redisrepl.commands.table import command
from redisrepl.config import ConfigError
from redisrepl.persistence.aof_loader import AOF_EMPTY, AOF_OK, AofLoadError, load_aof_dir
from redisrepl.persistence.aof_state import ON
from redisrepl.persistence.loading import load_file, log_load_error
from redisrepl.rdb import RdbError
from redisrepl.resp.values import NO_REPLY, OK, Map, ReplyError, Verbatim

# twisted.logger.Logger spells the level "warn" (ruff's G010 assumes stdlib).
log = Logger()


# -- CONFIG --------------------------------------------------------------------

@command("config|get")
def config_get(client, argv):
    return Map(client.server.config.get_matching(argv[2:]))


@command("config|set")
def config_set(client, argv):
    if len(argv) % 2:
        raise errors.SYNTAX
    pairs = list(zip(argv[2::2], argv[3::2], strict=True))
    try:
        client.server.config.set_many(pairs, local=client.is_local())
    except ConfigError as error:
        raise ReplyError(error.message) from None
    return OK


@command("config|resetstat")
def config_resetstat(client, argv):
    client.server.reset_stats()
    return OK


@command("config|rewrite")
def config_rewrite(client, argv):
    try:
        client.server.config.rewrite()
    except ConfigError as error:
        # Redis logs a failed write (not a missing config file) with the
        # bare strerror text.
        reason = error.message.removeprefix("ERR Rewriting config file: ")
        if reason != error.message:
            log.warn("CONFIG REWRITE failed: {reason}", reason=reason)  # noqa: G010
        raise ReplyError(error.message) from None
    log.info("CONFIG REWRITE executed with success.")
    return OK


_CONFIG_HELP = (
    'GET <pattern>',
    '    Return parameters matching the glob-like <pattern> and their values.',
    'SET <directive> <value>',
    '    Set the configuration <directive> to <value>.',
    'RESETSTAT',
    '    Reset statistics reported by the INFO command.',
    'REWRITE',
    '    Rewrite the configuration file.',
)


@command("config|help")
def config_help(client, argv):
    return help_reply(argv, _CONFIG_HELP)


# -- TIME ----------------------------------------------------------------------

@command("time")
def time_(client, argv):
    micros = int(client.server.clock.seconds() * 1_000_000)
    seconds, micros = divmod(micros, 1_000_000)
    return [b"%d" % seconds, b"%d" % micros]


# -- SHUTDOWN ------------------------------------------------------------------

NO_SHUTDOWN_IN_PROGRESS = ReplyError("ERR No shutdown in progress.")
SHUTDOWN_FAILED = ReplyError("ERR Errors trying to SHUTDOWN. Check logs.")


@command("shutdown")
def shutdown(client, argv):
    options = set()
    for arg in argv[1:]:
        option = arg.lower()
        if option not in (b"nosave", b"save", b"now", b"force", b"abort"):
            raise errors.SYNTAX
        options.add(option)
    if (b"abort" in options and len(options) > 1) or \
            {b"save", b"nosave"} <= options:
        raise errors.SYNTAX
    if b"abort" in options:
        # A shutdown never waits for lagging replicas here, so none is ever
        # in progress when another command can run.
        raise NO_SHUTDOWN_IN_PROGRESS
    server = client.server
    if not prepare_for_shutdown(server, {option.decode() for option in options}):
        raise SHUTDOWN_FAILED
    server.shutdown_hook()
    # Redis never answers a successful SHUTDOWN: the connection just closes.
    client.close_after_reply = True
    return NO_REPLY


def prepare_for_shutdown(server, flags):
    """Redis's prepareForShutdown/finishShutdown, for SHUTDOWN and for the
    SIGTERM/SIGINT of the daemon: stop a running BGSAVE, write the final
    dump if ``flags`` ({"save", "nosave", "force", "now"}) and the save
    points ask for it. True if the server may exit now; False (logged) if
    the save failed without FORCE: the server keeps running."""
    log.warn("User requested shutdown...")  # noqa: G010
    if server.persistence.shutdown_save(save="save" in flags, nosave="nosave" in flags,
                                        force="force" in flags):
        return True
    log.warn("Errors trying to shut down the server. Check the logs "  # noqa: G010
             "for more information.")
    return False


# -- DEBUG ---------------------------------------------------------------------

DEBUG_NOT_ALLOWED = ReplyError(
    'ERR DEBUG command not allowed. If the enable-debug-command option is set '
    'to "local", you can run it from a local connection, otherwise you need '
    'to set this option in the configuration file, and then restart the '
    'server.')

# What C's strtod and atoi read at the start of a string.
_STRTOD_HEX = re.compile(
    rb"\s*[+-]?0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?\d+)?",
    re.IGNORECASE)
_STRTOD_DECIMAL = re.compile(
    rb"\s*[+-]?(?:inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)",
    re.IGNORECASE)
_ATOI_PREFIX = re.compile(rb"\s*[+-]?\d+")


def _strtod(arg):
    """C's strtod(arg, NULL): the longest numeric prefix, 0.0 if none."""
    match = _STRTOD_HEX.match(arg)
    if match:
        return float.fromhex(match.group().strip().decode())
    match = _STRTOD_DECIMAL.match(arg)
    return float(match.group()) if match else 0.0


def _atoi(arg):
    """C's atoi: the leading integer, 0 if none."""
    match = _ATOI_PREFIX.match(arg)
    return int(match.group()) if match else 0


def _debug_allowed(client):
    mode = client.server.config["enable-debug-command"]
    return mode == "yes" or (mode == "local" and client.is_local())


def _debug_sleep(client, argv):
    # The whole server stops, as Redis's nanosleep does. A negative or
    # unparsable time sleeps not at all (nanosleep rejects it).
    seconds = _strtod(argv[2])
    if math.isfinite(seconds) and int(seconds * 1_000_000) > 0:
        time.sleep(int(seconds * 1_000_000) / 1_000_000)
    return OK


def _debug_set_active_expire(client, argv):
    client.server.keyspace.active_expire_enabled = _atoi(argv[2]) != 0
    return OK


def _debug_set_skip_checksum_validation(client, argv):
    # RDB loads and RESTORE then skip the CRC64 check.
    client.server.skip_checksum_validation = _atoi(argv[2]) != 0
    return OK


def _debug_help(client, argv):
    return help_reply(argv, _DEBUG_HELP)


RELOAD_BAD_OPTION = ReplyError(
    "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
RELOAD_FAILED = ReplyError("ERR Error trying to load the RDB dump")
RELOAD_SAVE_FAILED = ReplyError("ERR")   # Redis's shared.err


def _debug_reload(client, argv):
    """Save (unless NOSAVE), then load the dump back (over an emptied dataset
    unless NOFLUSH; loaded keys replace clashing ones with MERGE). Unlike
    Redis, a failed load leaves the data as it was: the loader swaps the new
    dataset in only once the whole file has loaded."""
    merge, flush, save = False, True, True
    for arg in argv[2:]:
        option = arg.lower()
        if option == b"merge":
            merge = True
        elif option == b"noflush":
            flush = False
        elif option == b"nosave":
            save = False
        else:
            raise RELOAD_BAD_OPTION
    server = client.server
    if server.loading:
        # Saving now would write the half-loaded (empty) dataset over the dump.
        raise errors.LOADING
    if save and not server.persistence.save():
        raise RELOAD_SAVE_FAILED
    try:
        load_file(server, server.config["dbfilename"], merge=merge, flush=flush)
    except (OSError, RdbError) as error:
        log_load_error(error)
        raise RELOAD_FAILED from None
    log.warn("DB reloaded by DEBUG RELOAD")  # noqa: G010
    return OK


def _debug_loadaof(client, argv):
    """Write out the AOF buffer, empty the dataset and load the AOF
    directory back. As Redis 7.0 (debug.c), a load that fails -- or finds
    no AOF at all -- ends the process: the dataset is already gone."""
    server = client.server
    if server.loading:
        # Emptying now would pull the dataset from under the running load.
        raise errors.LOADING
    aof = server.aof
    if aof.state == ON:
        aof.flush()
    server.keyspace.flushall()
    try:
        load = load_aof_dir(server)
    except AofLoadError:    # logged
        load = None
    if load is None or load.status not in (AOF_OK, AOF_EMPTY):
        aof.exit(1)
        return NO_REPLY
    aof.adopt_manifest(load.manifest)
    server.dirty = 0        # what was loaded is on disk already
    log.warn("Append Only File loaded by DEBUG LOADAOF")  # noqa: G010
    return OK


# subcommand -> (argument count including DEBUG and the subcommand, handler);
# a negative count is a minimum, as in Redis's arities.
_DEBUG_SUBCOMMANDS = {
    b"help": (2, _debug_help),
    b"sleep": (3, _debug_sleep),
    b"set-active-expire": (3, _debug_set_active_expire),
    b"reload": (-2, _debug_reload),
    b"loadaof": (2, _debug_loadaof),
    b"set-skip-checksum-validation": (3, _debug_set_skip_checksum_validation),
}


@command("debug")
def debug(client, argv):
    if not _debug_allowed(client):
        raise DEBUG_NOT_ALLOWED
    argc, handler = _DEBUG_SUBCOMMANDS.get(argv[1].lower(), (None, None))
    if argc is None or (argc != len(argv) if argc > 0 else len(argv) < -argc):
        raise errors.subcommand_syntax_error(argv)
    return handler(client, argv)


_DEBUG_HELP = (
    'AOF-FLUSH-SLEEP <microsec>',
    '    Server will sleep before flushing the AOF, this is used for testing.',
    'ASSERT',
    '    Crash by assertion failed.',
    'CHANGE-REPL-ID',
    '    Change the replication IDs of the instance.',
    '    Dangerous: should be used only for testing the replication subsystem.',
    'CONFIG-REWRITE-FORCE-ALL',
    '    Like CONFIG REWRITE but writes all configuration options, including',
    '    keywords not listed in original configuration file or default values.',
    'CRASH-AND-RECOVER [<milliseconds>]',
    '    Hard crash and restart after a <milliseconds> delay (default 0).',
    'DIGEST',
    '    Output a hex signature representing the current DB content.',
    'DIGEST-VALUE <key> [<key> ...]',
    '    Output a hex signature of the values of all the specified keys.',
    'ERROR <string>',
    '    Return a Redis protocol error with <string> as message. Useful for clients',
    '    unit tests to simulate Redis errors.',
    'LEAK <string>',
    '    Create a memory leak of the input string.',
    'LOG <message>',
    '    Write <message> to the server log.',
    'HTSTATS <dbid>',
    '    Return hash table statistics of the specified Redis database.',
    'HTSTATS-KEY <key>',
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    'LOADAOF',
    '    Flush the AOF buffers on disk and reload the AOF in memory.',
    'REPLICATE <string>',
    '    Replicates the provided string to replicas, allowing data divergence.',
    'MALLCTL <key> [<val>]',
    '    Get or set a malloc tuning integer.',
    'MALLCTL-STR <key> [<val>]',
    '    Get or set a malloc tuning string.',
    'OBJECT <key>',
    '    Show low level info about `key` and associated value.',
    'DROP-CLUSTER-PACKET-FILTER <packet-type>',
    '    Drop all packets that match the filtered type. Set to -1 allow all packets.',
    'OOM',
    '    Crash the server simulating an out-of-memory error.',
    'PANIC',
    '    Crash the server simulating a panic.',
    'POPULATE <count> [<prefix>] [<size>]',
    '    Create <count> string keys named key:<num>. If <prefix> is specified then',
    "    it is used instead of the 'key' prefix. These are not propagated to",
    '    replicas. Cluster slots are not respected so keys not belonging to the',
    '    current node can be created in cluster mode.',
    'PROTOCOL <type>',
    '    Reply with a test value of the specified type. <type> can be: string,',
    '    integer, double, bignum, null, array, set, map, attrib, push, verbatim,',
    '    true, false.',
    'RELOAD [option ...]',
    '    Save the RDB on disk and reload it back to memory. Valid <option> values:',
    '    * MERGE: conflicting keys will be loaded from RDB.',
    '    * NOFLUSH: the existing database will not be removed before load, but',
    '      conflicting keys will generate an exception and kill the server.',
    '    * NOSAVE: the database will be loaded from an existing RDB file.',
    '    Examples:',
    '    * DEBUG RELOAD: verify that the server is able to persist, flush and reload',
    '      the database.',
    '    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an',
    '      existing RDB file.',
    '    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB',
    '      file to the database.',
    'RESTART [<milliseconds>]',
    '    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).',
    'SDSLEN <key>',
    '    Show low level SDS string info representing `key` and value.',
    'SEGFAULT',
    '    Crash the server with sigsegv.',
    'SET-ACTIVE-EXPIRE <0|1>',
    '    Setting it to 0 disables expiring keys in background when they are not',
    '    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the',
    '    default.',
    'QUICKLIST-PACKED-THRESHOLD <size>',
    '    Sets the threshold for elements to be inserted as plain vs packed nodes',
    '    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.',
    'SET-SKIP-CHECKSUM-VALIDATION <0|1>',
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    'SLEEP <seconds>',
    '    Stop the server for <seconds>. Decimals allowed.',
    'STRINGMATCH-TEST',
    '    Run a fuzz tester against the stringmatchlen() function.',
    'STRUCTSIZE',
    '    Return the size of different Redis core C structures.',
    'LISTPACK <key>',
    '    Show low level info about the listpack encoding of <key>.',
    'QUICKLIST <key> [<0|1>]',
    '    Show low level info about the quicklist encoding of <key>.',
    '    The optional argument (0 by default) sets the level of detail',
    'CLIENT-EVICTION',
    '    Show low level client eviction pools info (maxmemory-clients).',
    'PAUSE-CRON <0|1>',
    '    Stop periodic cron job processing.',
    'REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>',
    '    Sets the time (in milliseconds) to wait between client reply buffer peak resets.',
    '    In case NEVER is provided the last observed peak will never be reset',
    '    In case RESET is provided the peak reset time will be restored to the default value',
    'REPLYBUFFER RESIZING <0|1>',
    '    Enable or disable the reply buffer resize cron job',
    'CLUSTERLINK KILL <to|from|all> <node-id>',
    '    Kills the link based on the direction to/from (both) with the provided node.',
)


# -- SLOWLOG -------------------------------------------------------------------

SLOWLOG_BAD_COUNT = ReplyError(
    "ERR count should be greater than or equal to -1")


@command("slowlog|get")
def slowlog_get(client, argv):
    if len(argv) > 3:
        raise errors.subcommand_syntax_error(argv)
    entries = client.server.slowlog.entries
    count = 10
    if len(argv) == 3:
        count = parse_int(argv[2], SLOWLOG_BAD_COUNT)
        if count < -1:
            raise SLOWLOG_BAD_COUNT
        if count == -1:
            count = len(entries)
    return list(islice(entries, count))


@command("slowlog|len")
def slowlog_len(client, argv):
    return len(client.server.slowlog.entries)


@command("slowlog|reset")
def slowlog_reset(client, argv):
    client.server.slowlog.reset()
    return OK


_SLOWLOG_HELP = (
    'GET [<count>]',
    '    Return top <count> entries from the slowlog (default: 10, -1 mean all).',
    '    Entries are made of:',
    '    id, timestamp, time in microseconds, arguments array, client IP and port,',
    '    client name',
    'LEN',
    '    Return the length of the slowlog.',
    'RESET',
    '    Reset the slowlog.',
)


@command("slowlog|help")
def slowlog_help(client, argv):
    return help_reply(argv, _SLOWLOG_HELP)


# -- LATENCY -------------------------------------------------------------------
# The latency monitor records nothing here, so every answer is Redis's for a
# monitor that has no samples (latency.c).

_DOCTOR_DISABLED = Verbatim(
    b"I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this "
    b"Redis instance. You may use \"CONFIG SET latency-monitor-threshold "
    b"<milliseconds>.\" in order to enable it. If we weren't in a deep space "
    b"mission I'd suggest to take a look at "
    b"https://redis.io/topics/latency-monitor.\n")
_DOCTOR_NO_SPIKES = Verbatim(
    b"Dave, no latency spike was observed during the lifetime of this Redis "
    b"instance, not in the slightest bit. I honestly think you ought to sit "
    b"down calmly, take a stress pill, and think things over.\n")


@command("latency|latest")
def latency_latest(client, argv):
    return []


@command("latency|history")
def latency_history(client, argv):
    return []


@command("latency|reset")
def latency_reset(client, argv):
    return 0


@command("latency|graph")
def latency_graph(client, argv):
    raise ReplyError(b"ERR No samples available for event '%s'" % argv[2])


@command("latency|doctor")
def latency_doctor(client, argv):
    if client.server.config["latency-monitor-threshold"]:
        return _DOCTOR_NO_SPIKES
    return _DOCTOR_DISABLED


_LATENCY_HELP = (
    'DOCTOR',
    '    Return a human readable latency analysis report.',
    'GRAPH <event>',
    '    Return an ASCII latency graph for the <event> class.',
    'HISTORY <event>',
    '    Return time-latency samples for the <event> class.',
    'LATEST',
    '    Return the latest latency samples for all events.',
    'RESET [<event> ...]',
    '    Reset latency data of one or more <event> classes.',
    '    (default: reset all data for all event classes)',
    'HISTOGRAM [COMMAND ...]',
    '    Return a cumulative distribution of latencies in the format of a histogram for the '
    'specified command names.',
    '    If no commands are specified then all histograms are replied.',
)


@command("latency|help")
def latency_help(client, argv):
    return help_reply(argv, _LATENCY_HELP)
