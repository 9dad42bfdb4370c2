"""Exercise 4: graceful stop. SIGTERM (docker stop) mid-loop ends each program with exit 0 well
within the grace period, logging the resources it closes (close lines may be DEBUG, so these
deployments log at DEBUG)."""

import re
import time

from tp0_e2e import client_yaml, run, server_ini

CLOSE_RE = re.compile(r"action: \S*close\S* \| result: success")
LONG_LOOP = client_yaml(amount=300, period="100ms", level="DEBUG")  # 30 s: stopped well before


def closes(log):
    return [line for line in log.splitlines() if CLOSE_RE.search(line)]


def timed_stop(*args):
    start = time.monotonic()
    run(["docker", *args], timeout=60)
    return time.monotonic() - start


def test_sigterm_client(deploy):
    d = deploy(2, "echo", server=server_ini(level="DEBUG"), client=LONG_LOOP)
    d.up()
    for name in d.client_names:
        d.wait_event(name, 30, "receive_message", "success", msg=f"[CLIENT {name[6:]}] Message N°2")
    elapsed = timed_stop("stop", "-t", "20", "client1")
    assert d.state("client1") == ("exited", 0)
    assert elapsed < 10, f"client1 took {elapsed:.1f}s to stop"
    log = d.logs("client1")
    assert closes(log), log
    assert "loop_finished" not in log
    # the other agency and the server are unaffected
    assert d.state("client2")[0] == "running"
    assert d.state("server")[0] == "running"
    d.assert_no_fail(["server", "client1"])


def test_sigterm_server(deploy):
    d = deploy(1, "echo", server=server_ini(level="DEBUG"), client=LONG_LOOP)
    d.up()
    d.wait_event("client1", 30, "receive_message", "success", msg="[CLIENT 1] Message N°2")
    before = len(d.logs("server").splitlines())
    elapsed = timed_stop("stop", "-t", "20", "server")
    assert d.state("server") == ("exited", 0)
    assert elapsed < 10, f"server took {elapsed:.1f}s to stop"
    # the listener, the storage and its file are closed after the signal
    after = "\n".join(d.logs("server").splitlines()[before:])
    assert len(closes(after)) >= 2, after
    # the client loses its server: what it logs next is its own business, not the server's
    d.assert_no_fail(["server"])


def test_sigterm_everything(deploy):
    d = deploy(3, "echo", server=server_ini(level="DEBUG"), client=LONG_LOOP)
    d.up()
    for name in d.client_names:
        d.wait_event(name, 30, "receive_message", "success", msg=f"[CLIENT {name[6:]}] Message N°2")
    before = len(d.logs("server").splitlines())
    start = time.monotonic()
    d.compose("stop", "-t", "10", timeout=60)
    elapsed = time.monotonic() - start
    for name in d.names:
        assert d.state(name) == ("exited", 0), name
        assert closes(d.logs(name)), f"{name} logged no close line"
    assert elapsed < 10, f"compose stop took {elapsed:.1f}s"
    after = "\n".join(d.logs("server").splitlines()[before:])
    assert len(closes(after)) >= 2, after
    d.assert_no_fail()
