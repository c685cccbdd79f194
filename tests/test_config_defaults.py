"""One source of defaults (issue "Engine", item 6): the config classes' defaults (conf/schema.py and the agents'
parameter classes, agents/params.py) are the composed default config's values, so a class built in Python, a
population file that leaves a key out and `python run.py` all get the same world."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from omegaconf import OmegaConf

from conf import schema
from run import compose_config


def _leaves(obj, prefix: str = ""):
    """(dotted key, value) of every leaf of a config tree: dataclasses and dicts walked, an empty dict a leaf."""
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield from _leaves(getattr(obj, f.name), f"{prefix}{f.name}.")
    elif isinstance(obj, dict):
        if not obj:
            yield prefix[:-1], obj
        for k, v in obj.items():
            yield from _leaves(v, f"{prefix}{k}.")
    else:
        yield prefix[:-1], obj


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, (int, float)) and math.isnan(a):
        return math.isnan(b)
    return a == b


def test_every_class_default_is_the_default_files_value():
    composed = dict(_leaves(OmegaConf.to_container(compose_config([]), resolve=True)))
    defaults = dict(_leaves(schema.RunConfig()))
    shared = [k for k in composed if k in defaults]
    disagree = [(k, defaults[k], composed[k]) for k in shared if not _same(defaults[k], composed[k])]
    assert not disagree, f"class defaults that differ from conf/ (key, class, file): {disagree}"
    # what the classes leave without a default: the venues (each names its preset) and their incentives
    assert len(shared) > 100
    assert all(k.startswith(("venues.", "incentives.venues.")) for k in composed if k not in defaults)
    # and no class default the files lack (a key inside a dict default, say): only the venue tables, empty on the
    # class side, and `experiment`, which only an experiment's config sets
    assert sorted(k for k in defaults if k not in composed) == ["experiment", "incentives.venues", "venues"]


def test_a_population_file_missing_keys_gets_the_default_population():
    """The schema fills a key a population file leaves out with the class default, which is default.yaml's."""
    cfg = compose_config([])
    full = schema.load(cfg).model_config()
    pop = OmegaConf.to_container(cfg.population, resolve=True)
    for group in ("market_makers", "value", "liquidity", "directional", "farmers"):
        del pop[group][next(k for k in pop[group] if k != "count")]
    cfg.population = OmegaConf.create(pop)
    assert schema.load(cfg).model_config() == full


def test_the_readme_reference_is_the_schema_table():
    """README's "Configuration reference" is `python -m conf.schema`'s table as it is now (defaults and texts)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert schema.reference_markdown().strip() in readme
