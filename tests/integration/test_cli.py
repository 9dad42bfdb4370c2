"""Command lines and configuration: --help, the contract's config lines, env > file > default,
and bad values reported with the key and a non-zero exit."""

import os
import re
import signal
import socket

import pytest

import tp0harness as h


@pytest.mark.parametrize("program", h.PROGRAMS)
def test_help_exits_zero(program, work):
    res = h.run_tool([h.binary(program), "--help"], work, timeout=10)
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 0, f"{program} --help exited {res.returncode}: {res.stderr!r}"
    assert out.strip(), f"{program} --help printed nothing on stdout"


def _assert_keys(line, keys):
    assert line.keys[:len(keys)] == keys, f"keys {line.keys} do not start with {keys}: {line}"


def test_server_config_line(server):
    srv = server(config={"SERVER_LISTEN_BACKLOG": 7, "LOGGING_LEVEL": "INFO"})
    line = srv.log.first("config", "success")
    assert line is not None, srv.describe()
    _assert_keys(line, ["port", "listen_backlog", "logging_level"])
    assert (line.get("port"), line.get("listen_backlog"), line.get("logging_level")) == \
        ("0", "7", "INFO"), str(line)
    assert srv.log.first("listen", "success").get("backlog") == "7"
    srv.wait_line(5, "accept_connections", "in_progress")
    assert srv.stop() == 0, srv.describe()
    srv.assert_all_gone()


def test_listen_backlog_holds_the_configured_connections(server):
    """SERVER_LISTEN_BACKLOG is the listen(2) backlog of the server's port: while nobody
    accepts (the acceptor paused), that many connections complete their handshake and wait
    (Linux queues backlog + 1), and the next one does not (its SYN is dropped)."""
    backlog = 7
    srv = server(config={"SERVER_LISTEN_BACKLOG": backlog})
    acceptor = srv.child_pid("acceptor")
    h.sigstop(acceptor)
    socks = []
    try:
        for _ in range(backlog):
            socks.append(socket.create_connection(("127.0.0.1", srv.port), timeout=h.T(5)))
        extra = []
        for _ in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(0.5)  # never completes while the queue is full: no need to scale
            try:
                s.connect(("127.0.0.1", srv.port))
                extra.append(True)
            except (socket.timeout, TimeoutError):
                extra.append(False)
            socks.append(s)
        assert extra[1] is False, \
            f"{backlog + 2} connections queued with SERVER_LISTEN_BACKLOG {backlog}"
    finally:
        os.kill(acceptor, signal.SIGCONT)
        for s in socks:
            s.close()
    assert srv.stop() == 0, srv.describe()
    srv.assert_all_gone()


def test_server_env_overrides_file(server):
    srv = server(config={"SERVER_PORT": 1, "SERVER_LISTEN_BACKLOG": 5, "LOGGING_LEVEL": "INFO"},
                 env={"SERVER_PORT": "0", "SERVER_LISTEN_BACKLOG": "9", "LOGGING_LEVEL": "DEBUG"})
    line = srv.log.first("config", "success")
    assert (line.get("port"), line.get("listen_backlog"), line.get("logging_level")) == \
        ("0", "9", "DEBUG"), str(line)
    assert srv.log.first("listen", "success").get("backlog") == "9"
    h.wait_for(lambda: any(ln.level == "DEBUG" for ln in srv.log.lines()), 5,
               "a DEBUG line at LOGGING_LEVEL=DEBUG", srv.describe)
    assert srv.stop() == 0, srv.describe()
    srv.assert_all_gone()


