"""The agency's own rules, against a scripted server: how many times it connects
(retry.attempts), how long it waits (server.timeout, draw.timeout), how many batches it sends
ahead (batch.window), which answers it rides through (ERROR SHUTTING_DOWN, ERROR STORAGE: it
reconnects and resends) and which are final (any other refusal; mode bet never resends), and
the pace of mode echo (loop.period).

The scripted server is a listening socket in this process: each connection is handed to the
test's handler on a thread of its own, and every request frame it reads is recorded, so a test
can say exactly what the agency sent on which connection."""

import select
import socket
import struct
import threading
import time

import pytest

import tp0harness as h


def error_frame(code, reason="scripted"):
    return h.frame(h.T_ERROR, bytes([code]) + h.pstr(reason))


def winners_frame(total, offset, documents=()):
    return h.frame(h.T_WINNERS, struct.pack(">IIH", total, offset, len(documents))
                   + b"".join(h.pstr(d) for d in documents))


class Conn:
    """One accepted connection: reads request frames (recorded in frames) and sends replies."""

    def __init__(self, sock, frames):
        self.sock = sock
        self.frames = frames
        self.sock.settimeout(h.T(10))

    def _recv_exact(self, n):
        buf = h.recv_exact(self.sock, n)
        return buf if len(buf) == n else None

    def read(self):
        """(type, payload) of the next request, or None once the agency closed."""
        head = self._recv_exact(h.HEADER)
        if head is None:
            return None
        magic, version, ftype, reserved, length = struct.unpack(">BBBBI", head)
        assert (magic, version, reserved) == (h.MAGIC, h.VERSION, 0), head
        assert length <= h.PAYLOAD_MAX, f"a frame of {h.HEADER + length} bytes"
        payload = self._recv_exact(length) if length else b""
        assert payload is not None, "the agency closed inside a frame"
        self.frames.append((ftype, payload))
        return ftype, payload

    def pending(self):
        """Whether more bytes have already come (without waiting for them)."""
        return bool(select.select([self.sock], [], [], 0)[0])

    def send(self, data):
        self.sock.sendall(data)

    def finish(self):
        """Closes the server's side and reads what the agency still sends until it closes: a
        clean end (FIN), never a reset that could discard a reply the agency has not read."""
        self.sock.shutdown(socket.SHUT_WR)
        while self.read() is not None:
            pass


def batch_header(payload):
    """(agency, seq, count) of a BATCH payload."""
    return struct.unpack(">IIH", payload[:10])


def answer(conn, ftype, payload, winners=()):
    """What the real server answers when everything goes well."""
    if ftype == h.T_BATCH:
        _, seq, count = batch_header(payload)
        conn.send(h.ack_frame(seq, count))
    elif ftype == h.T_DONE:
        conn.send(h.ack_frame(0, 0))
    elif ftype == h.T_QUERY:
        _, offset = struct.unpack(">II", payload)
        conn.send(winners_frame(len(winners), offset, list(winners)[offset:]))
    elif ftype == h.T_BET:
        conn.send(h.ack_frame(0, 1))


def serve_all(conn, winners=()):
    while (req := conn.read()) is not None:
        answer(conn, *req, winners=winners)


class ScriptedServer:
    """handler(conn, n) runs for the n-th connection (from 0); conns[n]: its request frames."""

    def __init__(self, handler):
        self.handler = handler
        self.conns = []
        self.errors = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.closing = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.closing.is_set():
            try:
                sock, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                frames = []
                self.conns.append(frames)
                n = len(self.conns) - 1
            t = threading.Thread(target=self._run, args=(sock, n, frames), daemon=True)
            self.threads.append(t)
            t.start()

    def _run(self, sock, n, frames):
        with sock:
            try:
                self.handler(Conn(sock, frames), n)
            except (ConnectionError, BrokenPipeError):
                pass  # the agency went away: what the test looks at is what it did
            except Exception as e:  # noqa: BLE001 - reported by check()
                self.errors.append(f"connection {n}: {e!r}")

    def requests(self, n):
        """The type names of the requests read on connection n."""
        return [h.TYPE_NAMES[t] for t, _ in self.conns[n]]

    def check(self):
        assert not self.errors, "scripted server: " + "; ".join(self.errors)

    def close(self):
        self.closing.set()
        self.sock.close()
        self.threads[0].join(h.T(10))  # no connection is accepted after this
        for t in self.threads[1:]:
            t.join(h.T(10))


