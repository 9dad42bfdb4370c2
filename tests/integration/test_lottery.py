"""Exercises 5-8: one bet (mode bet), batches (mode lottery), the draw and the winners."""

import errno
import os
import signal
import threading
import time
from pathlib import Path

import pytest

import tp0harness as h


# --- helpers ---------------------------------------------------------------------------------

def start_lottery(server, client, work, inputs, max_amount=None, server_config=None,
                  client_env=None, crlf=False, files=None):
    """inputs: {agency: [Bet]} (or files: {agency: path}). Starts the server with AGENCIES =
    len(inputs) and one lottery client per agency."""
    agencies = len(files or inputs)
    cfg = {"AGENCIES": agencies}
    cfg.update(server_config or {})
    srv = server(config=cfg)
    clis = {}
    for agency in sorted(files or inputs):
        cdir = work / f"client{agency}"
        cdir.mkdir(parents=True, exist_ok=True)
        if files:
            path = files[agency]
        else:
            path = h.write_agency_csv(cdir / f"agency-{agency}.csv", inputs[agency], crlf=crlf)
        clis[agency] = client(agency, srv.address, mode="lottery", bets_file=str(path),
                              max_amount=max_amount, env=client_env)
    return srv, clis


def winners_of(cli, agency):
    lines = cli.log.find("consulta_ganadores", "success")
    assert len(lines) == 1, f"{len(lines)} consulta_ganadores success lines\n" + cli.describe()
    assert lines[0].keys[:1] == ["cant_ganadores"], str(lines[0])
    return int(lines[0].get("cant_ganadores"))


def batch_sizes(srv):
    return [int(ln.get("cantidad")) for ln in srv.log.find("apuesta_recibida", "success")]


def check_draw_log(srv, total_rows):
    sorteos = srv.log.find("sorteo", "success")
    assert len(sorteos) == 1, f"{len(sorteos)} sorteo lines\n" + srv.describe(60)
    received = srv.log.find("apuesta_recibida")
    late = [str(ln) for ln in received if ln.index > sorteos[0].index]
    assert not late, "apuesta_recibida after the sorteo:\n" + "\n".join(late[:5])
    assert sum(batch_sizes(srv)) == total_rows, \
        f"cantidad adds up to {sum(batch_sizes(srv))}, not {total_rows}"
    assert not srv.log.find("apuesta_recibida", "fail"), srv.describe(60)
    summary = srv.log.find("draw_summary", "success")
    assert len(summary) == 1 and summary[0].index > sorteos[0].index, srv.describe(60)
    assert int(summary[0].get("bets")) == total_rows, str(summary[0])


def check_bets_file(srv, inputs):
    rows = h.read_bets_csv(srv.bets_path())
    stored = h.by_agency(rows)
    for agency, bets in inputs.items():
        got = stored.get(agency, [])
        assert len(got) == len(bets), f"agency {agency}: {len(got)} rows stored, {len(bets)} sent"
        for i, (g, w) in enumerate(zip(got, bets)):
            assert g == w, f"agency {agency} row {i}: stored {g}, sent {w}"
    extra = set(stored) - set(inputs)
    assert not extra, f"rows of agencies that sent nothing: {extra}"
    return rows


def finish_lottery(srv, clis, inputs, winners, timeout=60, no_fail=True):
    for agency, cli in clis.items():
        rc = cli.wait(timeout)
        assert rc == 0, cli.describe()
    for agency, cli in clis.items():
        assert winners_of(cli, agency) == winners[agency], \
            f"agency {agency}: want {winners[agency]} winners\n" + cli.describe()
        # The agency keeps its winners' documents beside its data, in the file's order.
        kept = Path(cli.config["bets"]["file"]).with_name(f"winners-{agency}.csv")
        want = [b.document for b in inputs[agency] if b.number == h.WINNER_NUMBER]
        assert kept.read_text().split() == want, f"{kept}: {kept.read_text()!r}"
    check_draw_log(srv, sum(len(b) for b in inputs.values()))
    rows = check_bets_file(srv, inputs)
    for agency, w in winners.items():
        assert sum(1 for a, b in rows if a == agency and b.number == h.WINNER_NUMBER) == w
    if no_fail:
        for p in [srv, *clis.values()]:
            assert not p.log.fails(), p.describe(60)
            assert not p.log.malformed(), [ln.raw for ln in p.log.malformed()][:5]
    assert srv.running()
    assert srv.stop(5) == 0, srv.describe()
    srv.assert_all_gone()
    return rows


