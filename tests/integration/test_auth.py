"""Agency keys (README "Agency authentication", docs/CONTRACT.md "Agency keys"): with
AGENCY_KEYS, a lottery session serves nothing until its peer has proved the agency's key
(HELLO -> CHALLENGE -> AUTH -> ACK), so only agency N can send, finish or read agency N's bets
and winners; without it the server runs open and says so once."""

import os

import pytest

import tp0harness as h


@pytest.fixture
def keys():
    return h.new_keys(2)


@pytest.fixture
def keyed_server(server, keys, tmp_path):
    path = h.write_keys_file(tmp_path / "agency-keys", keys)
    return server(config={"AGENCIES": 2, "AGENCY_KEYS": str(path), "LOGGING_LEVEL": "DEBUG"})


def open_session(port, agency, key):
    """A raw peer through HELLO and AUTH as agency with key: the peer and the server's answer."""
    peer = h.Peer(port)
    challenge = peer.request(h.hello_frame(agency))
    assert challenge["type"] == "CHALLENGE", challenge
    return peer, peer.request(h.auth_frame(h.auth_mac(key, agency, challenge["nonce"])))


def refused(reply, peer, code=h.E_AUTH):
    return reply["type"] == "ERROR" and reply["code"] == code and peer.closed_by_server(5)


def test_agencies_with_their_keys_take_part(keyed_server, client, keys, work):
    """Agency 1 gives its key in CLI_AUTH_KEY, agency 2 in a file (auth.keyFile, as a compose
    secret): both finish, the draw has every bet of both, and each proof is logged."""
    srv = keyed_server
    key_file = work / "agency-2.key"
    key_file.write_text(keys[2].hex() + "\n")
    files = [h.agency_gen(work / f"agency-{a}.csv", 40, a, seed=40 + a) for a in (1, 2)]
    clients = [
        client(1, srv.address, mode="lottery", bets_file=str(files[0]),
               env={"CLI_AUTH_KEY": keys[1].hex()}),
        client(2, srv.address, mode="lottery", bets_file=str(files[1]),
               env={"CLI_AUTH_KEY_FILE": str(key_file)}),
    ]
    for c in clients:
        assert c.wait(60) == 0, c.describe() + "\n" + srv.describe()
    for a, c in zip((1, 2), clients):
        assert c.log.first("consulta_ganadores", "success").get("cant_ganadores") == str(a)
    stored = sorted((int(a), b.row()) for a, b in h.read_bets_csv(srv.bets_path()))
    assert stored == sorted((a, b.row()) for a in (1, 2)
                            for b in h.read_agency_csv(files[a - 1]))
    assert {ln.get("agency") for ln in srv.log.find("agency_auth", "success")} == {"1", "2"}
    assert not srv.log.find("agency_auth", "fail"), srv.describe()
    line = srv.log.first("agency_keys", "success", authenticated="yes")
    assert line is not None and line.get("agencies") == "2", srv.describe()


def test_wrong_key_is_refused_with_one_line(keyed_server, client, keys, work):
    """Agency 1 with agency 2's key: ERROR AUTH, the agency exits 1 saying so, nothing stored,
    one line on the server."""
    srv = keyed_server
    path = h.agency_gen(work / "agency-1.csv", 20, 1, seed=41)
    cli = client(1, srv.address, mode="lottery", bets_file=str(path),
                 env={"CLI_AUTH_KEY": keys[2].hex()})
    assert cli.wait(30) == 1, cli.describe()
    line = cli.log.first("agency_auth", "fail")
    assert line is not None and line.get("code") == str(h.E_AUTH), cli.describe()
    assert line.get("error") == "wrong key", cli.describe()
    assert not cli.log.find("batch_send"), "bets were sent after a refusal"
    fails = srv.log.find("agency_auth", "fail")
    assert len(fails) == 1 and fails[0].get("agency") == "1", srv.describe()
    assert h.read_bets_csv(srv.bets_path()) == []


