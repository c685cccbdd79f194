"""The live page's logic without a browser (viz_model.py, viz_charts.py, viz_results.py): its settings are the
command line's overrides and are checked by the command line's check; its model is the one `python run.py` runs
(the same series, events and metrics after the same minutes); what its charts read adds up to the venues' own
totals; the results page shows plot.py's numbers. The page itself in a browser: tests/test_viz_browser.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import viz_charts
import viz_model as vm
from run import build_model, preflight, timeseries_frame
from venues import events as ev
from venues.params import ConfigError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DESIGN = {"venues.hyperliquid.insurance_fund_usd": "5000000", "venues.lighter.adl_ranking": "pro_rata",
          "venues.binance.halt": "[5,9]", "transfers.delay_minutes": "10", "incentives.point_value_usd": "0.05"}


def test_the_settings_are_the_command_lines_overrides_and_an_empty_control_adds_none():
    s = vm.default_settings()
    assert vm.overrides(s) == ["scenario=oct10", "population=small", "seed=0", "steps=1440"]
    assert set(vm.venue_presets()) == {"binance", "hyperliquid", "lighter"}
    for name in vm.venue_presets():
        assert {f"venues.{name}.{k}" for k in vm.VENUE_KNOBS} <= set(s)
    s = {**s, "seed": " 7 ", **DESIGN}
    assert vm.overrides(s)[2] == "seed=7" and "venues.binance.halt=[5,9]" in vm.overrides(s)
    assert vm.check(s) is None
    preflight(vm.overrides(s))   # what the page accepts, the command line accepts


@pytest.mark.parametrize("key, value, message", [
    ("venues.hyperliquid.insurance_fund_usd", "-5", "venues.hyperliquid.insurance_fund_usd: expected a finite amount"),
    ("venues.binance.max_leverage", "0.5", "venues.binance.max_leverage: expected a number >= 1"),
    ("population", "huge", "population: expected one of crowded, default, oct10_fit, small, got 'huge'"),
    ("seed", "1,2", "seed: a list of values needs -m"),
])
def test_a_bad_value_gets_the_command_lines_one_line_message(key, value, message):
    s = {**vm.default_settings(), key: value}
    msg = vm.check(s)
    assert msg is not None and msg.startswith(message) and "\n" not in msg
    with pytest.raises(ConfigError) as e:
        preflight(vm.overrides(s))
    assert str(e.value) == msg


@pytest.mark.slow
def test_the_pages_run_is_the_command_lines_run(tmp_path):
    """`python run.py O seed=S` and the page's model with those settings, stepped minute by minute as Mesa's
    Step and Play do, give the same series, events and metrics."""
    settings = {**vm.default_settings(), "seed": "3", "steps": "40", **DESIGN}
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), *vm.overrides(settings), "dashboard=false",
                        "progress=false", f"hydra.run.dir={out}"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    m = vm.PageModel(settings)
    while m.running:
        m.step()
    assert m.steps == 40
    pd.testing.assert_frame_equal(timeseries_frame(m).reset_index(drop=True),
                                  pd.read_parquet(out / "timeseries.parquet"))
    saved = json.loads((out / "metrics.json").read_text())
    from tests.golden.fingerprint import _strict
    from metrics import compute_metrics
    mine = json.loads(json.dumps(_strict(compute_metrics(m, wall_s=0.0))))
    for key in ("wall_s", "experiment", "config_hash"):
        saved.pop(key, None)
        mine.pop(key, None)
    assert mine == saved
    events = pd.read_parquet(out / "events.parquet")
    counts = {name: 0 for name in ev.KIND_NAMES}
    for v in m.venues.values():
        kinds = v.events.columns()["kind"]
        for code, name in enumerate(ev.KIND_NAMES):
            counts[name] += int((kinds == code).sum())
    assert counts == {name: int((events["kind"] == name).sum()) for name in ev.KIND_NAMES}
    assert counts["liquidation"] > 0 or counts["fill"] > 0


def test_the_page_model_is_build_model_stepped_as_mesas_controller_does():
    settings = {**vm.default_settings(), "steps": "12", **DESIGN}
    page = vm.PageModel(settings)
    ref = build_model(vm.overrides(settings))
    for _ in range(12):
        page.step()              # Mesa's Step and Play call model.step() once a minute
    ref.run_for(12)
    for name, arr in vars(ref).items():
        if name.startswith("ts_") and isinstance(arr, np.ndarray):
            np.testing.assert_array_equal(getattr(page, name), arr, err_msg=name)
    assert not page.running and page.lock is not None
    per_s, ms = page.step_rate()
    assert ms > 0 and np.isnan(per_s)     # not drawn yet
    page.drawn.extend([(10.0, 3), (11.0, 12)])
    assert page.step_rate()[0] == pytest.approx(9.0)
    page.drawn.extend([(20.0, 12), (20.5, 14)])   # a pause: measured afresh after it
    assert page.step_rate()[0] == pytest.approx(4.0)
    page.drawn.clear()   # a loaded machine playing: drawings 5 s apart are its rate, not pauses
    page.drawn.extend([(0.0, 0), (5.0, 9), (10.0, 18), (15.0, 27)])
    assert page.step_rate()[0] == pytest.approx(27 / 15)


def test_a_reactive_holding_the_settings_builds_the_model_from_its_value_at_reset():
    class Holder:   # what Mesa's Reset passes: the settings' Solara reactive, read when the model is built
        value = {**vm.default_settings(), "steps": "5", "seed": "2"}
    m = vm.PageModel(Holder())
    assert m.cfg.seed == 2 and m.cfg.steps == 5 and "seed=2" in m.overrides


def test_the_view_adds_up_to_the_venues_totals_and_the_charts_draw_it():
    m = vm.PageModel({**vm.default_settings(), "steps": "30"})
    for _ in range(30):
        m.step()
    for which in vm.WINDOWS:
        view = vm.live_view(m, which)
        assert view.minute == 30 and view.w0 >= 1 and len(view.minutes) == min(30, view.w1) - view.w0 + 1
    for name, v in m.venues.items():
        s = view.stages[name]
        assert s["book"] + s["backstop"] + s["ADL"] + s["bad debt"] == pytest.approx(v.waterfall.liquidated_usd)
    assert view.totals["liquidated_usd"] == pytest.approx(sum(v.waterfall.liquidated_usd for v in m.venues.values()))
    figs = [viz_charts.prices(view, "BTC"), viz_charts.prices(view, "ALT"), viz_charts.depth(view),
            viz_charts.stages(view), viz_charts.funds(view), viz_charts.naked(view), viz_charts.synth(view)]
    assert all(f.axes and f.axes[0].get_title() for f in figs)
    assert len(figs[0].axes[0].lines) >= 1 + len(m.venue_names)     # the fundamental and each venue's mark
    assert vm.window(m, "the shock") == vm.window(m, "auto") == (1, 30)   # no shock within these 30 minutes
    from types import SimpleNamespace
    day = SimpleNamespace(steps=100, cfg=SimpleNamespace(scenario="oct10", steps=1440,
                                                         shock=SimpleNamespace(start_minute=180)))
    assert vm.window(day, "the shock") == (150, 420) and vm.window(day, "auto") == (1, 100)
    assert vm.window(day, "last hour") == (40, 100)
    day.steps = 160
    assert vm.window(day, "auto") == (150, 420)   # from half an hour before the shock: its hours


def test_the_adl_table_lists_the_largest_fills_with_the_accounts_kind():
    m = vm.PageModel({**vm.default_settings(), "steps": "3"})
    m.step()
    v = m.venues["hyperliquid"]
    trader = next(t for t in m.traders if t.venue_name == "hyperliquid")
    maker = next(mm for mm in m.makers if mm.venue_name == "hyperliquid")
    for acct, notional, lev, pnl in ((trader.account, 5e5, 12.5, 3e4), (maker.account, 2e6, 1.5, -1e3),
                                     (v.vault, 1e5, 3.0, 10.0)):
        v.events.append(ev.ADL, 1, acct, 1, 10, 10.0, notional, 0.0, info=lev, aux=pnl)
    rows = vm.live_view(m).adl_rows
    assert [r["notional_usd"] for r in rows] == [2_000_000, 500_000, 100_000]
    assert [r["kind"] for r in rows] == ["market maker", "directional", "backstop vault"]
    assert rows[1] | {} == {"minute": 1, "venue": "hyperliquid", "market": "ALT", "notional_usd": 500_000,
                            "account": trader.account, "kind": "directional", "leverage": 12.5, "pnl_usd": 30_000}
    assert vm.live_view(m).adl_rows == rows     # rows already read are not counted twice


def small_sweep(root: Path) -> Path:
    """A sweep's folder as run.py -m leaves it, for the results page: job folders with their overrides and a
    summary.parquet (max_leverage 5/10/20 x seeds 0-2)."""
    rows = []
    for j, (lev, seed) in enumerate((lev, seed) for lev in (5, 10, 20) for seed in range(3)):
        job = root / str(j) / ".hydra"
        job.mkdir(parents=True)
        job.joinpath("overrides.yaml").write_text(f"- max_leverage={lev}\n- seed={seed}\n- population=small\n")
        rows.append({"max_leverage": lev, "seed": seed, "population": "small", "status": "ok",
                     "totals.liquidated_notional_usd": 1e6 * lev + 1e5 * seed, "totals.bad_debt_usd": 10.0 * lev})
    pd.DataFrame(rows).to_parquet(root / "summary.parquet", index=False)
    return root


def test_the_results_page_shows_plot_pys_numbers(tmp_path):
    import plot
    from viz_results import results, sweep_options
    sweep = small_sweep(tmp_path / "sweep")
    opts = sweep_options(sweep)
    assert opts["keys"] == ["max_leverage"] and opts["metrics"][0] == "totals.liquidated_notional_usd"
    assert opts["values"]["max_leverage"] == ["5", "10", "20"] and opts["jobs"] == 9
    table, png = results(sweep, "totals.liquidated_notional_usd", "max_leverage")
    plot.main([str(sweep), "--x", "max_leverage", "--metric", "totals.liquidated_notional_usd",
               "--out", str(tmp_path / "cli")])
    pd.testing.assert_frame_equal(table, pd.read_csv(tmp_path / "cli.csv"))
    assert png[:4] == b"\x89PNG" and list(table["n"]) == [3, 3, 3]
    assert table["ci_low"].lt(table["mean"]).all() and table["interval"].str.startswith("t 95%").all()
    paired, _ = results(sweep, "totals.liquidated_notional_usd", "max_leverage", base="5")
    assert list(paired["diff_mean"]) == pytest.approx([5e6, 15e6]) and list(paired["n_pairs"]) == [3, 3]
    from figures import PlotError
    with pytest.raises(PlotError, match="closest"):
        results(sweep, "totals.liquidated_notional", "max_leverage")
    with pytest.raises(PlotError, match="not a sweep"):
        sweep_options(tmp_path)
