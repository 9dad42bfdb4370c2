"""Stops in the middle of things: SIGTERM during ingest and while winners queries are held, a
client killed mid-stream (and restarted: exactly once), a child that will not stop. A server
child killed outright is restarted: see test_heal.py."""

import os
import signal
import subprocess
import time

import pytest

import tp0harness as h


def clean_server_exit(srv, timeout=10):
    rc = srv.stop(timeout)
    assert rc == 0, f"supervisor exit {rc} after SIGTERM\n" + srv.describe(60)
    for name in ("acceptor", "storage"):
        assert srv.log.first("child_exit", "success", name=name), \
            f"no clean child_exit for {name}\n" + srv.describe(60)
    bad = [ln.raw for ln in srv.log.lines() if ln.ok and (
        ln.action in ("worker_kill", "child_kill") or (ln.action == "worker_exit"
                                                      and ln.result == "fail"))]
    assert not bad, "a server process did not stop cleanly:\n" + "\n".join(bad)
    srv.assert_all_gone()


def stored_prefix(srv, bets, agency=1):
    """bets.csv holds a prefix of the agency's file in order, every row parsing; its length."""
    rows = h.read_bets_csv(srv.bets_path())
    mine = [b for a, b in rows if a == agency]
    assert len(mine) == len(rows)
    assert mine == bets[:len(mine)], "stored rows are not the file's first rows in order"
    return len(mine)


def acked(srv):
    return sum(int(ln.get("cantidad")) for ln in srv.log.find("apuesta_recibida", "success"))


def start_big_ingest(server, client, work, rows=20000, max_amount=10, level="INFO", seed=3):
    path = h.agency_gen(work / "agency-1.csv", rows, 5, seed)
    bets = h.read_agency_csv(path)
    assert len(bets) == rows
    srv = server(config={"AGENCIES": 1, "LOGGING_LEVEL": level})
    cli = client(1, srv.address, mode="lottery", bets_file=str(path), max_amount=max_amount,
                 attempts=2)
    h.wait_for(lambda: len(srv.log.find("apuesta_recibida", "success")) >= 3, 20,
               "the first apuesta_recibida lines", srv.describe, poll=0.002)
    return srv, cli, bets


@pytest.mark.slow
def test_sigterm_during_ingest(server, client, work):
    srv, cli, bets = start_big_ingest(server, client, work)
    if srv.log.find("sorteo") or not cli.running():
        pytest.skip("the ingest finished before the stop could interrupt it")
    clean_server_exit(srv)
    cli.wait(15, "client whose server went away")
    assert not srv.log.find("sorteo"), "a draw with an agency unfinished"
    n = stored_prefix(srv, bets)
    assert 0 < n < len(bets)
    assert n == acked(srv), f"{n} rows stored but {acked(srv)} acknowledged"
    assert n % 10 == 0, f"{n} rows: a batch of 10 was split"


def test_sigterm_with_held_query(server, client, work):
    bets = h.make_bets(1, 30, 2)
    path = h.write_agency_csv(work / "agency-1.csv", bets)
    srv = server(config={"AGENCIES": 2, "LOGGING_LEVEL": "DEBUG"})
    cli = client(1, srv.address, mode="lottery", bets_file=str(path), max_amount=10,
                 attempts=2)
    srv.wait_line(20, "winners_query", "in_progress", agency=1)
    assert cli.running(), "the client did not wait for the draw\n" + cli.describe()
    clean_server_exit(srv)
    cli.wait(15, "client held for the draw after the server stopped")
    assert not cli.log.find("consulta_ganadores", "success"), "winners before any draw"
    assert not srv.log.find("sorteo")
    assert stored_prefix(srv, bets) == 30


