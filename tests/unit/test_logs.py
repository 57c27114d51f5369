"""Log lines in Redis's format, filtered by loglevel, written to logfile."""

from twisted.logger import Logger, LogLevel, LogPublisher

from redisrepl.config import Config
from redisrepl.logs import RedisLogObserver, redis_line


def test_line_format_matches_redis():
    """pid:role date time.ms mark message, with '*' for notice."""
    event = {"log_format": "Ready to accept connections {kind}", "kind": "tcp",
             "log_level": LogLevel.info, "log_time": 1700000000.25}
    line = redis_line(event, 1234, lambda: "M")
    assert line.startswith("1234:M ")
    assert ".250 * Ready to accept connections tcp\n" in line


def test_warning_mark_is_hash():
    """Warnings carry '#', as Redis's LL_WARNING."""
    event = {"log_format": "x", "log_level": LogLevel.warn, "log_time": 0}
    assert " # x\n" in redis_line(event, 1, lambda: "M")


def _publisher_with(config):
    observer = RedisLogObserver(config, 99)
    publisher = LogPublisher(observer)
    return Logger(observer=publisher), observer


def test_loglevel_filters_and_logfile_is_written(tmp_path):
    """Events below loglevel are dropped; the rest land in logfile."""
    path = tmp_path / "redis.log"
    config = Config()
    config.load_text(f'logfile "{path}"\nloglevel warning\n')
    log, _ = _publisher_with(config)
    log.info("quiet")
    log.warn("loud {n}", n=1)
    text = path.read_text()
    assert "quiet" not in text
    assert "# loud 1" in text


def test_loglevel_change_applies_live(tmp_path):
    """CONFIG SET loglevel takes effect on the next event."""
    path = tmp_path / "redis.log"
    config = Config()
    config.load_text(f'logfile "{path}"\nloglevel warning\n')
    log, _ = _publisher_with(config)
    log.info("before")
    config.set_many([(b"loglevel", b"notice")])
    log.info("after")
    text = path.read_text()
    assert "before" not in text and "* after" in text


def test_a_forked_child_logs_with_its_own_pid_and_role_c():
    """After mark_child(), lines carry the child's pid and role C, as Redis's BGSAVE child."""
    import os

    from redisrepl import logs

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        logs.mark_child()
        line = redis_line({"log_format": "x", "log_time": 0}, 1, lambda: "M")
        os.write(write_end, line.encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    line = os.read(read_end, 1000).decode()
    os.close(read_end)
    assert line.startswith(f"{pid}:C ")
    assert redis_line({"log_format": "x", "log_time": 0}, 1, lambda: "M").startswith("1:M ")
