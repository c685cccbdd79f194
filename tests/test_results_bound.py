"""Issue 20 items 1, 5 (objective), 6 and 7 (run.py's part): a result is bound to the config that produced it
(resume and the summary never show one config's result under another), bad input is one line and exit 2
before anything runs (the objective included), metrics.json is strict JSON with null for what is undefined,
and a sweep's summary holds the jobs of that sweep only."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import run
from venues.params import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
TINY = ["population=small", "steps=4", "warmup_minutes=2", "dashboard=false", "progress=false"]


def compose_cfg(*overrides: str):
    from hydra import compose, initialize_config_dir
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def strict_json(path: Path):
    """json.loads that refuses NaN / Infinity tokens (as strict parsers do)."""
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(Path(path).read_text(), parse_constant=refuse)


def cli(*args: str, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def one_line_exit_2(r: subprocess.CompletedProcess) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr[-2000:]
    return lines[0]


# ---------------------------------------------------------------------------------------------- item 1
def _wait_for(cond, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def _config_says(job: Path, lev: int) -> bool:
    try:
        return f"max_leverage: {lev}\n" in (job / "config.yaml").read_text()
    except OSError:
        return False


@pytest.mark.slow
def test_a_killed_resume_into_a_sweep_of_another_config_never_shows_the_old_results(tmp_path):
    """Reproduction 1: a sweep at 5x and 10x; the same folder started at 20x and 50x with resume=true and
    SIGKILLed mid-run; then neither resume nor the summary takes the 5x and 10x results for 20x and 50x."""
    out = tmp_path / "sweep"
    common = ["-m", "population=small", "warmup_minutes=2", "dashboard=false", "hydra.launcher.n_jobs=2",
              f"hydra.sweep.dir={out}"]
    r = cli(*common, "steps=6", "max_leverage=5,10")
    assert r.returncode == 0, r.stderr[-2000:]
    old = {j: json.loads((out / j / "metrics.json").read_text()) for j in ("0", "1")}
    assert all(m["status"] == "ok" for m in old.values())
    p = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *common, "steps=20000", "max_leverage=20,50",
                          "resume=true"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        _wait_for(lambda: _config_says(out / "0", 20) and _config_says(out / "1", 50))
        time.sleep(1.0)
    finally:
        os.killpg(p.pid, signal.SIGKILL)     # the sweep and its workers, outright
        p.wait()
    new_cfg = {"0": compose_cfg("population=small", "warmup_minutes=2", "dashboard=false", "steps=20000",
                                "max_leverage=20", "resume=true"),
               "1": compose_cfg("population=small", "warmup_minutes=2", "dashboard=false", "steps=20000",
                                "max_leverage=50", "resume=true")}
    for j in ("0", "1"):
        assert run.done_before(new_cfg[j], out / j) is None, f"job {j}: resume would keep the old result"
    r = cli("--aggregate", str(out))
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(out / "summary.parquet")
    assert sorted(df["max_leverage"]) == [20, 50]
    assert not (df["status"] == "ok").any(), df[["job", "max_leverage", "status"]]
    shown = df.get("totals.liquidated_notional_usd", pd.Series([math.nan] * len(df)))
    assert shown.isna().all()


def test_resume_and_the_summary_compare_the_result_with_its_config(tmp_path):
    """A metrics.json beside a config.yaml of another config (what a job killed before the fix left): resume
    runs the job again and the summary says stale, not ok under the new config."""
    job = tmp_path / "sweep" / "0"
    run.run_experiment(compose_cfg(*TINY, "max_leverage=5"), job)
    new = compose_cfg(*TINY, "max_leverage=20")
    (job / "config.yaml").write_text((job / "config.yaml").read_text().replace("max_leverage: 5", "max_leverage: 20"))
    assert run.done_before(new, job) is None
    (job / ".hydra").mkdir()
    (job / ".hydra" / "overrides.yaml").write_text("- max_leverage=20\n")
    df = run.aggregate(tmp_path / "sweep")
    assert list(df["status"]) == ["stale"] and list(df["max_leverage"]) == [20]
    assert "totals.liquidated_notional_usd" not in df.columns


@pytest.mark.slow
def test_resume_keeps_a_result_of_the_same_config_only(tmp_path):
    cfg = compose_cfg(*TINY, "seed=2")
    metrics = run.run_experiment(cfg, tmp_path)
    kept = run.done_before(compose_cfg(*TINY, "seed=2", "resume=true", "progress=true"), tmp_path)
    assert kept is not None and kept["totals"]["liquidated_notional_usd"] == metrics["totals"]["liquidated_notional_usd"]
    assert run.done_before(compose_cfg(*TINY, "seed=3"), tmp_path) is None
    assert run.done_before(compose_cfg(*TINY, "seed=2", "steps=5"), tmp_path) is None


@pytest.mark.slow
def test_an_interrupted_run_leaves_no_result_of_an_earlier_run_beside_its_config(tmp_path, monkeypatch):
    """Reproduction 1, a single run: SIGINT (KeyboardInterrupt) while a run into a folder that held an
    earlier result runs; the earlier metrics, time series, events and dashboard are gone."""
    run.run_experiment(compose_cfg(*TINY, "max_leverage=5", "dashboard=true"), tmp_path)
    for name in ("metrics.json", "timeseries.parquet", "events.parquet", "dashboard.png"):
        assert (tmp_path / name).exists()

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(run, "_run_with_progress", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run.run_experiment(compose_cfg(*TINY, "max_leverage=20"), tmp_path)
    assert "max_leverage: 20" in (tmp_path / "config.yaml").read_text()
    for name in ("metrics.json", "timeseries.parquet", "events.parquet", "dashboard.png", "dashboard.pdf"):
        assert not (tmp_path / name).exists(), name
    assert not list(tmp_path.glob(".*.tmp-*"))


def test_a_failure_record_is_bound_to_its_config_and_replaces_an_earlier_result(tmp_path):
    run.run_experiment(compose_cfg(*TINY, "seed=1"), tmp_path)
    cfg = compose_cfg(*TINY, "seed=1", "inject_failure_at_step=2")
    run.write_failure(cfg, tmp_path, RuntimeError("boom"), 0.1)
    m = strict_json(tmp_path / "metrics.json")
    assert m["status"] == "failed" and m["config_hash"] == run.config_hash(cfg)
    assert m["config"]["shock_tail_df"] == "inf"      # a config's infinity, as text (strict JSON)
    assert not (tmp_path / "timeseries.parquet").exists() and not (tmp_path / "events.parquet").exists()


# ---------------------------------------------------------------------------------------------- item 5 (objective)
@pytest.mark.slow
def test_a_misspelt_objective_is_refused_before_anything_runs_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError) as e:
        run.preflight(["objective=venues.binance.oi_drop"])
    text = str(e.value)
    assert "\n" not in text and text.startswith("objective: ") and "venues.binance.oi_drop_pct" in text, text
    with pytest.raises(ConfigError, match="objective: .*totals.nope"):
        run.preflight(["objective=totals.nope"])
    with pytest.raises(ConfigError, match="venues.kraken"):      # not a venue of this run
        run.preflight(["objective=venues.kraken.oi_drop_pct"])
    for good in ("totals.bad_debt_usd", "venues.lighter.markets.ALT.max_drawdown_pct"):
        run.preflight([f"objective={good}"])
    # a sweep: refused before the first job, nothing written
    r = cli("-m", *TINY, "seed=0,1", "objective=totals.nope", f"hydra.sweep.dir={tmp_path}/sweep")
    assert "objective: " in one_line_exit_2(r) and not (tmp_path / "sweep").exists()


@pytest.mark.parametrize("overrides", [[], ["venues=onchain_pair", "~venues.lighter", "incentives=none",
                                            "population.farmers.count=0", "analysis.adl_counterfactuals=true"]],
                         ids=["three", "onchain_pair+counterfactuals"])
def test_the_objectives_checked_are_exactly_the_numbers_a_run_writes(overrides, tmp_path):
    from conf import schema
    cfg = compose_cfg(*TINY, "steps=30", *overrides)
    run.run_experiment(cfg, tmp_path)
    written = run._flatten(strict_json(tmp_path / "metrics.json"))
    numbers = {k for k, v in written.items() if k.split(".")[0] not in run.TEXT_METRICS
               and (v is None or isinstance(v, (int, float)))}
    assert set(run.metric_names(schema.load(cfg).model_config())) == numbers


# ---------------------------------------------------------------------------------------------- item 6
BAD_CLI = [   # (arguments, start of the one-line message after "error: ")
    (["seed=${oc.env:PERP_CASCADES_UNSET_VARIABLE}"], "seed: "),
    (["steps=${steps}"], "steps: "),
    (["experiment=" + "x" * 20_000], "experiment: expected one of "),
    (["venues=null"], "venues: expected one of onchain_pair, three, got null"),
    (["scenario=null"], "scenario: expected one of calm, oct10, got null"),
    (["hydra.launcher.n_jobs=abc"], "hydra.launcher.n_jobs: "),
    (["hydra/launcher=nope"], "hydra/launcher: expected one of "),
    (["-m", "seed=0,1", "hydra.sweeper.max_batch_size=0"], "hydra.sweeper.max_batch_size: expected null or an "),
]


@pytest.mark.parametrize("args,message", BAD_CLI, ids=[" ".join(a)[:40] for a, _ in BAD_CLI])
def test_config_and_hydra_errors_are_one_line_and_exit_2(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        run.cli([*TINY, *args, f"hydra.run.dir={tmp_path}/run"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1, err[-2000:]
    assert err.startswith(f"error: {message}") and len(err) < 700, err[:700]
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_an_unwritable_run_folder_is_refused_in_one_line(tmp_path):
    (tmp_path / "a_file").write_text("")
    r = cli(*TINY, f"hydra.run.dir={tmp_path}/a_file/run")
    assert one_line_exit_2(r).startswith("error: hydra.run.dir: cannot create ")
    r = cli(*TINY, f"hydra.run.dir={tmp_path}/{'y' * 300}/run")
    assert one_line_exit_2(r).startswith("error: hydra.run.dir: ")
    r = cli("-m", *TINY, "seed=0,1", f"hydra.sweep.dir={tmp_path}/a_file/sweep")
    assert one_line_exit_2(r).startswith("error: hydra.sweep.dir: cannot create ")
    r = cli(*TINY, "seed=${oc.env:PERP_CASCADES_UNSET_VARIABLE}", f"hydra.run.dir={tmp_path}/run")
    assert one_line_exit_2(r).startswith("error: seed: ") and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_metrics_file_that_is_not_a_mapping_does_not_crash_aggregate_or_resume(tmp_path):
    sweep = tmp_path / "sweep"
    run.run_experiment(compose_cfg(*TINY, "seed=0"), sweep / "0")
    (sweep / "1").mkdir()
    (sweep / "1" / "metrics.json").write_text("[1, 2, 3]")
    (sweep / "2").mkdir()
    (sweep / "2" / "metrics.json").write_text('"ok"')
    assert run.done_before(compose_cfg(*TINY, "seed=0"), sweep / "1") is None
    r = cli("--aggregate", str(sweep))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    df = pd.read_parquet(sweep / "summary.parquet")
    assert list(df["status"]) == ["ok", "unreadable", "unreadable"]


@pytest.mark.slow
def test_aggregate_of_a_folder_that_is_not_a_sweep_writes_nothing(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "x.txt").write_text("hello")
    r = cli("--aggregate", str(tmp_path))
    assert "not a sweep folder" in one_line_exit_2(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]
    with pytest.raises(ConfigError, match="not a sweep folder"):
        run.aggregate(tmp_path)
    r = cli("--aggregate", str(tmp_path / "absent"))
    assert "expected one sweep folder" in one_line_exit_2(r)


# ---------------------------------------------------------------------------------------------- item 7
@pytest.mark.slow
def test_nothing_checked_reports_null_not_zero(tmp_path):
    m = run.run_experiment(compose_cfg(*TINY, "check_invariants=false"), tmp_path)
    assert m["totals"]["conservation_error_rel"] is None
    assert strict_json(tmp_path / "metrics.json")["totals"]["conservation_error_rel"] is None
    checked = run.run_experiment(compose_cfg(*TINY), tmp_path / "checked")
    assert 0 <= checked["totals"]["conservation_error_rel"] < 1e-9


def test_metrics_json_is_strict_json_with_null_for_undefined_statistics(tmp_path):
    job = tmp_path / "sweep" / "0"
    m = run.run_experiment(compose_cfg(*TINY), job)
    assert math.isnan(m["stats"]["returns"]["BTC"]["kurtosis_venue"])   # undefined in four minutes
    saved = strict_json(job / "metrics.json")                           # no NaN token
    assert saved["stats"]["returns"]["BTC"]["kurtosis_venue"] is None
    back = run.read_metrics(job / "metrics.json")
    assert math.isnan(back["stats"]["returns"]["BTC"]["kurtosis_venue"]) and back["experiment"] is None
    # the summary turns null into NaN: numeric columns, also where every job has null
    df = run.aggregate(tmp_path / "sweep")
    assert df["stats.returns.BTC.kurtosis_venue"].dtype == float and df["stats.returns.BTC.kurtosis_venue"].isna().all()
    assert "NaN" not in (tmp_path / "sweep" / "summary.csv").read_text()


finite_or_not = st.floats(allow_nan=True, allow_infinity=True)
trees = st.recursive(st.one_of(finite_or_not, st.integers(-10**6, 10**6), st.none(), st.booleans()),
                     lambda kids: st.dictionaries(st.text("abcxyz_", min_size=1, max_size=6), kids, max_size=4),
                     max_leaves=20)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=st.dictionaries(st.sampled_from(["totals", "stats", "venues"]), trees, min_size=1))
def test_written_metrics_are_strict_json_and_read_back_with_nan_for_undefined(tree, tmp_path):
    path = tmp_path / "metrics.json"
    run.write_json(path, tree)
    strict_json(path)
    back = run.read_metrics(path)

    def same(a, b):
        if isinstance(a, dict):
            return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if a is None or (isinstance(a, float) and not math.isfinite(a)):
            return isinstance(b, float) and math.isnan(b)
        return a == b and type(a) is type(b)
    assert same(tree, back)


@pytest.mark.slow
def test_a_new_sweep_into_the_folder_of_a_larger_one_summarises_its_own_jobs(tmp_path):
    out = tmp_path / "sweep"
    common = ["-m", *TINY, "hydra/launcher=basic", f"hydra.sweep.dir={out}"]
    assert cli(*common, "seed=0,1,2").returncode == 0
    r = cli(*common, "seed=5,6")
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_parquet(out / "summary.parquet")
    assert list(df["job"]) == ["0", "1"] and list(df["seed"]) == [5, 6] and (df["status"] == "ok").all()
    assert "2 jobs" in r.stdout + r.stderr
    # the same folder rebuilt afterwards: still this sweep's two jobs
    (out / "summary.parquet").unlink()
    r = cli("--aggregate", str(out))
    assert r.returncode == 0 and "2 jobs" in r.stdout
    # a folder from before the manifest (no sweep.json): every job folder with a result, as before
    (out / run.MANIFEST).unlink()
    assert len(run.aggregate(out)) == 3


# ---------------------------------------------------------------------------------------------- the hash
@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), lev=st.one_of(st.none(), st.integers(1, 125), st.floats(1, 125)),
       delay=st.floats(0, 1e4, allow_subnormal=False), tail=st.sampled_from([".inf", "3", "7.5"]))
def test_the_config_hash_survives_config_yaml_and_changes_with_the_run(seed, lev, delay, tail):
    import tempfile
    over = [f"seed={seed}", f"max_leverage={'null' if lev is None else lev}", f"transfers.delay_minutes={delay}",
            f"shock_tail_df={tail}"]
    cfg = compose_cfg(*over)
    h = run.config_hash(cfg)
    with tempfile.TemporaryDirectory() as d:
        from omegaconf import OmegaConf
        p = Path(d) / "config.yaml"
        p.write_text(OmegaConf.to_yaml(OmegaConf.create(run._config_tree(cfg))))
        assert run._saved_config_hash(Path(d)) == h
        assert run.config_hash(OmegaConf.load(p)) == h   # the fast reader and OmegaConf's agree
    assert run.config_hash(compose_cfg(*over, "resume=true", "progress=false", "dashboard=false")) == h
    assert run.config_hash(compose_cfg(*over[1:], f"seed={seed + 1}")) != h


@pytest.mark.parametrize("text", [
    "seed: 3\nx: .inf\ny: -.inf\nz: .nan\nw: null\nv: '1e3'\nu: 1e3\nt: 1_000\ns: 2026-12-04\nr: [1, 2.5, yes]\n",
    "a: {b: {c: 0x10, d: 0o7, e: +1.5, f: ~}}\nhydra: {run: {dir: x}}\ng: '???'\nh: 'on'\n",
    "a: 1\nb: ${a}\n",                           # an interpolation: OmegaConf's reading
    'a: 1\nb: "\\x24{a}"\nc: "\\u0024{a}"\n',         # one spelt with escapes: OmegaConf's reading too
    "a:\t1\nb: x\ty\n",                          # tabs: PyYAML's parser refuses them (so no hash), libyaml not
    "b: 'caf\u00e9 \u2014 \u65e5\u672c'\n",            # UTF-8 whatever the locale
])
def test_the_saved_config_hash_reads_a_file_as_omegaconf_does(text, tmp_path):
    """_saved_config_hash's libyaml reading gives OmegaConf.load's hash (None where OmegaConf refuses the file):
    its floats (1e3, .inf, .nan), no timestamps, YAML 1.1 booleans and octals, quoted strings kept; a file that
    may hold interpolations (a `$` or a backslash escape) or tabs goes to OmegaConf."""
    from omegaconf import OmegaConf
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    try:
        want = run.config_hash(OmegaConf.load(tmp_path / "config.yaml"))
    except Exception:   # noqa: BLE001
        want = None
    assert run._saved_config_hash(tmp_path) == want
    (tmp_path / "config.yaml").write_text(text + text.splitlines()[0] + "\n", encoding="utf-8")   # a duplicate key
    if want is not None:
        assert run._saved_config_hash(tmp_path) is None
