"""Issue 20 items 5, 6 (part) and 7 (part): every value the schema accepts runs; every other one is refused
before the run, in one line naming the key and what is allowed (exit status 2).

The bounds are derived from what the code holds (conf/schema.py, "what a run can hold"): the memory a run
preallocates, the float64 range of the outside impact and of the drawn capitals, lots and ticks that a float
holds exactly, the peg ladder's prices. Each refused value below crashed at run time, exhausted memory or was
taken silently on 69c6aa5."""

from __future__ import annotations

import copy
import math
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hypothesis import given, settings
from hypothesis import strategies as st

import run
from conf import schema
from venues.params import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHORT = ["population=small", "steps=40", "warmup_minutes=5", "shock.start_minute=10", "shock.fall_minutes=10",
         "dashboard=false", "progress=false"]
ETH_PERP = "+venues.binance.overrides.perps.ETH={tick_size:0.01,lot_size:0.01,tiers:[[1e9,20,0.02]]}"
SOBOL_ROW = ["+sensitivity.params={max_leverage:[3,50]}", "sensitivity.index=0"]


def compose_cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


# ---------------------------------------------------------------------------------------------- refused
REFUSED = [   # (overrides, start of the one-line message); on 69c6aa5 each ran into the failure noted
    # item 5: in-range values that crashed at run time
    (["market.outside_depth_usd.BTC=1"],
     "market.outside_depth_usd.BTC: expected at least 1.303e+07 USD"),                          # ZeroDivisionError
    (["population=small", "market.outside_depth_usd.BTC=1000"],
     "market.outside_depth_usd.BTC: expected at least 8.686e+06 USD"),       # ran with BTC's index at 3e-126
    (["population.arbitrageurs.peg_levels=1025"],
     "population.arbitrageurs.peg_levels: expected an integer in [0, 8]"),                      # OverflowError
    (["population.arbitrageurs.peg_threshold=0.3", "population.arbitrageurs.peg_levels=3"],
     "population.arbitrageurs.peg_levels: expected an integer in [0, 2]"),   # a bid at -0.2 dropped silently
    ([ETH_PERP], "venues.binance.perps.ETH: expected perpetual markets of the model's assets BTC, ALT only"),
    ([ETH_PERP, "+market.initial_prices.ETH=5"],
     "market.initial_prices.ETH: expected a price for one of"),                # KeyError: the makers quote it
    (["steps=100000000"], "steps: expected at most 951,457 minutes with 3 venues"),           # memory
    (["venues=onchain_pair", "steps=100000000"], "steps: expected at most 1,427,186 minutes with 2 venues"),
    (["population.directional.count=100000000"], "population.directional.count: expected at most"),  # memory
    # (sensitivity.n_base=2^30, killed with no message on 69c6aa5: in a subprocess with a memory limit below)
    # item 6 (part): tracebacks instead of one line
    (["venues=null"], "venues: expected one of onchain_pair, three, got null"),
    (["scenario=null"], "scenario: expected one of calm, oct10, got null"),
    # item 7 (part): an unknown asset taken silently
    (["+market.initial_prices.ETH=5"], "market.initial_prices.ETH: expected a price for one of the model's assets"),
    # found by trying the edges of every numeric field (population=small steps=130 and steps=300 with a shock)
    (["market.initial_prices.BTC=1e-300"], "market.initial_prices.BTC: expected a price the perp books can quote"),
    (["market.initial_prices.SYNTH=1e-300"], "market.initial_prices.SYNTH: expected a price the spot books"),
    (["population.market_makers.depth_usd.BTC=1e300"],
     "population.market_makers.depth_usd.BTC: expected at most 7.746e+17 USD"),                # int64 overflow
    (["population.directional.capital_sigma=1000"],
     "population.directional.capital_sigma: expected at most 2.755"),                          # deposit of 0.0
    (["population.farmers.capital_sigma=1000"], "population.farmers.capital_sigma: expected at most 2.857"),  # inf
    (["population.directional.capital_median_usd=1e306"],
     "population.directional.capital_median_usd: expected at most 3.613e+10"),                  # inf lots
    (["population.farmers.leverage_max=1e308"], "population.farmers.leverage_max: expected at most 8.742e+08"),
    # ran, but sized orders beyond what the event log holds exactly (2^53 lots: garbage lots in events.parquet)
    (["population.directional.capital_sigma=76"], "population.directional.capital_sigma: expected at most 2.755"),
    (["population.arbitrageurs.clip_usd=1e308"], "population.arbitrageurs.clip_usd: expected at most 5.855e+16"),
    (["shock.synth_wave_usd=1e300"], "shock.synth_wave_usd: expected at most 9.007e+15 USD"),
    (["population.market_makers.synth_depth_usd=1e300"], "population.market_makers.synth_depth_usd: expected at"),
    (["population.arbitrageurs.capital_usd=1e300", "population.arbitrageurs.peg_budget_usd=1e300"],
     "population.arbitrageurs.peg_budget_usd: expected at most 4.287e+16 USD"),
    (["market.initial_prices.BTC=1e15"], "market.initial_prices.BTC: expected a price the perp books can quote"),
    ([*SOBOL_ROW, "sensitivity.design_seed=-1"], "sensitivity.design_seed: expected an integer >= 0"),  # ValueError
]


