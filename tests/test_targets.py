"""Issue 24, item 1: the event's figures are data (conf/targets/*.yaml) that plot.py, the study and the calibration
read; every target names a metric the runs write; the loss on hand-made numbers is its closed form."""

from __future__ import annotations

import math

import pytest

import plot
import run
import targets
from targets import Target, load_targets, loss, point_stats, z_score
from venues.params import ConfigError


@pytest.mark.parametrize("name,scenario", [("oct10", "oct10"), ("calm", "calm")])
def test_every_target_names_a_metric_the_runs_write(name, scenario):
    names = set(run.metric_names(run.model_config(run.compose_config(["population=small", f"scenario={scenario}"]))))
    tg = load_targets(name)
    assert tg, name
    for t in tg.values():
        assert t.source and t.low < t.high and (t.value is None or t.low <= t.value <= t.high)
        for m in t.metrics():
            assert m in names, f"{name}: {t.name}: {m} is not a metric of metrics.json"


def test_plot_reads_the_event_figures_from_the_targets_files():
    assert targets.target_files() == ["calm", "oct10"]
    oct10 = load_targets("oct10")
    assert plot.EVENT == targets.event_figures()
    assert plot.EVENT["stats.oct10.long_share_liquidated"] == oct10["long_share_liquidated"].value == 0.87
    assert plot.EVENT["venues.hyperliquid.oi_drop_pct-venues.binance.oi_drop_pct"] == 21.0
    assert "stats.oct10.max_venue_drawdown_pct_ALT" not in plot.EVENT   # a range only: no single figure
    assert targets.event_ranges()["stats.oct10.max_venue_drawdown_pct_ALT"] == (50.0, 80.0)


def _t(name, low, high, metric="m", stat="mean") -> Target:
    return Target(name, metric, stat, None, low, high, "", "hand-made", "", "test")


def test_the_loss_is_the_mean_of_squared_range_scaled_distances():
    tg = {"a": _t("a", 0.0, 10.0), "b": _t("b", 80.0, 90.0), "c": _t("c", -1.0, 1.0)}
    # a: centre 5, half 5: s = 12.5 -> z = 1.5; b: centre 85, half 5: s = 84 -> z = -0.2; c: undefined -> 10
    value, zs = loss({"a": 12.5, "b": 84.0, "c": math.nan}, tg)
    assert zs == pytest.approx({"a": 1.5, "b": -0.2, "c": targets.UNDEFINED_Z})
    assert value == pytest.approx((1.5 ** 2 + 0.2 ** 2 + 100.0) / 3)
    assert abs(z_score(10.0, tg["a"])) == 1.0 and abs(z_score(0.0, tg["a"])) == 1.0   # the range's ends: |z| = 1
    # a point's statistics from its runs: mean or median over seeds, NaN seeds left out, A-B run by run
    runs = [{"x": 1.0, "y": 4.0}, {"x": 3.0, "y": 1.0}, {"x": math.nan, "y": 2.0}]
    st = point_stats(runs, {"mean": _t("mean", 0, 1, "x"), "med": _t("med", 0, 1, "y", "median"),
                            "diff": _t("diff", 0, 1, "y-x")})
    assert st == pytest.approx({"mean": 2.0, "med": 2.0, "diff": 0.5})   # diff: (3 + -2) / 2, the NaN run out


def test_a_bad_targets_file_or_name_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n  x: {metric: totals.bad_debt_usd, range: [5, 1], source: s}\n")
    with pytest.raises(ConfigError, match=r"^targets bad: x.range: expected \[low, high\].*low < high, got \[5, 1\]$"):
        load_targets(bad)
    bad.write_text("targets:\n  x: {metric: totals.bad_debt_usd, range: [0, 1], value: 3, source: s}\n")
    with pytest.raises(ConfigError, match=r"x.value: expected null or a number within its range"):
        load_targets(bad)
    with pytest.raises(ConfigError, match=r"^targets_file: expected one of calm, oct10"):
        load_targets("oct11")
    with pytest.raises(ConfigError, match=r"^targets: unknown target 'long_share'; did you mean "
                                          r"long_share_liquidated\?"):
        targets.choose(load_targets("oct10"), ["long_share"])
