"""A worker's own answers in a lottery session, the error codes it sends itself rather than
relays from storage: TIMEOUT for a session idle past IDLE_TIMEOUT, BAD_MAGIC for a later frame
that does not start with 0xFE, AGENCY for a message of another agency than the session's."""

import struct
import time

import tp0harness as h


def ack(reply, seq, count=None):
    assert reply["type"] == "ACK" and reply["seq"] == seq, reply
    assert count is None or reply["count"] == count, reply


def test_idle_lottery_session_gets_error_timeout(server):
    """Between frames a session may be silent for IDLE_TIMEOUT, no longer: then ERROR TIMEOUT
    (12, "idle timeout") and the connection closes. FRAME_TIMEOUT is far longer here, so it is
    IDLE_TIMEOUT that ends the session."""
    idle = 0.5
    srv = server(config={"AGENCIES": 1, "IDLE_TIMEOUT": h.scaled_duration(idle),
                         "FRAME_TIMEOUT": "60s"})
    with h.Peer(srv.port, timeout=idle + 10) as peer:
        ack(peer.request(h.batch_frame(1, 0, h.make_bets(1, 3, 0))), 0, 3)
        start = time.monotonic()
        reply = peer.reply()
        took = time.monotonic() - start
        assert (reply["type"], reply.get("code"), reply.get("reason")) == \
            ("ERROR", h.E_TIMEOUT, "idle timeout"), reply
        assert h.T(idle) * 0.9 <= took <= h.T(idle) + h.T(2), \
            f"ERROR TIMEOUT after {took:.2f}s of silence, IDLE_TIMEOUT {h.T(idle):.2f}s"
        assert peer.closed_by_server(5)
    line = srv.wait_line(5, "receive_frame", "fail", code=h.E_TIMEOUT)
    assert line.get("error") == "idle timeout", str(line)
    assert len(h.read_bets_csv(srv.bets_path())) == 3


def test_later_frame_without_magic_gets_bad_magic(server):
    """The first byte of a connection chooses the protocol; a later frame that does not start
    with 0xFE is ERROR BAD_MAGIC (13), and the connection closes."""
    srv = server(config={"AGENCIES": 1})
    with h.Peer(srv.port) as peer:
        ack(peer.request(h.batch_frame(1, 0, h.make_bets(1, 2, 0))), 0, 2)
        reply = peer.request(h.frame(h.T_DONE, struct.pack(">II", 1, 2), magic=0x00))
        assert (reply["type"], reply.get("code")) == ("ERROR", h.E_BAD_MAGIC), reply
        assert peer.closed_by_server(5)
    srv.wait_line(5, "receive_frame", "fail", code=h.E_BAD_MAGIC)
    assert not srv.log.find("agency_done"), "the frame without magic was taken as a DONE"


def test_session_keeps_its_first_agency(server):
    """The first message fixes the session's agency: a later one for another agency of the draw
    is ERROR AGENCY (7), nothing of it reaches storage, and the connection closes."""
    srv = server(config={"AGENCIES": 2})
    with h.Peer(srv.port) as peer:
        ack(peer.request(h.batch_frame(1, 0, h.make_bets(1, 2, 0))), 0, 2)
        reply = peer.request(h.batch_frame(2, 0, h.make_bets(2, 2, 0)))
        assert (reply["type"], reply.get("code")) == ("ERROR", h.E_AGENCY), reply
        assert "session" in reply["reason"], reply
        assert peer.closed_by_server(5)
    assert [a for a, _ in h.read_bets_csv(srv.bets_path())] == [1, 1], \
        "a batch of another agency than the session's was stored"