@pytest.fixture
def scripted():
    made = []

    def make(handler):
        made.append(ScriptedServer(handler))
        return made[-1]
    yield make
    for s in made:
        s.close()


def agency(client, work, srv, rows=40, winners=0, **cfg):
    """A lottery agency of `rows` bets against the scripted server."""
    cdir = work / "data"
    cdir.mkdir(exist_ok=True)
    path = h.write_agency_csv(cdir / "agency-1.csv", h.make_bets(1, rows, winners))
    return client(1, srv.address, mode="lottery", bets_file=str(path), **cfg)


# --- retry.attempts --------------------------------------------------------------------------

def test_connect_gives_up_after_retry_attempts(client):
    """Nothing listens: the agency tries retry.attempts times (in_progress, then one fail naming
    the last attempt) and exits 1."""
    cli = client(1, f"127.0.0.1:{h.free_port()}", attempts=3)
    assert cli.wait(5) == 1, cli.describe()
    retried = cli.log.find("connect", "in_progress")
    assert [ln.get("attempt") for ln in retried] == ["1", "2"], cli.describe()
    failed = cli.log.find("connect", "fail")
    assert len(failed) == 1 and failed[0].get("attempt") == "3", cli.describe()


def test_lost_connections_give_up_after_retry_attempts(scripted, client, work):
    """Every connection is closed after the agency's first request: it reconnects and resends
    until retry.attempts connections were lost, then fails (exit 1), naming its batch."""
    def close_after_first(conn, n):
        conn.read()
        conn.finish()
    srv = scripted(close_after_first)
    cli = agency(client, work, srv, attempts=3)
    assert cli.wait(5) == 1, cli.describe()
    srv.check()
    assert len(srv.conns) == 3, f"{len(srv.conns)} connections\n" + cli.describe()
    for n in range(3):
        assert srv.conns[n] and batch_header(srv.conns[n][0][1])[1] == 0, \
            f"connection {n} does not start with batch 0: {srv.requests(n)}"
    assert len(cli.log.find("connection_lost", "in_progress")) == 2, cli.describe()
    fail = cli.log.first("batch_send", "fail")
    assert fail is not None and fail.get("seq") == "0", cli.describe()
    assert not cli.log.find("consulta_ganadores")


# --- server.timeout, draw.timeout -------------------------------------------------------------

def test_server_timeout_bounds_the_wait_for_an_ack(scripted, client, work):
    """The server reads the batches and never answers: after server.timeout the agency gives up
    (a silent server is not retried: it may be busy storing) and exits 1."""
    release = threading.Event()

    def silent(conn, n):
        conn.read()
        release.wait(h.T(30))
    srv = scripted(silent)
    try:
        cli = agency(client, work, srv, timeout="300ms", attempts=5)
        assert cli.wait(5) == 1, cli.describe()
        took = time.monotonic() - cli.started
    finally:
        release.set()
    assert took >= 0.3, f"gave up after {took:.2f}s, before server.timeout (300ms)"
    fail = cli.log.first("batch_send", "fail")
    assert fail is not None and fail.get("error") == "timed out", cli.describe()
    srv.check()
    assert len(srv.conns) == 1, f"{len(srv.conns)} connections\n" + cli.describe()


def test_draw_timeout_bounds_the_wait_for_the_draw(scripted, client, work):
    """Every batch and the DONE are acknowledged, the winners query never is: the agency waits
    draw.timeout (not server.timeout, far longer here) and exits 1 without consulta_ganadores."""
    release = threading.Event()

    def no_draw(conn, n):
        while (req := conn.read()) is not None:
            if req[0] == h.T_QUERY:
                release.wait(h.T(30))
                return
            answer(conn, *req)
    srv = scripted(no_draw)
    try:
        cli = agency(client, work, srv, timeout="60s", draw_timeout="700ms")
        assert cli.wait(5) == 1, cli.describe()
        took = time.monotonic() - cli.started
    finally:
        release.set()
    srv.check()
    assert took >= 0.7, f"gave up {took:.2f}s after it started, before draw.timeout (700ms)"
    assert cli.log.first("bets_done", "success") is not None, cli.describe()
    fail = cli.log.first("winners_query", "fail")
    assert fail is not None and "waiting for the draw" in fail.get("error", ""), cli.describe()
    assert not cli.log.find("consulta_ganadores")


