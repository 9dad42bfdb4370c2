"""Helpers for the docker compose end-to-end tests: commands, polling, log parsing, and a
Deployment (one generated compose file with its own config copies and agency files)."""

import os
import pathlib
import re
import subprocess
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
PROJECT = "tp0"
NETWORK = "tp0_testing_net"
SUBNET = "172.25.125.0/24"
DATASET = REPO.parent / "shared" / "data" / "dataset.zip"
PORT = 12345

LINE_RE = re.compile(
    r"^(?P<date>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?P<level>[A-Z]+) +action: (?P<action>[^ |]+)"
    r" \| result: (?P<result>[^ |]+)(?: \| (?P<rest>.*))?$"
)


# --------------------------------------------------------------------------------------------
# helpers


def run(args, *, timeout=120, check=True, env=None, cwd=None):
    """Runs a command, returns CompletedProcess (text); on failure the error shows its output."""
    try:
        proc = subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"timed out after {timeout}s: {' '.join(map(str, args))}") from exc
    if check and proc.returncode != 0:
        raise AssertionError(
            f"exit {proc.returncode}: {' '.join(map(str, args))}\n"
            f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
        )
    return proc


def wait_until(predicate, timeout, what, interval=0.2):
    """Polls predicate until it returns something truthy (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Event:
    """One contract log line: level, action, result and the key: value fields after them."""

    def __init__(self, match, line):
        self.line = line
        self.level = match["level"]
        self.action = match["action"]
        self.result = match["result"]
        self.fields = {}
        rest = match["rest"]
        if rest:
            for part in rest.split(" | "):
                key, _, value = part.partition(": ")
                self.fields[key] = value

    def has(self, **fields):
        return all(self.fields.get(k) == str(v) for k, v in fields.items())

    def __repr__(self):
        return repr(self.line)


def events(log, action=None, result=None):
    """The contract lines of a log, optionally only one action and/or result."""
    out = []
    for line in log.splitlines():
        m = LINE_RE.match(line)
        if not m:
            continue
        ev = Event(m, line)
        if action is not None and ev.action != action:
            continue
        if result is not None and ev.result != result:
            continue
        out.append(ev)
    return out


# The contract's line: time, level padded to 8 (Python's %(levelname)-8s), action, result, fields.
STRICT_LINE_RE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG   |INFO    |WARNING |ERROR   |CRITICAL) "
    r"action: [A-Za-z0-9_]+ \| result: (success|fail|in_progress)( \| [A-Za-z0-9_]+: [^|]*)*$"
)


def malformed_lines(log):
    return [line for line in log.splitlines() if line and not STRICT_LINE_RE.match(line)]


def fail_lines(log):
    return [line for line in log.splitlines() if "result: fail" in line]


def server_ini(port=PORT, backlog=5, level="INFO", **extra):
    lines = [
        "[DEFAULT]",
        f"SERVER_PORT = {port}",
        "SERVER_IP = server",
        f"SERVER_LISTEN_BACKLOG = {backlog}",
        f"LOGGING_LEVEL = {level}",
    ]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def client_yaml(amount=5, period="100ms", level="INFO", max_amount=None, address=f"server:{PORT}"):
    text = (
        "server:\n"
        f'  address: "{address}"\n'
        "loop:\n"
        f"  amount: {amount}\n"
        f'  period: "{period}"\n'
        "log:\n"
        f'  level: "{level}"\n'
    )
    if max_amount is not None:
        text += f"batch:\n  maxAmount: {max_amount}\n"
    return text


def agency_gen(out, agency, rows, winners, seed=0):
    """Writes a synthetic agency file with agency-gen (native build if there, else the image)."""
    out = pathlib.Path(out)
    args = ["--rows", rows, "--winners", winners, "--seed", seed, "--agency", agency]
    native = REPO / "build" / "bin" / "agency-gen"
    if native.exists():
        run([native, *args, "--output", out])
    else:
        run(
            ["docker", "run", "--rm", "--user", f"{os.getuid()}:{os.getgid()}",
             "-v", f"{out.parent}:/data", "--entrypoint", "agency-gen", "client:latest",
             *args, "--output", f"/data/{out.name}"]
        )
    out.chmod(0o644)  # the containers read it as a non-root user


def clean_engine():
    """Removes anything left with the contract's names: an earlier run's project, stand-ins."""
    run(["docker", "compose", "-p", PROJECT, "down", "-v", "--remove-orphans", "-t", "5"],
        check=False, timeout=120)
    names = run(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()
    stray = [n for n in names if re.fullmatch(r"server|client\d+|tp0-echo-check-\d+", n)]
    if stray:
        run(["docker", "rm", "-f", *stray], check=False)
    if run(["docker", "network", "inspect", NETWORK], check=False).returncode == 0:
        run(["docker", "network", "rm", NETWORK], check=False)


def container_state(name):
    """(status, exit code) of a container, or (None, None) when there is none."""
    proc = run(["docker", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name],
               check=False)
    if proc.returncode != 0:
        return None, None
    status, code = proc.stdout.split()
    return status, int(code)


def container_logs(name):
    proc = run(["docker", "logs", name], check=False, timeout=60)
    return proc.stdout + proc.stderr


# --------------------------------------------------------------------------------------------
# deployment


class Deployment:
    def __init__(self, workdir, clients, mode, server=None, client=None, agencies=None):
        self.dir = pathlib.Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.clients = clients
        self.mode = mode
        self.server_config = self.dir / "config.ini"
        self.client_config = self.dir / "config.yaml"
        self.data = self.dir / "data"
        self.data.mkdir(exist_ok=True)
        self.compose_file = self.dir / "docker-compose-e2e.yaml"
        self.server_config.write_text(server if server is not None else server_ini())
        self.client_config.write_text(client if client is not None else client_yaml())
        self.agencies = agencies
        self.generate()

    @property
    def client_names(self):
        return [f"client{i}" for i in range(1, self.clients + 1)]

    @property
    def names(self):
        return ["server", *self.client_names]

    def generate(self):
        env = dict(os.environ)
        env.update(
            TP0_SERVER_CONFIG=str(self.server_config),
            TP0_CLIENT_CONFIG=str(self.client_config),
            TP0_DATA_DIR=str(self.data),
        )
        env.pop("CLIENT_MODE", None)
        run(["bash", REPO / "generar-compose.sh", self.compose_file, self.clients, self.mode],
            env=env)
        if self.agencies is not None:
            # the generator ties AGENCIES to the number of clients; some tests need another value
            text = self.compose_file.read_text()
            text = re.sub(r'AGENCIES: "\d+"', f'AGENCIES: "{self.agencies}"', text, count=1)
            self.compose_file.write_text(text)

    def compose(self, *args, timeout=180, check=True):
        return run(["docker", "compose", "-f", self.compose_file, *args], timeout=timeout,
                   check=check)

    def up(self):
        self.compose("up", "-d")

    def down(self):
        self.compose("down", "-v", "--remove-orphans", "-t", "10", check=False)

    def state(self, name):
        return container_state(name)

    def logs(self, name):
        return container_logs(name)

    def wait_exited(self, names, timeout):
        names = list(names)

        def all_exited():
            return all(self.state(n)[0] in ("exited", "dead") for n in names)

        wait_until(all_exited, timeout, f"{', '.join(names)} to exit")
        return {n: self.state(n)[1] for n in names}

    def wait_event(self, name, timeout, action, result=None, **fields):
        def found():
            return [e for e in events(self.logs(name), action, result) if e.has(**fields)]

        return wait_until(found, timeout, f"{name}: action {action} {result or ''} {fields}")

    def assert_no_fail(self, names=None):
        """No `result: fail` line, and every line in the contract's format."""
        bad, malformed = {}, {}
        for n in names if names is not None else self.names:
            log = self.logs(n)
            if fail_lines(log):
                bad[n] = fail_lines(log)[:10]
            if malformed_lines(log):
                malformed[n] = malformed_lines(log)[:10]
        assert not bad, f"result: fail lines: {bad}"
        assert not malformed, f"lines not in the contract's format: {malformed}"

    def dump_logs(self, tail=150):
        for n in self.names:
            status, code = self.state(n)
            if status is None:
                continue
            lines = self.logs(n).splitlines()
            print(f"===== {n} ({status}, exit {code}), last {min(tail, len(lines))} of "
                  f"{len(lines)} lines")
            print("\n".join(lines[-tail:]))