@pytest.mark.parametrize("overrides,message", REFUSED, ids=[" ".join(r[0]) for r in REFUSED])
def test_values_the_code_cannot_hold_are_refused_in_one_line(overrides, message):
    with pytest.raises(ConfigError) as e:
        run.preflight(overrides)
    text = str(e.value)
    assert "\n" not in text and text.startswith(message), text


def _limit_memory():   # a regression that allocates the design or the series fails here instead of being killed
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))


@pytest.mark.slow
@pytest.mark.parametrize("overrides,message", [
    (["steps=100000000"], "steps: expected at most 951,457 minutes"),
    ([*SOBOL_ROW, "sensitivity.n_base=1073741824"],
     "sensitivity.n_base: expected a power of 2 of at most 67108864 with D = 1 parameters"),
    (["venues=null"], "venues: expected one of onchain_pair, three, got null"),
    (["scenario=null"], "scenario: expected one of calm, oct10, got null"),
    (["market.outside_depth_usd.BTC=1"], "market.outside_depth_usd.BTC: expected at least"),
], ids=["steps", "n_base", "venues=null", "scenario=null", "outside_depth"])
def test_refused_on_the_command_line_with_exit_2_and_nothing_written(overrides, message, tmp_path):
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), *overrides, f"hydra.run.dir={out}"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300, preexec_fn=_limit_memory)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: {message}"), r.stderr[-2000:]
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- accepted: runs
ACCEPTED = [   # the edges of what is accepted; each runs to the end (a shock included) with settled rule 1 held
    ["market.correlation=1"],                                  # LinAlgError on 69c6aa5
    ["market.correlation=-1"],                                 # LinAlgError on 69c6aa5
    ["population.arbitrageurs.peg_levels=8"],                  # the deepest level priced above 0 (0.36)
    ["market.outside_depth_usd.BTC=8.7e6", "market.outside_depth_usd.ALT=1.05e7"],   # just above the bound
    ["population.arbitrageurs.peg_threshold=0.3", "population.arbitrageurs.peg_levels=2"],
    ["population.directional.capital_sigma=2.75", "population.farmers.capital_sigma=2.83"],
    ["population.directional.capital_median_usd=3.6e10", "population.farmers.leverage_max=8.7e8"],
    ["market.initial_prices.BTC=0.1", "market.initial_prices.ALT=0.0001"],          # one tick
    ["market.initial_prices.BTC=9e14", "market.initial_prices.ALT=9e11",            # 2^53 ticks (the reference
     "market.outside_depth_usd.BTC=2e11", "market.outside_depth_usd.ALT=2e11"],     # has almost no room to move)
    ["population.market_makers.depth_usd.BTC=7.7e17", "population.market_makers.synth_depth_usd=9e15"],
    ["population.arbitrageurs.clip_usd=5.8e16", "market.outside_depth_usd.BTC=1.1e18",
     "market.outside_depth_usd.ALT=1.3e18"],
    ["shock.synth_wave_usd=9e15"],
]


@pytest.mark.slow
@pytest.mark.filterwarnings("error::RuntimeWarning")   # e.g. lots beyond 2^53 cast into the events' columns
@pytest.mark.parametrize("overrides", ACCEPTED, ids=[" ".join(a) for a in ACCEPTED])
def test_accepted_edges_run(overrides, tmp_path):
    cfg = compose_cfg(*SHORT, *overrides)
    run.preflight([*SHORT, *overrides])
    m = run.run_experiment(cfg, tmp_path)
    assert m["status"] == "ok"
    err = m["totals"]["conservation_error_rel"]
    assert err is not None and err < 1e-9