def run_agencies(server, client, work, spec, max_amount=None, **kw):
    """spec: [(rows, winners)] for agencies 1..N."""
    inputs = {a: h.make_bets(a, rows, w) for a, (rows, w) in enumerate(spec, 1)}
    srv, clis = start_lottery(server, client, work, inputs, max_amount=max_amount, **kw)
    finish_lottery(srv, clis, inputs, {a: w for a, (_, w) in enumerate(spec, 1)})
    return srv, clis


# --- mode bet --------------------------------------------------------------------------------

BET_ENV = {"NOMBRE": "Santiago Lionel", "APELLIDO": "Lorca", "DOCUMENTO": "30904465",
           "NACIMIENTO": "1999-03-17", "NUMERO": "7574"}


def test_bet_mode(server, client):
    srv = server(config={"AGENCIES": 5})
    cli = client(3, srv.address, mode="bet", env=BET_ENV)
    assert cli.wait(15) == 0, cli.describe()
    sent = cli.log.first("apuesta_enviada", "success")
    assert sent and sent.keys[:2] == ["dni", "numero"], cli.describe()
    assert (sent.get("dni"), sent.get("numero")) == ("30904465", "7574"), str(sent)
    stored = srv.wait_line(5, "apuesta_almacenada", "success")
    assert stored.keys[:2] == ["dni", "numero"], str(stored)
    assert (stored.get("dni"), stored.get("numero")) == ("30904465", "7574"), str(stored)
    rows = h.read_bets_csv(srv.bets_path())
    assert rows == [(3, h.Bet("Santiago Lionel", "Lorca", "30904465", "1999-03-17", 7574))]
    assert srv.bets_path().stat().st_mode & 0o777 == 0o644
    assert not srv.log.fails() and not cli.log.fails()
    assert srv.stop() == 0, srv.describe()
    srv.assert_all_gone()


@pytest.mark.parametrize("change", [
    {"DOCUMENTO": "12ab"}, {"DOCUMENTO": "12345678901"}, {"NACIMIENTO": "1999-02-30"},
    {"NACIMIENTO": "2999-01-01"}, {"NUMERO": "10000"}, {"NUMERO": "siete"},
    {"NOMBRE": None}, {"APELLIDO": ""},
], ids=["doc_letters", "doc_long", "date_invalid", "date_future", "number_big", "number_text",
        "no_name", "empty_surname"])
def test_bet_mode_invalid(server, client, change):
    srv = server(config={"AGENCIES": 1})
    env = dict(BET_ENV)
    env.update(change)
    cli = client(1, srv.address, mode="bet", env=env, attempts=2)
    assert cli.wait(10) != 0, "exit 0 with an invalid bet\n" + cli.describe()
    assert not cli.log.find("apuesta_enviada", "success")
    assert not srv.log.find("apuesta_almacenada", "success")
    assert srv.bets_path().exists() and h.read_bets_csv(srv.bets_path()) == []
    assert srv.running()


# --- mode lottery ----------------------------------------------------------------------------

def expected_batches(bets, max_amount):
    """The batches the client must send: up to max_amount bets each, a batch closing early only
    when the next bet would take its frame past 8 KiB."""
    sizes, n, size = [], 0, h.BATCH_HEADER
    for bet in bets:
        need = len(h.enc_bet(bet))
        if n == max_amount or size + need > h.FRAME_MAX:
            sizes.append(n)
            n, size = 0, h.BATCH_HEADER
        n += 1
        size += need
    return sizes + [n] if n else sizes


@pytest.mark.parametrize("rows,max_amount", [
    (64, None), (999, None), (64, 16), (99, 21), (16, 64), (21, 99), (700, 430),
], ids=["64_default", "999_default", "64_by16", "99_by21", "16_max64", "21_max99",
        "700_by_bytes"])
def test_one_agency_batches(server, client, work, rows, max_amount):
    """Every batch holds maxAmount bets but the last, unless the next bet would not have fitted
    in its 8 KiB frame (the default, 430, lets frames fill up)."""
    inputs = {1: h.make_bets(1, rows, rows % 4)}
    srv, clis = start_lottery(server, client, work, inputs, max_amount=max_amount)
    finish_lottery(srv, clis, inputs, {1: rows % 4})
    want = expected_batches(inputs[1], max_amount or h.BATCH_DEFAULT)
    assert batch_sizes(srv) == want
    if rows > 500:
        assert len(want) > 1 and max(want) < h.BATCH_DEFAULT, want  # cut by bytes


