"""Figures to compare the model with, as data: conf/targets/<name>.yaml (oct10: the 10-11 October 2025 crash's
figures; calm: the calm market's), each target a metric of metrics.json with the reported value, the range that
counts as matching and its source. plot.py draws them (EVENT), calibrate.py fits the model to them.

The loss of a point (calibrate.py) is the mean over the chosen targets of z^2, where

    z = (s - c) / h,   c = (low + high) / 2,   h = (high - low) / 2,

s is the target's statistic (the mean, or median, of its metric over the point's seeds) and [low, high] its range:
each distance is scaled by its range, and a target is inside its range exactly when z^2 <= 1. A statistic that is
undefined in every seed (no liquidation, so no long share) counts as z = UNDEFINED_Z.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from venues.params import ConfigError

TARGETS_DIR = Path(__file__).resolve().parent / "conf" / "targets"
STATISTICS = ("mean", "median")
UNDEFINED_Z = 10.0
"""z of a target whose statistic is undefined (NaN in every seed): ten half-ranges off."""
KEYS = ("metric", "statistic", "value", "range", "range_note", "source", "note")


@dataclass(frozen=True)
class Target:
    name: str
    metric: str            # a dotted metric name of metrics.json, or A-B (their difference, run by run)
    statistic: str         # mean | median over the seeds of a point
    value: float | None    # the reported figure (None: the source gives a range only)
    low: float
    high: float
    range_note: str
    source: str
    note: str
    file: str              # the targets file's name (oct10, calm)

    @property
    def centre(self) -> float:
        return 0.5 * (self.low + self.high)

    @property
    def half_width(self) -> float:
        return 0.5 * (self.high - self.low)

    def metrics(self) -> list[str]:
        """The metrics.json names this target reads (two for A-B)."""
        return self.metric.split("-") if _is_difference(self.metric) else [self.metric]


def _is_difference(metric: str) -> bool:
    return "-" in metric and not metric.startswith("-")


def target_files() -> list[str]:
    return sorted(p.stem for p in TARGETS_DIR.glob("*.yaml"))


def _path(name: str | Path) -> Path:
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    q = TARGETS_DIR / f"{name}.yaml"
    if q.is_file():
        return q
    raise ConfigError(f"targets_file: expected one of {', '.join(target_files())} (conf/targets/) or a .yaml "
                      f"file, got {str(name)!r}")


def load_targets(name: str | Path = "oct10") -> dict[str, Target]:
    """The targets of one file (a name in conf/targets/ or a path), checked: ConfigError (one line naming the
    file, target and key) on a missing key, a range that is not [low, high] with low < high, a value outside
    its range, an unknown statistic."""
    import yaml
    path = _path(name)
    where = path.stem
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"targets {where}: cannot be read: {' '.join(str(e).split())[:200]}") from None
    raw = doc.get("targets") if isinstance(doc, dict) else None
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"targets {where}: expected a mapping 'targets' of name -> target, got {raw!r}")
    out = {}
    for tname, t in raw.items():
        key = f"targets {where}: {tname}"
        if not isinstance(t, dict):
            raise ConfigError(f"{key}: expected a mapping with {', '.join(KEYS)}, got {t!r}")
        unknown = sorted(set(t) - set(KEYS))
        missing = [k for k in ("metric", "range", "source") if k not in t]
        if unknown or missing:
            raise ConfigError(f"{key}: {'unknown key ' + unknown[0] if unknown else 'missing ' + missing[0]}; "
                              f"the keys are {', '.join(KEYS)}")
        metric, stat, value, rng = t["metric"], t.get("statistic", "mean"), t.get("value"), t["range"]
        if not isinstance(metric, str) or not metric or " " in metric:
            raise ConfigError(f"{key}.metric: expected a dotted metric name (or A-B), got {metric!r}")
        if stat not in STATISTICS:
            raise ConfigError(f"{key}.statistic: expected one of {', '.join(STATISTICS)}, got {stat!r}")
        if not (isinstance(rng, list) and len(rng) == 2 and all(_finite(x) for x in rng) and rng[0] < rng[1]):
            raise ConfigError(f"{key}.range: expected [low, high], finite, with low < high, got {rng!r}")
        if value is not None and not (_finite(value) and rng[0] <= value <= rng[1]):
            raise ConfigError(f"{key}.value: expected null or a number within its range {rng}, got {value!r}")
        out[tname] = Target(str(tname), metric, stat, None if value is None else float(value), float(rng[0]),
                            float(rng[1]), str(t.get("range_note", "")), str(t["source"]), str(t.get("note", "")),
                            where)
    return out


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def all_targets() -> list[Target]:
    """Every target of every file in conf/targets/."""
    return [t for f in target_files() for t in load_targets(f).values()]


def event_figures() -> dict[str, float]:
    """metric -> the reported figure, over every targets file: the dashed lines of plot.py's bars. A metric named
    by two files with two figures is refused (ConfigError)."""
    out: dict[str, float] = {}
    for t in all_targets():
        if t.value is None:
            continue
        if t.metric in out and out[t.metric] != t.value:
            raise ConfigError(f"targets {t.file}: {t.name}: {t.metric} has two figures, {out[t.metric]} and {t.value}")
        out[t.metric] = t.value
    return out


def event_ranges() -> dict[str, tuple[float, float]]:
    """metric -> its target's range [low, high] (the bands of plot.py's bars)."""
    return {t.metric: (t.low, t.high) for t in all_targets()}


def choose(targets: dict[str, Target], names: list[str] | None) -> dict[str, Target]:
    """The named targets, in the order given (None or empty: all); an unknown name is refused in one line."""
    if not names:
        return dict(targets)
    unknown = [n for n in names if n not in targets]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(targets), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(f"targets: unknown target {unknown[0]!r}; {hint}the targets are {', '.join(targets)}")
    return {n: targets[n] for n in names}


# ---------------------------------------------------------------------------------------------- statistics, loss
def metric_value(flat: dict, metric: str) -> float:
    """A run's value of a target's metric from its flattened metrics (dotted names; A-B their difference);
    NaN where undefined or missing."""
    if _is_difference(metric):
        a, b = metric.split("-", 1)
        return metric_value(flat, a) - metric_value(flat, b)
    x = flat.get(metric)
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and x is not None else math.nan


def statistic(values, stat: str = "mean") -> float:
    """The mean or median of the finite values (NaN when none is)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan
    return float(np.mean(x) if stat == "mean" else np.median(x))


def z_score(s: float, t: Target) -> float:
    """(s - centre) / half-width of the target's range; |z| <= 1 inside it; UNDEFINED_Z when s is NaN."""
    if not math.isfinite(s):
        return UNDEFINED_Z
    return (s - t.centre) / t.half_width


def loss(stats: dict[str, float], targets: dict[str, Target]) -> tuple[float, dict[str, float]]:
    """The loss of a point (module docstring): mean of z^2 over the targets; and each target's z."""
    zs = {name: z_score(stats.get(name, math.nan), t) for name, t in targets.items()}
    return float(np.mean([z * z for z in zs.values()])), zs


def point_stats(runs: list[dict], targets: dict[str, Target]) -> dict[str, float]:
    """Each target's statistic over a point's runs (flattened metrics, one dict a seed)."""
    return {name: statistic([metric_value(r, t.metric) for r in runs], t.statistic) for name, t in targets.items()}
