"""INFO [section ...]: Redis 7.0.15's sections, field names and order.

Clients parse INFO (redis-cli, redis-py, Sentinel reads role and the master_*
fields), so every section prints exactly the fields Redis 7.0.15 prints, in
its order, with its number formats; the checked-in list in
tests/unit/data/info_fields_70.txt is the reference. Where this server has no
such machinery (Lua, jemalloc, I/O threads, defrag, tracking) the field shows
what Redis shows when that machinery is idle. Memory is approximated from the
process RSS: see stats.py.
"""

import hashlib
import os
import platform
import resource
import struct

from redisrepl import REDIS_VERSION, __version__
from redisrepl.commands.table import command
from redisrepl.resp.values import Verbatim
from redisrepl.stats import total_system_memory

DEFAULT_SECTIONS = frozenset((
    "server", "clients", "memory", "persistence", "stats", "replication",
    "cpu", "module_list", "errorstats", "cluster", "keyspace"))

# Redis's LRU clock: seconds, wrapping at 24 bits (LRU_CLOCK_MAX).
LRU_CLOCK_MAX = (1 << 24) - 1

# Names of commands and error codes are made safe for the "name:value" lines
# as Redis's getSafeInfoString does.
_UNSAFE_INFO_CHARS = str.maketrans("#:\n\r", "____")


@command("info")
def info(client, argv):
    sections, everything = requested_sections(argv[1:])
    return Verbatim(generate(client.server, sections, everything).encode(
        "utf-8", "surrogateescape"))


def requested_sections(args):
    """The section names INFO's arguments ask for, and whether all of them."""
    if not args:
        return DEFAULT_SECTIONS, False
    sections = set()
    everything = False
    for arg in args:
        name = arg.decode("latin-1").lower()
        if name == "default":
            sections |= DEFAULT_SECTIONS
        elif name in ("all", "everything"):
            # "all" leaves out modules' own sections; we have no modules.
            everything = True
        else:
            sections.add(name)
    return sections, everything


def generate(server, sections, everything=False):
    """The INFO text for ``sections`` (a set of lower-case names)."""
    parts = []
    for names, header, fields in _SECTIONS:
        if everything or not sections.isdisjoint(names):
            lines = ["# " + header]
            lines.extend(fields(server))
            parts.append("\r\n".join(lines) + "\r\n")
    return "\r\n".join(parts)


# -- formatting helpers, as Redis's -----------------------------------------

def bytes_to_human(n):
    """Redis's bytesToHuman: 100B, 2.00K, 1.50M ..."""
    if n < 1024:
        return f"{n}B"
    for power, unit in enumerate("KMGTP", start=1):
        if n < 1024 ** (power + 1):
            return f"{n / 1024 ** power:.2f}{unit}"
    return f"{n}B"


def c_float(value):
    """``value`` rounded to a C float: Redis computes some ratios in single
    precision, and that shows in their last printed digit."""
    return struct.unpack("f", struct.pack("f", value))[0]


def _safe(name):
    return name.translate(_UNSAFE_INFO_CHARS)


def _gcc_version():
    # The compiler that built our interpreter, in Redis's x.y.z form.
    words = platform.python_compiler().split()
    if len(words) >= 2 and words[0] == "GCC" and words[1].count(".") == 2:
        return words[1]
    return "0.0.0"


_UNAME = os.uname()
_OS = f"{_UNAME.sysname} {_UNAME.release} {_UNAME.machine}"
_ARCH_BITS = struct.calcsize("P") * 8
_GCC_VERSION = _gcc_version()
# Redis prints a hash of its build; ours names this redisrepl release.
_BUILD_ID = hashlib.sha1(f"redisrepl {__version__}".encode()).hexdigest()[:15]


# -- sections ----------------------------------------------------------------

