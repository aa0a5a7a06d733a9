"""The package's shape: layers import only downward, no private JAX, pickle or
re-registered lowering, functions that fit on a screen, the public names where the
README says they are."""

import ast
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "purejaxdqn"

# Each folder (or top-level module) and its layer: an import may go to its own folder or
# to a lower layer. core/ and replay/ are both the bottom and do not import each other.
LAYERS = {
    "core": 0,
    "replay": 0,
    "config": 1,  # config.py and presets.py
    "agents": 2,
    "train": 3,
    "run": 4,
    "cli": 5,
}
ENTRY_POINTS = {"__init__", "__main__", "runner"}  # the package's own re-exports


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _folder(path: Path) -> str:
    """The layer's name of a module: its folder, or "config" for config.py and presets.py."""
    name = path.relative_to(PACKAGE).with_suffix("").parts[0]
    return "config" if name == "presets" else name


def _imported_folders(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
            if node.module == "purejaxdqn":  # from purejaxdqn import presets, ...
                names = [f"purejaxdqn.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "purejaxdqn" and len(parts) > 1:
                found.add("config" if parts[1] == "presets" else parts[1])
    return found


def test_every_module_is_in_a_layer():
    folders = {_folder(p) for p in _modules()} - ENTRY_POINTS
    assert folders <= set(LAYERS), folders - set(LAYERS)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_layers_import_only_their_own_folder_or_below(path):
    own = _folder(path)
    if own in ENTRY_POINTS:
        return
    for folder in _imported_folders(path) - {own, "__version__"}:
        assert folder in LAYERS, f"{path.name} imports purejaxdqn.{folder}"
        assert LAYERS[folder] < LAYERS[own], f"{own}/{path.name} imports {folder}/ (not below)"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_jax_pickle_or_reregistered_lowering(path):
    text = path.read_text()
    assert not re.search(r"jax\._src", text), path
    assert not re.search(r"^\s*(import pickle|from pickle import)", text, re.M), path
    assert "register_lowering" not in text, path


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_function_fits_on_a_screen(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            assert length <= 80, f"{path.name}:{node.name} is {length} lines"


def test_the_guards_above_would_fail_on_what_they_look_for(tmp_path):
    """The checks find a private import, a pickle, an upward import and a long function."""
    bad = tmp_path / "bad.py"
    bad.write_text("import pickle\nfrom jax._src import core\n")
    assert re.search(r"^\s*import pickle", bad.read_text(), re.M)
    assert re.search(r"jax\._src", bad.read_text())
    upward = tmp_path / "up.py"
    upward.write_text("from purejaxdqn.run import sharding\nimport purejaxdqn.cli.train\n")
    assert _imported_folders(upward) == {"run", "cli"}
    body = "\n".join(f"    x{i} = {i}" for i in range(90))
    tree = ast.parse(f"def long():\n{body}\n")
    function = tree.body[0]
    assert function.end_lineno - function.lineno + 1 > 80


@pytest.mark.parametrize(
    "where, name",
    [
        ("purejaxdqn", "DQNConfig"),
        ("purejaxdqn", "Hyperparams"),
        ("purejaxdqn", "make_train"),
        ("purejaxdqn", "make_trainer"),
        ("purejaxdqn", "presets"),
        ("purejaxdqn", "greedy_policy"),
        ("purejaxdqn", "load_policy"),
        ("purejaxdqn", "seed_summaries"),
        ("purejaxdqn", "enable_compilation_cache"),
        ("purejaxdqn", "TrainResult"),
        ("purejaxdqn", "TrainState"),
        ("purejaxdqn", "PeriodMetrics"),
        ("purejaxdqn", "ChunkedRun"),
        ("purejaxdqn.runner", "ChunkedRun"),
        ("purejaxdqn.run.runner", "ChunkedRun"),
        ("purejaxdqn.train", "make_train"),
        ("purejaxdqn.cli", "main"),
        ("purejaxdqn.presets", "cartpole"),
        ("purejaxdqn.presets", "notebook"),
    ],
)
def test_public_names_are_where_the_readme_says(where, name):
    assert hasattr(importlib.import_module(where), name)
