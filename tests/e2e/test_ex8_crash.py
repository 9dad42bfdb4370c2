"""Exercise 8 through a crash: the server container dies mid-run, Docker restarts it (restart
policy on-failure) in the same container, storage resumes the draw from its files, and every
agency finishes with its own winners and every bet stored exactly once. `down` + `up` then
starts a fresh draw, never the stale one."""

import collections

from tp0_e2e import agency_gen, client_yaml, events, run, stored_bets, wait_until

ROWS = [20000, 20000, 20000]
WINNERS = [3, 0, 2]


def crash_server():
    """SIGKILL to the server container's PID 1 from the host: to Docker that is a crash, which
    the restart policy answers. (`docker kill` is not: Docker counts it as a manual stop and
    never restarts after it.)"""
    pid = run(["docker", "inspect", "-f", "{{.State.Pid}}", "server"]).stdout.strip()
    assert pid.isdigit() and int(pid) > 1, pid
    run(["kill", "-KILL", pid])


def restarts():
    return int(run(["docker", "inspect", "-f", "{{.RestartCount}}", "server"]).stdout)


def check_results(d):
    codes = d.wait_exited(d.client_names, timeout=180)
    assert codes == {n: 0 for n in d.client_names}, codes
    for i, name in enumerate(d.client_names):
        got = events(d.logs(name), "consulta_ganadores", "success")
        assert len(got) == 1 and got[0].has(cant_ganadores=WINNERS[i]), d.logs(name)[-3000:]
    rows = stored_bets()
    keys = collections.Counter((r[0], r[3]) for r in rows)
    twice = [k for k, n in keys.items() if n > 1]
    assert not twice, f"stored twice: {twice[:5]}"
    per_agency = collections.Counter(int(r[0]) for r in rows)
    assert per_agency == {i + 1: n for i, n in enumerate(ROWS)}, per_agency


def test_server_crash_mid_run_resumes(deploy):
    # Batches of 15, not the default's ~200, so that the kill lands mid-stream.
    d = deploy(len(ROWS), "lottery", client=client_yaml(max_amount=15))
    for i, (n, k) in enumerate(zip(ROWS, WINNERS), start=1):
        agency_gen(d.data / f"agency-{i}.csv", agency=i, rows=n, winners=k, seed=11)
    d.up()
    wait_until(lambda: len(events(d.logs("server"), "apuesta_recibida", "success")) >= 50,
               60, "50 batches stored", interval=0.05)
    crash_server()
    wait_until(lambda: restarts() >= 1 and d.state("server")[0] == "running", 60,
               "Docker to restart the server")
    check_results(d)

    log = d.logs("server")  # both runs: docker keeps one log per container
    recovered = events(log, "recovery", "success")
    assert len(recovered) == 1 and int(recovered[0].fields["bets"]) >= 50, recovered
    assert len(events(log, "sorteo", "success")) == 1
    assert d.state("server")[0] == "running"

    # down + up: a new container, so a new draw (nothing of the old one is resumed).
    d.compose("down", "-t", "10")
    d.up()
    wait_until(lambda: events(d.logs("server"), "draw_begin", "success"), 60, "a new draw")
    assert not events(d.logs("server"), "recovery")
    check_results(d)
