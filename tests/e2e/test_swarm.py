"""Docker swarm: the lottery as the stack tp0 (generar-compose.sh --swarm, docker stack deploy) on
a one-node swarm. Every agency runs exactly once (one task, Complete, exit 0) and gets its own
winners; the draw happens once; a server task that crashes is replaced by a new container that
resumes the draw from the volume.

The module makes this engine a one-node swarm when it is in none (and leaves it again at the end);
it skips when `docker swarm init` cannot run, or when the engine is a swarm worker. It owns the
stack name tp0 (services tp0_server, tp0_client1, ..., network tp0_swarm_net, volume
tp0_server_data) and removes whatever stack of that name it finds; the compose tests' names
(containers server and clientN, network tp0_testing_net) are not touched.
"""

import collections
import csv
import io
import json
import os
import time

import pytest

from tp0_e2e import (REPO, agency_gen, client_yaml, events, fail_lines, malformed_lines, run,
                     server_ini, wait_until)

STACK = "tp0"
NETWORK = f"{STACK}_swarm_net"
VOLUME = f"{STACK}_server_data"
# Swarm's task states that never change again.
TERMINAL = ("Complete", "Failed", "Rejected", "Shutdown", "Orphaned", "Remove")


def swarm_state():
    out = run(["docker", "info", "--format",
               "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"]).stdout.split()
    return out[0], out[1] == "true"


def stack_gone():
    containers = run(["docker", "ps", "-aq", "--filter",
                      f"label=com.docker.stack.namespace={STACK}"]).stdout.split()
    network = run(["docker", "network", "inspect", NETWORK], check=False).returncode == 0
    return not containers and not network


def remove_stack():
    """docker stack rm, then wait until its containers and network are gone, then the volume."""
    run(["docker", "stack", "rm", STACK], check=False, timeout=60)
    wait_until(stack_gone, 90, f"stack {STACK}'s tasks and network to go", interval=0.5)
    if run(["docker", "volume", "inspect", VOLUME], check=False).returncode == 0:
        # the engine may still hold the volume for a moment after the last container went
        wait_until(lambda: run(["docker", "volume", "rm", VOLUME], check=False).returncode == 0,
                   30, f"volume {VOLUME} to be removed", interval=0.5)


@pytest.fixture(scope="module")
def swarm(images):
    state, manager = swarm_state()
    created = False
    if state == "inactive":
        proc = run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"], check=False,
                   timeout=60)
        if proc.returncode != 0:
            pytest.skip(f"docker swarm init cannot run on this engine: "
                        f"{(proc.stderr or proc.stdout).strip()}")
        created = True
    elif state != "active" or not manager:
        pytest.skip(f"this engine is in a swarm as '{state}' without being a manager")
    try:
        remove_stack()
        yield
    finally:
        try:
            remove_stack()
        finally:
            if created:
                run(["docker", "swarm", "leave", "--force"], check=False, timeout=60)


