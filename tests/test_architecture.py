"""The package's architecture, checked from its source (see CONTRIBUTING.md, "Layout").

- No import cycle between glmmteach modules, counting imports inside functions.
- Imports run downwards: course -> diagnostics / inference -> model -> _util (with
  ``warnings``, ``rcompat``, ``simulate`` and ``datasets`` at the side).
- No module reads another object's private attributes or imports another module's private
  names (names from a package-private module such as ``glmmteach._util.validate`` are fine).
- Lessons and exercises use public names only.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "glmmteach"

# layer of each top-level part; a module may import its own layer or lower ones
LAYERS = {"_util": 0, "warnings": 0, "rcompat": 1, "simulate": 1, "datasets": 1, "model": 2,
          "inference": 3, "diagnostics": 4, "course": 5, "__init__": 6}
# names of private attributes that are public API elsewhere
ALLOWED_PRIVATE_ATTRIBUTES = {"_getframe", "_repr_html_", "_asdict", "_replace", "_fields",
                              "_ipython_display_"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The glmmteach module a dotted import name refers to (longest known prefix)."""
    parts = name.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in MODULES:
            return cand
        parts.pop()
    return None


def _imports(module: str) -> list[tuple[str, int, list[str]]]:
    """(imported module, line, imported names) for every import in the module, anywhere."""
    tree = ast.parse(MODULES[module].read_text())
    is_pkg = MODULES[module].name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("glmmteach"):
                    out.append((_resolve(a.name), node.lineno, []))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".") if is_pkg else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            if not base.startswith("glmmteach"):
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                if sub in MODULES:
                    out.append((sub, node.lineno, []))
                else:
                    out.append((_resolve(base), node.lineno, [a.name]))
    return [(m, line, names) for m, line, names in out if m is not None and m != module]


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 else LAYERS["__init__"]


def _is_package_private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split(".")[1:])


def test_every_module_is_in_a_known_layer():
    for module in MODULES:
        parts = module.split(".")
        assert len(parts) == 1 or parts[1] in LAYERS, f"{module}: add its part to LAYERS"


def test_no_import_cycle():
    graph = {m: sorted({dep for dep, _, _ in _imports(m)}) for m in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for dep in graph[m]:
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m)


def test_imports_run_downwards():
    bad = []
    for m in MODULES:
        for dep, line, _ in _imports(m):
            if _layer(dep) > _layer(m):
                bad.append(f"{MODULES[m].relative_to(ROOT)}:{line} imports {dep}")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_private_names_imported_across_modules():
    bad = []
    for m in MODULES:
        for dep, line, names in _imports(m):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and not _is_package_private(dep):
                bad.append(f"{MODULES[m].relative_to(ROOT)}:{line} imports {private} from {dep}")
    assert not bad, "\n".join(bad)


def _private_reads(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        attr = node.attr
        if not attr.startswith("_") or attr.startswith("__") or attr in ALLOWED_PRIVATE_ATTRIBUTES:
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in {"self", "cls"}:
            continue
        out.append((node.lineno, f"{ast.unparse(owner)}.{attr}"))
    return out


def test_no_module_reads_private_attributes_of_other_objects():
    bad = []
    for path in MODULES.values():
        for line, text in _private_reads(ast.parse(path.read_text())):
            bad.append(f"{path.relative_to(ROOT)}:{line}: {text}")
    assert not bad, "private attributes read across objects:\n" + "\n".join(bad)


NOTEBOOKS = sorted((ROOT / "lessons").glob("*.ipynb")) + sorted(
    (ROOT / "exercises").rglob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebooks_use_public_names_only(path):
    nb = json.loads(path.read_text())
    bad = []
    for k, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        lines = [ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        tree = ast.parse("\n".join(lines))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("glmmteach"):
                mod_private = any(p.startswith("_") for p in node.module.split("."))
                names = [a.name for a in node.names if a.name.startswith("_")]
                if mod_private or names:
                    bad.append(f"cell {k}: from {node.module} import {names or '...'}")
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("glmmteach") and any(
                            p.startswith("_") for p in a.name.split(".")):
                        bad.append(f"cell {k}: import {a.name}")
        bad += [f"cell {k}: {text}" for _, text in _private_reads(tree)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_says_what_it_holds_and_imports(module):
    doc = ast.get_docstring(ast.parse(MODULES[module].read_text())) or ""
    assert doc.strip(), f"{module}: open with a docstring saying what it holds"
    assert "mport" in doc, f"{module}: say in the docstring what it imports (or must not)"
