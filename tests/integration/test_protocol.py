"""The binary protocol spoken by a raw socket: malformed frames get their documented error code,
batches are stored exactly once and whole, and nothing of this disturbs a real agency."""

import signal
import struct
import sys
import textwrap

import pytest

import tp0harness as h


def some_bets(agency, n, base=0, winners=()):
    return [h.Bet("Ana María", "Peña", str(40_000_000 + agency * 100_000 + base + i),
                  "1990-05-17", h.WINNER_NUMBER if i in winners else 100 + i)
            for i in range(n)]


def error_cases(ok, out):
    """(id, bytes, shutdown_write_after, acceptable replies) for agency `ok` (in the draw, never
    finished) and `out` (outside the draw)."""
    done = struct.pack(">II", ok, 0) + h.bets_digest([])
    two = some_bets(ok, 2, base=90_000)
    bad_str = struct.pack(">I", ok) + bytes([200]) + b"abc"
    batch = h.batch_frame(ok, 0, some_bets(ok, 4, base=91_000))
    return [
        ("oversize", struct.pack(">BBBBI", h.MAGIC, 1, h.T_BATCH, 0, h.PAYLOAD_MAX + 1), False,
         {("ERROR", h.E_TOO_LARGE)}),
        ("oversize_huge", struct.pack(">BBBBI", h.MAGIC, 1, h.T_BATCH, 0, 0xFFFFFFFF), False,
         {("ERROR", h.E_TOO_LARGE)}),
        ("version2", h.frame(h.T_DONE, done, version=2), False, {("ERROR", h.E_VERSION)}),
        ("version0", h.frame(h.T_DONE, done, version=0), False, {("ERROR", h.E_VERSION)}),
        ("type_unknown", h.frame(0x07, done), False, {("ERROR", h.E_TYPE)}),
        ("type_zero", h.frame(0x00, b""), False, {("ERROR", h.E_TYPE)}),
        ("type_reply", h.ack_frame(0, 0), False, {("ERROR", h.E_TYPE)}),
        ("reserved", h.frame(h.T_DONE, done, reserved=1), False, {("ERROR", h.E_MALFORMED)}),
        ("count_more", h.frame(h.T_BATCH, h.batch_payload(ok, 0, two, count=3)), False,
         {("ERROR", h.E_MALFORMED)}),
        ("count_less", h.frame(h.T_BATCH, h.batch_payload(ok, 0, two, count=1)), False,
         {("ERROR", h.E_MALFORMED)}),
        ("trailing", h.frame(h.T_DONE, done + b"\0"), False, {("ERROR", h.E_MALFORMED)}),
        ("short", h.frame(h.T_DONE, done[:-1]), False, {("ERROR", h.E_MALFORMED)}),
        ("done_without_digest", h.frame(h.T_DONE, done[:8]), False, {("ERROR", h.E_MALFORMED)}),
        ("string_past_end", h.frame(h.T_BET, bad_str), False, {("ERROR", h.E_MALFORMED)}),
        ("truncated", batch[:h.HEADER + (len(batch) - h.HEADER) // 2], True,
         {("ERROR", h.E_TRUNCATED)}),
        ("truncated_header", batch[:5], True, {("ERROR", h.E_TRUNCATED)}),
        ("query_agency_out", h.query_frame(out, 0), False, {("ERROR", h.E_AGENCY)}),
        ("done_agency_out", h.done_frame(out, 0), False, {("ERROR", h.E_AGENCY)}),
        ("batch_agency_out", h.batch_frame(out, 0, some_bets(out, 2)), False,
         {("ERROR", h.E_AGENCY), ("REJECT", h.E_INVALID_BET)}),
        ("seq_ahead", h.batch_frame(ok, 5, some_bets(ok, 2, base=92_000)), False,
         {("ERROR", h.E_SEQUENCE)}),
        ("done_wrong_total", h.done_frame(ok, 5), False, {("ERROR", h.E_TOTAL)}),
    ]


def run_error_case(port, data, shut, accept):
    """Sends one bad request on a fresh connection: returns the reply; checks the server then
    closes (every ERROR ends the session)."""
    with h.Peer(port) as peer:
        peer.send(data)
        if shut:
            peer.shutdown_write()
        reply = peer.reply()
        assert (reply["type"], reply.get("code")) in accept, \
            f"got {reply['type']} {reply.get('code')} ({reply.get('reason')!r}), want {accept}"
        if reply["type"] == "ERROR":
            assert peer.closed_by_server(5), "connection left open after an ERROR"
        return reply


@pytest.fixture(scope="module")
def proto_server(tmp_path_factory):
    """AGENCIES=3 and agency 3 never finishes: no draw ever happens on this server."""
    srv = h.start_server(tmp_path_factory.mktemp("proto") / "server", {"AGENCIES": 3},
                         name="proto_server")
    yield srv
    srv.cleanup()
    h.reap_orphans()


CASES = error_cases(ok=3, out=4)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_request(proto_server, case):
    _, data, shut, accept = case
    before = set(b.document for _, b in h.read_bets_csv(proto_server.bets_path()))
    reply = run_error_case(proto_server.port, data, shut, accept)
    assert reply["reason"], "an error without a reason"
    assert proto_server.running(), proto_server.describe()
    after = set(b.document for _, b in h.read_bets_csv(proto_server.bets_path()))
    assert after == before, f"a refused request stored rows: {after - before}"


def test_invalid_bet_rejected_whole_connection_stays(proto_server):
    bets = some_bets(3, 3, base=93_000)
    bad = [bets[0], h.Bet(bets[1].first_name, bets[1].last_name, "12x", bets[1].birthdate, 5),
           bets[2]]
    with h.Peer(proto_server.port) as peer:
        reply = peer.request(h.batch_frame(3, 0, bad))
        assert (reply["type"], reply.get("code"), reply.get("index")) == \
            ("REJECT", h.E_INVALID_BET, 1), reply
        # Still open: the next request is answered (a sequence ahead is refused by storage).
        reply = peer.request(h.batch_frame(3, 7, bets))
        assert (reply["type"], reply.get("code")) == ("ERROR", h.E_SEQUENCE), reply
        assert peer.closed_by_server(5)
    with h.Peer(proto_server.port) as peer:
        future = h.Bet("Ana", "Peña", "40393001", "2999-01-01", 12)
        reply = peer.request(h.bet_frame(3, future))
        assert (reply["type"], reply.get("code"), reply.get("index")) == \
            ("REJECT", h.E_INVALID_BET, 0), reply
        # The session's agency is fixed by its first message.
        reply = peer.request(h.done_frame(2, 0))
        assert (reply["type"], reply.get("code")) == ("ERROR", h.E_AGENCY), reply
    docs = {b.document for _, b in h.read_bets_csv(proto_server.bets_path())}
    assert not docs & {b.document for b in bets} and "40393001" not in docs
    assert proto_server.running()


def test_pipelined_batches_answered_in_order(server):
    """Batches sent back to back (a window) reach storage together and are answered in order,
    one reply each; an invalid one among them is refused alone, after those before it are
    stored, and those behind it are judged on their own (here: ahead of the sequence)."""
    srv = server(config={"AGENCIES": 1})
    batches = [some_bets(1, 4, base=70_000 + 10 * k) for k in range(5)]
    bad = list(batches[3])
    bad[2] = h.Bet(bad[2].first_name, bad[2].last_name, "9x9", bad[2].birthdate, 1)
    frames = [h.batch_frame(1, k, batches[k]) for k in range(3)]
    frames += [h.batch_frame(1, 3, bad), h.batch_frame(1, 4, batches[4])]
    with h.Peer(srv.port) as peer:
        peer.send(b"".join(frames))
        for k in range(3):
            r = peer.reply()
            assert (r["type"], r.get("seq"), r.get("count")) == ("ACK", k, 4), r
        r = peer.reply()
        assert (r["type"], r.get("code"), r.get("index")) == ("REJECT", h.E_INVALID_BET, 2), r
        r = peer.reply()
        assert (r["type"], r.get("code")) == ("ERROR", h.E_SEQUENCE), r
        assert peer.closed_by_server(5)
    rows = h.read_bets_csv(srv.bets_path())
    assert [b for _, b in rows] == batches[0] + batches[1] + batches[2]
    assert len(srv.log.find("apuesta_recibida", "success")) == 3
    assert srv.stop(5) == 0, srv.describe()
    srv.assert_all_gone()


def test_proto_server_stops_cleanly(proto_server, client):
    """After all the abuse: the echo service still works and the stop is clean."""
    cli = client(9, proto_server.address, amount=1, period="10ms")
    assert cli.wait(10) == 0, cli.describe()
    assert proto_server.stop(5) == 0, proto_server.describe()
    proto_server.assert_all_gone()


# ---------------------------------------------------------------------------------------------

def test_errors_while_real_agency_completes(server, client, work):
    inputs = {1: h.make_bets(1, 200, 3)}
    srv = server(config={"AGENCIES": 2})
    cdir = work / "client1"
    cdir.mkdir()
    path = h.write_agency_csv(cdir / "agency-1.csv", inputs[1])
    cli = client(1, srv.address, mode="lottery", bets_file=str(path), max_amount=10)
    failures = []
    for name, data, shut, accept in error_cases(ok=2, out=3):
        try:
            run_error_case(srv.port, data, shut, accept)
        except AssertionError as e:
            failures.append(f"{name}: {e}")
    assert cli.running() or cli.returncode == 0, cli.describe()
    # Agency 2 now completes properly over a raw socket.
    mine = some_bets(2, 8, winners=(2, 6))
    with h.Peer(srv.port) as peer:
        r = peer.request(h.batch_frame(2, 0, mine[:5]))
        assert (r["type"], r.get("seq"), r.get("count")) == ("ACK", 0, 5), r
        r = peer.request(h.batch_frame(2, 1, mine[5:]))
        assert (r["type"], r.get("seq"), r.get("count")) == ("ACK", 1, 3), r
        r = peer.request(h.done_frame(2, 8, mine))
        assert r["type"] == "ACK", r
        r = peer.request(h.query_frame(2, 0))
        assert r["type"] == "WINNERS", r
        assert (r["total"], r["offset"], r["documents"]) == \
            (2, 0, [mine[2].document, mine[6].document]), r
    assert cli.wait(30) == 0, cli.describe()
    assert int(cli.log.first("consulta_ganadores", "success").get("cant_ganadores")) == 3
    stored = h.by_agency(h.read_bets_csv(srv.bets_path()))
    assert stored.get(1) == inputs[1]
    assert stored.get(2) == mine, "agency 2 rows are not exactly its acknowledged batches"
    assert len(srv.log.find("sorteo", "success")) == 1
    assert not failures, "\n".join(failures)
    assert srv.stop(5) == 0, srv.describe()
    srv.assert_all_gone()


def test_batch_resent_after_lost_ack_is_stored_once(server):
    srv = server(config={"AGENCIES": 1})
    first, second = some_bets(1, 5, winners=(1,)), some_bets(1, 3, base=500, winners=(0,))
    lost = h.Peer(srv.port)
    lost.send(h.batch_frame(1, 0, first))
    lost.close()  # cut before reading the ACK
    with h.Peer(srv.port) as peer:
        # ACK count = bets stored by this request: 5, or 0 if the lost one got there first.
        r = peer.request(h.batch_frame(1, 0, first))
        assert (r["type"], r.get("seq")) == ("ACK", 0) and r.get("count") in (0, 5), r
        r = peer.request(h.batch_frame(1, 1, second))
        assert (r["type"], r.get("seq"), r.get("count")) == ("ACK", 1, 3), r
        r = peer.request(h.batch_frame(1, 0, first))  # an old one again: ACK, nothing written
        assert (r["type"], r.get("seq"), r.get("count")) == ("ACK", 0, 0), r
        r = peer.request(h.batch_frame(1, 1, second))
        assert (r["type"], r.get("seq"), r.get("count")) == ("ACK", 1, 0), r
        r = peer.request(h.done_frame(1, 8, first + second))
        assert r["type"] == "ACK", r
        r = peer.request(h.done_frame(1, 8, first + second))  # a repeated DONE counts once
        assert r["type"] == "ACK", r
        r = peer.request(h.query_frame(1, 0))
        assert (r["type"], r.get("total"), r.get("documents")) == \
            ("WINNERS", 2, [first[1].document, second[0].document]), r
        r = peer.request(h.batch_frame(1, 2, second))  # after DONE: refused
        assert (r["type"], r.get("code")) == ("ERROR", h.E_SEQUENCE), r
    rows = h.read_bets_csv(srv.bets_path())
    assert [b for _, b in rows] == first + second, "duplicate or missing rows"
    assert len(srv.log.find("sorteo", "success")) == 1
    assert srv.stop(5) == 0, srv.describe()
    srv.assert_all_gone()


def test_different_batch_under_used_seq_is_a_conflict(server):
    """A batch resent under a stored sequence number is acknowledged again only if it is the same
    batch; another one under that number is ERROR CONFLICT (never a silent ACK, which would
    drop its bets), logged once by storage, and stores nothing."""
    srv = server(config={"AGENCIES": 1})
    first, other = some_bets(1, 4), some_bets(1, 4, base=700)
    with h.Peer(srv.port) as peer:
        r = peer.request(h.batch_frame(1, 0, first))
        assert (r["type"], r.get("seq"), r.get("count")) == ("ACK", 0, 4), r
        r = peer.request(h.batch_frame(1, 0, first))  # the same batch: ACK(seq, 0)
        assert (r["type"], r.get("seq"), r.get("count")) == ("ACK", 0, 0), r
        r = peer.request(h.batch_frame(1, 0, other))
        assert (r["type"], r.get("code")) == ("ERROR", h.E_CONFLICT), r
        assert "batch 0 differs from the one stored" in r.get("reason", ""), r
        assert peer.closed_by_server(), "an ERROR ends the session"
    with h.Peer(srv.port) as peer:  # one bet more or less is another batch too
        r = peer.request(h.batch_frame(1, 0, first[:3]))
        assert (r["type"], r.get("code")) == ("ERROR", h.E_CONFLICT), r
    with h.Peer(srv.port) as peer:  # and the right one is still acknowledged
        r = peer.request(h.batch_frame(1, 0, first))
        assert (r["type"], r.get("seq"), r.get("count")) == ("ACK", 0, 0), r
    rows = h.read_bets_csv(srv.bets_path())
    assert [b for _, b in rows] == first, "a conflicting batch changed bets.csv"
    h.wait_for(lambda: len(srv.log.find("batch_conflict", "fail")) >= 2, 5,
               "storage's batch_conflict lines", srv.describe)
    assert len(srv.log.find("batch_conflict", "fail", agency="1", seq="0")) == 2, srv.describe()
    assert srv.stop(5) == 0, srv.describe()


def test_refused_session_stores_nothing_after_its_error(server):
    """The batches a session sent behind a refused one (forwarded together or not) are not
    stored: they would interleave with the agency's real sequence."""
    srv = server(config={"AGENCIES": 1})
    mine, other0, other1 = some_bets(1, 3), some_bets(1, 3, base=300), some_bets(1, 3, base=600)
    with h.Peer(srv.port) as owner:
        r = owner.request(h.batch_frame(1, 0, mine))
        assert (r["type"], r.get("count")) == ("ACK", 3), r
        with h.Peer(srv.port) as dup:
            dup.send(h.batch_frame(1, 0, other0) + h.batch_frame(1, 1, other1))
            r = dup.reply()
            assert (r["type"], r.get("code")) == ("ERROR", h.E_CONFLICT), r
            while (r := dup.read_frame()) is not None:  # a refusal per batch, if forwarded
                assert h.decode_reply(*r)["type"] == "ERROR", r
        r = owner.request(h.batch_frame(1, 1, mine))
        assert (r["type"], r.get("seq"), r.get("count")) == ("ACK", 1, 3), r
    rows = h.read_bets_csv(srv.bets_path())
    assert [b for _, b in rows] == mine + mine, "a refused session's batch was stored"
    assert srv.stop(5) == 0, srv.describe()


def test_repeated_batch_logged_counts_add_up(server):
    """A batch repeated after a lost ACK stores nothing, so the server's apuesta_recibida
    cantidad values must still add up to the rows in bets.csv."""
    srv = server(config={"AGENCIES": 1})
    bets = some_bets(1, 5)
    with h.Peer(srv.port) as peer:
        for _ in range(2):
            r = peer.request(h.batch_frame(1, 0, bets))
            assert (r["type"], r.get("seq")) == ("ACK", 0), r
    rows = h.read_bets_csv(srv.bets_path())
    assert len(rows) == 5
    # The worker logs after relaying the reply: wait for the second batch's line, whatever its
    # action (a repeat need not be an apuesta_recibida).
    h.wait_for(lambda: len([ln for ln in srv.log.lines() if ln.ok and ln.action.startswith(
        "apuesta_")]) >= 2, 5, "a log line for each batch", srv.describe)
    logged = [int(ln.get("cantidad")) for ln in srv.log.find("apuesta_recibida", "success")]
    assert sum(logged) == len(rows), \
        f"apuesta_recibida cantidad {logged} adds up to {sum(logged)}, bets.csv has {len(rows)}"


def test_winners_paged_by_offset(server, client, work):
    """More winners than one WINNERS frame holds: the client pages; offsets work raw too."""
    n = 1500
    inputs = {1: h.make_bets(1, n, n)}
    srv = server(config={"AGENCIES": 1})
    (work / "c").mkdir()
    path = h.write_agency_csv(work / "c" / "agency-1.csv", inputs[1])
    cli = client(1, srv.address, mode="lottery", bets_file=str(path), max_amount=100)
    assert cli.wait(60) == 0, cli.describe()
    assert cli.log.first("consulta_ganadores", "success").get("cant_ganadores") == str(n)
    docs = []
    with h.Peer(srv.port) as peer:
        while len(docs) < n:
            r = peer.request(h.query_frame(1, len(docs)))
            assert r["type"] == "WINNERS" and r["total"] == n and r["offset"] == len(docs), r
            assert 0 < r["count"] and len(r["raw"]) <= h.PAYLOAD_MAX
            docs += r["documents"]
        r = peer.request(h.query_frame(1, n))
        assert (r["type"], r["total"], r["count"]) == ("WINNERS", n, 0), r
    assert docs == [b.document for b in inputs[1]]
    assert srv.stop(5) == 0, srv.describe()
    srv.assert_all_gone()


HALF_FRAME_SENDER = textwrap.dedent("""
    import socket, sys, time
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(bytes.fromhex(sys.argv[2]))
    print("sent", flush=True)
    time.sleep(600)
""")


def test_client_killed_mid_batch_stores_nothing(server, client, work):
    srv = server(config={"AGENCIES": 1})
    whole = h.batch_frame(1, 0, some_bets(1, 10, base=70_000))
    half = whole[:len(whole) // 2]
    sender = h.Proc("half_sender", [sys.executable, "-c", HALF_FRAME_SENDER, srv.port,
                                    half.hex()], work, h.clean_env(), work / "half",
                    wrap_cmd=False)
    h.wait_for(lambda: "sent" in h.read_text(sender.out_path), 10, "the half frame sent",
               sender.describe)
    sender.signal(signal.SIGKILL)
    sender.wait(5)
    srv.wait_line(10, "receive_frame", "fail", code=h.E_TRUNCATED)
    inputs = {1: h.make_bets(1, 40, 2)}
    (work / "c").mkdir()
    path = h.write_agency_csv(work / "c" / "agency-1.csv", inputs[1])
    cli = client(1, srv.address, mode="lottery", bets_file=str(path), max_amount=10)
    assert cli.wait(30) == 0, cli.describe()
    rows = h.read_bets_csv(srv.bets_path())
    assert [b for _, b in rows] == inputs[1], "rows of the killed client's half batch stored"
    assert srv.stop(5) == 0, srv.describe()
    srv.assert_all_gone()
