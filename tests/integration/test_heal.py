"""Self-healing: the supervisor restarts a storage or an acceptor that dies (with a backoff, and
gives up on a crash loop), owns the listener so connections wait in its backlog while no acceptor
runs, and takes every process of the server with it when it is SIGKILLed; a worker resends an
idempotent request that storage died with."""

import os
import signal
import socket
import stat
import subprocess
import sys

import pytest

import tp0harness as h


def stop_cleanly(srv, timeout=10):
    """SIGTERM: exit 0 whatever was restarted on the way, the current children end cleanly."""
    rc = srv.stop(timeout)
    assert rc == 0, f"supervisor exit {rc} after SIGTERM\n" + srv.describe(80)
    for name in ("acceptor", "storage"):
        exits = srv.log.find("child_exit", "success", name=name)
        assert exits and exits[-1].get("pid") == str(srv.child_pid(name)), \
            f"no clean child_exit for the current {name}\n" + srv.describe(80)
    assert not srv.log.find("child_kill"), srv.describe(80)
    assert not srv.log.malformed(), [ln.raw for ln in srv.log.malformed()][:5]
    srv.assert_all_gone()


def echo(port, text="hola"):
    """One echo exchange on a new connection: the line that came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=h.T(10)) as s:
        s.sendall(text.encode() + b"\n")
        data, _ = h.read_until_eof(s, 10)
    return data.decode(errors="replace")


ack = h.assert_ack


def waiting_for_storage(srv, worker):
    """With the client's bytes already there, a worker asleep is waiting for storage."""
    h.wait_for(lambda: (st := h.read_stat(worker)) is not None and st.state == "S", 10,
               f"worker {worker} waiting for storage", srv.describe)


def worker_pids(srv):
    return [int(ln.get("pid")) for ln in srv.log.find("worker_start", "success")]


def new_worker(srv, known):
    """The pid of a worker started after those in known."""
    def check():
        fresh = [p for p in worker_pids(srv) if p not in known]
        return fresh[0] if fresh else None
    return h.wait_for(check, 10, "a new worker", srv.describe)


# ---------------------------------------------------------------------------------------------
# the supervisor


def test_storage_killed_while_idle_is_restarted(server):
    srv = server(config={"AGENCIES": 1})
    old, acceptor = srv.child_pid("storage"), srv.child_pid("acceptor")
    os.kill(old, signal.SIGKILL)
    new = srv.wait_restarted("storage", old)
    assert len(srv.log.find("storage_start", "success")) == 2, srv.describe()
    crash = srv.log.first("child_exit", "fail", name="storage")
    assert crash is not None and crash.get("pid") == str(old) and crash.get("signal") == "9"
    restart = srv.log.first("child_restart", "in_progress", name="storage")
    assert restart is not None, srv.describe()
    assert (restart.get("pid"), restart.get("signal"), restart.get("attempt")) == \
        (str(old), "9", "1"), str(restart)
    assert int(restart.get("delay_ms")) >= 100, str(restart)
    # The acceptor was left alone.
    assert srv.child_pids("acceptor") == [acceptor] and h.alive(acceptor), srv.describe()
    assert new != old and h.alive(new)

    assert echo(srv.port) == "hola\n"
    bets = h.make_bets(1, 5, 1)
    with h.Peer(srv.port) as peer:
        ack(peer.request(h.batch_frame(1, 0, bets)), 0, 5)
        ack(peer.request(h.done_frame(1, 5, bets)), 0)
        r = peer.request(h.query_frame(1))
        assert r["type"] == "WINNERS" and r["total"] == 1, r
    assert [b for _, b in h.read_bets_csv(srv.bets_path())] == bets
    assert srv.running()
    stop_cleanly(srv)


