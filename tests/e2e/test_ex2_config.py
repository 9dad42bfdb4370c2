"""Exercise 2: configuration lives in the mounted files; editing them and re-running compose up
changes the programs' settings without rebuilding any image."""

from tp0_e2e import client_yaml, events, run, server_ini

ROUNDS = [
    # (server: backlog, level), (client: amount, period, level)
    ((7, "DEBUG"), (2, "150ms", "DEBUG")),
    ((3, "INFO"), (3, "250ms", "INFO")),
]


def image_ids():
    return [
        run(["docker", "image", "inspect", "-f", "{{.Id}}", image]).stdout.strip()
        for image in ("server:latest", "client:latest")
    ]


def test_config_by_editing_mounted_files(deploy, images):
    before = image_ids()
    d = deploy(1, "echo")
    for (backlog, server_level), (amount, period, client_level) in ROUNDS:
        d.server_config.write_text(server_ini(backlog=backlog, level=server_level))
        d.client_config.write_text(client_yaml(amount=amount, period=period, level=client_level))
        d.up()
        assert d.wait_exited(["client1"], timeout=60) == {"client1": 0}

        server_log = d.logs("server")
        config = events(server_log, "config", "success")
        assert config, server_log
        assert config[0].has(port=12345, listen_backlog=backlog, logging_level=server_level), config

        client_log = d.logs("client1")
        config = events(client_log, "config", "success")
        assert config, client_log
        assert config[0].has(
            client_id=1,
            server_address="server:12345",
            loop_amount=amount,
            loop_period=period,
            log_level=client_level,
        ), config
        assert len(events(client_log, "receive_message", "success")) == amount

        # at INFO nothing below INFO is printed
        for name, level, log in (("server", server_level, server_log),
                                 ("client1", client_level, client_log)):
            if level == "INFO":
                debug = [e for e in events(log) if e.level == "DEBUG"]
                assert not debug, f"{name} logged DEBUG lines at INFO: {debug[:3]}"
        d.assert_no_fail()
        d.down()
    assert image_ids() == before
