"""Exercise 6: one agency streams its file in batches of at most batch.maxAmount bets."""

import pytest

from tp0_e2e import agency_gen, check_lottery, client_yaml


@pytest.mark.parametrize(
    "rows,max_amount,winners",
    [(64, None, 3), (99, None, 0), (64, 16, 1), (99, 21, 2)],
    ids=["64-default", "99-default", "64-by-16", "99-by-21"],
)
def test_batches(deploy, rows, max_amount, winners):
    d = deploy(1, "lottery", client=client_yaml(max_amount=max_amount))
    agency_gen(d.data / "agency-1.csv", agency=1, rows=rows, winners=winners, seed=6)
    d.up()
    cantidades = check_lottery(d, [rows], [winners], timeout=90)
    if max_amount is not None:
        # full batches, then possibly one smaller batch at the end
        assert all(c == max_amount for c in cantidades[:-1]), cantidades
        assert 0 < cantidades[-1] <= max_amount, cantidades
        assert len(cantidades) == -(-rows // max_amount), cantidades
