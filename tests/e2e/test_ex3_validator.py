"""Exercise 3: validar-echo-server.sh, against our server and against stand-in servers."""

import os
import shutil

import pytest

from tp0_e2e import REPO, PORT, events, run, wait_until

SUCCESS = "action: test_echo_server | result: success"
FAIL = "action: test_echo_server | result: fail"


def validate(script=REPO / "validar-echo-server.sh", **env):
    full = dict(os.environ)
    full.pop("SERVER_PORT", None)
    full.update({k: str(v) for k, v in env.items()})
    proc = run(["sh", script], check=False, env=full, timeout=60)
    return proc.returncode, proc.stdout.strip()


def test_validator_against_our_server(deploy):
    d = deploy(0, "echo")
    d.up()
    d.wait_event("server", 30, "accept_connections", "in_progress")
    code, out = validate(SERVER_PORT=PORT)
    assert (code, out) == (0, SUCCESS)
    msgs = [e.fields.get("msg", "") for e in events(d.logs("server"), "receive_message")]
    assert any(m.startswith("tp0-echo-check") for m in msgs), msgs
    assert d.state("server")[0] == "running"
    d.assert_no_fail()


STANDINS = {
    "echo": ("nc -ll -p {port} -e cat", SUCCESS),
    "wrong-answer": ("while true; do echo nope | nc -l -p {port}; done", FAIL),
    "silent": ("nc -ll -p {port} -e sleep 60", FAIL),
}


def start_standin(network, command, port):
    run(["docker", "run", "-d", "--name", "server", "--network", network, "busybox:latest",
         "sh", "-c", command.format(port=port)])

    def listening():
        out = run(["docker", "exec", "server", "netstat", "-ltn"], check=False).stdout
        return f":{port} " in out

    wait_until(listening, 20, f"stand-in listening on {port}")


@pytest.mark.parametrize("kind", list(STANDINS))
def test_validator_against_standin(standin_network, kind):
    command, expected = STANDINS[kind]
    start_standin(standin_network, command, PORT)
    code, out = validate(SERVER_PORT=PORT)
    assert out == expected
    assert code == (0 if expected == SUCCESS else 1)


def test_validator_reads_port_from_config(standin_network, tmp_path):
    # a copy of the script beside its own supervisor/config.ini, as in the repository
    shutil.copy(REPO / "validar-echo-server.sh", tmp_path)
    (tmp_path / "supervisor").mkdir()
    (tmp_path / "supervisor" / "config.ini").write_text(
        "[DEFAULT]\nSERVER_PORT = 4242\nSERVER_LISTEN_BACKLOG = 5\n"
    )
    start_standin(standin_network, STANDINS["echo"][0], 4242)
    assert validate(tmp_path / "validar-echo-server.sh") == (0, SUCCESS)
    assert validate(tmp_path / "validar-echo-server.sh", SERVER_PORT=PORT) == (1, FAIL)


def test_validator_without_server(standin_network):
    assert validate(SERVER_PORT=PORT) == (1, FAIL)