def test_default_config_paths(work):
    """supervisor reads ./config.ini and client ./config.yaml when no --config is given."""
    sdir, cdir = work / "srv", work / "cli"
    sdir.mkdir()
    cdir.mkdir()
    h.write_server_ini(sdir / "config.ini", h.SERVER_DEFAULTS)
    srv = h.Proc("server", [h.binary("supervisor")], sdir, h.clean_env(), sdir)
    line = h.wait_for(lambda: srv.log.first("listen", "success"), 10, "listen", srv.describe)
    port = int(line.get("port"))
    (cdir / "config.yaml").write_text(h.to_yaml(h.client_config(3, f"127.0.0.1:{port}",
                                                                period="10ms")) + "\n")
    cli = h.Proc("client3", [h.binary("client")], cdir, h.clean_env(), cdir)
    assert cli.wait(15) == 0, cli.describe()
    assert cli.log.first("loop_finished", "success", client_id=3), cli.describe()
    srv.signal(signal.SIGTERM)
    assert srv.wait(5) == 0, srv.describe()


@pytest.mark.parametrize("period,printed", [
    ("50ms", "50ms"), ("0.25s", "250ms"), ("1500ms", "1.5s"), ("90s", "1m30s"),
])
def test_client_config_line(server, client, period, printed):
    srv = server()
    cli = client(4, srv.address, amount=2, period=period, level="INFO")
    line = cli.wait_line(10, "config", "success")
    _assert_keys(line, ["client_id", "server_address", "loop_amount", "loop_period",
                        "log_level"])
    assert [line.get(k) for k in ("client_id", "server_address", "loop_amount", "loop_period",
                                  "log_level")] == ["4", srv.address, "2", printed, "INFO"], \
        str(line)
    cli.wait_line(10, "receive_message", "success", client_id=4)
    cli.signal(signal.SIGTERM)  # a long period would otherwise keep it sleeping
    assert cli.wait(3) == 0, cli.describe()
    assert srv.running()


def test_client_env_overrides_file(server, client):
    srv = server()
    env = {"CLI_ID": "7", "CLI_SERVER_ADDRESS": srv.address, "CLI_LOOP_AMOUNT": "3",
           "CLI_LOOP_PERIOD": "20ms", "CLI_LOG_LEVEL": "DEBUG", "CLI_MODE": "echo"}
    cli = client(1, "127.0.0.1:1", env=env, amount=1, period="5s", level="INFO", mode="lottery",
                 name="client_env")
    assert cli.wait(15) == 0, cli.describe()
    line = cli.log.first("config", "success")
    assert [line.get(k) for k in ("client_id", "server_address", "loop_amount", "loop_period",
                                  "log_level")] == ["7", srv.address, "3", "20ms", "DEBUG"], \
        str(line)
    msgs = [ln.get("msg") for ln in cli.log.find("receive_message", "success", client_id=7)]
    assert msgs == [f"[CLIENT 7] Message N°{n}" for n in (1, 2, 3)], cli.describe()
    assert cli.log.first("loop_finished", "success", client_id=7)


def _fail_line(proc):
    fails = [ln for ln in proc.log.lines() if ln.ok and ln.action == "config_load"
             and ln.result == "fail"]
    assert fails, (f"no `action: config_load | result: fail` line from {proc.name}\n"
                   + proc.describe())
    return fails[0]


def _names(raw, *names):
    return any(re.search(r"(?<![\w.])" + re.escape(n) + r"(?![\w])", raw) for n in names)


CLIENT_BAD = [
    # (id, yaml overrides or raw yaml, env, names that must appear, the file must be named)
    ("period", {"loop": {"amount": 1, "period": "5x"}}, {}, ["loop.period"], True),
    ("amount", {"loop": {"amount": "abc", "period": "1s"}}, {}, ["loop.amount"], True),
    ("mode", {"mode": "bogus"}, {}, ["mode"], True),
    ("max_zero", {"batch": {"maxAmount": 0}}, {}, ["batch.maxAmount"], True),
    ("max_huge", {"batch": {"maxAmount": 100000}}, {}, ["batch.maxAmount"], True),
    ("level", {"log": {"level": "LOUD"}}, {}, ["log.level"], True),
    ("env_period", {}, {"CLI_LOOP_PERIOD": "5x"}, ["loop.period", "CLI_LOOP_PERIOD"], False),
    ("env_id", {}, {"CLI_ID": "abc"}, ["id", "CLI_ID"], False),
    ("env_amount", {}, {"CLI_LOOP_AMOUNT": "-1"}, ["loop.amount", "CLI_LOOP_AMOUNT"], False),
    ("yaml_syntax", "server: [unclosed\n  loop: {\n", {}, [], True),
]


