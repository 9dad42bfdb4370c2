"""Stops in the middle of things: SIGTERM during ingest and while winners queries are held, a
client killed mid-stream (and restarted: exactly once), a child or a worker that will not stop
(each killed after its grace period), a child dying during the stop, the stop's order. A server
child killed outright while running is restarted: see test_heal.py."""

import os
import signal
import subprocess
import time

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


def forwarding(pid):
    """Whether worker pid has forwarded a request to storage: its nng socket, opened for the
    first request only (after a whole valid frame was read), runs threads of its own."""
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except FileNotFoundError:
        return False


def start_paused_ingest(server, client, work, rows=2000, max_amount=10, seed=3):
    """An agency streaming into a server whose storage is paused (SIGSTOP): once its worker has
    forwarded the first batches, the stream is stuck mid-way (at most a window of batches sent)
    until storage is continued, which the caller does. Returns (srv, cli, bets, storage pid)."""
    path = h.agency_gen(work / "agency-1.csv", rows, 5, seed)
    bets = h.read_agency_csv(path)
    assert len(bets) == rows
    srv = server(config={"AGENCIES": 1, "LOGGING_LEVEL": "DEBUG"})
    storage = srv.child_pid("storage")
    h.sigstop(storage)
    try:
        cli = client(1, srv.address, mode="lottery", bets_file=str(path),
                     max_amount=max_amount, attempts=2)
        worker = int(srv.wait_line(10, "worker_start", "success").get("pid"))
        h.wait_for(lambda: forwarding(worker), 10, "the worker forwarding the first batches",
                   srv.describe)
    except BaseException:
        os.kill(storage, signal.SIGCONT)
        raise
    return srv, cli, bets, storage


def test_sigterm_during_ingest(server, client, work):
    """SIGTERM in the middle of an agency's stream (the agency paused there, so the stop always
    lands mid-stream): what was acknowledged is stored, whole batches only, and no draw."""
    srv, cli, bets, storage = start_paused_ingest(server, client, work)
    try:
        h.sigstop(cli.pid)
    finally:
        os.kill(storage, signal.SIGCONT)
    try:
        # Storage answers what the worker forwarded; the agency, paused, sends no more.
        h.wait_for(lambda: srv.log.find("apuesta_recibida", "success"), 10,
                   "the forwarded batches stored", srv.describe)
        clean_server_exit(srv)
    finally:
        os.kill(cli.pid, signal.SIGCONT)
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


def test_client_sigkill_then_restart_is_exactly_once(server, client, work):
    """An agency SIGKILLed mid-stream (while storage, paused, holds its first batches) and
    started again: every bet stored exactly once, and its winners."""
    srv, cli, bets, storage = start_paused_ingest(server, client, work, seed=4)
    try:
        cli.signal(signal.SIGKILL)
        cli.wait(5)
    finally:
        os.kill(storage, signal.SIGCONT)
    h.wait_for(lambda: srv.log.find("worker_exit"), 10, "the killed client's worker to end",
               srv.describe)
    n = stored_prefix(srv, bets)
    assert 0 < n < len(bets), n
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
    # 6 s of grace for the acceptor (counted from when the supervisor got the first SIGTERM,
    # after `started`), then storage stops at once.
    assert elapsed >= 5.95, f"the acceptor was killed after {elapsed:.2f}s, before its 6 s"
    assert elapsed < 12, f"stopped after {elapsed:.1f}s: the repeated signals extended the grace"
    assert srv.returncode == 1, f"a child had to be killed: exit {srv.returncode}, not 1"
    assert srv.log.first("child_kill", "fail", name="acceptor"), srv.describe()
    srv.assert_all_gone()


def supervisor_waiting(srv):
    """Whether the supervisor is asleep (in its poll: it has done what it had to)."""
    st = h.read_stat(srv.pid)
    return st is not None and st.state == "S"