def test_acceptor_killed_is_restarted_and_connections_wait_in_the_backlog(server):
    """The listener is the supervisor's: while no acceptor runs, connections are not refused
    but wait in its backlog. The dead acceptor's workers are gone, SIGKILLed (a held query is
    dropped, not answered SHUTTING_DOWN, so its agency reconnects and asks again)."""
    srv = server(config={"AGENCIES": 2, "LOGGING_LEVEL": "DEBUG"})
    old, storage = srv.child_pid("acceptor"), srv.child_pid("storage")
    held = h.Peer(srv.port)
    bets = h.make_bets(1, 4, 1)
    ack(held.request(h.batch_frame(1, 0, bets)), 0, 4)
    ack(held.request(h.done_frame(1, 4, bets)), 0)
    held.send(h.query_frame(1))
    srv.wait_line(10, "winners_query", "in_progress", agency=1)
    worker = worker_pids(srv)[0]

    h.sigstop(old)  # an acceptor that accepts nothing any more ...
    try:
        waiting = socket.create_connection(("127.0.0.1", srv.port), timeout=h.T(10))
        waiting.sendall(b"made while no acceptor ran\n")
    finally:
        os.kill(old, signal.SIGKILL)  # ... and then dies with a connection in the backlog
    new = srv.wait_restarted("acceptor", old)
    assert h.alive(new)
    restart = srv.log.first("child_restart", "in_progress", name="acceptor")
    assert restart is not None and restart.get("signal") == "9", srv.describe()

    with held:
        assert held.closed_by_server(10), "the held query's connection is still open"
    h.wait_for(lambda: not h.alive(worker), 10, "the dead acceptor's worker gone", srv.describe)
    with waiting:
        data, how = h.read_until_eof(waiting, 10)
    assert data == b"made while no acceptor ran\n", (data, how, srv.describe())
    assert echo(srv.port) == "hola\n"
    assert srv.child_pids("storage") == [storage], "storage was restarted too"
    stop_cleanly(srv)


def test_storage_crash_loop_is_given_up(server, work):
    """A storage that cannot start (its bets file is in a directory that does not exist; not a
    read-only one: CI runs as root) is tried five times with a growing delay, then the
    supervisor stops and exits 1, naming the child and the reason."""
    srv = server(config={"BETS_FILE": str(work / "no-such-dir" / "bets.csv")}, wait=False)
    rc = srv.wait(30, "supervisor with a storage that never starts")
    assert rc == 1, srv.describe(60)
    assert len(srv.log.find("storage_start", "fail")) == 5, srv.describe(60)
    restarts = srv.log.find("child_restart", "in_progress", name="storage")
    assert [int(ln.get("delay_ms")) for ln in restarts] == [100, 200, 400, 800], \
        srv.describe(60)
    assert [ln.get("exit_code") for ln in restarts] == ["1"] * 4
    given_up = srv.log.first("child_restart", "fail", name="storage")
    assert given_up is not None, srv.describe(60)
    assert given_up.get("quick_exits") == "5" and "gave up" in given_up.get("error"), \
        str(given_up)
    assert not srv.log.find("child_start", "success"), "started a child that never got ready"
    last = [ln for ln in srv.log.lines() if ln.ok][-1]
    assert (last.action, last.result, last.get("exit_code")) == ("shutdown", "fail", "1")
    srv.assert_all_gone()


def test_stop_during_a_restart_wait_cancels_the_restart(server, work):
    """SIGTERM while storage waits to be started again (here its fourth wait, 800 ms): the
    restart is cancelled, nothing more is started, and the stop ends as usual, exit 0."""
    srv = server(config={"BETS_FILE": str(work / "no-such-dir" / "bets.csv")}, wait=False)
    srv.wait_line(20, "child_restart", "in_progress", name="storage", count=4)
    srv.signal(signal.SIGTERM)
    assert srv.wait(5) == 0, srv.describe(60)
    assert srv.log.first("child_restart_cancel", "success", name="storage"), srv.describe(60)
    assert len(srv.log.find("storage_start", "fail")) == 4, "a storage started after the stop"
    assert not srv.log.find("child_restart", "fail"), srv.describe(60)
    srv.assert_all_gone()


