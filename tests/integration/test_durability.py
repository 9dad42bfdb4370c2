"""Durability: an acknowledged bet survives any crash of the server, a restart resumes the draw
and stores nothing twice; torn tails are cut back; a finished draw makes room for a new one."""

import os
import random
import signal
import time

import pytest

import tp0harness as h
from test_lottery import check_bets_file, winners_of


def kill_tree(srv):
    """SIGKILL to every process of the server at once, as a power cut or an OOM kill would:
    nothing gets to clean up, nor to see another die first (each is frozen with SIGSTOP
    before any is killed). Waits until they are all gone."""
    pids = srv.snapshot() | {srv.pid}
    for signo in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids | srv.snapshot():
            try:
                os.kill(pid, signo)
            except ProcessLookupError:
                pass
    srv.wait(5, "supervisor after SIGKILL")
    tree = pids | srv.snapshot()

    def reaped():
        # Reaped, not just dead: a process killed with its parent is reparented to us and may
        # turn zombie only later (seen under ASan and load: a worker reported as having
        # outlived the test).
        h.reap_orphans()
        return all(h.read_stat(pid) is None for pid in tree)

    h.wait_for(reaped, 10, "the killed server's processes to be reaped", srv.describe)


def restart(server_factory, srv, name, config, extra_args=None):
    """A new server in the killed one's folder, on its port, with its files."""
    new = h.start_server(srv.dir, config, name=name, extra_args=extra_args)
    assert new.port == srv.port
    return new


# Batches of 15, not the default's ~190: these tests count batches, and a kill must land
# mid-stream.
SMALL_BATCH = 15


def lottery_clients(client, work, srv, inputs, attempts=30, max_amount=SMALL_BATCH):
    clis = {}
    for agency, bets in sorted(inputs.items()):
        cdir = work / f"client{agency}"
        cdir.mkdir(parents=True, exist_ok=True)
        path = h.write_agency_csv(cdir / f"agency-{agency}.csv", bets)
        clis[agency] = client(agency, srv.address, mode="lottery", bets_file=str(path),
                              attempts=attempts, max_amount=max_amount,
                              name=f"{work.name}-client{agency}")
    return clis


def finish(srv, clis, inputs, winners):
    for agency, cli in clis.items():
        assert cli.wait(60) == 0, cli.describe()
        assert winners_of(cli, agency) == winners[agency], cli.describe()
    rows = check_bets_file(srv, inputs)  # every bet exactly once, in order
    assert len(srv.log.find("sorteo", "success")) == 1, srv.describe(60)
    assert srv.stop(5) == 0, srv.describe()
    srv.assert_all_gone()
    return rows


def stored_batches(srv):
    return len(srv.log.find("apuesta_recibida", "success"))


@pytest.mark.slow
@pytest.mark.heavy  # 18,000 bets: under valgrind the torn-tail and restart tests cover recovery
@pytest.mark.parametrize("kill_after", [5, 60], ids=["early", "late"])
def test_server_killed_mid_load_resumes(server, client, work, kill_after):
    """SIGKILL of the whole server while agencies send; a new server on the same folder: the
    agencies ride through on their retries and the draw has every bet exactly once."""
    spec = [(6000, 3), (6000, 2), (6000, 0)]
    inputs = {a: h.make_bets(a, rows, w) for a, (rows, w) in enumerate(spec, 1)}
    config = {"AGENCIES": len(spec), "SERVER_PORT": h.free_port()}
    srv = server(config=config)
    clis = lottery_clients(client, work, srv, inputs)
    h.wait_for(lambda: stored_batches(srv) >= kill_after, 30, f"{kill_after} batches stored",
               srv.describe)
    kill_tree(srv)
    gone = [c.describe() for c in clis.values() if not c.running()]
    assert not gone, "an agency gave up on the crash:\n" + "\n".join(gone)

    again = restart(server, srv, "server2", config)
    rec = again.wait_line(10, "recovery", "success")
    assert int(rec.get("bets")) >= kill_after * SMALL_BATCH, str(rec)
    finish(again, clis, inputs, {a: w for a, (_, w) in enumerate(spec, 1)})
    # What the first server acknowledged is all there: its apuesta_recibida lines were logged
    # only once durable, so they cannot add up to more than the recovered bets.
    before = sum(int(ln.get("cantidad")) for ln in srv.log.find("apuesta_recibida", "success"))
    assert before <= int(rec.get("bets")), (before, str(rec))


def agency_done_then_killed(server, client, work, config, bets):
    """Agency 1 of 2 sends everything and says DONE; then the server tree and the agency are
    killed. Returns the dead server."""
    srv = server(config=config)
    clis = lottery_clients(client, work / "first", srv, {1: bets})
    srv.wait_line(20, "agency_done", "success")
    clis[1].kill()
    clis[1].wait(5)
    kill_tree(srv)
    return srv


