"""Issue "Experiments": every option of every config group composes and runs; sweeps through the joblib and
submitit_local launchers give one summary row per job with the overrides as columns; plots come from saved
files; bad input gets one line naming the key before anything runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

import run
from conf import schema
from venues.params import ConfigError
from venues.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
FAST = ["steps=8", "warmup_minutes=2", "dashboard=false", "progress=false"]


def compose_cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_the_groups_are_the_documented_ones():
    assert options("venues") == ["onchain_pair", "three"]
    assert options("population") == ["crowded", "default", "oct10_fit", "small"]
    assert options("scenario") == ["calm", "oct10"]
    assert options("incentives") == ["none", "points_season"]
    assert options("experiment") == ["adl_wick", "calm_realism", "farming_fuse", "halt_elsewhere",
                                     "leverage_tails", "leverage_x_incentive", "oct10_calibration", "sobol",
                                     "transfer_delay", "venue_designs"]
    assert options("venue_design") == ["adl_leverage", "adl_pnl", "adl_pro_rata", "baseline", "insurance_fund",
                                       "insurance_fund_inert", "no_backstop"]
    assert options("halt") == ["binance", "hyperliquid", "none"]
    assert options("venue_preset") == sorted(PRESETS)


GROUP_CASES = (
    [("venues", o) for o in ("three", "onchain_pair")]
    + [("population", o) for o in ("small", "default", "crowded", "oct10_fit")]
    + [("scenario", o) for o in ("calm", "oct10")]
    + [("incentives", o) for o in ("none", "points_season")]
    + [("experiment", o) for o in ("leverage_x_incentive", "transfer_delay")]
    + [("venue_design", o) for o in options("venue_design")]
)
# the validation study's experiments (and the halt group) run end to end in tests/test_validation_study.py


# seconds each: the 100,000-agent build (crowded), the 10,081-agent one (default), the points season's run
SLOW_CASES = {("population", "default"), ("population", "crowded"), ("incentives", "points_season")}
GROUP_PARAMS = [pytest.param(g, o, id=f"{g}={o}", marks=[pytest.mark.slow] if (g, o) in SLOW_CASES else [])
                for g, o in GROUP_CASES]


@pytest.mark.parametrize("group,option", GROUP_PARAMS)
def test_every_group_option_composes_and_runs(group, option, tmp_path):
    pop = [] if group == "population" else ["population=small"]
    extra = ["shock.start_minute=3", "shock.fall_minutes=3"] if group == "scenario" else []
    cfg = compose_cfg(f"{group}={option}", *pop, *FAST, *extra)
    if group == "population" and option == "crowded":
        cfg.steps = 2
    m = run.run_experiment(cfg, tmp_path)
    assert m["status"] == "ok" and m["totals"]["conservation_error_rel"] < 1e-9
    assert (tmp_path / "metrics.json").exists() and (tmp_path / "config.yaml").exists()
    rc = schema.load(cfg)
    if group == "venues":
        assert set(m["venues"]) == set(rc.venues)
    if group == "experiment":
        assert m["experiment"] == option
        assert ("adl_counterfactuals" in m) == (option == "venue_designs")
    if group == "population":
        p = rc.population
        nv, nm = len(rc.venues), 2   # limit-order and value traders: per venue and perp market
        assert m["n_agents"] == (p.market_makers.count + p.directional.count + p.farmers.count
                                 + p.arbitrageurs.count + (p.liquidity.per_market + p.value.per_market) * nv * nm)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_venue_preset_runs_on_every_venue(preset, tmp_path):
    cfg = compose_cfg("population=small", *FAST, *[f"venues.{v}.preset={preset}"
                                                   for v in ("binance", "hyperliquid", "lighter")])
    m = run.run_experiment(cfg, tmp_path)
    assert m["status"] == "ok"
    rc = schema.load(cfg)
    assert all(vc.preset == preset for vc in rc.venues.values())


def test_the_knobs_reach_the_venues():
    cfg = compose_cfg("max_leverage=7", "venues.hyperliquid.max_leverage=5", "venues.lighter.insurance_fund_usd=0",
                      "venues.hyperliquid.backstop_vault_usd=0", "venues.binance.vault_max_drawdown_pct=5",
                      "venues.hyperliquid.adl_ranking=pro_rata", "venues.binance.collateral_oracle=redemption",
                      "venues.lighter.halt=[200,230]", "transfers.delay_minutes=12",
                      "incentives.point_value_usd=0.05", "population.farmers.leverage_dist=loguniform",
                      "population.market_makers.withdraw_threshold=3", "population.market_makers.depth_usd.ALT=1e5",
                      "shock.depth_pct.ALT=40", "shock_tail_df=4")
    rc = schema.load(cfg)
    assert rc.venue_params("binance").max_leverage == 7 and rc.venue_params("hyperliquid").max_leverage == 5
    assert rc.venue_params("lighter").insurance_fund_usd == 0 and rc.venue_params("hyperliquid").backstop_vault_usd == 0
    assert rc.venue_params("binance").vault_max_drawdown_pct == 5
    assert rc.venue_params("hyperliquid").adl_ranking == "pro_rata"
    assert rc.venue_params("binance").collateral_oracle == "redemption"
    mc = rc.model_config()
    assert mc.halts == {"lighter": (200, 230)} and mc.transfer_delay_minutes == 12 and mc.point_value_usd == 0.05
    assert mc.farmers.leverage_dist == "loguniform" and mc.mm_withdraw_threshold == 3
    assert mc.mm_depth_usd["ALT"] == 1e5 and mc.shock.depth_pct["ALT"] == 40 and mc.shock_tail_df == 4


def test_a_halt_window_halts_the_venue():
    from model import CascadeModel
    cfg = compose_cfg("population=small", "steps=12", "warmup_minutes=2", "venues.lighter.halt=[4,8]")
    m = CascadeModel(schema.load(cfg).model_config())
    seen = []
    for _ in range(10):
        m.step()
        seen.append(m.venues["lighter"].halted)
    assert seen == [False, False, False, True, True, True, True, False, False, False]   # minutes 1..10


def test_every_schema_field_has_a_docstring_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for cls in (schema.RunConfig, schema.VenueChoice, schema.ShockConfig, schema.MarketConfig,
                schema.TransfersConfig, schema.IncentivesConfig, schema.MarketMakersPop, schema.DirectionalPop,
                schema.FarmersPop, schema.ArbitrageursPop, schema.AnalysisConfig, schema.SensitivityConfig):
        docs = schema.field_docs(cls)
        for f in __import__("dataclasses").fields(cls):
            if f.name in ("shock", "market", "venues", "transfers", "incentives", "population", "analysis",
                          "sensitivity", "market_makers", "directional", "farmers", "arbitrageurs"):
                continue
            assert docs.get(f.name), f"{cls.__name__}.{f.name} has no docstring"
            assert f"`{f.name}`" in readme or f".{f.name}`" in readme, f"{f.name} missing from README"


# ---------------------------------------------------------------------------------------------- bad input
BAD = [
    ("seeed=3", "seeed: unknown key"),
    ("scenario=crash", "scenario: expected one of calm, oct10, got 'crash'"),
    ("venues.binance.max_leverage=-3", "venues.binance.max_leverage: expected a number >= 1"),
    ("+venues.binance.overrides.perps.BTC.tiers=[[1e9,20,0.06]]",
     "venues.binance.perps.BTC.tiers[0].maintenance_rate: expected a rate in (0, 1/max_leverage = 0.05)"),
    ("venues.lighter.preset=foo", "venues.lighter.preset: expected one of binance_like, hyperliquid_like"),
    ("incentives.point_value_usd=-0.5", "incentives.point_value_usd: expected a finite number >= 0"),
    ("transfers.delay_minutes=-5", "transfers.delay_minutes: expected a finite number >= 0"),
    ("population.farmers.leverage_max=abc", "population.farmers.leverage_max: expected a number"),
    ("max_leverage=0.5", "max_leverage: expected a number >= 1"),
    ("population.directional.count=2.5", "population.directional.count: expected an integer"),
    ("shock.depth_pct.BTC=120", "shock.depth_pct.BTC: expected a fall in percent in [0, 100)"),
    ("venues.binance.halt=[10,99999]", "venues.binance.halt: expected [start, end) minutes"),
    ("venues.hyperliquid.adl_ranking=random", "venues.hyperliquid.adl_ranking: expected"),
    ("population=huge", "population: expected one of crowded, default, oct10_fit, small, got 'huge'"),
]


@pytest.mark.parametrize("override,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_in_one_line_naming_the_key(override, message):
    with pytest.raises(ConfigError) as e:
        run.preflight([override])
    text = str(e.value)
    assert "\n" not in text and text.startswith(message.split(":")[0] + ":"), text
    assert message in text, text


@pytest.mark.slow
def test_bad_input_on_the_command_line_exits_2_with_one_line_and_writes_nothing(tmp_path):
    for override in ("venues.binance.max_leverage=-3", "seeed=3", "incentives.point_value_usd=-1"):
        r = subprocess.run([sys.executable, str(ROOT / "run.py"), override,
                            f"hydra.run.dir={tmp_path}/run"], cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr
        assert not (tmp_path / "run").exists()
    # a bad value among a sweep's values is refused before any job runs
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "-m", "max_leverage=5,0.5",
                        f"hydra.sweep.dir={tmp_path}/sweep"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2 and "max_leverage: expected a number >= 1, got 0.5" in r.stderr
    assert not (tmp_path / "sweep").exists()


# ---------------------------------------------------------------------------------------------- sweeps
def _sweep(tmp_path, *extra):
    out = tmp_path / "sweep"
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "-m", "population=small", *FAST,
                        "seed=0,1", f"hydra.sweep.dir={out}", *extra], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r


@pytest.mark.slow
def test_a_joblib_sweep_writes_a_summary_row_per_job(tmp_path):
    out, r = _sweep(tmp_path, "incentives.point_value_usd=0.0,0.05", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    assert "Joblib.Parallel(n_jobs=2" in r.stderr + r.stdout
    df = pd.read_parquet(out / "summary.parquet")
    assert len(df) == 4 and set(df["job"]) == {"0", "1", "2", "3"}
    assert {"seed", "incentives.point_value_usd", "population", "steps", "status",
            "totals.liquidated_notional_usd", "venues.hyperliquid.oi_drop_pct"} <= set(df.columns)
    assert sorted(zip(df["seed"], df["incentives.point_value_usd"])) == [(0, 0.0), (0, 0.05), (1, 0.0), (1, 0.05)]
    assert (df["status"] == "ok").all()
    csv = pd.read_csv(out / "summary.csv")
    assert len(csv) == 4
    # the same table again from the jobs' files (a sweep run on a cluster)
    (out / "summary.parquet").unlink()
    r2 = subprocess.run([sys.executable, str(ROOT / "run.py"), "--aggregate", str(out)], cwd=ROOT,
                        capture_output=True, text=True)
    assert r2.returncode == 0 and "4 jobs" in r2.stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"), df)


@pytest.mark.slow
def test_a_submitit_local_sweep_writes_its_summary(tmp_path):
    out, r = _sweep(tmp_path, "hydra/launcher=submitit_local")
    df = pd.read_parquet(out / "summary.parquet")
    assert len(df) == 2 and sorted(df["seed"]) == [0, 1] and (df["status"] == "ok").all()
    assert (out / "0" / "metrics.json").exists() and (out / "0" / ".hydra" / "overrides.yaml").exists()


# ---------------------------------------------------------------------------------------------- plots
@pytest.mark.slow
def test_the_dashboard_and_sweep_figures_come_from_saved_files(tmp_path):
    import plot
    cfg = compose_cfg("population=small", "steps=30", "warmup_minutes=2", "progress=false")
    run.run_experiment(cfg, tmp_path / "run")
    assert (tmp_path / "run" / "dashboard.png").stat().st_size > 20_000
    sweep = tmp_path / "sweep"
    for job, (lev, pv, seed) in enumerate((lev, pv, s) for lev in (5, 10) for pv in (0.0, 0.05) for s in (0, 1)):
        d = sweep / str(job)
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(
            f"- max_leverage={lev}\n- incentives.point_value_usd={pv}\n- seed={seed}\n")
        (d / "metrics.json").write_text(json.dumps({"status": "ok", "seed": seed, "totals": {
            "liquidated_notional_usd": 1e6 * lev * (1 + pv) + seed}}))
    paths = plot.sweep_plot(sweep, "max_leverage", "totals.liquidated_notional_usd", y="incentives.point_value_usd")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 5_000 for p in paths)
    paths = plot.sweep_plot(sweep, "max_leverage", "totals.liquidated_notional_usd")
    assert paths[0].exists()
    lo, mean, hi = plot._ci95([1.0, 2.0, 3.0])[1], 2.0, plot._ci95([1.0, 2.0, 3.0])[2]
    assert lo == pytest.approx(2.0 - 4.302653 * 1.0 / 3**0.5, rel=1e-5) and hi > mean


def test_the_slurm_launcher_is_configured():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        c = compose(config_name="config", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=cpu"],
                    return_hydra_config=True)
    assert c.hydra.launcher._target_.endswith("SlurmLauncher") and c.hydra.launcher.partition == "cpu"
    assert c.hydra.launcher.timeout_min == 60 and c.hydra.launcher.mem_gb == 4