@pytest.mark.slow
def test_client_sigkill_then_restart_is_exactly_once(server, client, work):
    srv, cli, bets = start_big_ingest(server, client, work, level="DEBUG", seed=4)
    if not cli.running():
        pytest.skip("the ingest finished before the client could be killed")
    cli.signal(signal.SIGKILL)
    cli.wait(5)
    h.wait_for(lambda: srv.log.find("worker_exit"), 10, "the killed client's worker to end",
               srv.describe)
    n = stored_prefix(srv, bets)
    assert n % 10 == 0, f"{n} rows: a batch of 10 was split"
    again = client(1, srv.address, mode="lottery", bets_file=str(work / "agency-1.csv"),
                   max_amount=10, name="client1_again")
    assert again.wait(120) == 0, again.describe()
    assert again.log.first("consulta_ganadores", "success").get("cant_ganadores") == "5"
    assert stored_prefix(srv, bets) == len(bets), "duplicates or losses after the restart"
    assert len(srv.log.find("sorteo", "success")) == 1
    clean_server_exit(srv)


def signal_pending(pid, signo):
    """Whether signo is pending (blocked, not yet taken) in process pid."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except FileNotFoundError:
        return False
    mask = 1 << (signo - 1)
    return any(int(fields.get(k, "0").strip(), 16) & mask for k in ("SigPnd", "ShdPnd"))


def test_stopping_worker_finishes_in_flight_request_only(server):
    """After SIGTERM a worker answers the request it already forwarded (the batches it had read
    when it forwarded them, at most 16 in one request), but does not go on serving the requests
    its client had queued behind it (they never make it wait, so the signal would otherwise stay
    blocked until the client stopped sending)."""
    srv = server(config={"AGENCIES": 1, "LOGGING_LEVEL": "DEBUG"})
    storage = srv.child_pid("storage")
    h.sigstop(storage)
    try:
        peer = h.Peer(srv.port)
        batches = [h.batch_frame(1, seq, [h.Bet("Ana", "Paz", str(30_000_000 + seq * 10 + i),
                                                "1990-05-17", 100 + i) for i in range(5)])
                   for seq in range(40)]
        peer.send(b"".join(batches))
        worker = int(srv.wait_line(10, "worker_start", "success").get("pid"))
        # With the client's bytes already there, a worker asleep can only be waiting for the
        # stopped storage to answer the first batch.
        h.wait_for(lambda: h.read_stat(worker) and h.read_stat(worker).state == "S", 10,
                   "the worker waiting for storage", srv.describe)
        srv.signal(signal.SIGTERM)
        h.wait_for(lambda: signal_pending(worker, signal.SIGTERM), 10,
                   "SIGTERM pending in the worker", srv.describe)
    finally:
        os.kill(storage, signal.SIGCONT)
    acked = 0
    with peer:
        r = peer.reply()
        while r["type"] == "ACK":
            assert (r.get("seq"), r.get("count")) == (acked, 5), r
            acked += 1
            r = peer.reply()
        assert (r["type"], r.get("code")) == ("ERROR", h.E_SHUTTING_DOWN), r
    assert 1 <= acked <= 16, f"{acked} batches answered after SIGTERM"
    assert srv.wait(10) == 0, srv.describe()
    assert len(h.read_bets_csv(srv.bets_path())) == 5 * acked, \
        "queued batches were stored after SIGTERM"
    srv.assert_all_gone()


def test_second_signal_does_not_extend_the_grace_period(server):
    """Asking again to stop repeats the SIGTERM but keeps the deadline: a child that ignores it
    is killed on time, however often the stop is asked for."""
    srv = server()
    acceptor = srv.child_pid("acceptor")
    h.sigstop(acceptor)  # a child that will not stop by itself
    started = time.monotonic()
    srv.signal(signal.SIGTERM)
    while srv.running() and time.monotonic() - started < 20:
        srv.signal(signal.SIGINT)
        try:
            srv.popen.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
    elapsed = time.monotonic() - started
    assert not srv.running(), "still running 20 s after the first SIGTERM\n" + srv.describe()
    # 6 s of grace for the acceptor, then storage stops at once.
    assert elapsed < 12, f"stopped after {elapsed:.1f}s: the repeated signals extended the grace"
    assert srv.returncode != 0, "a child had to be killed, yet exit 0"
    assert srv.log.first("child_kill", "fail", name="acceptor"), srv.describe()
    srv.assert_all_gone()