def _server(server):
    config = server.config
    now = server.clock.seconds()
    uptime = server.uptime()
    config_file = os.path.abspath(config.path) if config.path else ""
    return [
        "redis_version:" + REDIS_VERSION,
        "redis_git_sha1:00000000",
        "redis_git_dirty:0",
        "redis_build_id:" + _BUILD_ID,
        "redis_mode:standalone",
        "os:" + _OS,
        f"arch_bits:{_ARCH_BITS}",
        "monotonic_clock:POSIX clock_gettime",
        "multiplexing_api:epoll",
        "atomicvar_api:c11-builtin",
        "gcc_version:" + _GCC_VERSION,
        f"process_id:{server.pid}",
        "process_supervised:" + _supervised(config["supervised"]),
        "run_id:" + server.run_id.decode(),
        f"tcp_port:{server.tcp_port}",
        f"server_time_usec:{int(now * 1_000_000)}",
        f"uptime_in_seconds:{uptime}",
        f"uptime_in_days:{uptime // 86400}",
        f"hz:{config['hz']}",
        f"configured_hz:{config['hz']}",
        f"lru_clock:{int(now) & LRU_CLOCK_MAX}",
        "executable:" + server.executable,
        "config_file:" + config_file,
        "io_threads_active:0",
    ]


def _supervised(mode, environ=os.environ):
    """Redis's process_supervised: the mode only if the supervisor is there."""
    if mode in ("systemd", "auto") and environ.get("NOTIFY_SOCKET"):
        return "systemd"
    if mode in ("upstart", "auto") and environ.get("UPSTART_JOB"):
        return "upstart"
    return "no"


def _query_buffers(server):
    """(largest, total) bytes waiting in clients' query buffers."""
    largest = total = 0
    for client in server.clients.values():
        size = client.conn.query_buffer_size()
        total += size
        largest = max(largest, size)
    return largest, total


def _clients(server):
    largest_query, _ = _query_buffers(server)
    return [
        f"connected_clients:{len(server.clients)}",
        "cluster_connections:0",
        f"maxclients:{server.config['maxclients']}",
        f"client_recent_max_input_buffer:{largest_query}",
        "client_recent_max_output_buffer:0",
        f"blocked_clients:{len(server.blocking)}",
        "tracking_clients:0",
        f"clients_in_timeout_table:{server.blocking.with_timeout()}",
    ]


def _memory(server):
    config = server.config
    sampler = server.sampler
    used = sampler.sample_memory()
    peak = sampler.peak_memory
    startup = sampler.startup_memory
    dataset = used - startup if used > startup else 0
    net_usage = used - startup if used > startup else 1
    system = total_system_memory()
    maxmemory = config["maxmemory"]
    _, query_total = _query_buffers(server)
    return [
        f"used_memory:{used}",
        "used_memory_human:" + bytes_to_human(used),
        f"used_memory_rss:{used}",
        "used_memory_rss_human:" + bytes_to_human(used),
        f"used_memory_peak:{peak}",
        "used_memory_peak_human:" + bytes_to_human(peak),
        f"used_memory_peak_perc:{c_float(used * 100 / peak):.2f}%",
        f"used_memory_overhead:{startup}",
        f"used_memory_startup:{startup}",
        f"used_memory_dataset:{dataset}",
        f"used_memory_dataset_perc:{c_float(dataset * 100 / net_usage):.2f}%",
        f"allocator_allocated:{used}",
        f"allocator_active:{used}",
        f"allocator_resident:{used}",
        f"total_system_memory:{system}",
        "total_system_memory_human:" + bytes_to_human(system),
        # No Lua and no functions engine here: their memory is nil.
        "used_memory_lua:0",
        "used_memory_vm_eval:0",
        "used_memory_lua_human:0B",
        "used_memory_scripts_eval:0",
        "number_of_cached_scripts:0",
        "number_of_functions:0",
        "number_of_libraries:0",
        "used_memory_vm_functions:0",
        "used_memory_vm_total:0",
        "used_memory_vm_total_human:0B",
        "used_memory_functions:0",
        "used_memory_scripts:0",
        "used_memory_scripts_human:0B",
        f"maxmemory:{maxmemory}",
        "maxmemory_human:" + bytes_to_human(maxmemory),
        "maxmemory_policy:" + config["maxmemory-policy"],
        # used_memory is the RSS, so every allocator/RSS ratio is 1.
        "allocator_frag_ratio:1.00",
        "allocator_frag_bytes:0",
        "allocator_rss_ratio:1.00",
        "allocator_rss_bytes:0",
        "rss_overhead_ratio:1.00",
        "rss_overhead_bytes:0",
        "mem_fragmentation_ratio:1.00",
        "mem_fragmentation_bytes:0",
        "mem_not_counted_for_evict:0",
        "mem_replication_backlog:0",
        "mem_total_replication_buffers:0",
        "mem_clients_slaves:0",
        f"mem_clients_normal:{query_total}",
        "mem_cluster_links:0",
        f"mem_aof_buffer:{len(server.aof.buffer)}",
        "mem_allocator:libc",
        "active_defrag_running:0",
        "lazyfree_pending_objects:0",
        "lazyfreed_objects:0",
    ]


