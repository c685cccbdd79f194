"""adl_haircut (settled rule 3) against the worked example of MECHANICS.md "ADL theory"."""

from __future__ import annotations

import numpy as np
import pytest

from venues.adl import adl_haircut

PNL = (8, 4, 0.5, -3, -12)   # w = (8, 4, 0.5, 0, 0), D = 15; theta = 1/2 -> B = 7.5


def test_queue_reproduces_the_worked_example():
    # account 2 first, then account 1 (0-based: 1 then 0)
    assert adl_haircut(PNL, 7.5, "queue", order=[1, 0]) == pytest.approx([3.5, 4, 0, 0, 0])


def test_pro_rata_reproduces_the_worked_example():
    assert adl_haircut(PNL, 7.5, "pro_rata") == pytest.approx([4.8, 2.4, 0.3, 0, 0])


def test_largest_first_queue_costs_the_largest_winner_the_documented_extra():
    q = adl_haircut(PNL, 7.5, "queue")   # default order: largest winner first
    p = adl_haircut(PNL, 7.5, "pro_rata")
    assert q[0] - p[0] == pytest.approx(7.5 * (1 - 8 / 12.5))   # 2.7


def test_capped_pro_rata_meets_its_budget_exactly_and_respects_caps():
    caps = [0.5, 1.0, 1.0, 1.0, 1.0]
    h = adl_haircut(PNL, 7.5, "capped_pro_rata", caps=caps)
    assert h.sum() == pytest.approx(7.5, rel=1e-12)
    w = np.maximum(PNL, 0)
    assert (h <= w * np.array(caps) + 1e-12).all()
    assert h[0] == pytest.approx(8 * 0.5)   # capped; the others share one eta = 3.5 / 4.5
    assert h[1] == pytest.approx(4 * 3.5 / 4.5)
    eta = h[1] / 4
    assert h[2] == pytest.approx(0.5 * eta)
    # without caps it is pro-rata
    assert adl_haircut(PNL, 7.5, "capped_pro_rata") == pytest.approx(adl_haircut(PNL, 7.5, "pro_rata"))


def test_capped_pro_rata_refuses_an_infeasible_budget():
    with pytest.raises(ValueError, match="infeasible"):
        adl_haircut(PNL, 7.0, "capped_pro_rata", caps=[0.5, 0.5, 0.5, 1, 1])   # room 6.25


def test_capped_pro_rata_is_immune_to_splitting_an_account():
    caps = [0.4, 0.8, 1.0]
    whole = adl_haircut([10, 6, 2], 6.0, "capped_pro_rata", caps=caps)
    split = adl_haircut([4, 6, 6, 2], 6.0, "capped_pro_rata", caps=[0.4, 0.4, 0.8, 1.0])  # account 0 split 4 + 6
    assert split[0] + split[1] == pytest.approx(whole[0])
    assert split[2:] == pytest.approx(whole[1:])


def test_counterfactuals_on_adl_events_by_hand():
    from venues.adl import AdlCounterfactuals
    cf = AdlCounterfactuals(cap_pct=50.0)
    cf.add(100.0, np.array([300.0, 100.0, -50.0]), np.array([5.0, 1.5, 3.0]))
    s = cf.summary()
    assert s["n_events"] == 1 and s["budget_usd"] == 100.0 and s["uncovered_usd"] == 0.0
    assert s["queue"] == {"taken_usd": 100.0, "largest_take_usd": 100.0, "largest_winner_usd": 100.0,
                          "largest_winner_extra_usd": 25.0, "low_leverage_share": 0.0}
    # the paper's closed form: the queue costs the largest winner B x (1 - w_max / U) = 100 x (1 - 300/400) more
    assert s["queue"]["largest_winner_extra_usd"] == pytest.approx(100.0 * (1 - 300.0 / 400.0))
    assert s["pro_rata"]["largest_winner_extra_usd"] == 0.0
    assert s["pro_rata"]["largest_take_usd"] == pytest.approx(75.0)               # h = 100 / 400
    assert s["pro_rata"]["low_leverage_share"] == pytest.approx(0.25)             # 25 of 100 at 1.5x
    assert s["capped_pro_rata"]["largest_take_usd"] == pytest.approx(75.0)        # the cap (50%) does not bind
    cf.add(250.0, np.array([300.0, 100.0]), np.array([5.0, 1.5]))               # caps allow 200: 50 uncovered
    s = cf.summary()
    assert s["uncovered_usd"] == pytest.approx(50.0) and s["budget_usd"] == pytest.approx(350.0)
    assert s["queue"]["largest_take_usd"] == pytest.approx(200.0)
    assert s["capped_pro_rata"]["taken_usd"] == pytest.approx(100.0 + 200.0)
    assert s["capped_pro_rata"]["low_leverage_share"] == pytest.approx((25.0 + 50.0) / 300.0)
