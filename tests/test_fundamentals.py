"""Random streams (settled rule 10) and the exogenous fundamentals (settled rule 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from model import ShockScript, fundamental_paths, stream


def test_streams_are_fixed_by_key_and_independent_of_each_other():
    a1 = stream(7, "population", "directional").random(5)
    a2 = stream(7, "population", "directional").random(5)
    b = stream(7, "population", "farmers").random(5)
    c = stream(8, "population", "directional").random(5)
    assert np.array_equal(a1, a2)
    assert not np.array_equal(a1, b) and not np.array_equal(a1, c)


def params(df=math.inf, shock=None, steps=20_000):
    return dict(seed=3, steps=steps, initial={"BTC": 100_000.0, "ALT": 10.0},
                vol_daily={"BTC": 0.03, "ALT": 0.06}, correlation=0.7, tail_df=df, shock=shock)


def log_returns(path):
    return np.diff(np.log(path))


def test_volatility_correlation_and_tails():
    g = fundamental_paths(**params())
    rb, ra = log_returns(g["BTC"]), log_returns(g["ALT"])
    assert rb.std() * math.sqrt(1440) == pytest.approx(0.03, rel=0.05)
    assert ra.std() * math.sqrt(1440) == pytest.approx(0.06, rel=0.05)
    assert np.corrcoef(rb, ra)[0, 1] == pytest.approx(0.7, abs=0.03)
    assert abs(stats.kurtosis(rb)) < 0.3                        # Gaussian
    t = fundamental_paths(**params(df=4.0))
    assert stats.kurtosis(log_returns(t["BTC"])) > 1.0           # Student-t(4): fat tails
    assert log_returns(t["BTC"]).std() * math.sqrt(1440) == pytest.approx(0.03, rel=0.1)


def test_oct10_shock_overlay():
    s = ShockScript(start_minute=100, fall_minutes=45, depth_pct={"BTC": 14.0, "ALT": 35.0}, recovery_pct=50.0,
                    recovery_minutes=300)
    b, a = s.path("BTC", 1000), s.path("ALT", 1000)
    assert b[:100].tolist() == [1.0] * 100
    assert b.min() == pytest.approx(0.86) and a.min() == pytest.approx(0.65)
    assert int(np.argmin(b)) == 145
    assert b[-1] == pytest.approx(0.93)    # half the fall recovered
    assert np.all(np.abs(np.diff(b)) < 0.01)   # continuous, no jumps in the script itself
    paths = fundamental_paths(**params(shock=s, steps=1000))
    calm = fundamental_paths(**params(steps=1000))
    assert np.allclose(paths["BTC"] / calm["BTC"], b)   # the same noise: the shock is an overlay