def _persistence(server):
    return [
        f"loading:{server.loading:d}",
        "async_loading:0",
        # current_cow_peak ... rdb_last_cow_size: the RDB saves' state.
        *server.persistence.info_fields(),
        f"rdb_last_load_keys_expired:{server.rdb_last_load_keys_expired}",
        f"rdb_last_load_keys_loaded:{server.rdb_last_load_keys_loaded}",
        # aof_enabled ... aof_last_cow_size: the AOF's state.
        *server.aof.info_fields(),
        "module_fork_in_progress:0",
        "module_fork_last_cow_size:0",
        # aof_current_size ... aof_delayed_fsync, only while the AOF is on.
        *server.aof.info_state_fields(),
        # Redis 7.0 ends the section with the progress of a load under way.
        *(server.load_progress.info_fields(server.clock.seconds())
          if server.load_progress is not None else ()),
    ]


def _stats(server):
    sampler = server.sampler
    keyspace = server.keyspace
    repl_in, repl_out = server.net_repl_input_bytes, server.net_repl_output_bytes
    cap_reached = keyspace.active_expire_timelimit_hits
    expire_ms = server.expire_cycle_time_used // 1000
    return [
        f"total_connections_received:{server.total_connections}",
        f"total_commands_processed:{server.total_commands}",
        f"instantaneous_ops_per_sec:{sampler.commands.value()}",
        f"total_net_input_bytes:{server.net_input_bytes + repl_in}",
        f"total_net_output_bytes:{server.net_output_bytes + repl_out}",
        f"total_net_repl_input_bytes:{repl_in}",
        f"total_net_repl_output_bytes:{repl_out}",
        f"instantaneous_input_kbps:{_kbps(sampler.net_input):.2f}",
        f"instantaneous_output_kbps:{_kbps(sampler.net_output):.2f}",
        f"instantaneous_input_repl_kbps:{_kbps(sampler.net_repl_input):.2f}",
        f"instantaneous_output_repl_kbps:{_kbps(sampler.net_repl_output):.2f}",
        f"rejected_connections:{server.rejected_connections}",
        f"sync_full:{server.sync_full}",
        f"sync_partial_ok:{server.sync_partial_ok}",
        f"sync_partial_err:{server.sync_partial_err}",
        f"expired_keys:{keyspace.expired_keys}",
        f"expired_stale_perc:{server.expired_stale_perc * 100:.2f}",
        f"expired_time_cap_reached_count:{cap_reached}",
        f"expire_cycle_cpu_milliseconds:{expire_ms}",
        f"evicted_keys:{server.evicted_keys}",
        "evicted_clients:0",
        "total_eviction_exceeded_time:0",
        "current_eviction_exceeded_time:0",
        f"keyspace_hits:{keyspace.hits}",
        f"keyspace_misses:{keyspace.misses}",
        f"pubsub_channels:{len(server.pubsub.channels)}",
        f"pubsub_patterns:{len(server.pubsub.patterns)}",
        "pubsubshard_channels:0",
        f"latest_fork_usec:{server.latest_fork_usec}",
        f"total_forks:{server.total_forks}",
        "migrate_cached_sockets:0",
        "slave_expires_tracked_keys:0",
        "active_defrag_hits:0",
        "active_defrag_misses:0",
        "active_defrag_key_hits:0",
        "active_defrag_key_misses:0",
        "total_active_defrag_time:0",
        "current_active_defrag_time:0",
        "tracking_total_keys:0",
        "tracking_total_items:0",
        "tracking_total_prefixes:0",
        "unexpected_error_replies:0",
        f"total_error_replies:{server.total_error_replies}",
        f"dump_payload_sanitizations:{server.dump_payload_sanitizations}",
        f"total_reads_processed:{server.total_reads_processed}",
        f"total_writes_processed:{server.total_writes_processed}",
        "io_threaded_reads_processed:0",
        "io_threaded_writes_processed:0",
        "reply_buffer_shrinks:0",
        "reply_buffer_expands:0",
    ]


