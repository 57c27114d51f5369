"""The twistd plugin's options: --config plus redis-server style overrides."""

import pytest
from twisted.python import usage

from redisrepl.tap import Options, makeService


def test_config_file_and_overrides(tmp_path):
    """Directives after --config override the file, as redis-server allows."""
    conf = tmp_path / "r.conf"
    conf.write_text("port 7000\nhz 10\n")
    options = Options()
    options.parseOptions(["--config", str(conf), "--port", "7001",
                          "--save", "900", "1"])
    config = options.redis_config
    assert config["port"] == 7001
    assert config["hz"] == 10
    assert config["save"] == [(900, 1)]
    assert config.path == str(conf)


def test_bad_directive_is_a_usage_error(tmp_path):
    """A bad directive stops start-up with Redis's FATAL CONFIG FILE ERROR."""
    conf = tmp_path / "r.conf"
    conf.write_text("port 7000\nnot-a-directive yes\n")
    with pytest.raises(usage.UsageError) as info:
        Options().parseOptions(["--config", str(conf)])
    assert "FATAL CONFIG FILE ERROR" in str(info.value)
    assert "not-a-directive" in str(info.value)


def test_missing_file_is_a_usage_error(tmp_path):
    """A config path that cannot be opened is reported, not a traceback."""
    with pytest.raises(usage.UsageError) as info:
        Options().parseOptions(["--config", str(tmp_path / "nope.conf")])
    assert "can't open config file" in str(info.value)


def test_make_service_builds_the_service_tree():
    """makeService returns the MultiService with listeners and cron."""
    options = Options()
    options.parseOptions(["--port", "0"])
    service = makeService(options)
    names = sorted(type(child).__name__ for child in service)
    assert names == ["CronService", "ListenerService"]
