"""Numba's per-call dispatch overhead from Python, by argument shape: what a per-order kernel costs before it
does any work (the question behind a compiled order book: per-order kernels or batched calls).

Cases, each a trivial @njit body (it reads one element or adds scalars, so the figure is the call):
  py      a plain Python function of 3 scalars (reference: the interpreter's own call)
  a       @njit, 3 int scalars
  b       @njit, 12 numpy arrays + 4 scalars
  b1      @njit, 1 numpy array + 4 scalars (the state packed in one 2-D array)
  c       @njit, one tuple of 12 arrays (+ 4 scalars)
  c_nt    @njit, one namedtuple of 12 arrays (+ 4 scalars)
  d_jc    a jitclass instance holding 12 arrays: a method called from Python
  d_sr    a structref holding 12 arrays: a proxy method calling an @njit function on it
  ret3    case a returning a 3-tuple (the unboxing of results)
  *_ep    cases a, b, b1 called through the compiled overload's entry_point (the dispatcher's C wrapper
          without its typing of the arguments: `f.overloads[f.signatures[0]].entry_point`; arguments are
          unboxed by the signature's types, unchecked)
Median ns per call over interleaved rounds (each round times every case once, in turn).

Then: first-compile time of a 12-array kernel, and the load time of the same kernel from numba's cache
(cache=True) in a fresh process (the import of numba itself timed apart).

Run: nice -n 19 .venv/bin/python bench/numba_dispatch.py
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import namedtuple

import numba
import numpy as np
from numba import njit
from numba.experimental import jitclass, structref
from numba.core import types

N_CALLS = 100_000
ROUNDS = 9


def py3(a, b, c):
    return a + b + c


@njit
def nb3(a, b, c):
    return a + b + c


@njit
def nb3_ret3(a, b, c):
    return a + b, b + c, a + c


@njit
def nb12(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, s0, s1, s2, s3):
    return a0[0] + a11[0] + s0 + s3


@njit
def nb1(state, s0, s1, s2, s3):
    return state[0, 0] + s0 + s3


@njit
def nbtup(t, s0, s1, s2, s3):
    return t[0][0] + t[11][0] + s0 + s3


State = namedtuple("State", [f"a{i}" for i in range(12)])


@njit
def nbnt(st, s0, s1, s2, s3):
    return st.a0[0] + st.a11[0] + s0 + s3


_spec = [(f"a{i}", numba.int64[:]) for i in range(12)]


@jitclass(_spec)
class JC:
    def __init__(self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11):
        self.a0, self.a1, self.a2, self.a3 = a0, a1, a2, a3
        self.a4, self.a5, self.a6, self.a7 = a4, a5, a6, a7
        self.a8, self.a9, self.a10, self.a11 = a8, a9, a10, a11

    def op(self, s0, s1, s2, s3):
        return self.a0[0] + self.a11[0] + s0 + s3


@structref.register
class SRType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class SR(structref.StructRefProxy):
    def op(self, s0, s1, s2, s3):
        return _sr_op(self, s0, s1, s2, s3)


structref.define_proxy(SR, SRType, [f"a{i}" for i in range(12)])


@njit
def _sr_op(sr, s0, s1, s2, s3):
    return sr.a0[0] + sr.a11[0] + s0 + s3


def make_cases():
    arrs = [np.zeros(1024, np.int64) for _ in range(12)]
    tup = tuple(arrs)
    nt = State(*arrs)
    state = np.zeros((12, 1024), np.int64)
    jc = JC(*arrs)
    sr = SR(*arrs)
    op_jc, op_sr = jc.op, sr.op

    def loop(fn, args):
        def run():
            t0 = time.perf_counter_ns()
            for _ in range(N_CALLS):
                fn(*args)
            return (time.perf_counter_ns() - t0) / N_CALLS
        return run

    # a loop of explicit calls for the many-argument cases (fn(*args) costs the same for all; kept uniform)
    cases = {
        "py": loop(py3, (1, 2, 3)),
        "a": loop(nb3, (1, 2, 3)),
        "ret3": loop(nb3_ret3, (1, 2, 3)),
        "b": loop(nb12, (*arrs, 1, 2, 3, 4)),
        "b1": loop(nb1, (state, 1, 2, 3, 4)),
        "c": loop(nbtup, (tup, 1, 2, 3, 4)),
        "c_nt": loop(nbnt, (nt, 1, 2, 3, 4)),
        "d_jc": loop(op_jc, (1, 2, 3, 4)),
        "d_sr": loop(op_sr, (1, 2, 3, 4)),
    }
    for run in list(cases.values()):   # compile and warm
        run()

    def ep(f):
        return f.overloads[f.signatures[0]].entry_point

    cases["a_ep"] = loop(ep(nb3), (1, 2, 3))
    cases["b_ep"] = loop(ep(nb12), (*arrs, 1, 2, 3, 4))
    cases["b1_ep"] = loop(ep(nb1), (state, 1, 2, 3, 4))
    return cases


def dispatch_table():
    cases = make_cases()
    res = {k: [] for k in cases}
    for _ in range(ROUNDS):
        for k, run in cases.items():
            res[k].append(run())
    return {k: statistics.median(v) for k, v in res.items()}, {k: (min(v), max(v)) for k, v in res.items()}


KERNEL_SRC = textwrap.dedent('''
    import time
    t0 = time.perf_counter()
    import numba, numpy as np
    t1 = time.perf_counter()
    from numba import njit

    @njit(cache=True)
    def kern(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, s0, s1, s2, s3):
        # a small loop body, like a book's matching walk, so the compile is not trivial
        left = s1
        i = s0
        n = 0
        while left > 0 and i < a0.shape[0]:
            take = min(left, a1[i])
            a1[i] -= take
            left -= take
            a2[n] = a0[i]
            a3[n] = take
            n += 1
            i = a4[i] if a4[i] >= 0 else i + 1
        a5[0] += s1 - left
        return n, left

    arrs = [np.zeros(64, np.int64) for _ in range(12)]
    arrs[1][:] = 3
    arrs[4][:] = -1
    t2 = time.perf_counter()
    kern(*arrs, 0, 10, 0, 0)
    t3 = time.perf_counter()
    print(f"{t1 - t0:.4f} {t3 - t2:.4f}")
''')


def compile_and_cache_times(reps: int = 3):
    """(import numba s, first call s) of a fresh process with an empty cache dir (compile) and then with the
    cache filled (load), `reps` each, interleaved."""
    comp, load = [], []
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as d:
            script = os.path.join(d, "kern.py")
            with open(script, "w") as fh:
                fh.write(KERNEL_SRC)
            env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(d, "cache"))
            for out in (comp, load):   # the first run compiles and writes the cache, the second loads it
                r = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, check=True)
                out.append(tuple(float(x) for x in r.stdout.split()))
    return comp, load


def main() -> None:
    print(f"numba dispatch bench | python {platform.python_version()} | numba {numba.__version__} | "
          f"numpy {np.__version__} | {platform.machine()} | {time.strftime('%Y-%m-%d')}")
    med, rng = dispatch_table()
    print(f"ns per call, median of {ROUNDS} interleaved rounds x {N_CALLS:,} calls (min-max):")
    for k, v in med.items():
        print(f"  {k:5s} {v:8.0f}   ({rng[k][0]:.0f}-{rng[k][1]:.0f})")
    comp, load = compile_and_cache_times()
    print("fresh process, 12-array kernel (import numba s, first call s):")
    print("  compile (empty cache): " + ", ".join(f"({a:.2f}, {b:.3f})" for a, b in comp))
    print("  cache load:            " + ", ".join(f"({a:.2f}, {b:.3f})" for a, b in load))


if __name__ == "__main__":
    main()