TORN_TAILS = {
    "half_row": b"1,Juan,P\xc3\xa9",
    "row_without_commit": b"1,Juan,Perez,30904465,1999-03-17,7574\n",
    "garbage": bytes(range(256)) * 3,
}


@pytest.mark.parametrize("tail", sorted(TORN_TAILS))
def test_torn_tail_cut_back(server, client, work, tail):
    """bets.csv ending in half a row, a whole row that was never committed, or garbage: the
    restart cuts exactly that tail, says how many bytes, and the draw completes with every bet
    once."""
    inputs = {1: h.make_bets(1, 300, 2), 2: h.make_bets(2, 200, 1)}
    config = {"AGENCIES": 2, "SERVER_PORT": h.free_port()}
    srv = agency_done_then_killed(server, client, work, config, inputs[1])
    committed = srv.bets_path().stat().st_size
    with open(srv.bets_path(), "ab") as f:
        f.write(TORN_TAILS[tail])

    again = restart(server, srv, "server2", config)
    rec = again.wait_line(10, "recovery", "success")
    assert int(rec.get("cut_bytes")) == len(TORN_TAILS[tail]), str(rec)
    assert int(rec.get("bets")) == 300 and rec.get("agencies_done") == "1", str(rec)
    assert again.bets_path().stat().st_size == committed
    # Agency 1 starts over (its process died): every batch is acknowledged again, stored once.
    clis = lottery_clients(client, work / "second", again, inputs)
    finish(again, clis, inputs, {1: 2, 2: 1})
    assert len(again.log.find("apuesta_repetida", "success")) == 20  # 300 / 15


def test_torn_journal_record_cut_back(server, client, work):
    """A journal ending in part of a record (a crash mid-append): cut, the rest resumes."""
    inputs = {1: h.make_bets(1, 150, 1), 2: h.make_bets(2, 40, 0)}
    config = {"AGENCIES": 2, "SERVER_PORT": h.free_port()}
    srv = agency_done_then_killed(server, client, work, config, inputs[1])
    journal = srv.bets_path().with_name(srv.bets_path().name + ".journal")
    with open(journal, "ab") as f:
        f.write(b"TPJ1\x02\x00\x00")
    again = restart(server, srv, "server2", config)
    rec = again.wait_line(10, "recovery", "success")
    assert int(rec.get("journal_cut_bytes")) == 7 and rec.get("cut_bytes") == "0", str(rec)
    clis = lottery_clients(client, work / "second", again, inputs)
    finish(again, clis, inputs, {1: 1, 2: 0})


def test_finished_draw_then_new_draw(server, client, work):
    """A draw that ran and was stopped cleanly is kept as bets.csv.1; the next start is a new
    draw, with an empty bets.csv."""
    config = {"AGENCIES": 1, "SERVER_PORT": h.free_port()}
    first = h.make_bets(1, 100, 2)
    srv = server(config=config)
    assert srv.log.first("draw_begin", "success").get("archived") == "none"
    clis = lottery_clients(client, work / "first", srv, {1: first})
    finish(srv, clis, {1: first}, {1: 2})

    second = h.make_bets(1, 50, 1, seed=2)
    again = restart(server, srv, "server2", config)
    begin = again.log.first("draw_begin", "success")
    assert begin and begin.get("archived").endswith("bets.csv.1"), again.describe()
    clis = lottery_clients(client, work / "second", again, {1: second})
    finish(again, clis, {1: second}, {1: 1})
    old = h.read_bets_csv(srv.bets_path().with_name("bets.csv.1"))
    assert [b for _, b in old] == first


def test_drawn_draw_killed_resumes_without_a_second_sorteo(server, client, work):
    """The whole server killed after its draw (no clean stop, so no CLOSED): the next start
    resumes the drawn draw (drawn: yes), logs draw_recovered and no second sorteo, and the
    agency run again gets the same winners, nothing stored twice."""
    config = {"AGENCIES": 1, "SERVER_PORT": h.free_port()}
    bets = h.make_bets(1, 40, 2)
    srv = server(config=config)
    clis = lottery_clients(client, work / "first", srv, {1: bets})
    assert clis[1].wait(30) == 0, clis[1].describe()
    assert winners_of(clis[1], 1) == 2
    kill_tree(srv)

    again = restart(server, srv, "server2", config)
    rec = again.wait_line(10, "recovery", "success")
    assert (rec.get("bets"), rec.get("agencies_done"), rec.get("drawn")) == ("40", "1", "yes")
    clis = lottery_clients(client, work / "second", again, {1: bets})
    assert clis[1].wait(30) == 0, clis[1].describe()
    assert winners_of(clis[1], 1) == 2
    assert not again.log.find("sorteo", "success"), again.describe(60)
    assert again.log.first("draw_recovered", "success"), again.describe(60)
    check_bets_file(again, {1: bets})
    assert again.stop(5) == 0, again.describe()
    again.assert_all_gone()


