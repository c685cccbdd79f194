"""The project's layout (issue "Engine", item 7): no import cycle among its own modules, and no file over
MAX_LINES lines in venues/, agents/ or the top level. The import graph is read from the source (an AST walk):
every `import` counts, those inside functions too (a lazy import that closes a cycle is still a cycle), except
those under `if TYPE_CHECKING:` (annotations only: never run)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("venues", "agents", "conf", "hydra_plugins/perp_cascades")
MAX_LINES = 600
TOO_LONG_FOR_NOW: dict[str, str] = {}
"""Files known to pass MAX_LINES: the line-count check is an expected failure while any is listed, and no other
file may pass it."""


def project_modules() -> dict[str, Path]:
    """Dotted module name -> file, for the top-level modules and the packages' modules."""
    mods = {p.stem: p for p in ROOT.glob("*.py")}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).glob("*.py"):
            dotted = pkg.replace("/", ".")
            mods[dotted if p.stem == "__init__" else f"{dotted}.{p.stem}"] = p
    return mods


def _runtime_nodes(tree: ast.AST):
    """Every node of the tree except the bodies of `if TYPE_CHECKING:` blocks."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    """Module -> the project's modules it imports (at module level or inside a function)."""
    mods = project_modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.stem == "__init__" else name.rpartition(".")[0]
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                    base = ".".join(parts + ([node.module] if node.module else []))
                # `from pkg import sub` imports the module pkg.sub when there is one
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                while t and t not in mods:      # `import a.b.c` of a module the project has: the longest match
                    t = t.rpartition(".")[0]
                if t and t != name:
                    graph[name].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_graph_sees_the_imports_that_matter():
    g = import_graph()
    assert "model" in g["run"] and "venues.venue" in g["model"] and "agents.base" in g["agents.market_maker"]
    assert "venues.events" in g["venues.venue"]            # `from . import events as ev`
    assert "venues.venue" not in g["venues.waterfall"]     # under `if TYPE_CHECKING:` only
    assert "sweeps" in g["sweep_figures"] and "plot" in g["run"]   # the figures' view of sweeps; run's lazy dashboard
    assert {"dashboard", "sweep_figures", "study_figures"} <= g["plot"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_among_the_projects_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _line_counts() -> dict[str, int]:
    files = [*ROOT.glob("*.py"), *(ROOT / "venues").glob("*.py"), *(ROOT / "agents").glob("*.py")]
    return {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in files}


def test_no_file_passes_600_lines_but_those_known_to():
    over = {f for f, n in _line_counts().items() if n > MAX_LINES}
    assert over <= set(TOO_LONG_FOR_NOW), f"files over {MAX_LINES} lines: {sorted(over - set(TOO_LONG_FOR_NOW))}"


@pytest.mark.xfail(bool(TOO_LONG_FOR_NOW), strict=False,
                   reason="still over 600 lines: " + "; ".join(f"{f} ({_line_counts().get(f)} lines: {why})"
                                                               for f, why in TOO_LONG_FOR_NOW.items()))
def test_no_file_over_600_lines_in_venues_agents_or_the_top_level():
    over = {f: n for f, n in _line_counts().items() if n > MAX_LINES}
    assert not over, f"files over {MAX_LINES} lines: {over}"


WATERFALL_FILES = ("venues/waterfall.py", "venues/adl_queue.py")


def private_reads(path: Path) -> list[str]:
    """`x._name` in a file where x is anything but `self` (its own state): what the file reaches for inside other
    objects, e.g. `ch._lot_list` or `self.v._spot_locked`."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id == "self")):
            out.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return out


def test_the_waterfall_reads_nothing_private_of_the_venue_or_its_clearinghouse(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f(self, ch):\n    return self._own, ch._lot_list, self.v._spot_locked, ch.__class__\n")
    assert private_reads(probe) == ["probe.py:2: ch._lot_list", "probe.py:2: self.v._spot_locked"]
    found = [r for f in WATERFALL_FILES for r in private_reads(ROOT / f)]
    assert not found, found


def state_writes(path: Path) -> list[str]:
    """Assignments (plain or augmented) in a file to anything reached through a name `ch` or an attribute `.ch`
    (a clearinghouse's arrays and ledgers: `ch.bal[i, 0] += x`, `ch.insurance[0] -= x`, `self.v.ch.bad_debt = y`)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AugAssign) else []
        for t in targets:
            x = t
            while isinstance(x, (ast.Subscript, ast.Attribute)):
                x = x.value
                if (isinstance(x, ast.Name) and x.id == "ch") or (isinstance(x, ast.Attribute) and x.attr == "ch"):
                    out.append(f"{path.name}:{node.lineno}: {ast.unparse(t)}")
                    break
    return out


def test_the_waterfall_moves_money_only_through_the_ledger_functions(tmp_path):
    """venues/waterfall.py and venues/adl_queue.py write no balance, margin or ledger of the clearinghouse
    themselves: money moves through venues/ledger.py's double entries, positions through apply_fill and
    settle_maker. (The one attribute the waterfall sets is the round's `touched` set.)"""
    probe = tmp_path / "probe.py"
    probe.write_text("def f(self, ch):\n    ch.bal[1, 0] += 2.0\n    self.v.ch.insurance[0] = 1.0\n"
                     "    x = ch.bal[1]\n    self.total += 1\n")
    assert state_writes(probe) == ["probe.py:2: ch.bal[1, 0]", "probe.py:3: self.v.ch.insurance[0]"]
    found = [r for f in WATERFALL_FILES for r in state_writes(ROOT / f) if not r.endswith(".ch.touched")]
    assert not found, found


def _subscript_writes(path: Path, names: set[str]) -> list[str]:
    """`<...>name[...] = / += ...` in a file, for the given array names (a bare name or an attribute's)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AugAssign) else []
        for t in targets:
            if isinstance(t, ast.Subscript):
                v = t.value
                name = v.id if isinstance(v, ast.Name) else v.attr if isinstance(v, ast.Attribute) else None
                if name in names:
                    out.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return out


def test_one_fill_settlement():
    """A fill's settlement (a position's average entry price moved at a fill) is written in one place,
    venues/fills_nb.py, which the compiled order kernels and Clearinghouse.apply_fill / settle_maker both call
    (issue "Engine", item 7). The reference engine (tests/reference) keeps its own, on purpose."""
    files = [p for p in project_modules().values()]
    found = sorted(r for p in files for r in _subscript_writes(p, {"entry"}))
    assert found and all(r.startswith("venues/fills_nb.py:") for r in found), found
