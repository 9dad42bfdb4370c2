"""Fixtures for the docker compose end-to-end tests.

The images are built once per session (TP0_E2E_NO_BUILD=1 reuses the ones already there). Each
test gets a Deployment in its own temporary folder: copies of the config files, the agency files
and a compose file written there by generar-compose.sh (its TP0_* overrides point the mounts at
the copies, so the repository's own files are never touched). Teardown always runs
`docker compose down -v --remove-orphans`, and prints each container's log tail (pytest shows it
only when the test failed).

The contract fixes the names (project tp0, containers server and clientN, network
tp0_testing_net), so these tests remove whatever else uses those names, and must not run next to
another tp0 deployment on the same engine.
"""

import os
import pathlib
import re
import shutil
import zipfile

import pytest

from tp0_e2e import DATASET, NETWORK, SUBNET, REPO, Deployment, clean_engine, run


@pytest.fixture(scope="session")
def docker_engine():
    if shutil.which("docker") is None or run(["docker", "info"], check=False).returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("no docker engine (run bash ../shared/docker/engine-up.sh)")
        pytest.skip("no docker engine (run bash ../shared/docker/engine-up.sh)")
    clean_engine()
    yield
    clean_engine()


@pytest.fixture(scope="session")
def images(docker_engine):
    if os.environ.get("TP0_E2E_NO_BUILD") != "1":
        for what in ("server", "client"):
            run(["docker", "build", "-q", "-f", f"compose/{what}.Dockerfile",
                 "-t", f"{what}:latest", "."], cwd=REPO, timeout=1200)
    for image in ("server:latest", "client:latest", "busybox:latest"):
        run(["docker", "image", "inspect", image])
    return {
        image: run(["docker", "image", "inspect", "-f", "{{.Id}}", image]).stdout.strip()
        for image in ("server:latest", "client:latest")
    }


@pytest.fixture
def deploy(images, tmp_path):
    """deploy(clients, mode, server=ini text, client=yaml text) -> Deployment (not started)."""
    made = []

    def make(clients, mode, **kwargs):
        d = Deployment(tmp_path / f"deploy{len(made)}", clients, mode, **kwargs)
        made.append(d)
        return d

    clean_engine()
    yield make
    for d in made:
        try:
            d.dump_logs()
        finally:
            d.down()
    clean_engine()


@pytest.fixture
def standin_network(images):
    """A bare tp0_testing_net for stand-in servers (no compose project)."""
    clean_engine()
    run(["docker", "network", "create", "--subnet", SUBNET, NETWORK])
    yield NETWORK
    clean_engine()


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory):
    if not DATASET.exists():
        pytest.skip(f"{DATASET} is absent")
    out = tmp_path_factory.mktemp("dataset")
    with zipfile.ZipFile(DATASET) as z:
        for info in z.infolist():
            name = pathlib.Path(info.filename).name
            if re.fullmatch(r"agency-\d+\.csv", name):
                (out / name).write_bytes(z.read(info))
                (out / name).chmod(0o644)
    return out