def test_storage_is_signalled_only_after_the_acceptor_is_gone(server):
    """Stopping goes in reverse order of starting: while the acceptor (paused, so it cannot
    stop) is within its grace period, storage (paused too, so a signal stays pending where the
    test can see it) has not been signalled; once the acceptor has exited, storage gets its
    SIGTERM, and the stop is clean."""
    srv = server()
    acceptor, storage = srv.child_pid("acceptor"), srv.child_pid("storage")
    h.sigstop(acceptor)
    h.sigstop(storage)
    try:
        srv.signal(signal.SIGTERM)
        h.wait_for(lambda: signal_pending(acceptor, signal.SIGTERM), 10,
                   "SIGTERM pending in the acceptor", srv.describe)
        h.wait_for(lambda: supervisor_waiting(srv), 10, "the supervisor back in its poll",
                   srv.describe)
        assert not signal_pending(storage, signal.SIGTERM), \
            "storage was signalled while the acceptor was still running"
        os.kill(acceptor, signal.SIGCONT)
        srv.wait_line(10, "child_exit", "success", name="acceptor")
        h.wait_for(lambda: signal_pending(storage, signal.SIGTERM), 10,
                   "SIGTERM pending in storage once the acceptor is gone", srv.describe)
    finally:
        for pid in (acceptor, storage):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert srv.wait(10) == 0, srv.describe()
    exits = [srv.log.first("child_exit", "success", name=n) for n in ("acceptor", "storage")]
    assert all(exits) and exits[0].index < exits[1].index, srv.describe()
    srv.assert_all_gone()


def test_storage_that_ignores_sigterm_is_killed_after_its_grace(server):
    """Storage (paused, so it cannot stop) gets SIGKILL once its 2.5 s of grace are over, not
    before; the supervisor then exits 1."""
    srv = server()
    h.sigstop(srv.child_pid("storage"))
    started = time.monotonic()
    srv.signal(signal.SIGTERM)
    rc = srv.wait(10, "supervisor with a storage that does not stop")
    elapsed = time.monotonic() - started
    assert rc == 1, f"storage had to be killed: exit {rc}, not 1\n" + srv.describe()
    assert srv.log.first("child_kill", "fail", name="storage"), srv.describe()
    assert not srv.log.find("child_kill", name="acceptor"), srv.describe()
    assert elapsed >= 2.45, f"storage was killed after {elapsed:.2f}s, before its 2.5 s"
    assert elapsed <= h.T(2.5) + h.T(3), f"the stop took {elapsed:.2f}s"
    srv.assert_all_gone()


def test_worker_that_ignores_sigterm_is_killed_after_the_workers_grace(server):
    """A worker (paused, so it cannot stop) gets SIGKILL from the acceptor once the workers'
    4.5 s of grace are over, not before; that is inside the acceptor's own 6 s, so the acceptor
    still ends by itself and the supervisor kills nothing."""
    srv = server(config={"LOGGING_LEVEL": "DEBUG", "FRAME_TIMEOUT": "60s",
                         "IDLE_TIMEOUT": "60s"})
    with h.Peer(srv.port) as peer:
        worker = int(srv.wait_line(10, "worker_start", "success").get("pid"))
        h.sigstop(worker)
        started = time.monotonic()
        srv.signal(signal.SIGTERM)
        srv.wait(15, "supervisor with a worker that does not stop")
        elapsed = time.monotonic() - started
        assert peer.closed_by_server(5)
    line = srv.log.first("worker_kill", "fail")
    assert line is not None and line.get("workers") == "1", srv.describe()
    assert not h.alive(worker)
    assert not srv.log.find("child_kill"), "the acceptor itself had to be killed\n" + \
        srv.describe()
    assert srv.log.first("child_exit", "success", name="acceptor"), srv.describe()
    assert elapsed >= 4.45, f"the worker was killed after {elapsed:.2f}s, before its 4.5 s"
    srv.assert_all_gone()


def test_child_dying_during_the_stop_is_not_restarted(server):
    """Storage killed while the stop waits for the acceptor (paused within its grace): it is
    not started again, the acceptor still stops cleanly, and the supervisor exits 1."""
    srv = server()
    acceptor, storage = srv.child_pid("acceptor"), srv.child_pid("storage")
    h.sigstop(acceptor)
    try:
        srv.signal(signal.SIGTERM)
        h.wait_for(lambda: signal_pending(acceptor, signal.SIGTERM), 10,
                   "SIGTERM pending in the acceptor", srv.describe)
        os.kill(storage, signal.SIGKILL)
        srv.wait_line(10, "child_exit", "fail", name="storage")
    finally:
        os.kill(acceptor, signal.SIGCONT)
    rc = srv.wait(10)
    assert rc == 1, f"a child died during the stop: exit {rc}, not 1\n" + srv.describe()
    assert not srv.log.find("child_restart"), srv.describe()
    assert srv.child_pids("storage") == [storage], "storage was started again"
    assert srv.log.first("child_exit", "success", name="acceptor"), srv.describe()
    assert not srv.log.find("child_kill"), srv.describe()
    srv.assert_all_gone()
