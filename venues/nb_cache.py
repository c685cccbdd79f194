"""A module's compiled kernels loaded from numba's on-disk cache when the module is imported.

A kernel declared with explicit signatures (book_kernels.py, ladder_nb.py, agents/maker_nb.py) is loaded from the
cache as its module is imported. One compiled lazily (`@njit(cache=True)`, typed by its first call) is loaded at
its first call instead: in a run, inside the model's first minutes (the default day loaded 14 such overloads
there, 0.13 s). `preload(globals(), names)` at the end of such a module loads, at import, the overloads the cache
holds for its kernels `names` as they are now (numba's cache index, keyed by signature and the function's code:
what `python -m venues.warm`, earlier runs and tests compiled), so they load with the module, as the others do.
This moves the loading out of a run's wall_s into the import (settled rule 12 counts neither imports nor
interpreter start); it does not make it cheaper.

It only loads: an index entry whose data file is missing or unreadable is skipped (the kernel compiles on first
call, as without this), never compiled here. A kernel's other signatures still compile on first call; a cache
this numba cannot read (another version, a changed source file) loads nothing.
"""

from __future__ import annotations

from numba.core.compiler_lock import global_compiler_lock
from numba.core.dispatcher import Dispatcher


def _load_only(kernel: Dispatcher, sig) -> bool:
    """Dispatcher.compile's cache-hit branch alone (numba/core/dispatcher.py): add the overload the disk cache
    holds for `sig`; False, adding nothing, when the cache cannot give it."""
    with global_compiler_lock:
        cres = kernel._cache.load_overload(sig, kernel.targetctx)
        if cres is None:
            return False
        kernel._cache_hits[sig] += 1
        if not cres.objectmode:
            kernel.targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
        kernel.add_overload(cres)
        return True


def preload(namespace: dict, names: tuple[str, ...]) -> int:
    """Load the cached overloads of the numba kernels `names` defined in the module whose globals are
    `namespace` (a name that is not a kernel of that module is skipped); returns how many were loaded. Uses
    numba's cache index, guarded: on any error a kernel is left to load or compile on first call."""
    module = namespace.get("__name__")
    n = 0
    for name in names:
        kernel = namespace.get(name)
        if not isinstance(kernel, Dispatcher) or getattr(kernel.py_func, "__module__", None) != module:
            continue
        try:
            cache = kernel._cache
            index = cache._cache_file._load_index()
            codegen = kernel.targetctx.codegen()
            for key in index:
                sig = key[0]
                if sig not in kernel.overloads and key == cache._index_key(sig, codegen) and _load_only(kernel, sig):
                    n += 1
        except Exception:   # pragma: no cover - another numba's cache layout: load on first call
            continue
    return n
