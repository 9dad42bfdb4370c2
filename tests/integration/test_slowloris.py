"""Hostile peers: a frame that stalls half-way gets ERROR TIMEOUT within FRAME_TIMEOUT, and an
echo peer that never finishes its first line is closed within it, however long IDLE_TIMEOUT is."""

import socket
import time

import tp0harness as h


def test_half_frame_gets_timeout_within_frame_timeout(server):
    frame_timeout = 1.0
    srv = server(config={"IDLE_TIMEOUT": "60s",
                         "FRAME_TIMEOUT": h.scaled_duration(frame_timeout)})
    batch = h.batch_frame(1, 0, h.make_bets(1, 4, 0))
    slack = h.T(1.5)
    # the first frame, half of it sent at once; then a later frame, stalled half-way
    for first in (True, False):
        with h.Peer(srv.port, timeout=frame_timeout + 5) as peer:
            if not first:
                reply = peer.request(batch)
                assert reply["type"] == "ACK", reply
                batch = h.batch_frame(1, 1, h.make_bets(1, 4, 0, seed=2))
            start = time.monotonic()
            peer.send(batch[:len(batch) // 2])
            reply = peer.reply()
            took = time.monotonic() - start
            assert (reply["type"], reply.get("code")) == ("ERROR", h.E_TIMEOUT), reply
            assert took <= h.T(frame_timeout) + slack, \
                f"ERROR TIMEOUT after {took:.2f}s, FRAME_TIMEOUT {h.T(frame_timeout):.2f}s"
            assert peer.closed_by_server(5)
    assert len(srv.log.find("receive_frame", "fail", code=h.E_TIMEOUT)) == 2, srv.describe()


def test_silent_and_trickling_echo_peers_closed_within_frame_timeout(server):
    frame_timeout = 1.0
    srv = server(config={"IDLE_TIMEOUT": "60s",
                         "FRAME_TIMEOUT": h.scaled_duration(frame_timeout)})
    limit = h.T(frame_timeout) + h.T(1.5)
    silent = socket.create_connection(("127.0.0.1", srv.port), timeout=h.T(5))
    half = socket.create_connection(("127.0.0.1", srv.port), timeout=h.T(5))
    try:
        start = time.monotonic()
        half.sendall(b"half a line")
        for sock in (silent, half):
            data, how = h.read_until_eof(sock, frame_timeout + 2.5)
            assert how != "timeout", "a peer that never finished its line was not closed"
            assert data == b"", data
        took = time.monotonic() - start
        assert took <= limit, f"closed after {took:.2f}s, FRAME_TIMEOUT {frame_timeout}s"
    finally:
        silent.close()
        half.close()
    srv.wait_line(5, "receive_line", "fail")
    srv.wait_line(5, "receive_first_byte", "fail")
