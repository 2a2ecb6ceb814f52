"""The house rules that keep the code easy to find one's way in, checked on the source itself.

- Only `engine/journal/` talks to SQLite: no SQL statement and no sqlite3 anywhere else in the
  product code (tests may read the file they made, to check what was stored).
- No import cycles between the project's modules, counting imports made only for type
  checking and imports inside functions, since a cycle there is still a tangle to read.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "engine", "bench")
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|PRAGMA)\b"
)


def _sources() -> dict[str, Path]:
    """Module name -> file, for every module of the product (not the tests)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            found[".".join(rel.parts).removesuffix(".__init__")] = path
    return found


def _strings(tree: ast.AST) -> list[ast.Constant]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_only_the_journal_writes_sql() -> None:
    offenders = []
    for name, path in _sources().items():
        if name.startswith("engine.journal"):
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] == "sqlite3" or n == "sqlite_utils" for n in names):
                    offenders.append(f"{name}:{node.lineno} imports sqlite")
        for const in _strings(tree):
            if SQL.search(" ".join(const.value.split())):
                offenders.append(f"{name}:{const.lineno} {const.value.strip()[:50]!r}")
    assert offenders == []


def test_the_sql_check_can_see_sql() -> None:
    """The pattern above must match the journal's own statements, or the check proves nothing."""
    journal = [p for n, p in _sources().items() if n.startswith("engine.journal")]
    hits = sum(
        bool(SQL.search(" ".join(c.value.split())))
        for path in journal
        for c in _strings(ast.parse(path.read_text()))
    )
    assert hits >= 30


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules importing `name` runs, from anywhere in the file (functions, TYPE_CHECKING).

    Importing `a.b.c` runs `a/__init__` and `a/b/__init__` first, so those count too, except
    the packages `name` itself lives in: they are already being imported when `name` runs.
    """
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    own = set(_ancestors(name)) | {name}
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            # `from pkg import x` runs pkg.x when that is a module, and pkg either way.
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            if target not in known:
                continue
            out.update(m for m in [*_ancestors(target), target] if m in known and m not in own)
    return out


def import_cycles() -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), as sorted name lists."""
    sources = _sources()
    known = set(sources)
    graph = {name: _imports(name, path, known) for name, path in sources.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycles() -> None:
    assert import_cycles() == []


def test_the_cycle_check_can_see_a_cycle(tmp_path: Path) -> None:
    """Two modules importing each other (one only inside a function) are reported as a cycle."""
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("import b\n")
    b.write_text("def later():\n    from a import x\n")
    known = {"a", "b"}
    assert _imports("a", a, known) == {"b"} and _imports("b", b, known) == {"a"}