@pytest.mark.parametrize("case", CLIENT_BAD, ids=[c[0] for c in CLIENT_BAD])
def test_client_bad_config(work, case):
    name, change, env, names, names_file = case
    cfg = h.client_config(1, "127.0.0.1:1", attempts=1)
    raw = None
    if isinstance(change, str):
        raw = change
    else:
        for k, v in change.items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k] = {**cfg[k], **v}
            else:
                cfg[k] = v
    cli = h.Client(work / name, cfg, env=env, raw_yaml=raw, name=f"client_{name}")
    rc = cli.wait(10)
    assert rc != 0, f"exit 0 with a bad config\n{cli.describe()}"
    line = _fail_line(cli)
    if names:
        assert _names(line.raw, *names), f"the fail line names none of {names}: {line}"
    if names_file:
        assert "config.yaml" in line.raw, f"the fail line does not name the file: {line}"
    assert not cli.log.find("connect"), "went on to connect despite the bad config"


def test_client_missing_config_file(work):
    cli = h.Client(work, None, config_path=work / "nope.yaml", name="client_nofile")
    assert cli.wait(10) != 0, cli.describe()
    line = _fail_line(cli)
    assert "nope.yaml" in line.raw, f"the fail line does not name the file: {line}"


SERVER_BAD = [
    ("backlog", {"SERVER_LISTEN_BACKLOG": "many"}, {}, ["SERVER_LISTEN_BACKLOG"], True),
    ("level", {"LOGGING_LEVEL": "LOUD"}, {}, ["LOGGING_LEVEL"], True),
    ("agencies", {"AGENCIES": "0"}, {}, ["AGENCIES"], True),
    ("idle", {"IDLE_TIMEOUT": "5x"}, {}, ["IDLE_TIMEOUT"], True),
    ("idle_zero", {"IDLE_TIMEOUT": "0s"}, {}, ["IDLE_TIMEOUT"], True),
    ("frame", {"FRAME_TIMEOUT": "0s"}, {}, ["FRAME_TIMEOUT"], True),
    ("workers", {"MAX_WORKERS": "0"}, {}, ["MAX_WORKERS"], True),
    ("port", {"SERVER_PORT": "70000"}, {}, ["SERVER_PORT"], True),
    ("env_port", {}, {"SERVER_PORT": "http"}, ["SERVER_PORT"], False),
    ("env_backlog", {}, {"SERVER_LISTEN_BACKLOG": "-3"}, ["SERVER_LISTEN_BACKLOG"], False),
]


@pytest.mark.parametrize("case", SERVER_BAD, ids=[c[0] for c in SERVER_BAD])
def test_server_bad_config(work, case):
    name, cfg, env, names, names_file = case
    srv = h.Server(work / name, cfg, env, name=f"server_{name}")
    rc = srv.wait(10)
    assert rc != 0, f"exit 0 with a bad config\n{srv.describe()}"
    line = _fail_line(srv)
    assert _names(line.raw, *names), f"the fail line names none of {names}: {line}"
    if names_file:
        assert "config.ini" in line.raw, f"the fail line does not name the file: {line}"
    assert not srv.log.find("child_start"), "started children despite the bad config"
    srv.assert_all_gone()


def test_server_missing_or_broken_config(work):
    srv = h.Server(work / "a", write_config=False, config_path=work / "a" / "missing.ini",
                   name="server_missing")
    assert srv.wait(10) != 0, srv.describe()
    assert "missing.ini" in _fail_line(srv).raw
    (work / "b").mkdir()
    (work / "b" / "config.ini").write_text("[DEFAULT]\nthis line is not ini\n")
    srv2 = h.Server(work / "b", write_config=False, name="server_broken")
    assert srv2.wait(10) != 0, srv2.describe()
    assert "config.ini" in _fail_line(srv2).raw
