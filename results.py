"""A run's result files: written atomically (a temporary name, then a rename), metrics.json as strict JSON bound
to its config by a hash, read back with null numbers as NaN; a failure's record; resume's test of an earlier
result. run.py writes them, sweeps.py reads them into a sweep's summary.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf


def _atomic_write(path: Path, write) -> None:
    """Write to a temporary name in the same folder, then rename: a killed job leaves no half-written file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:   # a write or rename that failed (full disk, a killed job's SIGTERM) leaves no temporary file
        tmp.unlink(missing_ok=True)


RESULT_FILES = ("metrics.json", "timeseries.parquet", "events.parquet", "dashboard.png", "dashboard.pdf")
NOT_RESULT_KEYS = ("resume", "progress", "dashboard", "objective")
"""Switches that do not change a run's results: left out of its config hash (resume keeps a result across them)."""
TEXT_METRICS = ("status", "experiment", "config_hash", "error_type", "error", "traceback", "config")
"""Keys of metrics.json that are not numbers (a null there stays None when read)."""


def _config_tree(cfg: DictConfig | dict) -> dict:
    tree = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    tree.pop("hydra", None)
    return tree


def json_safe(x, nonfinite=None):
    """x with plain Python types for strict JSON: a float that is NaN or infinite becomes `nonfinite` (None:
    JSON null), or nonfinite(x) when it is callable; numpy scalars become Python numbers."""
    if isinstance(x, dict):
        return {str(k): json_safe(v, nonfinite) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v, nonfinite) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isfinite(x):
            return x
        return nonfinite(x) if callable(nonfinite) else nonfinite
    return x


def write_json(path: Path, obj) -> None:
    """Strict JSON (no NaN or Infinity tokens: those become null), written atomically."""
    text = json.dumps(json_safe(obj), indent=2, allow_nan=False)
    _atomic_write(path, lambda p: p.write_text(text))


def config_hash(cfg: DictConfig | dict) -> str:
    """sha256 of a run's resolved config (hydra's section and NOT_RESULT_KEYS aside), the same whether it comes
    from the composed config or from the config.yaml written from it."""
    tree = _config_tree(cfg)
    return _hash_of(OmegaConf.to_container(OmegaConf.create(tree), resolve=True))


def _hash_of(canon: dict) -> str:
    canon = {k: v for k, v in canon.items() if k not in NOT_RESULT_KEYS}
    text = json.dumps(json_safe(canon, nonfinite=str), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


_LOADER: list = []


def _plain_loader():
    """OmegaConf's YAML loader (its float and timestamp rules, its constructors, duplicate keys refused) on
    libyaml's parser: the same tree as OmegaConf.load gives before it wraps it, in a third of the time; None
    without libyaml."""
    if not _LOADER:
        import yaml
        from omegaconf._utils import get_yaml_loader
        base = get_yaml_loader()
        loader = None
        if getattr(yaml, "__with_libyaml__", False):
            def construct_mapping(self, node, deep=False):
                keys = set()
                for key_node, _ in node.value:
                    if key_node.tag == yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG:
                        if key_node.value in keys:
                            raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                                    f"found duplicate key {key_node.value}",
                                                                    key_node.start_mark)
                        keys.add(key_node.value)
                return yaml.constructor.SafeConstructor.construct_mapping(self, node, deep=deep)
            loader = type("PlainConfigLoader", (yaml.CSafeLoader,), {
                "construct_mapping": construct_mapping,
                "yaml_implicit_resolvers": {k: list(v) for k, v in base.yaml_implicit_resolvers.items()},
                "yaml_constructors": dict(base.yaml_constructors)})
        _LOADER.append(loader)
    return _LOADER[0]


def _saved_config_hash(job: Path) -> str | None:
    """The config hash of a job folder's config: Hydra's .hydra/config.yaml (written when the job starts, before
    anything of ours), else our config.yaml; None when neither can be read. A file without interpolations (what
    Hydra and run.py write: resolved values) is hashed from its YAML tree as read (OmegaConf's round trip
    leaves such a tree as it is: the same hash, tests/test_results.py), else through OmegaConf."""
    for path in (job / ".hydra" / "config.yaml", job / "config.yaml"):
        try:
            text = path.read_text(encoding="utf-8")   # (OmegaConf.load reads UTF-8 whatever the locale)
            tree = _plain_tree(text)
            if tree is not None:
                return _hash_of(_config_tree(tree))
            cfg = OmegaConf.create(text)
            if isinstance(cfg, DictConfig):
                return config_hash(cfg)
        except Exception:  # noqa: BLE001  (absent, unreadable or unresolvable here: try the next)
            continue
    return None


