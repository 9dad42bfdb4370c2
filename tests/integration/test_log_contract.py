"""Every log line of every program keeps the contract (docs/CONTRACT.md, "Log lines"): each
program runs at DEBUG through every path that is cheap to reach (echo, bet, lottery with refused
requests, a resend, a restart, an unknown agency, a stop by SIGTERM, bad configs), then every
line of every process is checked against the table in tests/contract_log.py: the contract's
format, and a contract action only from the party the table names, with a result it lists and
exactly its keys. Each scenario also checks that it reached the paths it is there for."""

import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest

import contract_log as c
import test_protocol as tp
import tp0harness as h

LEVEL = "DEBUG"

BET_ENV = {"NOMBRE": "Santiago Lionel", "APELLIDO": "Lorca", "DOCUMENTO": "30904465",
           "NACIMIENTO": "1999-03-17", "NUMERO": "7574"}


class Run:
    """What one scenario started, and the lines it must have made someone log."""

    def __init__(self):
        self.procs = []
        self.echo_checks = []  # (name, stdout)
        self.required = set()  # (party, action, result)

    def add(self, proc):
        self.procs.append(proc)
        return proc

    def need(self, party, *pairs):
        self.required |= {(party, action, result) for action, result in pairs}


def workers_done(srv, timeout=10):
    """Waits until every worker the acceptor started has exited, so each has logged all it
    will: a sync point that does not depend on the lines under test (both lines are DEBUG)."""
    def check():
        return len(srv.log.find("worker_exit")) >= len(srv.log.find("worker_start", "success"))
    h.wait_for(check, timeout, "every worker to exit", srv.describe)


def party_of(proc):
    return c.SERVER if isinstance(proc, h.Server) else c.CLIENT


def stdout_of(proc):
    data = proc.out_path.read_bytes()
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as e:
        return data.decode("utf-8", errors="replace"), f"{proc.name}: stdout is not UTF-8: {e}"


# --- the echo check, with docker replaced by a direct connection -------------------------------

FAKE_DOCKER = '''#!{python}
"""docker as validar-echo-server.sh uses it, without docker: `run ... echo-check MESSAGE HOST
PORT SECONDS` sends MESSAGE to HOST:PORT and prints the line that comes back; `rm` does nothing."""
import socket, sys
args = sys.argv[1:]
if args[:1] != ["run"]:
    sys.exit(0)
i = args.index("echo-check")
message, host, port, seconds = args[i + 1], args[i + 2], int(args[i + 3]), int(args[i + 4])
try:
    with socket.create_connection((host, port), timeout=seconds) as s:
        s.sendall(message.encode() + b"\\n")
        data = b""
        while not data.endswith(b"\\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
except OSError as e:
    print(f"echo-check: {{e}}", file=sys.stderr)
    sys.exit(1)
sys.stdout.write(data.decode(errors="replace"))
'''


def run_echo_check(work, port):
    bindir = work / "fake-docker"
    bindir.mkdir(exist_ok=True)
    fake = bindir / "docker"
    fake.write_text(FAKE_DOCKER.format(python=sys.executable))
    fake.chmod(0o755)
    env = h.clean_env({"PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
                       "SERVER_PORT": port, "ECHO_HOST": "127.0.0.1", "ECHO_TIMEOUT": 10})
    # Never the real docker: the engine is not this test's to use.
    assert shutil.which("docker", path=env["PATH"]) == str(fake)
    res = subprocess.run(["sh", str(h.REPO / "validar-echo-server.sh")], cwd=work, env=env,
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=h.T(30))
    return res.returncode, res.stdout.decode("utf-8", errors="replace")


# --- scenarios ---------------------------------------------------------------------------------

