"""The tests' worlds, built the one way the model is built: conf/ composed and validated as `python run.py` does
(run.compose_config, run.model_config), then named changes (dataclasses.replace) for what a test needs.

`unit_world` is the smaller world many tests were written against (it was ModelConfig's own defaults until
ModelConfig lost them, issue "Engine", item 6): the default config with 3 makers quoting around the index only,
1,000 directional traders, 200 farmers, 6 arbitrageurs, no limit-order or value traders, and the agents'
parameter classes at the unit tests' values (PLAIN: each mechanism added since
then off). It builds the same model the old defaults did (checked bit for bit
on the tests' configurations when it was introduced)."""

from __future__ import annotations

import dataclasses
import math

from agents.arbitrageur import ArbParams
from agents.directional import DirectionalParams
from agents.farmer import FarmerParams
from agents.liquidity import LiquidityParams, ValueParams
from agents.market_maker import MakerParams
from model import ModelConfig
from run import compose_config, model_config


# A lean small world for tests whose subject is the machinery around runs (sweeps, launchers, searches), not what the
# population does: the validation study's smoke size (tests/test_validation_study.py), one maker a venue and two
# limit-order traders a book (the makers' requotes are most of a small run's time). Used after population=small.
LEAN = ["population.directional.count=120", "population.farmers.count=30", "population.market_makers.count=3",
        "population.liquidity.per_market=2"]


# The agents' parameter classes as the unit tests were written against them: each mechanism added since then off
# (the classes' own defaults are conf/population/default.yaml's). `plain(cls, **changes)` builds one.
PLAIN = {
    DirectionalParams: dict(leverage_tail=1.5, entry_band_pct=None, exit_band_pct=None),
    FarmerParams: dict(leverage_min=3.0, leverage_max=10.0, leverage_dist="uniform"),
    LiquidityParams: dict(per_market=0, depth_usd={"BTC": 20_000_000.0, "ALT": 1_500_000.0}, replace_minutes=60.0),
    ValueParams: dict(per_market=0, capital_usd={"BTC": 4_000_000.0, "ALT": 400_000.0}, noise_minutes=0.0,
                      clip_usd={"BTC": 1_000_000.0, "ALT": 100_000.0}, act_minutes=2.0, rest_exit=False),
    MakerParams: dict(fair_weight_index=1.0, fair_weight_own=0.0, fair_weight_others=0.0, threshold_spread=0.0,
                      drift_threshold=math.inf, fair_smoothing=1.0, ramp_minutes=0, withdraw_sides="both"),
}


def plain(cls, **changes):
    """An agents' parameter class at the unit tests' values (PLAIN), with `changes`."""
    return cls(**{**PLAIN.get(cls, {}), **changes})


def world(*overrides: str, **changes) -> ModelConfig:
    """The config `python run.py OVERRIDES...` runs, with `changes` (ModelConfig fields) applied."""
    return dataclasses.replace(model_config(compose_config(list(overrides))), **changes)


def unit_world(*overrides: str, **changes) -> ModelConfig:
    """The tests' smaller world (module docstring), with `changes` applied."""
    unit = dict(n_market_makers=3, n_directional=1000, n_farmers=200, n_arbitrageurs=6,
                mm_depth_usd={"BTC": 3_000_000.0, "ALT": 300_000.0},
                outside_depth_usd={"BTC": 2_000_000_000.0, "ALT": 50_000_000.0},
                directional=plain(DirectionalParams), farmers=plain(FarmerParams), arbitrageurs=plain(ArbParams),
                makers=plain(MakerParams), liquidity=plain(LiquidityParams), value=plain(ValueParams), venue_scale=None,
                index_weights={})
    return world(*overrides, **{**unit, **changes})