def test_sigkilled_supervisor_leaves_no_process_behind(server):
    srv = server(config={"LOGGING_LEVEL": "DEBUG"})
    peer = h.Peer(srv.port)  # a worker waiting for its first byte
    worker = int(srv.wait_line(10, "worker_start", "success").get("pid"))
    victims = {"storage": srv.child_pid("storage"), "acceptor": srv.child_pid("acceptor"),
               "worker": worker}
    assert all(h.alive(p) for p in victims.values()), victims
    os.kill(srv.pid, signal.SIGKILL)
    srv.wait(5)

    def left():
        return {n: p for n, p in victims.items() if h.alive(p)}
    h.wait_for(lambda: not left(), 5, "storage, acceptor and worker to die with the supervisor",
               lambda: f"still running: {left()}")
    # Dead, reparented to us (the test's subreaper) as zombies: reap them here, as ours.
    still = [x for x in h.reap_orphans() if "still running" in x]
    assert not still, still
    assert peer.closed_by_server(5)
    peer.close()


NOBODY = 65534

# Run as an unprivileged user (CI runs as root, who passes every permission check): lists the
# runtime directory, then connects to storage's socket; prints what each got.
PROBE = """
import os, socket, sys
os.setgid(%d); os.setuid(%d)
run_dir = sys.argv[1]
try:
    os.listdir(run_dir)
    print("list: ok")
except PermissionError:
    print("list: denied")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(os.path.join(run_dir, "storage.ipc"))
    print("connect: ok")
except PermissionError:
    print("connect: denied")
""" % (NOBODY, NOBODY)


def test_runtime_dir_is_private(server):
    """Storage's socket is in a private 0700 directory of the server's user: another user can
    neither look into it nor reach storage."""
    srv = server()
    runs = list(srv.tmpdir.glob("tp0-*"))
    assert len(runs) == 1, runs
    st = os.stat(runs[0])
    assert stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode)
    assert st.st_uid == os.geteuid()
    assert (runs[0] / "storage.ipc").exists()
    if os.geteuid() == 0:
        # The probe runs as nobody: it must be able to reach the directory's parent.
        os.chmod(srv.tmpdir, 0o755)
        res = subprocess.run([sys.executable, "-c", PROBE, str(runs[0])], capture_output=True,
                             text=True, timeout=h.T(10))
        assert res.returncode == 0, res.stderr
        assert res.stdout.split("\n")[:2] == ["list: denied", "connect: denied"], res.stdout
    stop_cleanly(srv)


# ---------------------------------------------------------------------------------------------
# a worker whose storage dies


def test_batch_in_flight_is_resent_to_the_restarted_storage(server):
    """A batch in storage's hands when storage dies is sent again to the new storage and
    acknowledged; the session goes on. (The batch is a repeat of one already stored, as a
    reconnected agency sends it, so that this holds whether the new storage remembers the old
    one's batches or not.)"""
    srv = server(config={"AGENCIES": 1, "LOGGING_LEVEL": "DEBUG"})
    storage = srv.child_pid("storage")
    bets = h.make_bets(1, 5, 1)
    peer = h.Peer(srv.port)
    ack(peer.request(h.batch_frame(1, 0, bets)), 0, 5)
    worker = worker_pids(srv)[0]
    h.sigstop(storage)
    try:
        peer.send(h.batch_frame(1, 0, bets))
        waiting_for_storage(srv, worker)
    finally:
        os.kill(storage, signal.SIGKILL)
    with peer:
        ack(peer.reply(), 0)  # 5 stored again, or 0 if the new storage recovered them
        resend = srv.log.first("storage_link", "in_progress", request="BATCH")
        assert resend is not None and resend.get("attempt") == "1", srv.describe()
        assert resend.get("delay_ms") == "50", str(resend)  # the first pause: 50 ms
        srv.wait_restarted("storage", storage)
        ack(peer.request(h.done_frame(1, 5, bets)), 0)
        r = peer.request(h.query_frame(1))
        assert r["type"] == "WINNERS" and r["total"] == 1, r
    assert [b for _, b in h.read_bets_csv(srv.bets_path())] == bets
    assert len(srv.log.find("sorteo", "success")) == 1
    stop_cleanly(srv)


