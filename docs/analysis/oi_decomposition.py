"""Who cut open interest on each venue under oct10 (EXPERIMENTS.md, claim 2): the change in long open interest
(USD at the mark) of each kind of agent from the shock's start to the venue's lowest open interest.

    .venv/bin/python docs/analysis/oi_decomposition.py [SEED] [STEPS]     (defaults: 3, 300)
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hydra import compose, initialize_config_dir  # noqa: E402

from conf import schema  # noqa: E402
from fundamentals import shock_start  # noqa: E402
from model import CascadeModel  # noqa: E402


def main(seed: int = 3, steps: int = 300) -> None:
    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"steps={steps}", f"seed={seed}"])
    m = CascadeModel(schema.load(cfg).model_config())
    t0 = shock_start(m.cfg)
    held: list[dict[str, np.ndarray]] = []   # long base units per account and market, each step from t0
    while m.steps < steps:
        m.step()
        if m.steps >= t0:
            held.append({n: np.maximum(v.ch.lots * v.ch.lot_size, 0) for n, v in m.venues.items()})
    for vi, (name, v) in enumerate(m.venues.items()):
        oi = m.ts_oi_usd[t0:steps + 1, vi].sum(axis=1)
        k = int(np.argmin(oi))
        owner = {}
        for a in m.agents:
            kind = type(a).__name__
            if getattr(a, "venue_name", None) == name:
                owner[a.account] = kind
            for d in ("legs", "accounts"):
                acc = getattr(a, d, None)
                if isinstance(acc, dict) and name in acc:
                    owner[acc[name]] = kind
        if v.vault is not None:
            owner[v.vault] = "Vault"
        a0, a1 = held[0][name], held[k][name]
        n = min(len(a0), len(a1))
        change: dict[str, float] = defaultdict(float)
        start: dict[str, float] = defaultdict(float)
        for i in range(n):
            d = float(((a1[i] - a0[i]) * v.ch.mark).sum())
            start[owner.get(i, "other")] += float((a0[i] * v.ch.mark).sum())
            if d:
                change[owner.get(i, "other")] += d
        total = sum(start.values())
        print(f"{name}: long open interest at the shock by kind: "
              + ", ".join(f"{kind} {x / total:.0%}" for kind, x in sorted(start.items()) if x))
        print(f"{name}: open interest {oi[0] / 1e6:.1f} -> {oi[k] / 1e6:.1f} $M at minute {t0 + k}; change in "
              "long open interest by kind ($M): "
              + ", ".join(f"{kind} {x / 1e6:+.2f}" for kind, x in sorted(change.items())))


if __name__ == "__main__":
    main(*(int(x) for x in sys.argv[1:3]))
