#!/usr/bin/env python3
"""tp0 compose benchmark (`make bench-compose`): the generated compose project, course dataset.

Each run generates a compose file for 5 agencies (generar-compose.sh, lottery mode), starts it
with `docker compose up -d` and reports: the time from the start of `up` to its return, to the
last agency's exit (docker's FinishedAt of each client container), and the server container's
CPU time (its cgroup's cpuacct.usage, read once every agency has exited). Runs: the course's
dataset (../shared/data/dataset.zip, 78,697 bets; skipped when absent) and 10 times as many
synthetic bets (5 x 150,000, made with agency-gen). Needs the images: `make docker-image`.

    python3 tests/bench/compose_bench.py [--runs 3] [--no-dataset] [--no-large]
"""

import argparse
import datetime
import os
import pathlib
import shutil
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))

import tp0_e2e as e  # noqa: E402

WINNERS = [2, 3, 3, 2, 0]  # the course's dataset, agencies 1..5 (the contract)


def finished_at(name):
    """When a container exited, in seconds since the epoch (docker's FinishedAt)."""
    text = e.run(["docker", "inspect", "-f", "{{.State.FinishedAt}}", name]).stdout.strip()
    # RFC 3339 with nanoseconds: keep microseconds, which datetime can read.
    base, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.datetime.fromisoformat(base).replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp() + (float("0." + frac[:6]) if frac else 0.0)


def cgroup_cpu_s(name):
    """CPU seconds of a running container's processes so far (cgroup v1 cpuacct or v2
    cpu.stat), None when neither is found."""
    cid = e.run(["docker", "inspect", "-f", "{{.Id}}", name]).stdout.strip()
    v1 = [f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage",
          f"/sys/fs/cgroup/cpuacct/system.slice/docker-{cid}.scope/cpuacct.usage",
          f"/sys/fs/cgroup/cpu,cpuacct/docker/{cid}/cpuacct.usage"]
    for path in v1:
        if os.path.exists(path):
            return int(pathlib.Path(path).read_text()) / 1e9
    for path in (f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat",
                 f"/sys/fs/cgroup/docker/{cid}/cpu.stat"):
        if os.path.exists(path):
            for line in pathlib.Path(path).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
    return None


def one_run(work, files, winners):
    e.clean_engine()
    d = e.Deployment(work, len(files), "lottery")
    for a, path in files.items():
        shutil.copyfile(path, d.data / f"agency-{a}.csv")
        (d.data / f"agency-{a}.csv").chmod(0o644)
    total = sum(sum(1 for line in open(p, "rb") if line.strip()) for p in files.values())
    try:
        t0 = time.time()
        d.up()
        up_s = time.time() - t0
        codes = d.wait_exited(d.client_names, timeout=600)
        cpu = cgroup_cpu_s("server")
        last = max(finished_at(n) for n in d.client_names)
        problems = [f"{n} exited {c}" for n, c in codes.items() if c != 0]
        for i, n in enumerate(d.client_names):
            got = e.events(d.logs(n), "consulta_ganadores", "success")
            if winners is not None and (len(got) != 1 or not got[0].has(cant_ganadores=winners[i])):
                problems.append(f"{n}: winners {got}")
        return {"bets": total, "up_s": up_s, "wall_s": last - t0, "server_cpu_s": cpu,
                "ok": "; ".join(problems) or "ok"}
    finally:
        d.down()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-dataset", action="store_true")
    ap.add_argument("--no-large", action="store_true")
    args = ap.parse_args()
    for image in ("server:latest", "client:latest"):
        if e.run(["docker", "image", "inspect", image], check=False).returncode != 0:
            sys.exit(f"bench-compose: no image {image}: run `make docker-image` first")

    work = pathlib.Path(tempfile.mkdtemp(prefix="tp0-bench-compose-"))
    sets = []
    try:
        if not args.no_dataset and e.DATASET.exists():
            ds = work / "dataset"
            with zipfile.ZipFile(e.DATASET) as z:
                z.extractall(ds)
            found = {int(p.stem.split("-")[1]): p for p in ds.rglob("agency-*.csv")}
            sets.append(("course dataset", found, WINNERS))
        if not args.no_large:
            big = work / "large"
            big.mkdir()
            files = {}
            for a in range(1, 6):
                files[a] = big / f"agency-{a}.csv"
                e.agency_gen(files[a], agency=a, rows=150000, winners=a % 4, seed=a)
            sets.append(("10x: 5 x 150,000", files, [a % 4 for a in range(1, 6)]))
        rows = []
        for name, files, winners in sets:
            for k in range(args.runs):
                r = one_run(work / f"run-{len(rows)}", files, winners)
                r["run"] = name
                rows.append(r)
                cpu = "-" if r["server_cpu_s"] is None else f"{r['server_cpu_s']:.2f}"
                print(f"{name} | {r['bets']} bets | up returned after {r['up_s']:.2f} s | "
                      f"last agency exited after {r['wall_s']:.2f} s | server CPU {cpu} s | "
                      f"{r['ok']}", flush=True)
    finally:
        e.clean_engine()
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["ok"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