def scenario_echo(server, client, work):
    run = Run()
    srv = run.add(server(config={"LOGGING_LEVEL": LEVEL, "IDLE_TIMEOUT": h.scaled_duration(1)}))
    clis = [run.add(client(i, srv.address, amount=2, period="10ms", level=LEVEL))
            for i in (1, 2)]
    addr = ("127.0.0.1", srv.port)
    with socket.create_connection(addr, timeout=h.T(5)) as s:  # an over-long line
        s.sendall(b"x" * 10000)
        h.read_until_eof(s, 5)
    socket.create_connection(addr, timeout=h.T(5)).close()  # nothing at all
    with socket.create_connection(addr, timeout=h.T(5)) as s:  # half a line
        s.sendall(b"hola | result: success\x85sin fin")
        s.shutdown(socket.SHUT_WR)
        h.read_until_eof(s, 5)
    with socket.create_connection(addr, timeout=h.T(5)) as s:  # silence until the idle timeout
        h.read_until_eof(s, 6)
    with socket.create_connection(addr, timeout=h.T(5)) as s:  # a line that forges fields
        s.sendall(b"x | result: fail | cant_ganadores: 9\n")
        h.read_until_eof(s, 5)
    rc, out = run_echo_check(work, srv.port)
    assert rc == 0, out
    run.echo_checks.append(("echo check", out))
    rc, out = run_echo_check(work, h.free_port())
    assert rc != 0, out
    run.echo_checks.append(("echo check, nothing listening", out))
    lost = run.add(client(3, f"127.0.0.1:{h.free_port()}", attempts=2, level=LEVEL,
                          name="client3_no_server"))
    stopped = run.add(client(4, srv.address, amount=3, period="10s", level=LEVEL))
    stopped.wait_line(10, "receive_message", "success", client_id=4)
    stopped.signal(signal.SIGTERM)
    assert stopped.wait(5) == 0, stopped.describe()
    for cli in clis:
        assert cli.wait(15) == 0, cli.describe()
    assert lost.wait(15) != 0, lost.describe()
    workers_done(srv)
    assert srv.stop(5) == 0, srv.describe()
    run.need(c.SERVER, ("config", "success"), ("accept_connections", "in_progress"),
             ("accept_connections", "success"), ("receive_message", "success"),
             ("receive_line", "fail"), ("receive_first_byte", "fail"))
    run.need(c.CLIENT, ("config", "success"), ("receive_message", "success"),
             ("loop_finished", "success"), ("connect", "in_progress"), ("connect", "fail"),
             ("shutdown", "success"))
    run.need(c.ECHO_CHECK, ("test_echo_server", "success"), ("test_echo_server", "fail"))
    return run


def scenario_bet(server, client, work):
    run = Run()
    srv = run.add(server(config={"AGENCIES": 5, "LOGGING_LEVEL": LEVEL}))
    ok = run.add(client(3, srv.address, mode="bet", env=BET_ENV, level=LEVEL))
    assert ok.wait(15) == 0, ok.describe()
    for cid, change in ((2, {"NUMERO": "10000"}), (4, {"NOMBRE": None})):
        bad = run.add(client(cid, srv.address, mode="bet", env={**BET_ENV, **change},
                             level=LEVEL, attempts=2))
        assert bad.wait(10) != 0, bad.describe()
    outside = run.add(client(7, srv.address, mode="bet", env=BET_ENV, level=LEVEL))
    assert outside.wait(10) != 0, outside.describe()
    with h.Peer(srv.port) as peer:
        future = h.Bet("Ana", "Peña", "40393001", "2999-01-01", 12)
        assert peer.request(h.bet_frame(1, future))["type"] == "REJECT"
    workers_done(srv)
    assert srv.stop(5) == 0, srv.describe()
    run.need(c.SERVER, ("apuesta_almacenada", "success"), ("bet_refused", "fail"))
    run.need(c.CLIENT, ("apuesta_enviada", "success"), ("bet_read", "fail"),
             ("bet_send", "fail"))
    return run


def scenario_lottery(server, client, work):
    run = Run()
    srv = run.add(server(config={"AGENCIES": 3, "LOGGING_LEVEL": LEVEL}))
    # Agency 3 over a raw socket: every malformed request, an invalid batch, a batch, its resend.
    for _, data, shut, accept in tp.error_cases(ok=3, out=4):
        tp.run_error_case(srv.port, data, shut, accept)
    mine = tp.some_bets(3, 4, winners=(1,))
    bad = [mine[0], h.Bet("Ana", "Peña", "12x", "1990-05-17", 5)]
    with h.Peer(srv.port) as peer:
        assert peer.request(h.batch_frame(3, 0, bad))["type"] == "REJECT"
        assert peer.request(h.batch_frame(3, 0, mine))["count"] == 4
        assert peer.request(h.batch_frame(3, 0, mine))["count"] == 0  # a resend: stored once
        assert peer.request(h.done_frame(3, 4, mine))["type"] == "ACK"
    files = {}
    for agency, rows, winners in ((1, 30, 2), (2, 20, 1), (9, 5, 0)):
        files[agency] = h.write_agency_csv(work / f"agency-{agency}.csv",
                                           h.make_bets(agency, rows, winners))
    with open(files[2], "a", encoding="utf-8") as f:
        f.write("Ana,Peña,12x,1990-05-17,5\n")  # skipped by the client
    outside = run.add(client(9, srv.address, mode="lottery", bets_file=str(files[9]),
                             level=LEVEL))
    assert outside.wait(15) != 0, outside.describe()
    # Agency 1 gives up waiting for the draw, then comes back and resends everything.
    early = run.add(client(1, srv.address, mode="lottery", bets_file=str(files[1]),
                           max_amount=10, level=LEVEL, draw_timeout=h.scaled_duration(0.5),
                           name="client1_gives_up"))
    assert early.wait(15) != 0, early.describe()
    last = run.add(client(2, srv.address, mode="lottery", bets_file=str(files[2]),
                          max_amount=10, level=LEVEL))
    assert last.wait(20) == 0, last.describe()
    again = run.add(client(1, srv.address, mode="lottery", bets_file=str(files[1]),
                           max_amount=10, level=LEVEL, name="client1_again"))
    assert again.wait(20) == 0, again.describe()
    with h.Peer(srv.port) as peer:
        assert peer.request(h.query_frame(3, 0))["total"] == 1
    workers_done(srv)
    assert srv.stop(5) == 0, srv.describe()
    run.need(c.SERVER, ("apuesta_recibida", "success"), ("apuesta_recibida", "fail"),
             ("batch_refused", "fail"), ("apuesta_repetida", "success"), ("sorteo", "success"),
             ("receive_frame", "fail"), ("agency_done", "success"), ("agency_done", "fail"),
             ("winners_query", "in_progress"), ("winners_query", "success"),
             ("winners_query", "fail"))
    run.need(c.CLIENT, ("batch_send", "success"), ("batch_send", "fail"),
             ("bet_skipped", "fail"), ("bets_done", "success"), ("winners_query", "fail"),
             ("consulta_ganadores", "success"))
    return run


