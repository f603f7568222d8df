"""Shared by the chronos module/state tests: Salt loaders once per test
module, calls bound to this test's stand-in URL."""

import pytest

from tests.functional.marathon_support import build_loaders


@pytest.fixture(scope="module")
def chronos_loaders(tmp_path_factory):
    loaders = build_loaders(tmp_path_factory.mktemp("chronos-loaders"))
    yield loaders
    loaders.reset_state()


class BoundToURL:
    """Calls ``functions.<name>`` with ``url=`` this test's Chronos added."""

    def __init__(self, functions, url):
        self._functions = functions
        self._url = url

    def __getattr__(self, name):
        function = getattr(self._functions, name)

        def call(*args, **kwargs):
            return function(*args, **{"url": self._url, **kwargs})

        return call


@pytest.fixture
def chronos(chronos_loaders, chronos_server):
    return BoundToURL(chronos_loaders.modules.chronos, chronos_server.url)


@pytest.fixture
def chronos_job(chronos_loaders, chronos_server):
    return BoundToURL(chronos_loaders.states.chronos_job, chronos_server.url)
