"""Exercises 1-4: the echo server and the echo client, graceful stops, misbehaving peers."""

import signal
import socket
import time
from collections import Counter

import pytest

import tp0harness as h


def expected_msgs(cid, amount):
    return [f"[CLIENT {cid}] Message N°{n}" for n in range(1, amount + 1)]


def assert_strict_format(*procs):
    bad = []
    for p in procs:
        bad += [f"{p.name}: {ln.raw!r}" for ln in p.log.lines() if not h.strict_format_ok(ln.raw)]
    assert not bad, "lines not in the contract's format:\n" + "\n".join(bad[:20])


def assert_echo_client_ok(cli, cid, amount):
    rc = cli.wait(15 + amount)
    assert rc == 0, cli.describe()
    got = [ln.get("msg") for ln in cli.log.find("receive_message", "success", client_id=cid)]
    assert got == expected_msgs(cid, amount), cli.describe()
    assert len(cli.log.find("loop_finished", "success", client_id=cid)) == 1, cli.describe()
    assert not cli.log.fails(), cli.describe()


def echo_works(srv, client, cid=99, amount=2):
    """A real echo client afterwards still gets every message back."""
    cli = client(cid, srv.address, amount=amount, period="10ms", name=f"client_after_{cid}")
    assert_echo_client_ok(cli, cid, amount)
    assert srv.running(), srv.describe()


@pytest.mark.parametrize("messages", [1, 5])
@pytest.mark.parametrize("clients", [1, 2, 5])
def test_echo_clients(server, client, clients, messages):
    srv = server()
    cfg = srv.log.first("config", "success")
    assert cfg and cfg.keys[:3] == ["port", "listen_backlog", "logging_level"], srv.describe()
    clis = [client(i, srv.address, amount=messages, period="50ms") for i in range(1, clients + 1)]
    for i, cli in enumerate(clis, 1):
        assert_echo_client_ok(cli, i, messages)
        cl = cli.log.first("config", "success")
        assert [cl.get(k) for k in ("client_id", "server_address", "loop_amount",
                                    "loop_period", "log_level")] == \
            [str(i), srv.address, str(messages), "50ms", "INFO"], str(cl)
    want = Counter(m for i in range(1, clients + 1) for m in expected_msgs(i, messages))
    h.wait_for(lambda: len(srv.log.find("receive_message", "success")) >= sum(want.values()), 5,
               "the server's receive_message lines", srv.describe)
    lines = srv.log.find("receive_message", "success")
    assert Counter(ln.get("msg") for ln in lines) == want, srv.describe(80)
    assert all(ln.keys[:2] == ["ip", "msg"] and ln.get("ip") == "127.0.0.1" for ln in lines), \
        [str(ln) for ln in lines]
    assert len(srv.log.find("accept_connections", "success", ip="127.0.0.1")) >= sum(
        want.values())
    assert srv.log.find("accept_connections", "in_progress")
    assert srv.running(), "the server stopped when clients disconnected\n" + srv.describe()
    assert not srv.log.fails(), srv.describe()
    assert_strict_format(srv, *clis)
    assert srv.stop() == 0, srv.describe()
    srv.assert_all_gone()


def test_sigterm_supervisor_mid_loop(server, client):
    srv = server()
    cli = client(1, srv.address, amount=1000, period="50ms", attempts=3)
    cli.wait_line(10, "receive_message", "success", count=2, client_id=1)
    rc = srv.stop(timeout=2)
    assert rc == 0, srv.describe()
    assert srv.stop_seconds <= h.T(2)
    srv.assert_all_gone()
    log = srv.log
    order = []
    for action, fields in [("listener_close", {}), ("child_exit", {"name": "acceptor"}),
                           ("child_exit", {"name": "storage"}), ("runtime_dir_close", {})]:
        ln = log.first(action, "success", **fields)
        assert ln is not None, f"no `{action} | success {fields}` line\n" + srv.describe(60)
        order.append(ln.index)
    assert order == sorted(order), "stop order is not listener, acceptor, storage, runtime dir"
    last = [ln for ln in log.lines() if ln.ok][-1]
    assert last.action == "shutdown" and last.result == "success", \
        "the supervisor's last line is not `shutdown | result: success`\n" + srv.describe()
    assert not log.fails(), srv.describe()
    # The client, now without a server, still stops cleanly on SIGTERM (or has given up).
    cli.signal(signal.SIGTERM)
    cli.wait(5)
    if cli.log.find("connect", "fail"):
        assert cli.returncode != 0
    else:
        assert cli.returncode == 0, cli.describe()


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_client_mid_sleep(server, client, signo):
    srv = server()
    cli = client(2, srv.address, amount=3, period="30s")
    cli.wait_line(10, "receive_message", "success", client_id=2)
    cli.signal(signo)
    assert cli.wait(1.5) == 0, cli.describe()
    assert not cli.log.find("loop_finished"), "loop_finished after a stop mid-loop"
    assert srv.running()


def test_client_retries_until_server_starts(server, client):
    port = h.free_port()
    cli = client(5, f"127.0.0.1:{port}", amount=2, period="20ms", attempts=30)
    cli.wait_line(10, "connect", "in_progress")
    srv = server(config={"SERVER_PORT": port})
    assert srv.port == port
    assert_echo_client_ok(cli, 5, 2)
    assert cli.log.find("connect", "in_progress"), cli.describe()
    assert not cli.log.fails(), "a retried connect must log in_progress, never fail"


def test_max_workers_cap_queues_clients(server, client):
    srv = server(config={"MAX_WORKERS": 1})
    clis = [client(i, srv.address, amount=3, period="10ms") for i in range(1, 5)]
    for i, cli in enumerate(clis, 1):
        assert_echo_client_ok(cli, i, 3)
    assert srv.running()


