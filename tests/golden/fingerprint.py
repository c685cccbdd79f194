"""The fingerprint of a fixed-seed run (issue "Engine": results unchanged by the speed work where the rules are
unchanged): its metrics (less wall_s), a SHA-256 of each recorded series' bytes and of its event log, and a few
headline figures to read a difference by. `python tests/golden/fingerprint.py --write` records the current code's
fingerprint in tests/golden/oct10_small.json; a commit that does so names the change of results and why."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OVERRIDES = ["population=small", "steps=480", "seed=0", "dashboard=false", "progress=false"]
FILE = Path(__file__).with_name("oct10_small.json")


def _strict(x):
    """The metrics as metrics.json holds them: floats, and null for an undefined (NaN) figure."""
    if isinstance(x, dict):
        return {str(k): _strict(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_strict(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def fingerprint(overrides: list[str] | None = None) -> dict:
    from metrics import compute_metrics
    from run import build_model

    overrides = OVERRIDES if overrides is None else overrides
    m = build_model(overrides)
    m.run_for(m.cfg.steps)
    metrics = _strict(compute_metrics(m, wall_s=0.0))
    metrics.pop("wall_s", None)
    series = {name: hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()[:16]
              for name, arr in sorted(vars(m).items()) if name.startswith("ts_") and isinstance(arr, np.ndarray)}
    ev = hashlib.sha256()
    n_events = 0
    for v in m.venues.values():
        cols = v.events.columns() if hasattr(v.events, "columns") else {}
        for key in sorted(cols):
            ev.update(key.encode())
            ev.update(np.ascontiguousarray(cols[key]).tobytes())
        n_events += len(cols.get("kind", ()))
    return {"overrides": overrides, "metrics": metrics, "series": series,
            "events": {"n": n_events, "sha256": ev.hexdigest()[:16]}}


def _differences(ref: dict, fp: dict) -> list[str]:
    out = [f"series {k}" for k in ref["series"] if ref["series"][k] != fp["series"].get(k)]
    if ref["events"] != fp["events"]:
        out.append("events")
    if ref["metrics"] != fp["metrics"]:
        out.append("metrics")
    return out


if __name__ == "__main__":
    # python tests/golden/fingerprint.py [--write]: the recorded small world (tests/golden/oct10_small.json)
    # python tests/golden/fingerprint.py --save F [OVERRIDES...] / --compare F [OVERRIDES...]: any world, e.g. the
    #   default day (no overrides) before and after a change meant to keep results; --compare exits 1 on a difference
    args = sys.argv[1:]
    if args[:1] in (["--save"], ["--compare"]):
        mode, path, extra = args[0], Path(args[1]), args[2:]
        fp = fingerprint(["dashboard=false", "progress=false"] + extra)
        if mode == "--save":
            path.write_text(json.dumps(fp, indent=1, sort_keys=True, allow_nan=False) + "\n")
            print(f"wrote {path}")
        else:
            diff = _differences(json.loads(path.read_text()), json.loads(json.dumps(fp, allow_nan=False)))
            print("identical" if not diff else "differs: " + ", ".join(diff))
            sys.exit(1 if diff else 0)
    else:
        fp = fingerprint()
        if "--write" in args:
            FILE.write_text(json.dumps(fp, indent=1, sort_keys=True, allow_nan=False) + "\n")
            print(f"wrote {FILE}")
        else:
            print(json.dumps({"series": fp["series"], "events": fp["events"]}, indent=1))
