"""One agency, one writer (README "One session per agency"): of two connections of an agency,
once the newer has written, the older's writes get ERROR SESSION and store nothing; the newer
goes on. A reconnecting agency is the newer connection, so it takes over from the one it lost."""

import tp0harness as h

E_SESSION = 17
ack = h.assert_ack


def test_the_newer_connection_of_an_agency_fences_the_older(server):
    srv = server(config={"AGENCIES": 2, "LOGGING_LEVEL": "DEBUG"})
    bets = h.make_bets(1, 9, 1, seed=11)
    older = h.Peer(srv.port)
    ack(older.request(h.batch_frame(1, 0, bets[:3])), 0, 3)
    with h.Peer(srv.port) as newer:
        # until the newer one writes, the older is still the agency's
        ack(older.request(h.batch_frame(1, 1, bets[3:6])), 1, 3)
        ack(newer.request(h.batch_frame(1, 2, bets[6:])), 2, 3)
        with older:
            r = older.request(h.batch_frame(1, 3, h.make_bets(1, 2, 0, seed=12)))
            assert r["type"] == "ERROR" and r["code"] == E_SESSION, r
            assert "newer connection of agency 1" in r["reason"], r
            assert older.closed_by_server(5)
        # another agency's connections are its own
        with h.Peer(srv.port) as other:
            ack(other.request(h.batch_frame(2, 0, h.make_bets(2, 1, 0, seed=13))), 0, 1)
        ack(newer.request(h.done_frame(1, 9, bets)), 0)
    assert [b for a, b in h.read_bets_csv(srv.bets_path()) if a == 1] == bets
    assert srv.log.first("session_fenced", agency=1) is not None, srv.describe()
    assert srv.log.first("batch_refused", code=str(E_SESSION)) is not None, srv.describe()


def test_an_older_connections_done_does_not_count(server):
    srv = server(config={"AGENCIES": 1})
    bets = h.make_bets(1, 4, 1, seed=14)
    older = h.Peer(srv.port)
    with h.Peer(srv.port) as newer:
        ack(newer.request(h.batch_frame(1, 0, bets)), 0, 4)
        with older:
            r = older.request(h.done_frame(1, 4, bets))
            assert r["type"] == "ERROR" and r["code"] == E_SESSION, r
        assert not srv.log.find("sorteo"), "the older connection finished the agency"
        ack(newer.request(h.done_frame(1, 4, bets)), 0)
        r = newer.request(h.query_frame(1))
        assert r["type"] == "WINNERS" and r["total"] == 1, r