def test_idle_drop_while_waiting_for_the_draw_is_asked_again(scripted, client, work):
    """The server drops the held winners query as idle (ERROR TIMEOUT) while the draw is still
    to come: within draw.timeout the agency asks again on a new connection (winners_query
    in_progress, never fail) and logs its winners once they come."""
    def drop_first_query(conn, n):
        while (req := conn.read()) is not None:
            if req[0] == h.T_QUERY and n == 0:
                conn.send(error_frame(h.E_TIMEOUT, "idle timeout"))
                conn.finish()
                return
            answer(conn, *req, winners=["30904465", "12345678"])
    srv = scripted(drop_first_query)
    cli = agency(client, work, srv, attempts=5)
    assert cli.wait(10) == 0, cli.describe()
    srv.check()
    assert len(srv.conns) == 2, f"{len(srv.conns)} connections\n" + cli.describe()
    assert srv.requests(1) == ["WINNERS_QUERY"], srv.requests(1)
    assert cli.log.find("winners_query", "in_progress"), cli.describe()
    assert cli.log.first("consulta_ganadores", "success").get("cant_ganadores") == "2"
    assert not cli.log.fails(), cli.describe()


def test_winners_are_paged_until_the_total(scripted, client, work):
    """A WINNERS page holds part of the list: the agency asks from where the last page ended
    until it has the total, logs cant_ganadores once and keeps every document."""
    documents = [str(30_000_000 + i) for i in range(5)]

    def two_per_page(conn, n):
        while (req := conn.read()) is not None:
            if req[0] != h.T_QUERY:
                answer(conn, *req)
                continue
            _, offset = struct.unpack(">II", req[1])
            conn.send(winners_frame(len(documents), offset, documents[offset:offset + 2]))
    srv = scripted(two_per_page)
    cli = agency(client, work, srv)
    assert cli.wait(10) == 0, cli.describe()
    srv.check()
    offsets = [struct.unpack(">II", p)[1] for t, p in srv.conns[0] if t == h.T_QUERY]
    assert offsets == [0, 2, 4], offsets
    assert [ln.get("cant_ganadores") for ln in cli.log.find("consulta_ganadores")] == ["5"]
    kept = work / "data" / "winners-1.csv"
    assert kept.read_text().split() == documents, kept.read_text()


# --- batch.window -----------------------------------------------------------------------------

def test_window_sends_batches_ahead_of_their_acks(scripted, client, work):
    """batch.window 4: the server acknowledges nothing until it has read 4 batches, then one
    ACK per batch read: the agency has 4 in flight, never 5, and finishes."""
    window = 4
    events = []

    def slow_acks(conn, n):
        acked = 0
        while (req := conn.read()) is not None:
            if req[0] != h.T_BATCH:
                answer(conn, *req)
                continue
            seq = batch_header(req[1])[1]
            events.append(seq)
            if seq == window - 1:
                assert not conn.pending(), f"more than {window} batches before any ACK"
            # Nothing is acknowledged before the window is full; then the oldest, one per
            # batch read, and the rest after the last (8 batches of 5).
            last = seq if seq == 7 else seq - (window - 1)
            while acked <= last:
                conn.send(h.ack_frame(acked, 5))
                acked += 1
    srv = scripted(slow_acks)
    cli = agency(client, work, srv, rows=40, max_amount=5, timeout=h.scaled_duration(3),
                 env={"CLI_BATCH_WINDOW": window})
    assert cli.wait(10) == 0, cli.describe() + f"\nread: {events}; " + "; ".join(srv.errors)
    srv.check()
    assert events == list(range(8)), events
    assert len(srv.conns) == 1, f"{len(srv.conns)} connections\n" + cli.describe()


# --- what is retried and what is final --------------------------------------------------------

