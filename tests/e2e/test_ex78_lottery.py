"""Exercises 7 and 8: several agencies, the draw once every agency is done, and each agency
receives exactly its own winners."""

import shutil

from tp0_e2e import agency_gen, check_lottery, client_yaml, server_ini


def synthetic(deploy, rows, winners, seed):
    d = deploy(len(rows), "lottery", client=client_yaml())
    for i, (n, k) in enumerate(zip(rows, winners), start=1):
        agency_gen(d.data / f"agency-{i}.csv", agency=i, rows=n, winners=k, seed=seed)
    d.up()
    check_lottery(d, rows, winners, timeout=120)


def test_three_agencies(deploy):
    synthetic(deploy, [100, 100, 100], [2, 1, 0], seed=7)


def test_five_agencies(deploy):
    synthetic(deploy, [60] * 5, [1, 2, 3, 4, 5], seed=8)


def test_course_dataset(deploy, dataset_dir):
    files = sorted(dataset_dir.glob("agency-*.csv"))
    assert len(files) == 5
    d = deploy(5, "lottery", client=client_yaml())
    rows = []
    for i in range(1, 6):
        src = dataset_dir / f"agency-{i}.csv"
        shutil.copy(src, d.data / src.name)
        (d.data / src.name).chmod(0o644)
        with open(src, "rb") as f:
            rows.append(sum(1 for _ in f))
    assert sum(rows) == 78697
    d.up()
    check_lottery(d, rows, [2, 3, 3, 2, 0], timeout=300)


def test_agencies_prove_their_keys(deploy):
    """The compose path is authenticated by default: generar-compose.sh made one key per agency
    and handed the keys to the containers as secrets; the server reads them (as its image's
    user) and every agency proved its key (DEBUG shows each proof)."""
    d = deploy(2, "lottery", client=client_yaml(), server=server_ini(level="DEBUG"))
    for i in (1, 2):
        agency_gen(d.data / f"agency-{i}.csv", agency=i, rows=30, winners=i, seed=9)
    assert sorted(p.name for p in (d.data / "keys").iterdir()) == \
        ["agency-1.key", "agency-2.key", "agency-keys"]
    d.up()
    check_lottery(d, [30, 30], [1, 2], timeout=120)
    server = d.logs("server")
    assert "action: agency_keys | result: success" in server
    proofs = [ln for ln in server.splitlines() if "action: agency_auth | result: success" in ln]
    assert len(proofs) >= 2 and {"agency: 1", "agency: 2"} <= {
        part.strip() for ln in proofs for part in ln.split("|")}, server