def scenario_shutdown(server, client, work):
    run = Run()
    srv = run.add(server(config={"AGENCIES": 2, "LOGGING_LEVEL": LEVEL}))
    path = h.write_agency_csv(work / "agency-1.csv", h.make_bets(1, 12, 1))
    held = run.add(client(1, srv.address, mode="lottery", bets_file=str(path), max_amount=5,
                          level=LEVEL, attempts=1))
    srv.wait_line(20, "storage_request", "success", type="WINNERS_QUERY", held="until the draw")
    echo = run.add(client(5, srv.address, amount=3, period="10s", level=LEVEL))
    echo.wait_line(10, "receive_message", "success", client_id=5)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=h.T(5)):  # never speaks
        srv.wait_line(5, "accept_connections", "success", count=3)
        assert srv.stop(10) == 0, srv.describe()
    assert held.wait(15) != 0, held.describe()  # told the server is shutting down
    echo.signal(signal.SIGTERM)
    assert echo.wait(5) == 0, echo.describe()
    run.need(c.SERVER, ("shutdown", "in_progress"), ("shutdown", "success"))
    run.need(c.CLIENT, ("winners_query", "fail"), ("shutdown", "success"))
    return run


def scenario_config(server, client, work):
    run = Run()
    procs = [
        h.Client(work / "yaml", None, raw_yaml="server: [unclosed\n", name="client_bad_yaml"),
        h.Client(work / "env", h.client_config(1, "127.0.0.1:1"), name="client_bad_env",
                 env={"CLI_LOOP_PERIOD": "5x", "CLI_LOG_LEVEL": LEVEL}),
        h.Proc("client_bad_args", [h.binary("client"), "--bogus"], work / "args",
               h.clean_env(), work / "args"),
        h.Server(work / "level", {"LOGGING_LEVEL": "LOUD"}, name="server_bad_level"),
        h.Server(work / "missing", write_config=False, config_path=work / "missing.ini",
                 name="server_no_file"),
    ]
    for proc in procs:
        assert run.add(proc).wait(10) != 0, proc.describe()
    run.need(c.SERVER, ("config_load", "fail"))
    run.need(c.CLIENT, ("config_load", "fail"), ("command_line", "fail"))
    return run


SCENARIOS = {"echo": scenario_echo, "bet": scenario_bet, "lottery": scenario_lottery,
             "shutdown": scenario_shutdown, "config": scenario_config}


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_log_lines_keep_the_contract(scenario, server, client, work):
    run = SCENARIOS[scenario](server, client, work)
    bad, seen = [], set()
    for proc in run.procs:
        assert not proc.running(), f"{proc.name} still running: its log is not complete"
        party = party_of(proc)
        text, why = stdout_of(proc)
        if why:
            bad.append(why)
        bad += c.violations(party, text, proc.name)
        bad += [f"{proc.name}: a log line on stderr:\n    {ln}"
                for ln in proc.stderr().splitlines() if "action: " in ln]
        seen |= {(party, ln.action, ln.result) for ln in map(c.parse, text.splitlines())
                 if isinstance(ln, c.LogLine)}
    for name, text in run.echo_checks:
        bad += c.violations(c.ECHO_CHECK, text, name)
        seen |= {(c.ECHO_CHECK, ln.action, ln.result)
                 for ln in (c.parse(raw, c.ECHO_CHECK) for raw in text.splitlines())
                 if isinstance(ln, c.LogLine)}
    assert not bad, f"{len(bad)} log lines break the contract:\n" + "\n".join(bad[:40])
    missing = sorted(run.required - seen)
    assert not missing, ("the scenario did not reach these lines (party, action, result): "
                         f"{missing}\n" + "\n".join(p.describe(20) for p in run.procs))