class Stack:
    """One generated stack file with its own config copies and agency files, in a temp dir."""

    def __init__(self, workdir, clients, server=None, client=None):
        self.dir = workdir
        self.clients = clients
        self.data = workdir / "data"
        self.data.mkdir(parents=True)
        (workdir / "config.ini").write_text(server if server is not None else server_ini())
        (workdir / "config.yaml").write_text(client if client is not None else client_yaml())
        self.file = workdir / "stack.yaml"
        self.deployed = False

    @property
    def client_services(self):
        return [f"client{i}" for i in range(1, self.clients + 1)]

    def deploy(self):
        env = dict(os.environ)
        env.update(TP0_SERVER_CONFIG=str(self.dir / "config.ini"),
                   TP0_CLIENT_CONFIG=str(self.dir / "config.yaml"),
                   TP0_DATA_DIR=str(self.data))
        for name in ("CLIENT_MODE", "TP0_SWARM_DATA_DIR", "TP0_SWARM_LABELS"):
            env.pop(name, None)
        run(["bash", REPO / "generar-compose.sh", "--swarm", self.file, self.clients, "lottery"],
            env=env)
        self.deployed = True
        run(["docker", "stack", "deploy", "--resolve-image", "never", "-c", self.file, STACK],
            timeout=120)

    def tasks(self, service):
        """[(task id, current state word, error)] of every task the service has had."""
        out = run(["docker", "service", "ps", "--no-trunc", "--format",
                   "{{.ID}}\t{{.CurrentState}}\t{{.Error}}", f"{STACK}_{service}"]).stdout
        rows = []
        for line in out.splitlines():
            task, state, error = (line.split("\t") + ["", ""])[:3]
            rows.append((task, state.split(" ")[0], error))
        return rows

    def container_status(self, task):
        """The task's container: {"ContainerID": …, "ExitCode": …}, or {} before it has one."""
        status = json.loads(run(["docker", "inspect", "--format", "{{json .Status}}",
                                 task]).stdout)
        return status.get("ContainerStatus") or {}

    def exit_code(self, task):
        return self.container_status(task)["ExitCode"]

    def service_logs(self, service):
        """What an operator reads: docker service logs, every task's lines."""
        proc = run(["docker", "service", "logs", "--raw", "--no-trunc", f"{STACK}_{service}"],
                   timeout=30)
        return proc.stdout + proc.stderr

    def logs(self, service):
        """Every task's container log, oldest task first. docker logs, not docker service logs:
        on Docker 20.10 the latter now and then never returns once a task of the service has
        died (seen here after the crash)."""
        out = []
        for task, _, _ in reversed(self.tasks(service)):
            cid = self.container_status(task).get("ContainerID")
            if cid:
                proc = run(["docker", "logs", cid], check=False, timeout=60)
                out.append(proc.stdout + proc.stderr)
        return "".join(out)

    def server_container(self):
        ids = run(["docker", "ps", "-q", "--filter",
                   f"label=com.docker.swarm.service.name={STACK}_server"]).stdout.split()
        assert len(ids) == 1, ids
        return ids[0]

    def stored_bets(self):
        text = run(["docker", "exec", self.server_container(), "cat", "/srv/tp0/bets.csv"],
                   timeout=60).stdout
        return list(csv.reader(io.StringIO(text)))

    def wait_agencies(self, timeout):
        """Waits until every agency's newest task has ended; returns {service: tasks}."""
        def done():
            tasks = {s: self.tasks(s) for s in self.client_services}
            if all(t and t[0][1] in TERMINAL for t in tasks.values()):
                return tasks
            return None

        return wait_until(done, timeout, "every agency's task to end", interval=1)

    def dump(self, tail=100):
        for service in ["server", *self.client_services]:
            proc = run(["docker", "service", "ps", "--no-trunc", f"{STACK}_{service}"],
                       check=False)
            print(f"===== {STACK}_{service}\n{proc.stdout}{proc.stderr}")
            try:
                lines = self.logs(service).splitlines()
            except AssertionError as exc:  # gone already, or docker did not answer
                lines = [f"(no logs: {exc})"]
            print("\n".join(lines[-tail:]))


@pytest.fixture
def stack(swarm, tmp_path):
    made = []

    def make(clients, **kwargs):
        s = Stack(tmp_path / f"stack{len(made)}", clients, **kwargs)
        made.append(s)
        return s

    try:
        yield make
    finally:
        try:
            for s in made:
                if s.deployed:
                    s.dump()
        finally:
            remove_stack()


