"""Runs under NUMBA_DISABLE_JIT=1 (the kernels as plain Python, for stepping through them in a debugger) give the
compiled runs' results to the bit: the one LLVM intrinsic (margin_nb._fma) has an exact Python twin, and the makers'
desk, which calls a compiled entry point, steps aside (its fallback is the same orders one maker at a time)."""

from __future__ import annotations

import filecmp
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit

from venues.margin_nb import _fma, _fma_py

ROOT = Path(__file__).resolve().parents[1]


@njit
def _fma_compiled(a, b, c):
    return _fma(a, b, c)


def _bits(x: float) -> bytes:
    return np.float64(x).tobytes()


def test_python_fma_is_the_hardware_fma():
    rng = np.random.default_rng(20261204)
    cases = []
    for _ in range(20000):
        a, b = (float(v) for v in rng.standard_normal(2) * 10.0 ** rng.integers(-8, 9, 2))
        p = a * b
        # c near -a*b: the fused result keeps the product's low bits that the plain expression loses
        c = float(-p * (1.0 + rng.standard_normal() * 1e-15)) if rng.random() < 0.5 else float(rng.standard_normal())
        cases.append((a, b, c))
    tiny, big = 5e-324, 1.7976931348623157e308
    cases += [(0.0, 1.0, -0.0), (-0.0, 1.0, -0.0), (-0.0, 1.0, 0.0), (1.0, -1.0, 1.0), (3.0, 1.0 / 3.0, -1.0),
              (tiny, 0.5, 0.0), (tiny, 0.5, tiny), (1e-300, 1e-300, 0.0), (big, 2.0, 0.0), (big, 2.0, -big),
              (big, 1.0, big), (-big, 2.0, 0.0), (math.inf, 1.0, -math.inf), (math.nan, 0.0, 1.0),
              (math.inf, 0.0, 1.0), (0.1, 0.1, -0.01), (1.0 + 2.0 ** -52, 1.0 - 2.0 ** -53, -1.0),
              # a finite product past the overflow point plus an infinity: the infinity, not inf - inf
              (1e300, -1e300, math.inf), (1e300, 1e300, -math.inf), (1e300, 1e300, math.nan),
              # an exact sum just past the overflow point whose two roundings stay finite: inf, not DBL_MAX
              (float.fromhex("0x1.c386bbc204f8ap+512"), float.fromhex("0x1.2249598401de5p+511"),
               float.fromhex("0x1.fffffffffffffp+969")),
              (-float.fromhex("0x1.c386bbc204f8ap+512"), float.fromhex("0x1.2249598401de5p+511"),
               -float.fromhex("0x1.fffffffffffffp+969"))]
    for _ in range(20000):   # wide exponents: products and sums near overflow and underflow
        a, b = (float(v) for v in rng.standard_normal(2) * 2.0 ** rng.integers(-600, 600, 2))
        e = int(rng.integers(-1074, 1021))
        c = (-math.inf, math.inf, 0.0, -0.0, math.ldexp(float(rng.standard_normal()), e))[int(rng.integers(5))]
        cases.append((a, b, c))
    for a, b, c in cases:
        got, want = _fma_py(a, b, c), _fma_compiled(a, b, c)
        if math.isnan(want):   # IEEE leaves a NaN's sign unspecified
            assert math.isnan(got), (a, b, c)
        else:
            assert _bits(got) == _bits(want), (a, b, c)
    # the test has teeth: in the cancelling cases the fused result differs from the plain one
    assert sum(_fma_py(a, b, c) != a * b + c for a, b, c in cases) > 1000


@pytest.mark.slow
def test_a_run_without_the_jit_is_the_compiled_run(tmp_path):
    # the small world on the crash day: 12 liquidations and an insurance payment in 400 minutes
    overrides = ["population=small", "scenario=oct10", "steps=400", "dashboard=false"]
    outs = {}
    for name, jit_off in (("jit", False), ("nojit", True)):
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
        if jit_off:
            env["NUMBA_DISABLE_JIT"] = "1"
        out = tmp_path / name
        subprocess.run([sys.executable, "-W", "ignore", "run.py", *overrides, f"hydra.run.dir={out}"],
                       check=True, cwd=ROOT, env=env, capture_output=True)
        outs[name] = out
    m = {k: json.loads((o / "metrics.json").read_text()) for k, o in outs.items()}
    for d in m.values():
        d.pop("wall_s")
    assert m["jit"] == m["nojit"]
    assert m["jit"]["totals"]["n_liquidations"] > 0
    for f in ("events.parquet", "timeseries.parquet"):
        assert filecmp.cmp(outs["jit"] / f, outs["nojit"] / f, shallow=False), f