def _kbps(metric):
    # Redis divides as a C float: (float)bytes_per_sec / 1024.
    return c_float(metric.value() / 1024)


def _replication(server):
    lines = ["role:" + server.role_name().decode()]
    if server.replica.active:
        lines += server.replica.info_fields()
    return lines + server.repl.info_fields()


def _cpu(server):
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [
        f"used_cpu_sys:{me.ru_stime:.6f}",
        f"used_cpu_user:{me.ru_utime:.6f}",
        f"used_cpu_sys_children:{children.ru_stime:.6f}",
        f"used_cpu_user_children:{children.ru_utime:.6f}",
    ]
    if hasattr(resource, "RUSAGE_THREAD"):   # as Redis's #ifdef
        thread = resource.getrusage(resource.RUSAGE_THREAD)
        lines += [
            f"used_cpu_sys_main_thread:{thread.ru_stime:.6f}",
            f"used_cpu_user_main_thread:{thread.ru_utime:.6f}",
        ]
    return lines


def _modules(server):
    return []


def _commandstats(server):
    lines = []
    for cmd in server.table:
        _command_stat(cmd, lines)
        for sub in cmd.subcommands.values():
            _command_stat(sub, lines)
    return lines


def _command_stat(cmd, lines):
    calls = cmd.calls
    if calls or cmd.failed_calls or cmd.rejected_calls:
        per_call = c_float(cmd.usec / calls) if calls else 0.0
        lines.append(
            f"cmdstat_{_safe(cmd.fullname)}:calls={calls},usec={cmd.usec},"
            f"usec_per_call={per_call:.2f},rejected_calls={cmd.rejected_calls},"
            f"failed_calls={cmd.failed_calls}")


def _errorstats(server):
    # Redis keeps error codes in a radix tree: sorted by their bytes.
    return [f"errorstat_{_safe(code)}:count={count}"
            for code, count in sorted(server.errorstats.items())]


def _latencystats(server):
    # Redis fills this from per-command latency histograms; the command path
    # keeps none, so the section reads as Redis's with latency-tracking off.
    return []


def _cluster(server):
    return ["cluster_enabled:0"]


def _keyspace(server):
    return [f"db{db.id}:keys={len(db.data)},expires={len(db.expires)},"
            f"avg_ttl={db.avg_ttl}"
            for db in server.keyspace.dbs if db.data or db.expires]


# Redis's order. A section prints when any of its names was asked for.
_SECTIONS = (
    (("server",), "Server", _server),
    (("clients",), "Clients", _clients),
    (("memory",), "Memory", _memory),
    (("persistence",), "Persistence", _persistence),
    (("stats",), "Stats", _stats),
    (("replication",), "Replication", _replication),
    (("cpu",), "CPU", _cpu),
    (("module_list", "modules"), "Modules", _modules),
    (("commandstats",), "Commandstats", _commandstats),
    (("errorstats",), "Errorstats", _errorstats),
    (("latencystats",), "Latencystats", _latencystats),
    (("cluster",), "Cluster", _cluster),
    (("keyspace",), "Keyspace", _keyspace),
)
