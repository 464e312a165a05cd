"""The package's shape (docs/ARCHITECTURE.md): layers import only downwards, argparse lives in the CLI,
every module says what it holds. Parsed with `ast` from the sources, so a violation fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "slic"

# Lowest first. A module may import its own subpackage and any lower layer; the two members of a
# layer given as a set must not import each other.
LAYERS = [{"errors", "_compat"}, {"io"}, {"format"}, {"zoo"}, {"codec"}, {"metrics"}, {"ops"}, {"verify"}, {"attacker"},
          {"training", "evaluation"}, {"serve"}, {"cli"}]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _subpackage(path: Path) -> str:
    rel = path.relative_to(PACKAGE).parts
    return rel[0].removesuffix(".py") if rel else ""


def _imported_subpackages(path: Path) -> set[str]:
    """Every slic subpackage `path` imports (relative or absolute, top-level or inside functions)."""
    tree = ast.parse(path.read_text())
    depth_of_file = len(path.relative_to(PACKAGE).parts) - 1  # 0 for slic/x.py, 1 for slic/pkg/x.py
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == "slic" and len(parts) > 1:
                    found.add(parts[1])
                continue
            up = node.level - 1  # levels above the file's own package
            base = list(path.relative_to(PACKAGE).parts[:depth_of_file])
            base = base[: len(base) - up] if up else base
            target = base + (node.module.split(".") if node.module else [])
            if target:
                found.add(target[0])
            else:  # `from .. import zoo`: the names are subpackages
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "slic" and len(parts) > 1:
                    found.add(parts[1])
    return {f for f in found if f in RANK}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_down_the_layers(path):
    own = _subpackage(path)
    if own not in RANK:  # slic/__init__.py, the public API, may gather from anywhere
        return
    for target in _imported_subpackages(path) - {own}:
        assert RANK[target] < RANK[own], f"{path.relative_to(PACKAGE)} imports {target}, which is not below {own}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_argparse_only_in_the_cli_and_every_module_has_a_docstring(path):
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), f"{path.relative_to(PACKAGE)} has no module docstring"
    if _subpackage(path) != "cli":
        names = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "argparse" not in names | modules, f"{path.relative_to(PACKAGE)} uses argparse outside slic.cli"


def test_the_layer_check_reads_relative_and_nested_imports():
    """The checker itself sees `from ..x import`, `from .. import x` and imports inside functions."""
    assert "errors" in _imported_subpackages(PACKAGE / "io" / "images.py")
    assert "codec" in _imported_subpackages(PACKAGE / "ops" / "compression.py")  # inside a function
    codec_file = PACKAGE / "codec" / "codec.py"
    assert {"zoo", "format", "io", "errors"} <= _imported_subpackages(codec_file)