def test_max_workers_cap_drains_the_longest_waiting(server):
    """MAX_WORKERS is the cap: with two silent peers holding both workers, a third connection
    makes the acceptor drain exactly one worker, the one that has waited longest (not the
    youngest), and the newcomer gets its slot. (Under a larger cap the third would simply be accepted.)"""
    srv = server(config={"MAX_WORKERS": 2, "LOGGING_LEVEL": "DEBUG", "IDLE_TIMEOUT": "60s",
                         "FRAME_TIMEOUT": "60s"})
    assert srv.log.first("listen", "success").get("max_workers") == "2", srv.describe()
    peers = []
    try:
        for n in (1, 2):
            peers.append(socket.create_connection(("127.0.0.1", srv.port), timeout=h.T(5)))
            srv.wait_line(10, "worker_start", "success", count=n)
            # The acceptor keeps a worker's start in milliseconds: two started within one would
            # tie, and a tie hides which one the acceptor prefers. So they start apart.
            started = time.monotonic()
            h.wait_for(lambda: time.monotonic() - started >= 0.02, 1, "20 ms between starts")
        first, second = [int(ln.get("pid")) for ln in srv.log.find("worker_start", "success")]
        # Both must be drainable, older than the acceptor's 50 ms of grace for a fresh worker,
        # so that the choice between them is the acceptor's: a wait for age, not for an event.
        seen = time.monotonic()
        h.wait_for(lambda: time.monotonic() - seen >= 0.2, 1, "both workers 200 ms old")
        peers.append(socket.create_connection(("127.0.0.1", srv.port), timeout=h.T(5)))
        drain = srv.wait_line(10, "worker_drain", "success")
        assert drain.get("pid") == str(first), f"drained {drain}, not the oldest ({first})"
        srv.wait_line(10, "worker_start", "success", count=3)
        data, how = h.read_until_eof(peers[0], 5)
        assert how != "timeout" and data == b"", (data, how)
        assert h.alive(second), "the younger silent peer's worker was drained too"
        assert len(srv.log.find("worker_drain", "success")) == 1, srv.describe()
        # The newcomer is served in the drained one's place.
        peers[2].sendall(b"hola\n")
        data, how = h.read_until_eof(peers[2], 5)
        assert data == b"hola\n", (data, how)
    finally:
        for p in peers:
            p.close()


# --- raw peers ---------------------------------------------------------------------------------

def test_overlong_line(server, client):
    srv = server()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=h.T(5)) as s:
        s.sendall(b"x" * 10000)
        data, how = h.read_until_eof(s, 5)
    assert how != "timeout", f"connection not closed after an over-long line (got {data!r})"
    assert data == b"ERROR line too long\n", f"got {data!r} then {how}"
    srv.wait_line(5, "receive_line", "fail")
    echo_works(srv, client)


def test_peer_sends_nothing_and_closes(server, client):
    srv = server()
    socket.create_connection(("127.0.0.1", srv.port), timeout=h.T(5)).close()
    srv.wait_line(5, "receive_first_byte", "fail")
    echo_works(srv, client)


def test_peer_closes_mid_line(server, client):
    srv = server()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=h.T(5)) as s:
        s.sendall(b"hola sin fin")
        s.shutdown(socket.SHUT_WR)
        data, how = h.read_until_eof(s, 5)
    assert data == b"" and how != "timeout", f"got {data!r} then {how}"
    srv.wait_line(5, "receive_line", "fail")
    assert not srv.log.find("receive_message", "success"), "a partial line was echoed"
    echo_works(srv, client)


def test_idle_peer_is_closed_others_served(server, client):
    """IDLE_TIMEOUT closes a silent echo peer (FRAME_TIMEOUT is far longer here, so it is
    IDLE_TIMEOUT that does it) while others are served."""
    srv = server(config={"IDLE_TIMEOUT": h.scaled_duration(1.5), "FRAME_TIMEOUT": "60s"})
    idle = socket.create_connection(("127.0.0.1", srv.port), timeout=h.T(5))
    start = time.monotonic()
    try:
        echo_works(srv, client, cid=11, amount=1)  # served while the idle peer is connected
        data, how = h.read_until_eof(idle, 6)
        took = time.monotonic() - start
        assert how != "timeout", "the idle peer was never closed"
        assert took <= h.T(1.5) + h.T(3), f"closed after {took:.2f}s, IDLE_TIMEOUT 1.5s"
        assert data == b"", f"unexpected bytes to an idle echo peer: {data!r}"
    finally:
        idle.close()
    srv.wait_line(5, "receive_first_byte", "fail")
    echo_works(srv, client, cid=12, amount=1)


@pytest.mark.parametrize("sent,logged", [
    (b"hola\n", "hola"),
    (b"hola\r\n", "hola"),
    (b"a|b c\n", "a b c"),
    ("Año N°1 ñandú\n".encode(), "Año N°1 ñandú"),
], ids=["plain", "crlf", "pipe", "utf8"])
def test_nc_equivalent(server, client, sent, logged):
    """printf 'hola\\n' | nc 127.0.0.1 P"""
    srv = server()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=h.T(5)) as s:
        s.sendall(sent)
        s.shutdown(socket.SHUT_WR)
        data, how = h.read_until_eof(s, 5)
    assert data == sent and how == "eof", f"got {data!r} then {how}"
    line = srv.wait_line(5, "receive_message", "success")
    assert line.get("msg") == logged and line.get("ip") == "127.0.0.1", str(line)
    echo_works(srv, client)
    assert srv.stop() == 0
    srv.assert_all_gone()
