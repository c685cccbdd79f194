"""Venue presets: plain data in conf/venue_preset/<name>.yaml, read safely and validated into VenueParams."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .params import ConfigError, VenueParams, from_dict

PRESET_DIR = Path(__file__).resolve().parents[1] / "conf" / "venue_preset"
PRESETS = ("binance_like", "hyperliquid_like", "lighter_like")


@lru_cache(maxsize=None)
def _raw(name: str) -> dict:
    if name not in PRESETS:
        raise ConfigError(f"preset: expected one of {', '.join(PRESETS)}, got {name!r}")
    with open(PRESET_DIR / f"{name}.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def preset_dict(name: str) -> dict:
    """The preset's raw data (a fresh copy, safe to modify)."""
    return copy.deepcopy(_raw(name))


def merge(base: dict, overrides: dict) -> dict:
    """Recursive dict merge: overrides win; nested mappings merge key by key."""
    out = dict(base)
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def load_preset(name: str, overrides: dict[str, Any] | None = None, where: str | None = None) -> VenueParams:
    """A validated VenueParams from preset `name`, with `overrides` merged on top. (The cached raw data is merged
    without a copy: `merge` builds new mappings where it changes one, and `from_dict` only reads, building fresh
    values of the typed fields.)"""
    data = merge(_raw(name), overrides or {})
    where = where or f"venue_preset.{name}"
    return from_dict(VenueParams, data, where).validate(where)
