"""Fixtures of the native integration tests: every process a test starts is killed at the end of
that test, and a test fails if anything of the programs under test is left running."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # contract_log, shared with e2e

import tp0harness as h  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes several seconds (still run by default)")
    config.addinivalue_line("markers", "heavy: skipped under valgrind (TP0_VALGRIND=1)")
    config.addinivalue_line("markers", "no_binaries: runs without the programs built")
    h.become_subreaper()


def pytest_collection_modifyitems(config, items):
    if not h.VALGRIND:
        return
    skip = pytest.mark.skip(reason="too heavy under valgrind")
    for item in items:
        if "heavy" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    return (f"tp0: TP0_BIN={h.BIN} valgrind={'yes' if h.VALGRIND else 'no'} "
            f"timeout factor={h.FACTOR:g}")


@pytest.fixture(autouse=True)
def _programs_built(request):
    if request.node.get_closest_marker("no_binaries"):
        return
    missing = h.missing_binaries()
    if missing:
        pytest.fail(f"not built in {h.BIN}: {', '.join(missing)} (run `make all`)",
                    pytrace=False)


@pytest.fixture(autouse=True)
def _no_leftovers(request):
    """Kills whatever this test started, then checks nothing was orphaned, and (under valgrind)
    that no program reported an error."""
    first = len(h.STARTED)
    yield
    mine = h.STARTED[first:]
    problems = []
    for proc in reversed(mine):
        proc.cleanup()
        if getattr(proc, "forced", False):
            problems.append(f"{proc.name} did not stop within {h.T(8):.0f}s of SIGTERM at the "
                            f"end of the test; killed\n" + proc.describe())
    left = h.reap_orphans()
    if left:
        problems.append("processes outlived the test: " + "; ".join(left))
    if h.VALGRIND:
        for proc in mine:
            errs = proc.valgrind_errors()
            if errs:
                problems.append(f"valgrind errors in {proc.name}:\n" + "\n".join(errs[:60]))
    del h.STARTED[first:]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def work(tmp_path):
    return tmp_path


@pytest.fixture
def server(tmp_path):
    """Factory: server(name="server", config={...}, env={...}, wait=True) -> h.Server."""
    def make(name="server", config=None, env=None, wait=True, **kw):
        return h.start_server(tmp_path / name, config, env, wait=wait, name=name, **kw)
    return make


@pytest.fixture
def client(tmp_path):
    """Factory: client(id, address, env=None, name=None, **config) -> h.Client (started)."""
    def make(id, address, env=None, name=None, **cfg):
        name = name or f"client{id}"
        return h.start_client(tmp_path / name, id, address, env=env, name=name, **cfg)
    return make
