"""Exercise 1: N echo clients, each sending loop.amount messages; compose file from the generator."""

import pytest

from tp0_e2e import client_yaml, events


@pytest.mark.parametrize(
    "clients,amount", [(1, 1), (1, 3), (2, 1), (5, 1), (5, 5)], ids=lambda v: str(v)
)
def test_echo_clients(deploy, clients, amount):
    d = deploy(clients, "echo", client=client_yaml(amount=amount, period="100ms"))
    d.up()
    codes = d.wait_exited(d.client_names, timeout=60)
    assert codes == {n: 0 for n in d.client_names}

    server_log = d.logs("server")
    server_msgs = [e.fields.get("msg") for e in events(server_log, "receive_message", "success")]
    for i in range(1, clients + 1):
        log = d.logs(f"client{i}")
        received = [
            e.fields.get("msg")
            for e in events(log, "receive_message", "success")
            if e.has(client_id=i)
        ]
        expected = [f"[CLIENT {i}] Message N°{n}" for n in range(1, amount + 1)]
        assert received == expected, log
        assert events(log, "loop_finished", "success"), log
        assert events(log, "loop_finished", "success")[-1].has(client_id=i)
        for msg in expected:
            assert msg in server_msgs, f"server never logged {msg!r}"

    assert len(server_msgs) == clients * amount
    assert d.state("server")[0] == "running"
    d.assert_no_fail()
