"""The Python entry point (README, "From Python"): build_model builds the world the command line runs, the
README's example runs as written, and a model refuses to run past the steps it was built for."""
from __future__ import annotations

import io
import re
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from model import compute_metrics
from run import build_model, compose_config, run_experiment, timeseries_frame
from venues.params import ConfigError

ROOT = Path(__file__).resolve().parents[1]
OVERRIDES = ["population=small", "steps=150", "seed=2", "dashboard=false"]


@pytest.mark.slow
def test_build_model_is_the_command_lines_world(tmp_path):
    """Same overrides, same run: metrics (less wall time) and every series equal to run_experiment's."""
    m = build_model(OVERRIDES)
    m.run_for(150)
    ours = compute_metrics(m, wall_s=0.0)
    theirs = run_experiment(compose_config(OVERRIDES), tmp_path, progress=False)
    for key in ("totals", "venues", "stats", "n_agents"):
        assert repr(ours[key]) == repr(theirs[key]), key
    import pandas as pd
    a = timeseries_frame(m).reset_index(drop=True)
    b = pd.read_parquet(tmp_path / "timeseries.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_running_past_steps_is_refused_before_it_runs():
    m = build_model(["population=small", "steps=5", "seed=0"])
    with pytest.raises(RuntimeError, match=r"steps: .*built for 5 minutes.*minute 6"):
        m.run_for(6)
    assert m.steps == 0                      # nothing ran
    m.run_for(3)
    m.step()
    m.step()
    assert m.steps == 5
    before = m.ts_mid.copy()
    with pytest.raises(RuntimeError, match="past its end"):
        m.step()
    assert m.steps == 5
    np.testing.assert_array_equal(np.nan_to_num(m.ts_mid, nan=-1.0), np.nan_to_num(before, nan=-1.0))


def test_bad_override_is_one_line_naming_the_key():
    with pytest.raises(ConfigError, match=r"^max_leverage: expected a number >= 1, got -3"):
        build_model(["max_leverage=-3"])
    with pytest.raises(ConfigError, match=r"^population: expected one of crowded, default, oct10_fit, small"):
        build_model(["population=huge"])


@pytest.mark.slow
def test_readme_example_runs_as_written():
    text = (ROOT / "README.md").read_text()
    code = re.search(r"## From Python\n.*?```python\n(.*?)```", text, re.S).group(1)
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(code, "README.md (From Python)", "exec"), {})
    lines = out.getvalue().strip().splitlines()
    assert any(l.startswith("lighter") for l in lines)
    assert float(lines[-1]) > 0.0            # the oct10 fall liquidates someone within its first hour