def test_three_agencies(server, client, work):
    run_agencies(server, client, work, [(100, 2), (100, 1), (100, 0)], max_amount=20)


def test_five_agencies(server, client, work):
    run_agencies(server, client, work, [(60, w) for w in (1, 2, 3, 4, 5)])


def test_bets_file_setting_honoured(server, client, work):
    """BETS_FILE names where the bets are stored (relative to the server's folder) and its
    journal goes beside it; nothing is written at the default name."""
    srv, _ = run_agencies(server, client, work, [(20, 1)],
                          server_config={"BETS_FILE": "ours.csv"})
    assert srv.bets_path() == srv.dir / "ours.csv"
    assert (srv.dir / "ours.csv.journal").stat().st_size > 0
    assert not (srv.dir / "bets.csv").exists() and not (srv.dir / "bets.csv.journal").exists()


def test_quoting_crlf_and_utf8(server, client, work):
    """Names with commas, quotes and accents, a CRLF file: stored as RFC 4180 and read back."""
    inputs = {a: h.make_bets(a, 30, 2, seed=5, odd_names=True) for a in (1, 2)}
    srv, clis = start_lottery(server, client, work, inputs, max_amount=7, crlf=True)
    finish_lottery(srv, clis, inputs, {1: 2, 2: 2})


def test_invalid_rows_are_skipped(server, client, work):
    good = h.make_bets(1, 10, 1, seed=9)
    cdir = work / "client1"
    cdir.mkdir()
    path = cdir / "agency-1.csv"
    rows = [b.row() for b in good]
    rows.insert(3, ["Ana", "Bad", "12x45", "1990-01-01", "5"])      # line 4: document
    rows.insert(7, ["Ana", "Bad", "123456", "2999-01-01", "5"])     # line 8: future birthdate
    path.write_text("".join(",".join(r) + "\n" for r in rows))
    srv = server(config={"AGENCIES": 1})
    cli = client(1, srv.address, mode="lottery", bets_file=str(path), max_amount=4)
    assert cli.wait(30) == 0, cli.describe()
    assert winners_of(cli, 1) == 1
    check_bets_file(srv, {1: good})
    mentions = [ln for ln in cli.log.lines() if ln.ok and any(
        "line" in k and v in ("4", "8") for k, v in ln.fields.items())]
    assert len(mentions) >= 2, "invalid rows not logged with their line numbers\n" + \
        cli.describe()


def test_agency_gen_output(work):
    a = h.agency_gen(work / "a.csv", 300, 4, 7)
    b = h.agency_gen(work / "b.csv", 300, 4, 7)
    c = h.agency_gen(work / "c.csv", 300, 4, 8)
    bets = h.read_agency_csv(a)
    assert len(bets) == 300
    assert sum(1 for x in bets if x.number == h.WINNER_NUMBER) == 4
    assert a.read_bytes() == b.read_bytes(), "same seed, different output"
    assert a.read_bytes() != c.read_bytes(), "different seed, same output"


def test_lottery_with_agency_gen(server, client, work):
    files = {1: h.agency_gen(work / "agency-1.csv", 500, 3, 1),
             2: h.agency_gen(work / "agency-2.csv", 500, 0, 2)}
    inputs = {a: h.read_agency_csv(p) for a, p in files.items()}
    srv, clis = start_lottery(server, client, work, inputs, files=files)
    finish_lottery(srv, clis, inputs, {1: 3, 2: 0})


@pytest.mark.slow
@pytest.mark.heavy
def test_course_dataset(server, client, work):
    if not h.DATASET_ZIP.exists():
        pytest.skip(f"no dataset at {h.DATASET_ZIP}")
    data = h.unzip_dataset(work / "data")
    files = {a: data / f"agency-{a}.csv" for a in range(1, 6)}
    inputs = {a: h.read_agency_csv(p) for a, p in files.items()}
    assert sum(len(v) for v in inputs.values()) == 78697
    srv, clis = start_lottery(server, client, work, inputs, files=files)
    rows = finish_lottery(srv, clis, inputs, {1: 2, 2: 3, 3: 3, 4: 2, 5: 0}, timeout=300)
    assert len(rows) == 78697