# --------------------------------------------------------------------------------------------
# docker's merged stream


# `docker compose logs --timestamps --no-color`: "<service> | <RFC 3339 stamp> <line>"; the
# service column is padded with spaces to the longest name.
COMPOSE_LOG_RE = re.compile(
    r"^(?P<service>[A-Za-z0-9_.-]+) +\| (?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) "
    r"(?P<line>.*)$"
)


# Compose 2.26 still starts each line with an erase-line sequence when it thinks it may.
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def stamp_ns(stamp):
    """Docker's RFC 3339 stamp (UTC, 0..9 fraction digits, trailing zeros dropped) as integer
    nanoseconds: the text cannot be compared as it is ("…:05.1Z" > "…:05.09Z")."""
    import calendar

    whole, _, frac = stamp.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return seconds * 1_000_000_000 + int((frac + "000000000")[:9])


class Stamped:
    """One line of the merged stream: docker's stamp (ns), the service, the line."""

    def __init__(self, ns, service, line):
        self.ns = ns
        self.service = service
        self.line = line
        m = LINE_RE.match(line)
        self.event = Event(m, line) if m else None

    def __repr__(self):
        return f"{self.ns} {self.service} | {self.line}"


def merged_stream(d):
    """Every container's lines as docker stamped them, in stamp order (as a grader merges
    them); lines with one stamp keep docker's output order."""
    out = d.compose("--ansi", "never", "logs", "--timestamps", "--no-color", timeout=60).stdout
    stream = []
    for text in out.splitlines():
        m = COMPOSE_LOG_RE.match(ANSI_RE.sub("", text))
        if m:
            stream.append(Stamped(stamp_ns(m["stamp"]), m["service"], m["line"]))
    stream.sort(key=lambda s: s.ns)
    return stream


