import pytest

from tests.unit.harness import Harness


@pytest.fixture
def srv():
    """A fresh sans-IO server with default configuration."""
    return Harness()
