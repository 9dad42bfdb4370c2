"""A failed fdatasync in storage, injected with the failsync shim (tests/fault/failsync.c): the
storage stops acknowledging and exits non-zero, and no bet acknowledged before the failure is
lost. The shim fails one sync (then the kernel's pages count as clean again, as on Linux) and cuts
the file back to what its last good sync covered, so an acknowledgement that did not wait for
its sync would lose its bets here.

The supervisor may stop everything when storage dies or restart it: after the failure the test
waits for the failed storage's own exit line, then kills the whole tree as a crash would, and
starts a new server on the same directory without the shim."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import tp0harness as h

FAULT_DIR = Path(os.environ.get("TP0_FAULT_DIR") or h.BIN.parent / "tests")
SHIM = FAULT_DIR / "libfailsync.so"
ROWS, WINNERS, BATCH = 600, 3, 10
# Before its first batch, storage syncs bets.csv, the journal and the folder (a new draw);
# then each commit syncs bets.csv, then the journal: so call 3 + 2k + 1 is the bets.csv sync of
# commit k + 1 and 3 + 2k + 2 its journal sync. Either way the failure lands mid-stream.
AFTER = {"bets_sync": 3 + 2 * 8, "journal_sync": 3 + 2 * 8 + 1}


def _asan_build():
    if os.environ.get("TP0_SANITIZE") == "1":
        return True
    if not shutil.which("ldd"):
        return False
    out = subprocess.run(["ldd", str(h.binary("storage"))], capture_output=True, text=True)
    return "libasan" in out.stdout


def _skip_reason():
    if h.VALGRIND:
        return ("TP0_VALGRIND=1: storage runs inside valgrind, under another process name and "
                "with valgrind's own preloads, so the shim would not act")
    if _asan_build():
        return ("ASan build: LD_PRELOAD of the shim puts it before the ASan runtime, which "
                "refuses to start")
    if not SHIM.exists():
        if os.environ.get("TP0_FAULT_DIR"):
            pytest.fail(f"TP0_FAULT_DIR is set but {SHIM} was not built", pytrace=False)
        return f"the shim is not built: {SHIM} (make it with `make {SHIM}`)"
    return None


@pytest.fixture(autouse=True)
def _shim_usable():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)


def acked(cli):
    """The bets the client holds as stored: its batch_send successes, seq 0, 1, ... in order."""
    lines = cli.log.find("batch_send", "success")
    seqs = [int(ln.get("seq")) for ln in lines]
    assert seqs == list(range(len(seqs))), f"acknowledged seqs out of order: {seqs}"
    return sum(int(ln.get("cantidad")) for ln in lines)


def received(lines):
    return sum(int(ln.get("cantidad")) for ln in lines)


@pytest.mark.slow
@pytest.mark.parametrize("which", sorted(AFTER))
def test_sync_failure_loses_no_acknowledged_bet(server, client, work, which):
    path = h.agency_gen(work / "agency-1.csv", ROWS, WINNERS, seed=23)
    bets = h.read_agency_csv(path)
    shim_env = {"LD_PRELOAD": SHIM, "TP0_FAIL_SYNC_AFTER": AFTER[which],
                "TP0_FAIL_SYNC_ONCE": 1, "TP0_FAIL_SYNC_DROP": 1}
    srv = server(config={"AGENCIES": 1}, env=shim_env)
    # One batch in flight: one commit per batch, so the failing sync is the 9th batch's.
    cli = client(1, srv.address, mode="lottery", bets_file=str(path), max_amount=BATCH,
                 level="DEBUG", timeout="3s", attempts=2, env={"CLI_BATCH_WINDOW": "1"})

    # --- the failure
    crit = srv.wait_line(30, "storage_sync", "fail")
    assert crit.level == "CRITICAL", str(crit)
    assert "failsync:" in srv.stderr(), "the failure was not the injected one\n" + srv.describe()
    gone = h.wait_for(lambda: next((ln for ln in srv.log.find("storage_exit")
                                    if ln.index > crit.index), None),
                      20, "the failed storage's storage_exit line", srv.describe)
    assert gone.result == "fail" and gone.get("exit_code") not in (None, "0"), str(gone)
    window = srv.log.lines()[crit.index:gone.index + 1]
    late = [ln.raw for ln in window if ln.ok and ln.matches("apuesta_recibida", "success")]
    assert not late, "acknowledged after the failed sync:\n" + "\n".join(late)

    # --- a crash of everything, at whatever the supervisor was doing
    cli.kill()
    srv.kill_tree()
    promised = acked(cli)
    logged = received(srv.log.find("apuesta_recibida", "success"))
    # A supervisor that restarts storage gives the restarted one the shim as well, and the kill
    # may then come at any point of its work: the exact checks need storage to have run once.
    once = len(srv.log.find("child_start", "success", name="storage")) == 1
    assert 0 < promised < ROWS, (f"{promised} of {ROWS} bets acknowledged: the failure did not "
                                 f"land mid-stream\n" + cli.describe())
    assert promised <= logged, \
        f"the client holds {promised} bets as stored, storage logged {logged}"

    # --- the restart recovers every acknowledged bet
    again = h.start_server(srv.dir, {"AGENCIES": 1}, name="restart")
    rec = again.wait_line(10, "recovery", "success")
    stored = [b for _, b in h.read_bets_csv(again.bets_path())]
    assert len(stored) >= promised, f"{promised} acknowledged, {len(stored)} recovered\n{rec}"
    assert stored == bets[:len(stored)], "recovered bets.csv is not a prefix of the agency's"
    assert int(rec.get("bets")) == len(stored), str(rec)
    if once:
        # The shim dropped what the failed sync did not cover, so recovery cut the part of the
        # other file that went with it; and what the log said was stored is what the file holds.
        assert int(rec.get("cut_bytes")) + int(rec.get("journal_cut_bytes")) > 0, str(rec)
        assert len(stored) == logged, f"apuesta_recibida said {logged}, {len(stored)} recovered"
    else:
        assert len(stored) >= logged, f"apuesta_recibida said {logged}, {len(stored)} recovered"

    # --- the agency sends its file again: every bet once, the right winners
    cli2 = client(1, again.address, name="client1-again", mode="lottery", bets_file=str(path),
                  max_amount=BATCH, level="DEBUG")
    assert cli2.wait(60) == 0, cli2.describe()
    winners = cli2.log.first("consulta_ganadores", "success")
    assert winners and winners.get("cant_ganadores") == str(WINNERS), cli2.describe()
    assert [b for _, b in h.read_bets_csv(again.bets_path())] == bets, \
        "bets lost, duplicated or reordered across the failure"
    after = received(again.log.find("apuesta_recibida", "success"))
    if once:
        assert logged + after == ROWS, f"apuesta_recibida adds up to {logged} + {after}, not {ROWS}"
    assert len(again.log.find("sorteo", "success")) == 1, again.describe()
    assert not again.log.fails(), again.describe(60)
    assert again.stop(5) == 0, again.describe()
    again.assert_all_gone()
