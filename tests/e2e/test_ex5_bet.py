"""Exercise 5: mode bet. Each agency sends the one bet in its environment; the server stores it and
the agency confirms it, both logging the same document and number."""

import csv
import io
import json

from tp0_e2e import events, run


def test_one_bet_per_agency(deploy):
    d = deploy(3, "bet")
    config = json.loads(d.compose("config", "--format", "json").stdout)
    d.up()
    assert d.wait_exited(d.client_names, timeout=60) == {n: 0 for n in d.client_names}

    server_log = d.logs("server")
    expected = {}
    for i, name in enumerate(d.client_names, start=1):
        env = config["services"][name]["environment"]
        dni, numero = env["DOCUMENTO"], env["NUMERO"]
        expected[dni] = (i, env)
        log = d.logs(name)
        sent = [e for e in events(log, "apuesta_enviada", "success") if e.has(dni=dni, numero=numero)]
        assert len(sent) == 1, log
        stored = [e for e in events(server_log, "apuesta_almacenada", "success")
                  if e.has(dni=dni, numero=numero)]
        assert len(stored) == 1, server_log

    rows = list(csv.reader(io.StringIO(
        run(["docker", "exec", "server", "cat", "/srv/tp0/bets.csv"]).stdout)))
    assert len(rows) == 3, rows
    for agency, first, last, document, birthdate, number in rows:
        i, env = expected[document]
        assert (int(agency), first, last, birthdate, number) == (
            i, env["NOMBRE"], env["APELLIDO"], env["NACIMIENTO"], env["NUMERO"])
    d.assert_no_fail()