def test_held_query_is_resent_to_the_restarted_storage(server):
    """A winners query held for the draw when storage dies stays open: the worker sends it
    again to the new storage and relays the winners once the draw happens there."""
    srv = server(config={"AGENCIES": 2, "LOGGING_LEVEL": "DEBUG"})
    storage = srv.child_pid("storage")
    bets = {1: h.make_bets(1, 6, 2), 2: h.make_bets(2, 3, 0)}
    held = h.Peer(srv.port)
    ack(held.request(h.batch_frame(1, 0, bets[1])), 0, 6)
    ack(held.request(h.done_frame(1, 6, bets[1])), 0)
    held.send(h.query_frame(1))
    srv.wait_line(10, "winners_query", "in_progress", agency=1)
    waiting_for_storage(srv, worker_pids(srv)[0])
    os.kill(storage, signal.SIGKILL)
    srv.wait_restarted("storage", storage)
    h.wait_for(lambda: srv.log.first("storage_link", "in_progress", request="WINNERS_QUERY"),
               10, "the query resent", srv.describe)
    # What every agency does after a reconnect (idempotent, so it holds with or without the
    # new storage remembering the old one's batches): send again what was not answered.
    with h.Peer(srv.port) as again:
        ack(again.request(h.batch_frame(1, 0, bets[1])), 0)
        ack(again.request(h.done_frame(1, 6, bets[1])), 0)
    with h.Peer(srv.port) as other:
        ack(other.request(h.batch_frame(2, 0, bets[2])), 0, 3)
        ack(other.request(h.done_frame(2, 3, bets[2])), 0)
    with held:
        r = held.reply()
        assert r["type"] == "WINNERS" and r["total"] == 2, r
        assert sorted(r["documents"]) == sorted(b.document for b in bets[1]
                                                if b.number == h.WINNER_NUMBER)
    assert len(srv.log.find("sorteo", "success")) == 1
    stop_cleanly(srv)


def test_bet_in_flight_is_not_resent(server):
    """A single BET is not idempotent: when storage dies with it, the agency is told ERROR
    STORAGE and the bet is not sent to the new storage (on nng 1.5, nng would resend it)."""
    srv = server(config={"AGENCIES": 1, "LOGGING_LEVEL": "DEBUG"})
    storage = srv.child_pid("storage")
    first, second = h.make_bets(1, 2, 0)
    peer = h.Peer(srv.port)
    ack(peer.request(h.bet_frame(1, first)), 0, 1)
    worker = worker_pids(srv)[0]
    h.sigstop(storage)
    try:
        peer.send(h.bet_frame(1, second))
        waiting_for_storage(srv, worker)
    finally:
        os.kill(storage, signal.SIGKILL)
    with peer:
        r = peer.reply()
        assert r["type"] == "ERROR" and r["code"] == h.E_STORAGE, r
        assert peer.closed_by_server(5)
    srv.wait_restarted("storage", storage)
    assert not srv.log.find("storage_link", "in_progress"), "a BET was resent"
    h.wait_for(lambda: not h.alive(worker), 10, "the worker to end", srv.describe)
    docs = [b.document for _, b in h.read_bets_csv(srv.bets_path())]
    assert second.document not in docs, "the BET reached the new storage"
    stop_cleanly(srv)


def test_agency_rides_through_a_storage_kill(server, client, work):
    """An agency whose first batch is waiting for storage when storage is SIGKILLed: the batch
    reaches the new storage and the agency finishes (exit 0, the draw, its winners; every bet
    stored exactly once, since the old storage had stored nothing).

    The agency waits the default server.timeout (30 s), not the harness's 10 s: a worker gives an
    attempt that storage never answered STORAGE_ATTEMPT_MS (10 s) before it resends, and a CI
    run under valgrind once lost the first attempt that way (the agency gave up just before the
    resend). What the test guards is that the batch gets through, not how fast."""
    path = h.agency_gen(work / "agency-1.csv", 3000, 4, seed=21)
    bets = h.read_agency_csv(path)
    srv = server(config={"AGENCIES": 1, "LOGGING_LEVEL": "DEBUG"})
    storage = srv.child_pid("storage")
    h.sigstop(storage)
    try:
        cli = client(1, srv.address, mode="lottery", bets_file=str(path), max_amount=10,
                     attempts=5, timeout="30s")
        waiting_for_storage(srv, new_worker(srv, set()))
    finally:
        os.kill(storage, signal.SIGKILL)
    assert cli.wait(120) == 0, cli.describe() + "\n" + srv.describe()
    assert cli.log.first("consulta_ganadores", "success").get("cant_ganadores") == "4"
    assert len(srv.log.find("sorteo", "success")) == 1
    assert srv.child_pid("storage") != storage
    assert [b for _, b in h.read_bets_csv(srv.bets_path())] == bets
    stop_cleanly(srv)


