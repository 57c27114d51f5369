"""INFO: Redis 7.0.15's sections and fields, and values that follow the server."""

import os
import re

from hypothesis import given
from hypothesis import strategies as st

from redisrepl.commands.info import _supervised, bytes_to_human
from redisrepl.resp.values import ReplyError
from redisrepl.stats import METRIC_SAMPLES, InstantaneousMetric
from tests.unit.harness import Harness

FIELDS_FILE = os.path.join(os.path.dirname(__file__), "data", "info_fields_70.txt")

# A cron period the clock's float adds exactly (0.1 s would round to 99 ms).
TICK = 0.125

# Lines whose names depend on traffic and data, not on the version.
DYNAMIC_FIELD = re.compile(r"(cmdstat_|errorstat_|latency_percentiles_usec_|db\d+$)")


def redis_fields():
    """[(section, [field, ...])] as redis-server 7.0.15 prints INFO everything."""
    sections = []
    with open(FIELDS_FILE) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                sections.append((line[1:-1], []))
            else:
                sections[-1][1].append(line)
    return sections


def parse(text):
    """[(section, [(field, value), ...])] from an INFO reply."""
    sections = []
    for line in text.decode().split("\r\n"):
        if line.startswith("# "):
            sections.append((line[2:], []))
        elif line:
            name, _, value = line.partition(":")
            sections[-1][1].append((name, value))
    return sections


def field(text, name):
    """The value of one INFO field, or None if it is not printed."""
    for _, fields in parse(text):
        for key, value in fields:
            if key == name:
                return value
    return None


def section_names(text):
    return [name for name, _ in parse(text)]


def test_everything_prints_redis_70_fields_in_order(srv):
    """INFO everything has Redis 7.0.15's sections and field names, in order."""
    srv("SET", "k", "v")
    srv("NOSUCHCOMMAND")
    ours = [(name, [key for key, _ in fields if not DYNAMIC_FIELD.match(key)])
            for name, fields in parse(srv("INFO", "everything"))]
    assert ours == redis_fields()


def test_all_is_everything_without_module_sections(srv):
    """INFO all prints the same sections as INFO everything (no modules here)."""
    assert section_names(srv("INFO", "all")) == section_names(srv("INFO", "everything"))


def test_default_sections():
    """INFO with no argument prints Redis's default sections, in its order."""
    srv = Harness()
    expected = ["Server", "Clients", "Memory", "Persistence", "Stats",
                "Replication", "CPU", "Modules", "Errorstats", "Cluster",
                "Keyspace"]
    assert section_names(srv("INFO")) == expected
    assert section_names(srv("INFO", "default")) == expected


def test_sections_print_in_redis_order_not_argument_order(srv):
    """Several sections come out in Redis's order, each once, names any case."""
    reply = srv("INFO", "keyspace", "SERVER", "Server", "commandstats")
    assert section_names(reply) == ["Server", "Commandstats", "Keyspace"]


def test_modules_section_answers_to_both_names(srv):
    """"modules" and "module_list" both select the (empty) Modules section."""
    assert srv("INFO", "modules") == b"# Modules\r\n"
    assert srv("INFO", "module_list") == b"# Modules\r\n"


def test_unknown_section_is_an_empty_reply(srv):
    """An unknown section name gives an empty bulk string, as Redis."""
    assert srv("INFO", "nosuchsection") == b""


def test_crlf_lines_and_a_blank_line_between_sections(srv):
    """Lines end in CRLF; sections are separated by one empty line."""
    reply = srv("INFO", "server", "cluster")
    assert b"\n" not in reply.replace(b"\r\n", b"")
    assert reply.endswith(b"cluster_enabled:0\r\n")
    assert b"io_threads_active:0\r\n\r\n# Cluster\r\n" in reply


def test_server_fields_follow_the_injected_clock(srv):
    """uptime and server time come from the server's clock."""
    srv.advance(86400 + 3661)
    reply = srv("INFO", "server")
    assert field(reply, "uptime_in_seconds") == "90061"
    assert field(reply, "uptime_in_days") == "1"
    now = srv.clock.seconds()
    assert field(reply, "server_time_usec") == str(int(now * 1_000_000))
    assert field(reply, "lru_clock") == str(int(now) & 0xFFFFFF)


def test_server_identity_fields(srv):
    """Version, mode, pid, port and run id are the server's."""
    reply = srv("INFO", "server")
    assert field(reply, "redis_version") == "7.0.15"
    assert field(reply, "redis_mode") == "standalone"
    assert field(reply, "process_id") == str(srv.server.pid)
    assert field(reply, "tcp_port") == str(srv.server.tcp_port)
    assert field(reply, "run_id") == srv.server.run_id.decode()
    assert re.fullmatch(r"[0-9a-f]{40}", field(reply, "run_id"))
    assert field(reply, "hz") == field(reply, "configured_hz") == "10"


