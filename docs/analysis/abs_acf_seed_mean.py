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


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        print("usage: abs_acf_seed_mean.py SWEEP_DIR", file=sys.stderr)
        sys.exit(2)
    main(Path(sys.argv[1]))
