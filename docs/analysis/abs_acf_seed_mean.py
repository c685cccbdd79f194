"""Volatility clustering of a calm sweep as EXPERIMENTS.md section 1 (**) measures it: per job, per venue, the
one-minute log returns of `mid` after the warm-up, `metrics._acf` of their absolute values at lags 1-30, averaged
over the venues; then the mean over jobs (seeds) at each lag, and the share of lags where that mean is > 0.

usage: python docs/analysis/abs_acf_seed_mean.py SWEEP_DIR     (e.g. outputs/validation/calm_realism)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from metrics import ACF_LAGS, _acf  # noqa: E402


def main(sweep: Path) -> None:
    per_asset: dict[str, list[np.ndarray]] = {"BTC": [], "ALT": []}
    jobs = sorted((p.parent for p in sweep.glob("*/metrics.json")), key=lambda p: int(p.name))
    for job in jobs:
        m = json.loads((job / "metrics.json").read_text())
        if m.get("status") != "ok":
            continue
        warm = int(yaml.safe_load((job / "config.yaml").read_text()).get("warmup_minutes", 120))
        ts = pd.read_parquet(job / "timeseries.parquet", columns=["step", "venue", "asset", "mid"])
        for a in per_asset:
            acfs = []
            for _, g in ts[ts["asset"] == a].groupby("venue"):
                mid = g.sort_values("step")["mid"].to_numpy()[warm:]
                acfs.append(_acf(np.abs(np.diff(np.log(mid))), ACF_LAGS))
            per_asset[a].append(np.nanmean(acfs, axis=0))
    for a, rows in per_asset.items():
        if not rows:
            continue
        mean = np.mean(rows, axis=0)
        nonpos = [lag for lag, x in zip(ACF_LAGS, mean) if not x > 0]
        each = np.mean([np.mean(r > 0) for r in rows])
        print(f"{a}: {len(rows)} jobs; seed-mean positive at {np.mean(mean > 0):.0%} of lags 1-30 "
              f"(mean {mean.mean():.4f}; at or below zero: {nonpos or 'none'}); each job's share, mean {each:.0%}")
        # the lags whose Student-t 95% interval over seeds lies above zero, and the days that reach 80% alone
        x = np.asarray(rows)
        half = stats.t.ppf(0.975, len(rows) - 1) * x.std(axis=0, ddof=1) / np.sqrt(len(rows))
        above = [lag for lag, lo in zip(ACF_LAGS, mean - half) if lo > 0]
        days = int(sum(np.mean(r > 0) >= 0.8 for r in rows))
        print(f"{a}: interval above zero at {len(above)} of {len(ACF_LAGS)} lags {above}; "
              f"{days} of {len(rows)} days positive at >= 80% of lags on their own")


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        print("usage: abs_acf_seed_mean.py SWEEP_DIR", file=sys.stderr)
        sys.exit(2)
    main(Path(sys.argv[1]))
