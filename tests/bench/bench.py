#!/usr/bin/env python3
"""tp0 benchmark (`make bench`): the native server and N lottery clients on 127.0.0.1.

For each run: wall time from the clients' start to the last client's exit, bets per second,
and the peak resident set (VmHWM) of the server's processes (supervisor, storage, acceptor, the
largest worker) and of the clients, all sampled from /proc/<pid>/status (ru_maxrss of a
child is useless here: Linux carries the forking Python parent's high-water mark across the
exec). Runs: synthetic agencies made with agency-gen (default 5 x 40000 rows, with the default batch.maxAmount and with a larger one),
and the course's dataset when ../shared/data/dataset.zip exists.

    TP0_BIN=build/bin python3 tests/bench/bench.py [--agencies 5] [--rows 40000]
                                                   [--max-amount 100] [--no-dataset]
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

os.environ.pop("TP0_VALGRIND", None)  # numbers under valgrind would mean nothing
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import tp0harness as h  # noqa: E402

SAMPLE_S = 0.05


def kib(v):
    return "-" if v is None else f"{v / 1024:.1f}"


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, children=False):
    """utime + stime of a live process (and of the children it has reaped), in seconds."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except OSError:
        return 0.0
    rest = data[data.rfind(")") + 2:].split()
    ticks = int(rest[11]) + int(rest[12])  # utime, stime
    if children:
        ticks += int(rest[13]) + int(rest[14])  # cutime, cstime
    return ticks / TICK


def run(name, work, files, winners, max_amount=None, fsync=True):
    """One server and one client per file; returns a row of results."""
    work.mkdir(parents=True)
    agencies = len(files)
    total = sum(sum(1 for line in open(p, "rb") if line.strip()) for p in files.values())
    srv = h.start_server(work / "server", {"AGENCIES": agencies, "LOGGING_LEVEL": "INFO",
                                           "MAX_WORKERS": max(64, 2 * agencies),
                                           "FSYNC": 1 if fsync else 0})
    cpu = {}
    peak = {"supervisor": 0, "storage": 0, "acceptor": 0, "worker": 0}
    clients, rusage = {}, {}
    try:
        roles = {srv.pid: "supervisor", srv.child_pid("storage"): "storage",
                 srv.child_pid("acceptor"): "acceptor"}
        t0 = time.monotonic()
        for a, path in files.items():
            clients[a] = h.start_client(work / f"client{a}", a, srv.address, mode="lottery",
                                        bets_file=str(path), max_amount=max_amount,
                                        attempts=5, timeout="60s", draw_timeout="30m")
        pending = {c.pid: a for a, c in clients.items()}
        while pending:
            for pid, role in roles.items():
                v = h.vm_hwm_kib(pid)
                if v:
                    peak[role] = max(peak[role], v)
            for pid in h.descendants(srv.child_pid("acceptor")):
                v = h.vm_hwm_kib(pid)
                if v:
                    peak["worker"] = max(peak["worker"], v)
            for pid, a in list(pending.items()):
                v = h.vm_hwm_kib(pid)
                if v:
                    rusage[a] = max(rusage.get(a, 0), v)
                if clients[a].popen.poll() is not None:
                    del pending[pid]
            if pending:
                time.sleep(SAMPLE_S)
            if time.monotonic() - t0 > 1800:
                raise RuntimeError("clients did not finish within 30 minutes")
        wall = time.monotonic() - t0
        # Finished workers have been reaped by the acceptor: their time is its children's.
        cpu = {"storage": cpu_seconds(srv.child_pid("storage")),
               "acceptor+workers": cpu_seconds(srv.child_pid("acceptor"), children=True),
               "supervisor": cpu_seconds(srv.pid)}
        for pid, role in roles.items():
            v = h.vm_hwm_kib(pid)
            if v:
                peak[role] = max(peak[role], v)
        problems = []
        for a, c in clients.items():
            if c.returncode != 0:
                problems.append(f"client {a} exited {c.returncode}")
            line = c.log.first("consulta_ganadores", "success")
            got = int(line.get("cant_ganadores")) if line else None
            if winners is not None and got != winners[a]:
                problems.append(f"client {a}: {got} winners, want {winners[a]}")
        stored = sum(1 for _ in h.read_bets_csv(srv.bets_path()))
        if stored != total:
            problems.append(f"bets.csv has {stored} rows, want {total}")
        rc = srv.stop(10)
        if rc != 0:
            problems.append(f"server exit {rc}")
    finally:
        for c in clients.values():
            c.cleanup()
        srv.cleanup()
    left = h.reap_orphans()
    if left:
        problems.append("left running: " + "; ".join(left))
    return {
        "run": name, "agencies": agencies, "bets": total, "sync": "on" if fsync else "off",
        "cpu_us": {k: v * 1e6 / total for k, v in cpu.items()},
        "batch": max_amount or h.BATCH_DEFAULT, "wall_s": wall, "bets_s": total / wall,
        "supervisor": peak["supervisor"], "storage": peak["storage"],
        "acceptor": peak["acceptor"], "worker": peak["worker"],
        "client": rusage.get(1), "client_max": max(rusage.values()) if rusage else None,
        "ok": "ok" if not problems else "; ".join(problems),
    }


