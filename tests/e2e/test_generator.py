"""generar-compose.sh: argument checks, and the file it writes as docker compose reads it."""

import json
import os

import pytest

from tp0_e2e import REPO, run

GEN = REPO / "generar-compose.sh"


def generate(out, *args, **env):
    full = dict(os.environ)
    full.pop("CLIENT_MODE", None)
    full.update(env)
    return run(["bash", GEN, out, *args], check=False, env=full)


@pytest.mark.parametrize("args", [[], ["OUT"], ["OUT", "-1"], ["OUT", "x"], ["OUT", "1.5"],
                                  ["OUT", "99999"], ["OUT", "2", "poker"], ["", "2"],
                                  ["OUT", "2", "echo", "extra"]])
def test_bad_arguments(tmp_path, args):
    out = tmp_path / "out.yaml"
    argv = [str(out) if a == "OUT" else a for a in args]
    proc = run(["bash", GEN, *argv], check=False)
    assert proc.returncode in (1, 2)
    assert proc.stderr.strip()
    assert not out.exists()


def compose_config(path):
    return json.loads(run(["docker", "compose", "-f", path, "config", "--format", "json"]).stdout)


@pytest.mark.parametrize("clients,mode", [(0, "echo"), (1, "bet"), (3, "lottery"), (7, None)])
def test_generated_file(docker_engine, tmp_path, clients, mode):
    out = tmp_path / "sub" / "compose.yaml"
    args = [str(clients)] + ([mode] if mode else [])
    proc = generate(out, *args, CLIENT_MODE="echo") if mode is None else generate(out, *args)
    assert proc.returncode == 0, proc.stderr
    mode = mode or "echo"
    text = out.read_text()
    assert text.splitlines()[1] == "name: tp0"
    cfg = compose_config(out)
    assert cfg["name"] == "tp0"
    assert sorted(cfg["services"]) == sorted(["server"] + [f"client{i}" for i in
                                                           range(1, clients + 1)])
    server = cfg["services"]["server"]
    assert server["container_name"] == "server"
    assert server["image"] == "server:latest"
    assert server["environment"]["AGENCIES"] == str(max(clients, 1))
    assert [(v["source"], v["target"], v.get("read_only")) for v in server["volumes"]] == [
        (str(REPO / "supervisor" / "config.ini"), "/srv/tp0/config.ini", True)]
    assert list(server["networks"]) == ["testing_net"]
    documents = set()
    for i in range(1, clients + 1):
        c = cfg["services"][f"client{i}"]
        assert c["container_name"] == f"client{i}"
        assert c["image"] == "client:latest"
        assert c["environment"]["CLI_ID"] == str(i)
        assert c["environment"]["CLI_MODE"] == mode
        assert "server" in c["depends_on"]
        mounts = {v["target"]: v["source"] for v in c["volumes"]}
        assert mounts["/app/config.yaml"] == str(REPO / "client" / "config.yaml")
        if mode == "lottery":
            assert mounts["/data/agency.csv"] == str(REPO / ".data" / f"agency-{i}.csv")
            assert c["environment"]["CLI_BETS_FILE"] == "/data/agency.csv"
        if mode == "bet":
            env = c["environment"]
            assert {"NOMBRE", "APELLIDO", "DOCUMENTO", "NACIMIENTO", "NUMERO"} <= set(env)
            documents.add(env["DOCUMENTO"])
    if mode == "bet":
        assert len(documents) == clients
    ipam = cfg["networks"]["testing_net"]["ipam"]["config"]
    assert ipam == [{"subnet": "172.25.125.0/24"}]