def test_error_storage_and_shutting_down_are_ridden_through(scripted, client, work):
    """ERROR STORAGE (storage restarting) on the first connection, ERROR SHUTTING_DOWN on the
    second: each time the agency reconnects and resends from batch 0; the third connection is
    served and the agency finishes with its winners, exit 0."""
    winners = ["30904465"]

    def restarting(conn, n):
        if n < 2:
            conn.read()
            conn.send(error_frame(h.E_STORAGE if n == 0 else h.E_SHUTTING_DOWN))
            conn.finish()
            return
        serve_all(conn, winners)
    srv = scripted(restarting)
    cli = agency(client, work, srv, rows=30, max_amount=10, attempts=5,
                 timeout=h.scaled_duration(3))
    assert cli.wait(10) == 0, cli.describe()
    srv.check()
    assert len(srv.conns) == 3, f"{len(srv.conns)} connections\n" + cli.describe()
    for n in range(3):
        assert batch_header(srv.conns[n][0][1])[1] == 0, f"connection {n}: {srv.requests(n)}"
    assert cli.log.first("consulta_ganadores", "success").get("cant_ganadores") == "1"
    assert len(cli.log.find("connection_lost", "in_progress")) == 2, cli.describe()
    assert not cli.log.fails(), cli.describe()


@pytest.mark.parametrize("code", [h.E_AGENCY, h.E_SEQUENCE, h.E_CONFLICT],
                         ids=["agency", "sequence", "conflict"])
def test_other_errors_are_final(scripted, client, work, code):
    """Any other ERROR is the server's last word: the agency does not reconnect, logs
    batch_send fail with the code and exits 1."""
    def refuse(conn, n):
        conn.read()
        conn.send(error_frame(code))
        conn.finish()
    srv = scripted(refuse)
    cli = agency(client, work, srv, attempts=5)
    assert cli.wait(10) == 1, cli.describe()
    srv.check()
    assert len(srv.conns) == 1, f"{len(srv.conns)} connections\n" + cli.describe()
    fail = cli.log.first("batch_send", "fail")
    assert fail is not None and fail.get("code") == str(code), cli.describe()
    assert not cli.log.find("connection_lost")


BET_ENV = {"NOMBRE": "Santiago Lionel", "APELLIDO": "Lorca", "DOCUMENTO": "30904465",
           "NACIMIENTO": "1999-03-17", "NUMERO": "7574"}


@pytest.mark.parametrize("reply", [None, error_frame(h.E_STORAGE)], ids=["lost", "storage"])
def test_bet_mode_never_resends(scripted, client, reply):
    """A single BET is not idempotent: whether the connection is lost before the reply or the
    server answers ERROR STORAGE (it may have been stored), the agency sends it once, on one
    connection, and exits 1 with bet_send fail, never apuesta_enviada."""
    def once(conn, n):
        conn.read()
        if reply is not None:
            conn.send(reply)
        conn.finish()
    srv = scripted(once)
    cli = client(1, srv.address, mode="bet", env=BET_ENV, attempts=5)
    assert cli.wait(10) == 1, cli.describe()
    srv.check()
    assert len(srv.conns) == 1, f"{len(srv.conns)} connections\n" + cli.describe()
    assert srv.requests(0) == ["BET"]
    assert cli.log.first("bet_send", "fail") is not None, cli.describe()
    assert not cli.log.find("apuesta_enviada")


# --- mode echo: loop.period -------------------------------------------------------------------

def test_echo_waits_loop_period_after_each_message(server, client):
    """loop.amount messages, each followed by a pause of loop.period (the last one too, as the
    course's client): 3 x 300ms is at least 0.9 s."""
    srv = server()
    cli = client(2, srv.address, amount=3, period="300ms")
    assert cli.wait(10) == 0, cli.describe()
    took = time.monotonic() - cli.started
    msgs = [ln.get("msg") for ln in cli.log.find("receive_message", "success", client_id=2)]
    assert msgs == [f"[CLIENT 2] Message N°{n}" for n in (1, 2, 3)], cli.describe()
    assert took >= 0.9, f"3 messages with loop.period 300ms took {took:.2f}s"