# --------------------------------------------------------------------------------------------
# lottery


def stored_bets(name="server", path="/srv/tp0/bets.csv"):
    """The rows of the server's bets.csv (agency, first, last, document, birthdate, number)."""
    import csv
    import io

    text = run(["docker", "exec", name, "cat", path], timeout=60).stdout
    return list(csv.reader(io.StringIO(text)))


def check_lottery(d, rows, winners, timeout):
    """Waits for every agency to finish and checks the draw: rows[i] and winners[i] are agency
    i+1's bets and expected winners. Returns the server's apuesta_recibida cantidades."""
    codes = d.wait_exited(d.client_names, timeout=timeout)
    assert codes == {n: 0 for n in d.client_names}, codes

    for i, name in enumerate(d.client_names):
        log = d.logs(name)
        got = events(log, "consulta_ganadores", "success")
        assert len(got) == 1, log[-3000:]
        assert got[0].has(cant_ganadores=winners[i]), got

    server_log = d.logs("server")
    all_events = events(server_log)
    draws = [k for k, e in enumerate(all_events) if e.action == "sorteo"]
    assert len(draws) == 1, [all_events[k] for k in draws]
    assert all_events[draws[0]].result == "success"
    received = [k for k, e in enumerate(all_events)
                if e.action == "apuesta_recibida" and e.result == "success"]
    assert received and max(received) < draws[0], "apuesta_recibida logged after the sorteo"
    cantidades = [int(all_events[k].fields["cantidad"]) for k in received]
    assert sum(cantidades) == sum(rows)

    per_agency = {}
    for row in stored_bets():
        assert len(row) == 6, row
        per_agency[int(row[0])] = per_agency.get(int(row[0]), 0) + 1
    assert per_agency == {i + 1: n for i, n in enumerate(rows) if n}, per_agency
    assert d.state("server")[0] == "running"
    d.assert_no_fail()
    return cantidades
