import pytest
from twisted.logger import formatEvent, globalLogPublisher

from tests.unit.harness import Harness


@pytest.fixture
def srv():
    """A fresh sans-IO server with default configuration."""
    return Harness()


@pytest.fixture(autouse=True)
def _work_in_tmp_dir(tmp_path, monkeypatch):
    """Every unit test runs in its own empty directory: SAVE, FLUSHALL and
    SHUTDOWN write dump.rdb to the working directory (Redis's ``dir``)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def logged():
    """The text of every log event emitted during the test."""
    lines = []

    def observer(event):
        lines.append(formatEvent(event))
    globalLogPublisher.addObserver(observer)
    yield lines
    globalLogPublisher.removeObserver(observer)
