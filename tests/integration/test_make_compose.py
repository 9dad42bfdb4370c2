"""`make docker-compose-up` never reuses a compose file made for other agencies or another mode:
its compose-file step writes the file when missing or stale, and leaves a current one alone."""

import subprocess

import pytest

import tp0harness as h


def compose_file(path, agencies, mode):
    proc = subprocess.run(["make", "-s", "-C", str(h.REPO), "compose-file",
                           f"COMPOSE_FILE={path}", f"AGENCIES_DEFAULT={agencies}",
                           f"CLIENT_MODE={mode}"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stderr


@pytest.mark.no_binaries
def test_compose_file_regenerated_when_stale(tmp_path):
    path = tmp_path / "docker-compose-dev.yaml"
    assert "wrote" in compose_file(path, 2, "echo")
    first = path.read_text()
    assert first.count("\n  client") == 2 and 'CLI_MODE: "echo"' in first
    assert compose_file(path, 2, "echo") == "", "a current file was written again"
    assert "wrote" in compose_file(path, 3, "echo")
    assert path.read_text().count("\n  client") == 3
    assert "wrote" in compose_file(path, 3, "lottery")
    assert 'CLI_MODE: "lottery"' in path.read_text()
