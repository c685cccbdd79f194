"""One run of the simulator (Hydra entry). `python run.py` runs the default scenario and writes metrics.json,
timeseries.parquet and events.parquet into the run's output folder.

`main(cfg)` is a thin shell over `run_experiment(cfg, out_dir) -> dict`, which tests call directly.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from model import ASSETS, CascadeModel, ModelConfig, compute_metrics
from venues import events as ev


def model_config(cfg: DictConfig) -> ModelConfig:
    """The plain, validated model config from the Hydra config."""
    c = OmegaConf.to_container(cfg, resolve=True)
    c.pop("hydra", None)
    pop = c.get("population", {})
    return ModelConfig(
        seed=int(c["seed"]), steps=int(c["steps"]), scenario=str(c["scenario"]),
        check_invariants=bool(c["check_invariants"]), warmup_minutes=int(c.get("warmup_minutes", 120)),
        venues={k: {"preset": v["preset"], "overrides": v.get("overrides") or {}} for k, v in c["venues"].items()},
        n_market_makers=int(pop.get("market_makers", 3)), n_directional=int(pop.get("directional", 1000)),
        n_farmers=int(pop.get("farmers", 200)),
        transfer_delay_minutes=float(c.get("transfers", {}).get("delay_minutes", 30.0)),
        point_value_usd=float(c.get("incentives", {}).get("point_value_usd", 0.02)),
        shock_tail_df=float(c.get("shock_tail_df", math.inf)),
    )


def _atomic_write(path: Path, write) -> None:
    """Write to a temporary name in the same folder, then rename: a killed job leaves no half-written file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def timeseries_frame(m: CascadeModel) -> pd.DataFrame:
    """One row per (step, venue, asset): prices, open interest, funding, depth, fund, vault, fundamental."""
    T1, V, A = m.ts_mid.shape
    step, venue, asset = np.meshgrid(np.arange(T1), np.arange(V), np.arange(A), indexing="ij")
    df = pd.DataFrame({
        "step": step.ravel(), "venue": np.array(m.venue_names)[venue.ravel()],
        "asset": np.array(ASSETS)[asset.ravel()],
        "mid": m.ts_mid.ravel(), "mark": m.ts_mark.ravel(), "index": m.ts_index.ravel(),
        "oi_usd": m.ts_oi_usd.ravel(), "funding_per_hour": m.ts_funding_hour.ravel(),
        "depth_1pct_usd": m.ts_depth1.ravel(), "depth_5pct_usd": m.ts_depth5.ravel(),
        "insurance_fund_usd": np.repeat(m.ts_insurance[:, :, None], A, axis=2).ravel(),
        "vault_equity_usd": np.repeat(m.ts_vault_equity[:, :, None], A, axis=2).ravel(),
        "venue_liquidated_usd": np.repeat(m.ts_liquidated_usd[:, :, None], A, axis=2).ravel(),
        "venue_adl_usd": np.repeat(m.ts_adl_usd[:, :, None], A, axis=2).ravel(),
        "synth_mid": np.repeat(m.ts_synth_mid[:, None, None], V * A).ravel(),
        "fundamental": np.repeat(m.ts_fundamental[:, None, :], V, axis=1).ravel(),
        "naked_notional_usd": np.repeat(m.ts_naked_usd[:, None, None], V * A).ravel(),
        "transfers_in_flight": np.repeat(m.ts_in_flight[:, None, None], V * A).ravel(),
    })
    return df[df["step"] <= m.steps]


def events_frame(m: CascadeModel) -> pd.DataFrame:
    frames = []
    for name, v in m.venues.items():
        c = {k: x.copy() for k, x in v.events.columns().items()}
        f = pd.DataFrame(c)
        f["venue"] = name
        f["kind"] = pd.Categorical.from_codes(f["kind"].astype(int), categories=list(ev.KIND_NAMES))
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def run_experiment(cfg: DictConfig, out_dir: str | Path) -> dict:
    """Build the model from `cfg`, run it, write metrics.json, timeseries.parquet and events.parquet into
    `out_dir`; return the metrics."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mcfg = model_config(cfg).resolved()        # bad input is refused here, before anything runs
    t0 = time.perf_counter()
    m = CascadeModel(mcfg)
    m.run_for(mcfg.steps)
    wall_s = time.perf_counter() - t0           # settled rule 12: model build to the end of its last step
    metrics = compute_metrics(m, wall_s)
    _atomic_write(out / "timeseries.parquet", lambda p: timeseries_frame(m).to_parquet(p, index=False))
    _atomic_write(out / "events.parquet", lambda p: events_frame(m).to_parquet(p, index=False))
    _atomic_write(out / "metrics.json", lambda p: p.write_text(json.dumps(metrics, indent=2, allow_nan=True)))
    return metrics


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig
    out_dir = HydraConfig.get().runtime.output_dir
    metrics = run_experiment(cfg, out_dir)
    print(f"metrics: {Path(out_dir) / 'metrics.json'}")
    return float(metrics["totals"]["liquidated_notional_usd"])


if __name__ == "__main__":
    main()
