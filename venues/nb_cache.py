"""A module's compiled kernels loaded from numba's on-disk cache when the module is imported.

A kernel declared with explicit signatures (book_kernels.py, ladder_nb.py, agents/maker_nb.py) is loaded from the
cache as its module is imported. One compiled lazily (`@njit(cache=True)`, typed by its first call) is loaded at
its first call instead: in a run, inside the model's first minutes, about 4-20 ms each (the default day loaded 14
such kernels, 0.13 s). `preload(globals())` at the end of such a module loads, at import, every overload the
cache holds for the module's kernels as they are now (numba's cache index, keyed by signature and the function's
code: what `python -m venues.warm` and earlier runs compiled), so they are loaded with the module, as the others
are. A kernel's other signatures still compile on first call; a cache this numba cannot read loads nothing.
"""

from __future__ import annotations


def preload(namespace: dict) -> int:
    """Load the cached overloads of the numba kernels defined in the module whose globals are `namespace`;
    returns how many were loaded. Uses numba's cache index (numba.core.caching), guarded: on any error a kernel
    is left to compile or load on first call, as without this."""
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:   # pragma: no cover
        return 0
    name = namespace.get("__name__")
    n = 0
    for obj in list(namespace.values()):
        if not isinstance(obj, Dispatcher) or getattr(obj.py_func, "__module__", None) != name:
            continue
        try:
            cache = obj._cache
            index = cache._cache_file._load_index()
            codegen = obj.targetctx.codegen()
            for key in index:
                sig = key[0]
                if sig not in obj.overloads and key == cache._index_key(sig, codegen):
                    obj.compile(sig)
                    n += 1
        except Exception:   # pragma: no cover - another numba's cache layout: load on first call
            continue
    return n