def check_draw(s, rows, winners, timeout, strict=True):
    """Every agency ran once and got its winners; the draw happened once; every bet stored once;
    strict: no line says result: fail. Returns the server's log (every task's)."""
    tasks = s.wait_agencies(timeout)
    for i, service in enumerate(s.client_services):
        assert len(tasks[service]) == 1, (service, tasks[service])  # no rerun, no restart
        task, state, error = tasks[service][0]
        assert state == "Complete", (service, state, error)
        assert s.exit_code(task) == 0, service
        log = s.logs(service)
        got = events(log, "consulta_ganadores", "success")
        assert len(got) == 1, log[-3000:]
        assert got[0].has(cant_ganadores=winners[i]), got
        assert not malformed_lines(log), log[-3000:]
        assert not strict or not fail_lines(log), log[-3000:]

    server_log = s.logs("server")
    draws = events(server_log, "sorteo")
    assert len(draws) == 1 and draws[0].result == "success", draws
    assert not strict or not fail_lines(server_log), fail_lines(server_log)[:10]
    assert not malformed_lines(server_log), malformed_lines(server_log)[:10]

    stored = s.stored_bets()
    assert all(len(r) == 6 for r in stored)
    twice = [k for k, n in collections.Counter((r[0], r[3]) for r in stored).items() if n > 1]
    assert not twice, f"stored twice: {twice[:5]}"
    per_agency = collections.Counter(int(r[0]) for r in stored)
    assert per_agency == {i + 1: n for i, n in enumerate(rows)}, per_agency
    return server_log


def test_lottery_on_a_swarm(stack):
    rows, winners = [100, 100, 100], [2, 1, 0]
    s = stack(len(rows))
    for i, (n, k) in enumerate(zip(rows, winners), start=1):
        agency_gen(s.data / f"agency-{i}.csv", agency=i, rows=n, winners=k, seed=7)
    started = time.monotonic()
    s.deploy()
    server_log = check_draw(s, rows, winners, timeout=180)
    print(f"deploy to every agency's result: {time.monotonic() - started:.1f} s")
    received = events(server_log, "apuesta_recibida", "success")
    assert sum(int(e.fields["cantidad"]) for e in received) == sum(rows)
    server_tasks = s.tasks("server")
    assert [t[1] for t in server_tasks] == ["Running"], server_tasks
    # and as an operator reads them
    for i, service in enumerate(s.client_services):
        got = events(s.service_logs(service), "consulta_ganadores", "success")
        assert len(got) == 1 and got[0].has(cant_ganadores=winners[i]), got
    assert len(events(s.service_logs("server"), "sorteo", "success")) == 1


def test_server_task_crash_resumes_from_the_volume(stack):
    """SIGKILL to the server task's PID 1: swarm starts a new task, in a new container, whose
    storage finds the draw on the volume and resumes it; the agencies retry and finish once."""
    rows, winners = [20000, 20000, 20000], [3, 0, 2]
    # Batches of 15, not the default's ~200: with those the whole run takes a fraction of a
    # second, and the kill must land mid-stream.
    s = stack(len(rows), client=client_yaml(max_amount=15))
    for i, (n, k) in enumerate(zip(rows, winners), start=1):
        agency_gen(s.data / f"agency-{i}.csv", agency=i, rows=n, winners=k, seed=11)
    s.deploy()
    wait_until(lambda: len(events(s.logs("server"), "apuesta_recibida", "success")) >= 50,
               90, "50 batches stored", interval=0.1)
    first = s.server_container()
    pid = run(["docker", "inspect", "-f", "{{.State.Pid}}", first]).stdout.strip()
    assert pid.isdigit() and int(pid) > 1, pid
    run(["kill", "-KILL", pid])

    def replaced():
        tasks = s.tasks("server")
        return len(tasks) == 2 and tasks[0][1] == "Running" and tasks[1][1] == "Failed"

    wait_until(replaced, 60, "swarm to replace the crashed server task", interval=0.5)
    assert s.server_container() != first
    server_log = check_draw(s, rows, winners, timeout=240, strict=False)
    recovered = events(server_log, "recovery", "success")
    assert len(recovered) == 1 and int(recovered[0].fields["bets"]) >= 50, recovered