@pytest.mark.parametrize("request_frame", [
    h.batch_frame(1, 0, h.make_bets(1, 3, 0)),
    h.bet_frame(1, h.make_bets(1, 1, 0)[0]),
    h.done_frame(1, 0),
    h.query_frame(1),
], ids=["batch", "bet", "done", "query"])
def test_a_stranger_is_refused_everything(keyed_server, request_frame):
    """No HELLO and AUTH: every lottery request gets ERROR AUTH and nothing else."""
    srv = keyed_server
    with h.Peer(srv.port) as peer:
        assert refused(peer.request(request_frame), peer)
    assert h.read_bets_csv(srv.bets_path()) == []
    assert not srv.log.find("agency_done"), srv.describe()


def test_a_stranger_cannot_finish_for_an_agency(keyed_server, client, keys, work):
    """A stranger's DONE for agency 1 does not count: the real agencies send their bets after it,
    and the draw has all of them."""
    srv = keyed_server
    with h.Peer(srv.port) as peer:
        assert refused(peer.request(h.done_frame(1, 0)), peer)
        # and a session opened with a made-up key is refused at AUTH
    with h.Peer(srv.port) as peer:
        challenge = peer.request(h.hello_frame(1))
        bad = h.auth_mac(os.urandom(32), 1, challenge["nonce"])
        assert refused(peer.request(h.auth_frame(bad)), peer)
    files = [h.agency_gen(work / f"agency-{a}.csv", 30, a, seed=50 + a) for a in (1, 2)]
    clients = [client(a, srv.address, mode="lottery", bets_file=str(files[a - 1]),
                      env={"CLI_AUTH_KEY": keys[a].hex()}) for a in (1, 2)]
    for c in clients:
        assert c.wait(60) == 0, c.describe() + "\n" + srv.describe()
    assert len(h.read_bets_csv(srv.bets_path())) == 60


def test_a_proof_is_good_for_its_own_challenge_and_agency_only(keyed_server, keys):
    """The mac covers the nonce and the agency: one answered on another connection, or made for
    another agency, is refused; the right one opens the session."""
    srv = keyed_server
    first = h.Peer(srv.port)
    nonce = first.request(h.hello_frame(1))["nonce"]
    with h.Peer(srv.port) as second:
        other = second.request(h.hello_frame(1))["nonce"]
        assert other != nonce, "the server repeated a nonce"
        assert refused(second.request(h.auth_frame(h.auth_mac(keys[1], 1, nonce))), second)
    with h.Peer(srv.port) as third:
        n3 = third.request(h.hello_frame(2))["nonce"]
        assert refused(third.request(h.auth_frame(h.auth_mac(keys[2], 1, n3))), third)
    with first:
        ack = first.request(h.auth_frame(h.auth_mac(keys[1], 1, nonce)))
        assert ack["type"] == "ACK" and (ack["seq"], ack["count"]) == (0, 0), ack
        # the session is agency 1's, and only agency 1's
        ack = first.request(h.batch_frame(1, 0, h.make_bets(1, 2, 0)))
        assert ack["type"] == "ACK" and ack["count"] == 2, ack
        assert refused(first.request(h.done_frame(2, 0)), first, h.E_AGENCY)


def test_a_session_has_one_hello(keyed_server, keys):
    srv = keyed_server
    peer, ack = open_session(srv.port, 1, keys[1])
    with peer:
        assert ack["type"] == "ACK", ack
        assert refused(peer.request(h.hello_frame(1)), peer)


def test_the_echo_service_stays_open(keyed_server):
    """The health check (validar-echo-server.sh) needs no key."""
    with h.Peer(keyed_server.port) as peer:
        peer.send(b"hola\n")
        assert peer.sock.recv(16) == b"hola\n"


