"""Hostile peers: connections that say nothing, or trickle a byte a second, and reconnect as soon
as they are dropped, must not keep a real agency out (the acceptor drains the longest-waiting
unidentified worker at the cap), and a frame that stalls half-way gets ERROR TIMEOUT within
FRAME_TIMEOUT, however long IDLE_TIMEOUT is."""

import selectors
import socket
import statistics
import struct
import time

import pytest

import tp0harness as h

ATTACKERS = 200
TRICKLERS = 40      # of ATTACKERS: a byte a second, forever
BETS = 5000
WORKERS = 64
RUNS = 5
RECONNECT_S = 1.0   # the slowloris tool's cycle is 15 s


class Slowloris:
    """ATTACKERS non-blocking connections to port, each sending one byte (0xFE, the lottery's
    magic, or an echo letter) on connect; TRICKLERS of them then send one more byte a second,
    never finishing a frame or a line. As the slowloris tool does on its keep-alive cycle, a
    connection the server dropped is opened again on the next tick (RECONNECT_S; 0: at once).
    Every loop is bounded: run_until by its deadline, reconnects by max_reconnects."""

    def __init__(self, port, n=ATTACKERS, tricklers=TRICKLERS, max_reconnects=200_000,
                 reconnect_s=None):
        self.addr = ("127.0.0.1", port)
        self.sel = selectors.DefaultSelector()
        self.n, self.tricklers = n, tricklers
        self.reconnects, self.max_reconnects = 0, max_reconnects
        self.reconnect_s = RECONNECT_S if reconnect_s is None else reconnect_s
        self.dropped = 0
        self.to_open, self.next_open = [], 0.0
        self.next_trickle = 0.0
        for i in range(n):
            self._open(i)

    def _open(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(self.addr)
        state = {"i": i, "sent": 0, "next": 0.0}
        self.sel.register(s, selectors.EVENT_WRITE, state)

    def _first_byte(self, i):
        return b"\xfe" if i % 2 == 0 else b"x"

    def _trickle_byte(self, i, sent):
        # lottery: a header that declares a payload which never comes whole; echo: no newline
        if i % 2 == 0:
            header = struct.pack(">BBBBI", h.MAGIC, 1, h.T_BATCH, 0, 100)
            return header[sent:sent + 1] if sent < len(header) else b"\0"
        return b"z"

    def _drop(self, s, state):
        self.sel.unregister(s)
        s.close()
        self.dropped += 1
        self.to_open.append(state["i"])

    def step(self, timeout):
        now = time.monotonic()
        if self.to_open and now >= self.next_open:
            self.next_open = now + self.reconnect_s
            for i in self.to_open[:max(0, self.max_reconnects - self.reconnects)]:
                self.reconnects += 1
                self._open(i)
            self.to_open = []
        for key, events in self.sel.select(timeout):
            s, state = key.fileobj, key.data
            try:
                if events & selectors.EVENT_READ:
                    if s.recv(4096) == b"":
                        self._drop(s, state)
                        continue
                if events & selectors.EVENT_WRITE and state["sent"] == 0:
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                        self._drop(s, state)
                        continue
                    s.send(self._first_byte(state["i"]))
                    state["sent"], state["next"] = 1, now + 1.0
                    self.sel.modify(s, selectors.EVENT_READ, state)
            except OSError:
                self._drop(s, state)
        if now < self.next_trickle:
            return
        self.next_trickle = now + 0.1  # the trickle's pace, below: a byte a second
        for key in list(self.sel.get_map().values()):
            s, state = key.fileobj, key.data
            if state["i"] < self.tricklers and state["sent"] > 0 and now >= state["next"]:
                try:
                    s.send(self._trickle_byte(state["i"], state["sent"]))
                    state["sent"] += 1
                    state["next"] = now + 1.0
                except OSError:
                    self._drop(s, state)

    def run_until(self, predicate, timeout, what):
        """Serves the peers until predicate() holds; AssertionError after timeout (scaled)."""
        deadline = time.monotonic() + h.T(timeout)
        while not predicate():
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {h.T(timeout):.1f}s waiting for {what}")
            self.step(h.POLL_S)

    def close(self):
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()


def run_agency(client, work, name, srv, path, step):
    """Runs one agency against srv; returns the seconds from its start to its exit (while it
    runs, step(timeout) is called: it sleeps, or serves the slowloris peers)."""
    cli = client(1, srv.address, name=f"client_{name}", mode="lottery", bets_file=str(path),
                 timeout="30s")
    start = time.monotonic()
    deadline = start + h.T(10)  # kept out, it would wait for FRAME_TIMEOUT (60s) to free a worker
    while cli.popen.poll() is None:
        assert time.monotonic() < deadline, f"{name}: the agency did not finish\n" + cli.describe()
        step(0.002)
    took = time.monotonic() - start
    assert cli.popen.returncode == 0, cli.describe()
    assert cli.log.first("consulta_ganadores", "success"), cli.describe()
    assert len(h.read_bets_csv(srv.bets_path())) == BETS
    return took


def attacked_run(server, client, work, name, path, config):
    """One agency on a fresh server whose every worker is held by slowloris peers (and the rest
    of them wait in the backlog, reconnecting whenever they are dropped)."""
    srv = server(name=f"server_{name}", config=config)
    loris = Slowloris(srv.port)
    try:
        accepted = lambda: len(srv.log.find("accept_connections", "success"))  # noqa: E731
        loris.run_until(lambda: accepted() >= WORKERS, 20, f"{WORKERS} workers held by peers")
        # Then, for a second at most, until every peer has held a worker once (the first crowd
        # in the backlog is through, if draining works): the attack's steady state, in which
        # each dropped peer is back within RECONNECT_S.
        try:
            loris.run_until(lambda: accepted() >= ATTACKERS, 1, "the first crowd drained")
        except AssertionError:
            pass  # the agency's run tells
        took = run_agency(client, work, name, srv, path, loris.step)
    finally:
        loris.close()
    drains = len(srv.log.find("worker_drain", "success"))
    srv.stop()
    return took, drains


@pytest.mark.slow
@pytest.mark.heavy
def test_agency_not_kept_out_by_slowloris(server, client, work):
    """Alone and attacked, RUNS times each, alternating (the machine is shared: both see the
    same background load); the median attacked run must be within 2x the median alone."""
    path = h.write_agency_csv(work / "agency-1.csv", h.make_bets(1, BETS, 3))
    config = {"AGENCIES": 1, "MAX_WORKERS": WORKERS, "SERVER_LISTEN_BACKLOG": 512,
              "IDLE_TIMEOUT": "60s", "FRAME_TIMEOUT": "60s"}
    alone, attacked, drains = [], [], []
    for i in range(RUNS):
        srv = server(name=f"server_alone{i}", config=config)
        alone.append(run_agency(client, work, f"alone{i}", srv, path, time.sleep))
        srv.stop()
        took, n = attacked_run(server, client, work, f"loris{i}", path, config)
        attacked.append(took)
        drains.append(n)
    a, b = statistics.median(alone), statistics.median(attacked)
    print(f"\nagency of {BETS} bets: alone {[round(x, 3) for x in alone]} (median {a:.3f}s), "
          f"under {ATTACKERS} slowloris peers {[round(x, 3) for x in attacked]} "
          f"(median {b:.3f}s, x{b / a:.2f}); drains {drains}")
    assert min(drains) > 0, "the agency got in without a drain: the attack did not hold"
    assert b <= 2 * a, f"under slowloris the agency took {b:.3f}s (median), alone {a:.3f}s"


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


def test_identified_connections_are_never_drained(server):
    """An agency whose query is held for the draw has sent a whole frame: however many peers
    crowd the cap, only the unidentified workers are drained, never its own."""
    srv = server(config={"AGENCIES": 2, "MAX_WORKERS": 2, "LOGGING_LEVEL": "DEBUG",
                         "SERVER_LISTEN_BACKLOG": 64, "IDLE_TIMEOUT": "60s",
                         "FRAME_TIMEOUT": "60s"})
    with h.Peer(srv.port, timeout=5) as held:
        held.send(h.query_frame(1, 0))
        srv.wait_line(10, "winners_query", "in_progress", agency=1)
        loris = Slowloris(srv.port, n=10, tricklers=0, reconnect_s=0.0, max_reconnects=200)
        try:
            loris.run_until(lambda: len(srv.log.find("worker_drain", "success")) >= 20, 10,
                            "20 drains")
        finally:
            loris.close()
        held.sock.setblocking(False)
        try:
            data = held.sock.recv(1)
        except BlockingIOError:
            data = None  # still open, nothing sent: held as it should be
        except ConnectionResetError:
            data = b"reset"
        assert data is None, f"the held agency's connection was drained ({data!r})"