def print_table(rows):
    head = ["run", "agencies", "bets", "batch", "sync", "wall s", "bets/s",
            "storage µs/bet", "acceptor+workers µs/bet", "supervisor MiB",
            "storage MiB", "acceptor MiB", "worker MiB", "client1 MiB", "client max MiB",
            "check"]
    body = [[r["run"], str(r["agencies"]), str(r["bets"]), str(r["batch"]), r["sync"],
             f"{r['wall_s']:.2f}", f"{r['bets_s']:.0f}",
             f"{r['cpu_us'].get('storage', 0):.2f}",
             f"{r['cpu_us'].get('acceptor+workers', 0):.2f}", kib(r["supervisor"]),
             kib(r["storage"]), kib(r["acceptor"]), kib(r["worker"]), kib(r["client"]),
             kib(r["client_max"]), r["ok"]] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    fmt = " | ".join("{:<%d}" % w for w in widths)
    print(fmt.format(*head))
    print("-+-".join("-" * w for w in widths))
    for row in body:
        print(fmt.format(*row))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agencies", type=int, default=5)
    ap.add_argument("--rows", type=int, default=40000)
    ap.add_argument("--max-amount", type=int, default=100,
                    help="batch.maxAmount of the second synthetic run (0: skip it)")
    ap.add_argument("--no-dataset", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()

    missing = h.missing_binaries()
    if missing:
        sys.exit(f"bench: not built in {h.BIN}: {', '.join(missing)}")
    h.become_subreaper()
    work = Path(tempfile.mkdtemp(prefix="tp0-bench-"))
    rows = []
    try:
        data = work / "synthetic"
        data.mkdir()
        files, winners = {}, {}
        for a in range(1, args.agencies + 1):
            winners[a] = a % 4
            files[a] = h.agency_gen(data / f"agency-{a}.csv", args.rows, winners[a], a,
                                    agency=a)
        name = f"synthetic {args.agencies}x{args.rows}"
        rows.append(run(name, work / "run1", files, winners))
        rows.append(run(name, work / "run1-nosync", files, winners, fsync=False))
        if args.max_amount:
            rows.append(run(name, work / "run2", files, winners, args.max_amount))
            rows.append(run(name, work / "run2-nosync", files, winners, args.max_amount,
                            fsync=False))
        if not args.no_dataset and h.DATASET_ZIP.exists():
            ds = h.unzip_dataset(work / "dataset")
            files = {a: ds / f"agency-{a}.csv" for a in range(1, 6)}
            rows.append(run("course dataset", work / "run3", files,
                            {1: 2, 2: 3, 3: 3, 4: 2, 5: 0}))
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print_table(rows)
    print(f"\npeak RSS: VmHWM sampled every {SAMPLE_S * 1000:.0f} ms for server processes "
          f"(worker: the largest seen) and clients; CPU: utime+stime per bet stored; "
          f"machine: {os.cpu_count()} CPUs")
    pairs = {}
    for r in rows:
        pairs.setdefault((r["run"], r["batch"]), {})[r["sync"]] = r["bets_s"]
    for (run_name, batch), v in pairs.items():
        if "on" in v and "off" in v:
            print(f"{run_name}, batch {batch}: sync on runs at {100 * v['on'] / v['off']:.0f}% "
                  f"of sync off")
    return 0 if all(r["ok"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
