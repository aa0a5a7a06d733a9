"""A custom torso in a run directory: recorded by import path and fields, rebuilt on load.

    record(MyTorso(width=64))  ->  {"class": "mypackage.nets:MyTorso", "fields": {"width": 64}}
    rebuild(that)              ->  MyTorso(width=64)

A torso defined where no later process can import it (a script's `__main__`, a notebook,
inside a function) or with fields that JSON cannot hold is still recorded, with the
reason; rebuilding it then fails in one line that says to pass the module instead
(`load_policy(run_dir, network=...)`).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import sys
from typing import Any

import flax.linen as nn

_FLAX_FIELDS = ("parent", "name")  # flax's own dataclass fields, not the user's


def record(torso: nn.Module | None) -> dict[str, Any] | None:
    """The run directory's description of `torso` (None: the config's built-in torso)."""
    if torso is None:
        return None
    cls = type(torso)
    path = f"{cls.__module__}:{cls.__qualname__}"
    fields = {
        f.name: getattr(torso, f.name)
        for f in dataclasses.fields(torso)
        if f.name not in _FLAX_FIELDS and f.init
    }
    try:
        fields = json.loads(json.dumps(fields))
    except TypeError as error:
        return {"class": path, "fields": None, "why": f"its fields are not JSON ({error})"}
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        return {"class": path, "fields": fields, "why": "it is defined where no import reaches"}
    return {"class": path, "fields": fields}


def rebuild(entry: dict[str, Any] | None) -> nn.Module | None:
    """The torso `record` described; a one-line ValueError where it cannot be rebuilt."""
    if entry is None:
        return None
    path = entry.get("class", "?")
    if "why" in entry:
        raise ValueError(_cannot(path, entry["why"]))
    module_name, _, qualname = path.partition(":")
    try:
        obj: Any = _import(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as error:
        raise ValueError(_cannot(path, f"{type(error).__name__}: {error}")) from None
    try:
        return obj(**entry["fields"])
    except TypeError as error:
        raise ValueError(_cannot(path, f"its fields do not fit ({error})")) from None


def load(text: str) -> nn.Module:
    """`MODULE:CLASS` or `MODULE:CLASS={"field": value}` (the CLI's --network) as a torso."""
    path, _, fields = text.partition("=")
    if ":" not in path:
        raise ValueError(f"network: expected MODULE:CLASS, got {text!r}")
    try:
        values = json.loads(fields) if fields else {}
    except json.JSONDecodeError as error:
        raise ValueError(f"network: the fields after '=' are not JSON ({error})") from None
    torso = rebuild({"class": path, "fields": values})
    if not isinstance(torso, nn.Module):
        raise ValueError(f"network: {path} is not a flax.linen.Module")
    return torso


def _import(module_name: str) -> Any:
    """Imports `module_name`, looking in the working folder too (as `python -m` does)."""
    here = os.getcwd()
    added = here not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        return importlib.import_module(module_name)
    finally:
        if added:
            sys.path.remove(here)


def _cannot(path: str, why: str) -> str:
    return (
        f"network: the run's torso {path} cannot be rebuilt ({why}); put it in an importable "
        f"module, or pass it: load_policy(run_dir, network=...)"
    )
