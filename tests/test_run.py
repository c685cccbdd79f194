"""run.py end to end: a short run writes its three files atomically and returns its metrics."""

from __future__ import annotations

import json

import pandas as pd
from hydra import compose, initialize_config_dir

from pathlib import Path

import pytest

from run import run_experiment

CONF = str(Path(__file__).resolve().parents[1] / "conf")


@pytest.mark.slow
def test_run_experiment_writes_metrics_timeseries_and_events(tmp_path):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["steps=240", "population.directional.count=200", "dashboard=false",
                                                        "population.farmers.count=50", "seed=3"])
    metrics = run_experiment(cfg, tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["config.yaml", "events.parquet", "metrics.json", "timeseries.parquet"]   # no leftovers
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["status"] == "ok" and saved["seed"] == 3 and saved["steps"] == 240
    assert saved["totals"]["conservation_error_rel"] < 1e-9
    assert set(saved["venues"]) == {"binance", "hyperliquid", "lighter"}
    assert metrics["totals"]["liquidated_notional_usd"] == saved["totals"]["liquidated_notional_usd"]
    ts = pd.read_parquet(tmp_path / "timeseries.parquet")
    assert len(ts) == 241 * 3 * 2 and {"mid", "mark", "index", "oi_usd", "fundamental"} <= set(ts.columns)
    events = pd.read_parquet(tmp_path / "events.parquet")
    assert {"fill", "deposit"} <= set(events["kind"].astype(str))