def test_an_open_server_says_so_once_and_serves_keyed_agencies(server, client, work):
    srv = server(config={"AGENCIES": 1})
    warnings = srv.log.find("agency_keys", "success", authenticated="no")
    assert len(warnings) == 1 and " WARNING " in warnings[0].raw, srv.describe()
    assert "AGENCY_KEYS not set" in warnings[0].get("warning"), srv.describe()
    path = h.agency_gen(work / "agency-1.csv", 20, 1, seed=42)
    cli = client(1, srv.address, mode="lottery", bets_file=str(path),
                 env={"CLI_AUTH_KEY": os.urandom(32).hex()})
    assert cli.wait(30) == 0, cli.describe()
    assert cli.log.first("agency_auth", "success") is not None, cli.describe()
    # and a HELLO to an open server is answered at once
    with h.Peer(srv.port) as peer:
        ack = peer.request(h.hello_frame(1))
        assert ack["type"] == "ACK" and (ack["seq"], ack["count"]) == (0, 0), ack
    srv.stop()
    assert len(srv.log.find("agency_keys")) == 1, "the warning came again"


@pytest.mark.parametrize("content, why", [
    ("1:" + "ab" * 32 + "\n", "no key for agency 2"),
    ("1:" + "ab" * 32 + "\n2:" + "zz" * 32 + "\n", "line 2: a key is 64 hex digits"),
    ("1:" + "ab" * 32 + "\n2:" + "ab" * 31 + "\n", "line 2: a key is 64 hex digits"),
    ("1:" + "ab" * 32 + "\n2:" + "cd" * 32 + "\n3:" + "ef" * 32 + "\n", "line 3: agency 3 is not"),
    ("1:" + "ab" * 32 + "\n1:" + "cd" * 32 + "\n", "line 2: a second key for agency 1"),
    ("# keys\n\n1 " + "ab" * 32 + "\n", "line 3: not agency:hexkey"),
], ids=["missing", "not-hex", "short", "other-agency", "twice", "no-colon"])
def test_a_bad_keys_file_stops_the_server(server, tmp_path, content, why):
    path = tmp_path / "agency-keys"
    path.write_text(content)
    srv = server(config={"AGENCIES": 2, "AGENCY_KEYS": str(path)}, wait=False)
    assert srv.wait(10) == 1, srv.describe()
    line = srv.log.first("config_load", "fail")
    assert line is not None and "AGENCY_KEYS" in line.get("error") and why in line.get("error"), \
        srv.describe()
    assert not srv.log.find("child_start"), "the server started anyway"


def test_a_missing_keys_file_stops_the_server(server, tmp_path):
    srv = server(config={"AGENCIES": 1, "AGENCY_KEYS": str(tmp_path / "nowhere")}, wait=False)
    assert srv.wait(10) == 1, srv.describe()
    assert "No such file" in srv.log.first("config_load", "fail").get("error"), srv.describe()


@pytest.mark.parametrize("env, why", [
    ({"CLI_AUTH_KEY": "ab" * 31}, "auth.key: a key is 64 hex digits"),
    ({"CLI_AUTH_KEY": "xy" * 32}, "auth.key: a key is 64 hex digits"),
    ({"CLI_AUTH_KEY": "ab" * 32, "CLI_AUTH_KEY_FILE": "/nonexistent"}, "set one of them"),
    ({"CLI_AUTH_KEY_FILE": "/nonexistent/key"}, "auth.keyFile: /nonexistent/key"),
], ids=["short", "not-hex", "both", "no-file"])
def test_a_bad_client_key_is_a_config_error(client, env, why):
    cli = client(1, "127.0.0.1:9", mode="lottery", env=env)
    assert cli.wait(10) == 1, cli.describe()
    line = cli.log.first("config_load", "fail")
    assert line is not None and why in line.get("error"), cli.describe()


def test_no_key_is_ever_logged(keyed_server, client, keys, work):
    """At DEBUG, on every program's stdout and stderr: neither key, in any case."""
    srv = keyed_server
    files = [h.agency_gen(work / f"agency-{a}.csv", 5, 0, seed=60 + a) for a in (1, 2)]
    clients = [client(a, srv.address, mode="lottery", bets_file=str(files[a - 1]),
                      level="DEBUG", env={"CLI_AUTH_KEY": keys[a].hex()}) for a in (1, 2)]
    for c in clients:
        assert c.wait(60) == 0, c.describe()
    srv.stop()
    for proc in (*clients, srv):
        for path in (proc.out_path, proc.err_path):
            text = path.read_text(errors="replace").lower()
            assert keys[1].hex() not in text and keys[2].hex() not in text, path