def test_process_supervised_needs_the_supervisor_present():
    """process_supervised names a supervisor only when its socket/job is set."""
    assert _supervised("systemd", {"NOTIFY_SOCKET": "/run/x"}) == "systemd"
    assert _supervised("auto", {"NOTIFY_SOCKET": "@x"}) == "systemd"
    assert _supervised("auto", {"UPSTART_JOB": "redis"}) == "upstart"
    assert _supervised("systemd", {}) == "no"
    assert _supervised("no", {"NOTIFY_SOCKET": "/run/x"}) == "no"


def test_clients_and_connections_are_counted(srv):
    """connected_clients and total_connections_received follow the clients."""
    other = srv.new_client()
    srv.new_client()
    srv.server.remove_client(other)
    srv.server.rejected_connections += 1
    clients, stats = srv("INFO", "clients"), srv("INFO", "stats")
    assert field(clients, "connected_clients") == "2"
    assert field(stats, "total_connections_received") == "3"
    assert field(stats, "rejected_connections") == "1"


def test_command_and_keyspace_counters_move(srv):
    """Commands processed, hits and misses, and expired keys are counted."""
    srv("SET", "k", "v")
    srv("GET", "k")
    srv("GET", "missing")
    srv("SET", "t", "v", "PX", "100")
    srv.advance(1)
    srv("GET", "t")
    stats = srv("INFO", "stats")
    assert field(stats, "total_commands_processed") == "5"
    assert field(stats, "keyspace_hits") == "1"
    assert field(stats, "keyspace_misses") == "2"
    assert field(stats, "expired_keys") == "1"


def test_commandstats_count_calls_failures_and_rejections(srv):
    """cmdstat_ lines count calls, failed calls and calls refused up front."""
    srv("SET", "k", "v")
    srv("GET", "k")
    srv("GET", "k")
    srv("GET")                      # wrong arity: rejected
    srv("INCR", "k")                # not an integer: failed
    stats = dict(parse(srv("INFO", "commandstats"))[0][1])
    assert re.fullmatch(r"calls=2,usec=\d+,usec_per_call=\d+\.\d\d,"
                        r"rejected_calls=1,failed_calls=0", stats["cmdstat_get"])
    assert re.fullmatch(r"calls=1,usec=\d+,usec_per_call=\d+\.\d\d,"
                        r"rejected_calls=0,failed_calls=1", stats["cmdstat_incr"])
    assert "cmdstat_info" not in stats   # INFO is counted after it answers


def test_commandstats_name_subcommands_with_a_bar(srv):
    """A subcommand's stats line is named container|sub, as Redis."""
    srv("COMMAND", "COUNT")
    stats = dict(parse(srv("INFO", "commandstats"))[0][1])
    assert stats["cmdstat_command|count"].startswith("calls=1,")


def test_usec_per_call_rounds_as_a_c_float(srv):
    """usec_per_call is computed in single precision, as Redis prints it."""
    get = srv.server.table.lookup(b"get")
    get.calls, get.usec = 40, 3     # 0.075: 0.07 in double, 0.08 in float
    stats = dict(parse(srv("INFO", "commandstats"))[0][1])
    assert stats["cmdstat_get"] == (
        "calls=40,usec=3,usec_per_call=0.08,rejected_calls=0,failed_calls=0")


def test_errorstats_count_each_error_code_in_byte_order(srv):
    """Each error code is counted; the lines are sorted as Redis's rax."""
    srv("SET", "s", "v")
    srv("NOSUCH")
    srv("INCR", "s")
    srv.server.record_error(ReplyError("WRONGTYPE Operation against a key"))
    srv.server.record_error(ReplyError("BUSY:X script"))
    errors = parse(srv("INFO", "errorstats"))[0][1]
    assert errors == [("errorstat_BUSY_X", "count=1"),
                      ("errorstat_ERR", "count=2"),
                      ("errorstat_WRONGTYPE", "count=1")]
    assert field(srv("INFO", "stats"), "total_error_replies") == "4"


def test_keyspace_lists_non_empty_databases(srv):
    """dbN lines show keys and keys with a TTL; empty databases are left out."""
    srv("SET", "a", "1")
    srv("SET", "b", "2", "EX", "100")
    srv("SELECT", "3")
    srv("SET", "c", "3")
    lines = parse(srv("INFO", "keyspace"))[0][1]
    assert lines == [("db0", "keys=2,expires=1,avg_ttl=0"),
                     ("db3", "keys=1,expires=0,avg_ttl=0")]


def test_persistence_reports_an_unsaved_master(srv):
    """rdb_changes_since_last_save is the dirty count; the last save is startup."""
    srv("SET", "a", "1")
    srv("SET", "b", "2")
    reply = srv("INFO", "persistence")
    assert field(reply, "rdb_changes_since_last_save") == "2"
    assert field(reply, "rdb_last_save_time") == str(int(srv.clock.seconds()))
    assert field(reply, "loading") == "0"
    assert field(reply, "aof_enabled") == "0"


