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
import pyarrow as pa
import pyarrow.parquet as pq
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


class EventsParquet:
    """The run's events, spilled to one Parquet file in blocks as the venues' logs fill (memory stays flat);
    written under a temporary name and renamed when complete."""

    def __init__(self, path: Path, venue_names: list[str]):
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self.venue_names = venue_names
        self.writer: pq.ParquetWriter | None = None

    def sink_for(self, venue_id: int):
        def sink(cols: dict[str, np.ndarray]) -> None:
            table = pa.table({**cols, "venue": pa.array([self.venue_names[venue_id]] * len(cols["kind"])),
                              "kind": pa.array(np.array(ev.KIND_NAMES)[cols["kind"].astype(int)].tolist())})
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.tmp, table.schema)
            self.writer.write_table(table)
        return sink

    def close(self) -> None:
        if self.writer is None:   # no event at all: still an (empty) file with the columns
            empty = {name: np.zeros(0) for name in ("step", "venue", "kind")}
            pd.DataFrame(empty).to_parquet(self.tmp, index=False)
        else:
            self.writer.close()
        os.replace(self.tmp, self.path)


def run_experiment(cfg: DictConfig, out_dir: str | Path) -> dict:
    """Build the model from `cfg`, run it, write metrics.json, timeseries.parquet and events.parquet into
    `out_dir`; return the metrics."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mcfg = model_config(cfg).resolved()        # bad input is refused here, before anything runs
    t0 = time.perf_counter()
    m = CascadeModel(mcfg)
    events = EventsParquet(out / "events.parquet", m.venue_names)
    for vid, v in enumerate(m.venues.values()):
        v.events.sink = events.sink_for(vid)
    m.run_for(mcfg.steps)
    wall_s = time.perf_counter() - t0           # settled rule 12: model build to the end of its last step
    metrics = compute_metrics(m, wall_s)
    for v in m.venues.values():
        v.events.drain()
    events.close()
    _atomic_write(out / "timeseries.parquet", lambda p: timeseries_frame(m).to_parquet(p, index=False))
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