def test_worker_killed_mid_stream_client_resumes_exactly_once(server, client, work):
    """The client's connection dies with its worker in the middle of the stream: the client
    reconnects, resends what was not acknowledged, and every bet is stored exactly once.

    The agency reads its file from a pipe the test fills: the first half, then (once batches
    are stored and the agency is waiting for the rest) the kill, then the second half. So the
    kill lands mid-stream every time, instead of racing a stream that may already be over."""
    rows = 20000
    path = h.agency_gen(work / "agency-1.csv", rows, 4, seed=11)
    bets = h.read_agency_csv(path)
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) == rows
    fifo = work / "agency-1.fifo"
    os.mkfifo(fifo)
    srv = server(config={"AGENCIES": 1, "LOGGING_LEVEL": "DEBUG"})
    cli = client(1, srv.address, mode="lottery", bets_file=str(fifo), max_amount=10,
                 attempts=5)

    def open_for_writing():
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:  # ENXIO until the agency has opened it
            if e.errno != errno.ENXIO:
                raise
            return None
    fd = h.wait_for(open_for_writing, 10, "the agency to open its file", cli.describe)
    os.set_blocking(fd, True)
    written = {}
    killed = threading.Event()

    def feed():
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(b"".join(lines[:rows // 2]))
                f.flush()
                if killed.wait(h.T(60)):
                    f.write(b"".join(lines[rows // 2:]))
            written["ok"] = True
        except OSError as e:
            written["error"] = e
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    worker = int(srv.wait_line(20, "worker_start", "success").get("pid"))
    h.wait_for(lambda: len(srv.log.find("apuesta_recibida", "success")) >= 20, 20,
               "the first batches stored", srv.describe)
    assert not srv.log.find("agency_done"), srv.describe()  # it has half of its file
    os.kill(worker, signal.SIGKILL)
    killed.set()
    assert cli.wait(120) == 0, cli.describe()
    feeder.join(h.T(10))
    assert written.get("ok"), f"feeding the agency's file: {written}"
    assert cli.log.find("connection_lost", "in_progress"), \
        "the client never saw its connection die\n" + cli.describe()
    assert cli.log.first("consulta_ganadores", "success").get("cant_ganadores") == "4"
    stored = [b for _, b in h.read_bets_csv(srv.bets_path())]
    assert stored == bets, "bets lost, duplicated or reordered after the reconnect"
    logged = sum(int(ln.get("cantidad")) for ln in srv.log.find("apuesta_recibida", "success"))
    assert logged == rows, f"apuesta_recibida adds up to {logged}, {rows} stored"
    assert srv.stop(5) == 0, srv.describe()


@pytest.mark.heavy  # 2 x 3,000 bets, twice; the raw CONFLICT test in test_protocol runs under valgrind
@pytest.mark.parametrize("head_start", [0.0, 0.05])
def test_two_clients_same_id_no_bet_silently_lost(server, client, work, head_start):
    """Two agencies misconfigured with the same CLI_ID and different files, against AGENCIES=1:
    they must not both exit 0, and none may lose a bet silently. The one that exits 0 has every
    bet of its file in bets.csv (and nothing else is there), its winners agree with the file;
    the other is told its batch conflicts with the stored one and exits non-zero."""
    files = {"a": h.make_bets(1, 3000, 3), "b": h.make_bets(2, 3000, 5)}
    srv = server(config={"AGENCIES": 1})
    clis = {}
    for name, bets in files.items():
        cdir = work / f"client-{name}"
        cdir.mkdir()
        path = h.write_agency_csv(cdir / "agency-1.csv", bets)
        clis[name] = client(1, srv.address, mode="lottery", bets_file=str(path),
                            name=f"client-{name}")
        time.sleep(head_start)
    rcs = {name: cli.wait(60) for name, cli in clis.items()}
    assert sorted(rcs.values()).count(0) <= 1, "both agencies with id 1 exited 0\n" + \
        "\n".join(c.describe() for c in clis.values())
    stored = h.by_agency(h.read_bets_csv(srv.bets_path())).get(1, [])
    for name, cli in clis.items():
        if rcs[name] == 0:
            assert stored == files[name], f"client {name} exited 0, but bets.csv does not hold " \
                f"exactly its file ({len(stored)} rows)\n" + srv.describe(60)
            want = sum(1 for b in files[name] if b.number == h.WINNER_NUMBER)
            assert winners_of(cli, 1) == want, cli.describe()
        else:
            refused = [ln for ln in cli.log.find("batch_send", "fail")
                       if ln.get("code") in (str(h.E_CONFLICT), str(h.E_AGENCY), str(h.E_SESSION))]
            assert refused, f"client {name} failed without being told why\n" + cli.describe()
            assert not cli.log.find("consulta_ganadores", "success"), cli.describe()
    assert srv.stop(5) == 0, srv.describe()
