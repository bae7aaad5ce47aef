"""Imports point one way (DESIGN.md): des_supply <- optimization <- rl <- scenarios.

Walks every import statement (module level and inside functions) with ``ast``:
``des_supply`` imports none of the other three packages, ``optimization`` imports only
``des_supply``, ``rl`` imports ``des_supply`` and ``optimization``, and only
``scenarios`` (the application layer) may import everything.  No module imports a
private name (``_x``) of another module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("des_supply", "optimization", "rl", "scenarios")
BANNED = {
    "des_supply": {"optimization", "rl", "scenarios"},
    "optimization": {"rl", "scenarios"},
    "rl": {"scenarios"},
    "scenarios": set(),
}


def _imports(path: Path, package: str) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) of every import in *path*."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = path.relative_to(ROOT).with_suffix("").parts
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = (
                    list(here[: -node.level])
                    if path.name != "__init__.py"
                    else list(here[: len(here) - node.level])
                )
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((node.lineno, module, [a.name for a in node.names]))
    return out


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package: str) -> None:
    upward = []
    for path in _modules(package):
        for line, module, _ in _imports(path, package):
            if module.split(".")[0] in BANNED[package]:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not upward, "imports against the layering:\n" + "\n".join(upward)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_private_names(package: str) -> None:
    private = []
    for path in _modules(package):
        for line, module, names in _imports(path, package):
            if module == "__future__":
                continue
            for name in names:
                if name.startswith("_") and not name.startswith("__"):
                    private.append(f"{path.relative_to(ROOT)}:{line} imports {name} from {module}")
    assert not private, "private names imported across modules:\n" + "\n".join(private)


def test_the_walker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The check itself can fail: a lazy upward import inside a function is found."""
    src = ROOT / "des_supply" / "_layering_probe.py"
    src.write_text("def f():\n    from scenarios import make\n    from .sim import _Arrival\n")
    try:
        found = _imports(src, "des_supply")
    finally:
        src.unlink()
    assert (2, "scenarios", ["make"]) in found
    assert (3, "des_supply.sim", ["_Arrival"]) in found