def test_unfinished_draw_resumes_after_clean_stop(server, client, work):
    """A SIGTERM before the draw keeps the draw: the next start resumes it (agency 1's DONE
    included), and --new-draw archives it instead."""
    inputs = {1: h.make_bets(1, 90, 1), 2: h.make_bets(2, 30, 1)}
    config = {"AGENCIES": 2, "SERVER_PORT": h.free_port()}
    srv = server(config=config)
    clis = lottery_clients(client, work / "first", srv, {1: inputs[1]})
    srv.wait_line(20, "agency_done", "success")
    clis[1].kill()
    clis[1].wait(5)
    assert srv.stop(5) == 0, srv.describe()

    again = restart(server, srv, "server2", config)
    rec = again.wait_line(10, "recovery", "success")
    assert (rec.get("bets"), rec.get("agencies_done"), rec.get("drawn")) == ("90", "1", "no")
    assert again.stop(5) == 0

    fresh = restart(server, srv, "server3", config, extra_args=["--new-draw"])
    begin = fresh.wait_line(10, "draw_begin", "success")
    assert begin.get("archived").endswith("bets.csv.1"), str(begin)
    assert fresh.bets_path().stat().st_size == 0
    clis = lottery_clients(client, work / "second", fresh, inputs)
    finish(fresh, clis, inputs, {1: 1, 2: 1})


def test_agency_count_change_is_refused(server, client, work):
    """A draw in progress with 2 agencies is not resumed as one of 3: a clear error."""
    config = {"AGENCIES": 2, "SERVER_PORT": h.free_port()}
    srv = server(config=config)
    assert srv.stop(5) == 0
    bad = h.start_server(srv.dir, dict(config, AGENCIES=3), name="server2", wait=False)
    bad.wait(10)
    line = bad.log.first("storage_start", "fail")
    assert line and "2 agencies, not 3" in line.get("error"), bad.describe()


def storage_pid(srv):
    """The supervisor's storage child right now (from /proc), or None while it is restarting."""
    for pid in h.descendants(srv.pid):
        st = h.read_stat(pid)
        if st is not None and st.comm == "storage" and st.ppid == srv.pid and st.state != "Z":
            return pid
    return None


@pytest.mark.slow
@pytest.mark.heavy
def test_storage_killed_fifty_times_under_load(server, client, work):
    """SIGKILL of storage at random moments, 50 times in one run: while five agencies stream
    (one bet a batch, so every moment of a commit is a likely target), while four of them wait
    for the draw with their queries held, and while the fifth streams. Every agency exits 0
    with its own winners, bets.csv holds every bet exactly once, the sorteo is logged once."""
    kills_wanted, late_start = 50, 45
    spec = {1: (15000, 2), 2: (15000, 1), 3: (15000, 0), 4: (15000, 3), 5: (20000, 1)}
    inputs = {a: h.make_bets(a, rows, w, seed=5) for a, (rows, w) in spec.items()}
    srv = server(config={"AGENCIES": 5})
    agency_args = dict(max_amount=1, attempts=1000, timeout="30s", draw_timeout="10m")
    clis = {}

    def start_agency(a):
        cdir = work / f"client{a}"
        cdir.mkdir(parents=True, exist_ok=True)
        path = h.write_agency_csv(cdir / f"agency-{a}.csv", inputs[a])
        clis[a] = client(a, srv.address, mode="lottery", bets_file=str(path),
                         env={"CLI_BATCH_WINDOW": "1"}, **agency_args)

    for a in (1, 2, 3, 4):
        start_agency(a)
    rng = random.Random(2026)
    kills, last = 0, None
    deadline = time.monotonic() + h.T(240)
    while kills < kills_wanted and not all(c.returncode is not None for c in clis.values()):
        assert time.monotonic() < deadline, f"only {kills} kills in time\n" + srv.describe(40)
        pid = h.wait_for(lambda: (p := storage_pid(srv)) not in (None, last) and p, 30,
                         "storage to be restarted", srv.describe)
        # Past the supervisor's quick-exit window (1 s), so every kill counts as a crash of a
        # storage that ran fine, which is always restarted.
        time.sleep(1.05 + rng.random() * 0.5)
        os.kill(pid, signal.SIGKILL)
        last, kills = pid, kills + 1
        if kills == late_start:
            start_agency(5)
    assert kills == kills_wanted, f"the agencies finished after {kills} kills"
    assert 5 in clis
    for a, cli in clis.items():
        assert cli.wait(120) == 0, cli.describe()
        assert winners_of(cli, a) == spec[a][1], cli.describe()
    check_bets_file(srv, inputs)
    assert len(srv.log.find("child_restart", "in_progress", name="storage")) == kills
    assert srv.stop(10) == 0, srv.describe()
    srv.assert_all_gone()
