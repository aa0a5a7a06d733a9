"""The README's code runs as written; the docs' field table and test references are current."""

import re
from pathlib import Path

import numpy as np
import pytest

from purejaxdqn import config as config_mod

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _python_blocks(text: str, section: str) -> list[str]:
    """The ```python blocks of a `## section` (up to the next `## ` heading)."""
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, re.S)


def test_the_extending_section_runs_as_written(capsys):
    blocks = _python_blocks(README, "Extending purejaxdqn")
    assert len(blocks) == 3  # a torso, an environment, an algorithm's Agent
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    printed = capsys.readouterr().out.split()
    torso_return, corridor_return, q_shape = float(printed[0]), float(printed[1]), printed[2:]
    assert torso_return >= 400  # the LayerNorm torso learns CartPole
    assert corridor_return == 1.0  # the custom env's greedy policy walks to the end
    assert q_shape == ["(5,", "2)"]
    params = namespace["result"].params["params"]
    assert set(params) == {"torso", "head"}


@pytest.mark.slow
def test_the_python_example_runs_as_written(capsys):
    (block,) = _python_blocks(README, "Python")
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    solved = [s["solved"] for s in namespace["purejaxdqn"].seed_summaries(namespace["results"])]
    assert sum(solved) >= 7
    assert namespace["policy"](np.zeros(4, np.float32)) in (0, 1)


def test_the_field_table_is_generated_from_the_declarations():
    text = (ROOT / "docs" / "algorithms.md").read_text()
    table = text.split("<!-- fields:begin -->\n", 1)[1].split("\n<!-- fields:end -->", 1)[0]
    assert table == config_mod.fields_markdown()


def test_the_readme_algorithm_table_is_generated_from_the_declarations():
    table = README.split("<!-- algorithms:begin -->\n", 1)[1].split("\n<!-- algorithms:end -->")[0]
    assert table == config_mod.algorithms_markdown()


def test_every_test_the_guarantees_name_exists():
    text = (ROOT / "docs" / "guarantees.md").read_text()
    files = re.findall(r"`(tests/[\w/]+\.py)(?:::[\w\[\]]+)?`", text)
    assert len(files) >= 15
    names = re.findall(r"(?:`tests/[\w/]+\.py|`)::(\w+)", text)
    sources = "".join((ROOT / f).read_text() for f in set(files))
    for f in files:
        assert (ROOT / f).is_file(), f
    for name in names:
        assert f"def {name}(" in sources, name


def test_an_exported_policy_plays_gymnasium_as_the_readme_says(tmp_path):
    """The README's snippet, in a fresh process, on a tiny run's export named `policy`."""
    import subprocess
    import sys

    from purejaxdqn import cli
    from tests.helpers import TINY_CLI_ARGS

    (block,) = _python_blocks(README, "Watching and sharing runs")
    run = tmp_path / "runs" / "a"
    args = ["train", "--out", str(run), "--seeds", "1", "--no-plot", "--no-progress"]
    assert cli.main([*args, *TINY_CLI_ARGS]) == 0
    assert (
        cli.main(["export", str(run), "--seed-index", "0", "--out", str(tmp_path / "policy")]) == 0
    )
    proc = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.split()[-1]) >= 1.0  # an episode was played to its end
