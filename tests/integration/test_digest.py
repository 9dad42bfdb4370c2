"""The end-to-end check of an agency's stream (README "The stream's digest"): DONE carries the
digest of every bet the agency had acknowledged, in order; storage compares it with the digest of
what it stored for the agency, and the draw's pass over bets.csv checks the file against the
same digests. A mismatch is an error, never a success."""

import tp0harness as h
from test_durability import kill_tree, restart

E_DIGEST = 16
ack = h.assert_ack


def test_done_with_another_digest_is_refused_and_not_counted(server):
    srv = server(config={"AGENCIES": 1})
    mine, other = h.make_bets(1, 6, 1, seed=3), h.make_bets(1, 6, 1, seed=4)
    with h.Peer(srv.port) as peer:
        ack(peer.request(h.batch_frame(1, 0, mine)), 0, 6)
        r = peer.request(h.done_frame(1, 6, other))
        assert r["type"] == "ERROR" and r["code"] == E_DIGEST, r
        assert "digest differs" in r["reason"], r
        assert peer.closed_by_server(5)
    assert not srv.log.find("sorteo"), "a refused DONE counted"
    # the same bets in another order are another stream
    with h.Peer(srv.port) as peer:
        r = peer.request(h.done_frame(1, 6, list(reversed(mine))))
        assert r["type"] == "ERROR" and r["code"] == E_DIGEST, r
    with h.Peer(srv.port) as peer:
        ack(peer.request(h.done_frame(1, 6, mine)), 0)
        r = peer.request(h.query_frame(1))
        assert r["type"] == "WINNERS" and r["total"] == 1, r
    assert len(srv.log.find("sorteo", "success")) == 1


def test_digest_survives_a_restart(server):
    """Storage rebuilds each agency's digest from bets.csv at recovery: a DONE after a crash is
    checked against the bets stored before it."""
    config = {"AGENCIES": 1, "SERVER_PORT": h.free_port()}
    srv = server(config=config)
    mine = h.make_bets(1, 5, 1, seed=5)
    with h.Peer(srv.port) as peer:
        ack(peer.request(h.batch_frame(1, 0, mine[:3])), 0, 3)
        ack(peer.request(h.batch_frame(1, 1, mine[3:])), 1, 2)
    kill_tree(srv)
    srv2 = restart(server, srv, "server2", config)
    assert srv2.wait_line(10, "recovery", "success").get("bets") == "5", srv2.describe()
    with h.Peer(srv2.port) as peer:
        r = peer.request(h.done_frame(1, 5, mine[:4] + [mine[3]]))
        assert r["type"] == "ERROR" and r["code"] == E_DIGEST, r
    with h.Peer(srv2.port) as peer:
        ack(peer.request(h.done_frame(1, 5, mine)), 0)


def test_two_agencies_with_one_id_never_both_succeed(server, client, work):
    """The issue's first measurement: two clients both CLI_ID=1 with different files. At most
    one exits 0, and bets.csv then holds exactly its file: nothing is lost silently."""
    srv = server(config={"AGENCIES": 1})
    files = [h.agency_gen(work / f"agency-1-{n}.csv", 3000, 3, seed=70 + n) for n in (1, 2)]
    clis = [client(1, srv.address, name=f"client1-{n}", mode="lottery", bets_file=str(f),
                   max_amount=10) for n, f in zip((1, 2), files)]
    rcs = [c.wait(120) for c in clis]
    assert rcs.count(0) <= 1, "both agencies with id 1 reported success"
    stored = [b for _, b in h.read_bets_csv(srv.bets_path())]
    for rc, c, f in zip(rcs, clis, files):
        if rc == 0:
            assert stored == h.read_agency_csv(f), "the successful agency's bets are not all stored"
        else:
            assert c.log.fails(), c.describe()


def alter_one_document(path, agency):
    """Changes one digit of a document of agency's first row, in place (same size)."""
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        fields = line.split(",")
        if fields[0] == str(agency):
            doc = fields[3]
            fields[3] = doc[:-1] + ("1" if doc[-1] != "1" else "2")
            lines[i] = ",".join(fields)
            break
    else:
        raise AssertionError(f"no row of agency {agency}")
    path.write_text("".join(lines))


def test_bets_csv_changed_behind_the_servers_back_fails_the_draw(server):
    srv = server(config={"AGENCIES": 2})
    first, second = h.make_bets(1, 4, 1, seed=6), h.make_bets(2, 3, 1, seed=7)
    with h.Peer(srv.port) as peer:
        ack(peer.request(h.batch_frame(1, 0, first)), 0, 4)
        ack(peer.request(h.done_frame(1, 4, first)), 0)
    alter_one_document(srv.bets_path(), 1)
    with h.Peer(srv.port) as peer:
        ack(peer.request(h.batch_frame(2, 0, second)), 0, 3)
        ack(peer.request(h.done_frame(2, 3, second)), 0)
        r = peer.request(h.query_frame(2))
        assert r["type"] == "ERROR" and r["code"] == h.E_STORAGE, r
    line = srv.log.first("draw", "fail")
    assert line is not None and line.get("agency") == "1" and " CRITICAL " in line.raw, \
        srv.describe()
    assert not srv.log.find("sorteo"), "a draw over an altered file"