# ---------------------------------------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None)
@given(rho=st.one_of(st.sampled_from([-1.0, 1.0, -0.9999999999999999, 0.9999999999999999]),
                     st.floats(-1.0, 1.0)),
       tail_df=st.one_of(st.just(math.inf), st.floats(2.01, 50.0)), seed=st.integers(0, 2**32))
def test_fundamentals_exist_for_every_correlation_in_the_closed_interval(rho, tail_df, seed):
    from model import fundamental_paths
    vol = {"BTC": 0.03, "ALT": 0.06}
    p = fundamental_paths(seed, 200, {"BTC": 1e5, "ALT": 10.0}, vol, rho, tail_df, None)
    for a in ("BTC", "ALT"):
        assert np.all(np.isfinite(p[a])) and np.all(p[a] > 0)
    if abs(rho) == 1.0:   # one shock drives both: standardized returns equal up to the sign
        z = {a: (np.diff(np.log(p[a])) + 0.5 * vol[a] ** 2 / 1440) / (vol[a] / math.sqrt(1440)) for a in vol}
        np.testing.assert_allclose(z["ALT"], rho * z["BTC"], rtol=1e-6, atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(threshold=st.floats(5e-324, 1.0, exclude_max=True))
def test_the_peg_ladder_holds_every_accepted_level(threshold):
    from agents.arbitrageur import peg_ladder
    top = schema.peg_levels_max(threshold)
    ladder = peg_ladder(1e6, threshold, top)                  # no OverflowError, no level dropped
    assert len(ladder) == top and all(0 < px <= 1 for px, _ in ladder)   # 1.0: a threshold under float64's eps
    assert top == 1024 or 1.0 - threshold * 2.0**top <= 0     # one level more would bid at or below 0


@pytest.fixture(scope="module")
def small_rc():
    return schema.load(compose_cfg("population=small"))


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(count=st.integers(0, 200), clip=st.floats(1.0, 1e12), decay=st.floats(0.0, 0.999999),
       price=st.floats(1e-3, 1e12), excess=st.floats(1.0, 1e6))
def test_an_accepted_outside_depth_keeps_the_reference_a_positive_number(small_rc, count, clip, decay, price,
                                                                         excess):
    """At the bound, the worst outside flow (every arbitrageur one clip on every venue, same side, every
    minute) builds the impact up to F / (depth (1 - decay)); the reference fundamental x e^impact stays a
    positive finite float with room left for the fundamental's own path (a factor e^300 either way)."""
    rc = copy.deepcopy(small_rc)
    rc.population.arbitrageurs.count, rc.population.arbitrageurs.clip_usd = count, clip
    rc.market.outside_impact_decay = decay
    rc.market.initial_prices["BTC"] = price
    rc.market.outside_depth_usd["ALT"] = 1e300    # only BTC's bound is under test
    flow = count * len(rc.venues) * clip
    for depth_try in (1.0, 1e3, 1e6, 1e9, 1e12, 1e15):
        rc.market.outside_depth_usd["BTC"] = depth_try * excess
        try:
            rc._validate_outside_depth()
        except ConfigError as e:
            assert str(e).startswith("market.outside_depth_usd.BTC: expected at least")
            continue
        worst = flow / (rc.market.outside_depth_usd["BTC"] * (1.0 - decay))   # the impact's fixed point
        for sign in (1.0, -1.0):
            ref = price * math.exp(sign * worst)
            assert 0 < ref * math.exp(-300) and ref * math.exp(300) < math.inf


@pytest.mark.slow
def test_the_memory_estimate_covers_the_shipped_populations_and_refuses_by_the_largest_part():
    for pop in ("small", "default", "crowded"):
        schema.load(compose_cfg(f"population={pop}", "steps=10080"))          # a week on any population
    with pytest.raises(ConfigError, match=r"^population.market_makers.count: expected at most"):
        schema.load(compose_cfg("population=small", "population.market_makers.count=1000000"))
    rc = schema.load(compose_cfg("population=small"))
    assert sum(rc.memory_estimate().values()) + schema.BASE_BYTES <= schema.MEMORY_BUDGET_BYTES