def test_replication_describes_a_master_without_replicas(srv):
    """role, replication ids and backlog fields are those of a lone master."""
    reply = srv("INFO", "replication")
    assert field(reply, "role") == "master"
    assert field(reply, "connected_slaves") == "0"
    assert field(reply, "master_failover_state") == "no-failover"
    replid = field(reply, "master_replid")
    assert re.fullmatch(r"[0-9a-f]{40}", replid)
    assert replid != srv.server.run_id.decode()
    assert field(reply, "master_replid2") == "0" * 40
    assert field(reply, "master_repl_offset") == "0"
    assert field(reply, "second_repl_offset") == "-1"
    assert field(reply, "repl_backlog_size") == "1048576"
    assert field(reply, "min_slaves_good_slaves") is None


def test_min_slaves_good_slaves_shows_when_min_replicas_is_set():
    """min_slaves_good_slaves is printed only with min-replicas-to-write set."""
    srv = Harness("min-replicas-to-write 1\n")
    reply = srv("INFO", "replication")
    names = [key for key, _ in parse(reply)[0][1]]
    assert names.index("min_slaves_good_slaves") == names.index("connected_slaves") + 1


def test_memory_fields_are_consistent(srv):
    """used_memory is the RSS and never exceeds its recorded peak."""
    reply = srv("INFO", "memory")
    used = int(field(reply, "used_memory"))
    assert used > 0
    assert int(field(reply, "used_memory_peak")) >= used
    assert field(reply, "used_memory_rss") == str(used)
    assert field(reply, "used_memory_human") == bytes_to_human(used)
    assert field(reply, "maxmemory_policy") == "noeviction"


def test_bytes_to_human_matches_redis():
    """bytesToHuman's output for values read off a real redis-server."""
    assert bytes_to_human(0) == "0B"
    assert bytes_to_human(1023) == "1023B"
    assert bytes_to_human(1024) == "1.00K"
    assert bytes_to_human(990688) == "967.47K"
    assert bytes_to_human(6643712) == "6.34M"
    assert bytes_to_human(25276514304) == "23.54G"
    assert bytes_to_human(1 << 40) == "1.00T"


def test_instantaneous_ops_per_sec_is_sampled_from_the_cron(srv):
    """Commands between 100 ms cron samples become instantaneous_ops_per_sec."""
    for _ in range(METRIC_SAMPLES):
        for _ in range(5):
            srv("PING")
        srv.advance(TICK)
        srv.server.cron()
    assert field(srv("INFO", "stats"), "instantaneous_ops_per_sec") == "40"


def test_instantaneous_kbps_follow_network_bytes(srv):
    """Bytes in and out between samples become instantaneous_*_kbps."""
    server = srv.server
    for _ in range(METRIC_SAMPLES):
        server.net_input_bytes += 12800      # 100 KiB/s
        server.net_output_bytes += 640       # 5 KiB/s
        srv.advance(TICK)
        server.cron()
    stats = srv("INFO", "stats")
    assert field(stats, "instantaneous_input_kbps") == "100.00"
    assert field(stats, "instantaneous_output_kbps") == "5.00"
    assert field(stats, "total_net_input_bytes") == str(12800 * METRIC_SAMPLES)


def test_rates_are_sampled_every_100ms_whatever_the_hz():
    """At hz 100 the cron samples the rates once every 10 ticks."""
    srv = Harness("hz 100\n")
    sampler = srv.server.sampler
    for _ in range(20):
        srv.advance(0.01)
        srv.server.cron()
    assert sampler.commands.index == 2


def test_reset_stats_clears_counters_and_rates(srv):
    """CONFIG RESETSTAT's reset zeroes the counters and the sampled rates."""
    for _ in range(3):
        srv("PING")
        srv.advance(TICK)
        srv.server.cron()
    srv.server.reset_stats()
    stats = srv("INFO", "stats")
    assert field(stats, "instantaneous_ops_per_sec") == "0"
    assert field(stats, "total_commands_processed") == "0"


@given(per_ms=st.integers(0, 10**6), tick_ms=st.integers(1, 10_000),
       start=st.integers(0, 10**12))
def test_steady_rate_reads_back_exactly(per_ms, tick_ms, start):
    """A counter growing steadily reads back as its per-second rate."""
    metric = InstantaneousMetric(start)
    reading, now = 0, start
    for _ in range(METRIC_SAMPLES):
        now += tick_ms
        reading += per_ms * tick_ms
        metric.track(now, reading)
    assert metric.value() == per_ms * 1000


def test_rate_is_the_mean_of_the_last_samples():
    """The metric averages its last 16 samples, older ones drop out."""
    metric = InstantaneousMetric(0)
    for tick in range(1, METRIC_SAMPLES + 1):
        metric.track(tick * 1000, tick * 32)       # 32 per second
    assert metric.value() == 32
    metric.track((METRIC_SAMPLES + 1) * 1000, METRIC_SAMPLES * 32)  # idle second
    assert metric.value() == 32 * (METRIC_SAMPLES - 1) // METRIC_SAMPLES