@pytest.mark.slow  # storage must stay silent for a whole attempt (STORAGE_ATTEMPT_MS, 10 s)
def test_unanswered_attempt_goes_out_on_a_new_link(server):
    """Storage hangs (SIGSTOP) with a batch in flight for longer than one attempt: the worker
    sends it again on a new nng socket, not the old one (a request can sit on a connection
    nng never delivers it on: see reopen_link). Once storage goes on, the batch is stored
    exactly once, whichever copy it takes, and the agency gets its ACK."""
    srv = server(config={"AGENCIES": 1, "LOGGING_LEVEL": "DEBUG"})
    storage = srv.child_pid("storage")
    first, second = h.make_bets(1, 3, 1, seed=31), h.make_bets(1, 2, 0, seed=32)
    with h.Peer(srv.port, timeout=40) as peer:
        ack(peer.request(h.batch_frame(1, 0, first)), 0, 3)
        worker = worker_pids(srv)[0]
        h.sigstop(storage)
        try:
            peer.send(h.batch_frame(1, 1, second))
            waiting_for_storage(srv, worker)
            srv.wait_line(30, "storage_link", "in_progress", error="no reply in time")
            srv.wait_line(10, "storage_link_reopen", "success")
        finally:
            os.kill(storage, signal.SIGCONT)
        r = peer.reply()
        assert r["type"] == "ACK" and r["seq"] == 1, r
        ack(peer.request(h.done_frame(1, 5, first + second)), 0)
    assert [b for _, b in h.read_bets_csv(srv.bets_path())] == first + second
    assert srv.child_pid("storage") == storage, "storage was restarted"
    stop_cleanly(srv)


@pytest.mark.heavy  # thousands of bets: the short runs above cover it under valgrind
@pytest.mark.parametrize("child", ["storage", "acceptor"])
def test_agency_rides_through_a_child_kill_mid_stream(server, client, work, child):
    """Storage or the acceptor is SIGKILLed mid-stream. The agency is paused (SIGSTOP) while it
    happens, so the kill lands mid-stream every time instead of the test skipping when the
    stream was faster. A dead acceptor takes its workers with it: the agency reconnects (the
    connection waits in the backlog for the new acceptor) and resends what was not
    acknowledged. A dead storage is restarted and recovers; the worker resends its request.
    Either way every bet is stored exactly once and the draw is right."""
    rows = 5000
    path = h.agency_gen(work / "agency-1.csv", rows, 3, seed=22 if child == "storage" else 23)
    bets = h.read_agency_csv(path)
    srv = server(config={"AGENCIES": 1})
    victim = srv.child_pid(child)
    cli = client(1, srv.address, mode="lottery", bets_file=str(path), max_amount=10,
                 attempts=5)
    h.wait_for(lambda: len(srv.log.find("apuesta_recibida", "success")) >= 20, 20,
               "the first batches stored", srv.describe, poll=0.002)
    h.sigstop(cli.pid)
    try:
        assert not srv.log.find("agency_done"), "the stream ended before the kill\n" + \
            srv.describe()
        os.kill(victim, signal.SIGKILL)
    finally:
        os.kill(cli.pid, signal.SIGCONT)
    assert cli.wait(120) == 0, cli.describe() + "\n" + srv.describe()
    assert cli.log.first("consulta_ganadores", "success").get("cant_ganadores") == "3"
    assert len(srv.log.find("sorteo", "success")) == 1
    assert srv.child_pid(child) != victim
    assert [b for _, b in h.read_bets_csv(srv.bets_path())] == bets, \
        "bets lost, duplicated or reordered across the kill"
    if child == "acceptor":
        assert cli.log.find("connection_lost", "in_progress"), \
            "the client never saw its connection die\n" + cli.describe()
        # Storage never died, so every batch was logged as it was committed, once.
        logged = sum(int(ln.get("cantidad"))
                     for ln in srv.log.find("apuesta_recibida", "success"))
        assert logged == rows, f"apuesta_recibida adds up to {logged}, {rows} stored"
    stop_cleanly(srv)