def _plain_tree(text: str) -> dict | None:
    """A config file's mapping read with _plain_loader, or None (OmegaConf's turn) when it may have
    interpolations (a `$`, or a backslash escape that could spell one), tabs (which libyaml takes and PyYAML's
    parser refuses), is not a mapping, or the fast reader is missing or fails."""
    loader = _plain_loader()
    if loader is None or "$" in text or "\\" in text or "\t" in text:
        return None
    reader = loader(text)   # a CSafeLoader: no Python object is built from a tag
    try:
        tree = reader.get_single_data()
    except Exception:  # noqa: BLE001  (OmegaConf reads it, or says why not)
        return None
    finally:
        reader.dispose()
    return tree if isinstance(tree, dict) else None


def remove_results(out_dir: Path) -> None:
    """Remove the result files (and their temporary names) of an earlier run in out_dir."""
    for name in RESULT_FILES:
        (out_dir / name).unlink(missing_ok=True)
        for tmp in out_dir.glob(f".{name}.tmp-*"):
            tmp.unlink(missing_ok=True)


def read_metrics(path: Path) -> dict:
    """A metrics.json as a dict, null numbers turned into NaN (strict JSON and older files with NaN tokens).
    Raises OSError or ValueError (not JSON, or not a mapping)."""
    metrics = json.loads(Path(path).read_text())
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics.json holds a {type(metrics).__name__}, not a mapping")

    def nan_for_null(x):
        if isinstance(x, dict):
            return {k: nan_for_null(v) for k, v in x.items()}
        return float("nan") if x is None else x
    return {k: (v if k in TEXT_METRICS else nan_for_null(v)) for k, v in metrics.items()}


def done_before(cfg: DictConfig, out_dir: Path) -> dict | None:
    """The metrics of an earlier successful run of this same config in out_dir (its metrics.json carries this
    config's hash), or None (no result, a failure, another config, or a file without a hash)."""
    try:
        metrics = read_metrics(out_dir / "metrics.json")
    except (OSError, ValueError):
        return None
    if metrics.get("status") != "ok" or metrics.get("config_hash") != config_hash(cfg):
        return None
    return metrics


def failure_record(cfg: DictConfig | dict, err: BaseException, wall_s: float, tb: list[str] | None = None) -> dict:
    """A failed run's record (metrics.json's fields for a failure, without the config's hash): status failed,
    the error's type and message, the last lines of its traceback (`tb`, else err's own), the config (as
    written where it does not resolve). write_failure adds the hash; the pool launcher writes the record with
    the job's name and overrides to <sweep>/.failed/<job>.json when the job's folder cannot hold it."""
    import traceback
    try:
        tree = _config_tree(cfg)
    except Exception:  # noqa: BLE001  (an interpolation that does not resolve here: the config as written)
        tree = OmegaConf.to_container(cfg, resolve=False) if isinstance(cfg, DictConfig) else dict(cfg)
        tree.pop("hydra", None)
    return {"status": "failed", "seed": tree.get("seed"), "steps": tree.get("steps"), "wall_s": wall_s,
            "error_type": type(err).__name__, "error": " ".join(str(err).split())[:2000],
            "traceback": tb if tb is not None else traceback.format_exception(err)[-6:],
            "config": json_safe(tree, nonfinite=str)}


def write_failure(cfg: DictConfig | dict, out_dir: Path, err: BaseException, wall_s: float) -> dict:
    """metrics.json with status failed, the error's type and message, the config and its hash (written
    atomically; any result of an earlier run in out_dir is removed first). Raises when the config does not
    resolve (its hash cannot be computed) or the file cannot be written."""
    metrics = {**failure_record(cfg, err, wall_s), "config_hash": config_hash(cfg)}
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_results(out_dir)
    write_json(out_dir / "metrics.json", metrics)
    return metrics


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:400]
