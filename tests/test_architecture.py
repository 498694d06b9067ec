"""The architecture rules of ``pyproject.toml``'s import-linter contracts hold, and cover every encoder."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from counterpoint.encoders.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[1]


def contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_import_contracts_are_kept() -> None:
    """`lint-imports`: layers report > analysis | probes > store, independent encoders, no cycles."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(contracts())} kept, 0 broken" in result.stdout, result.stdout


def test_every_registered_encoder_is_in_the_independence_contract() -> None:
    """A new encoder in the registry must be declared independent of its siblings too."""
    independent = next(c for c in contracts() if c["type"] == "independence")
    ours = {entry.module for entry in REGISTRY.values() if entry.module.startswith("counterpoint.")}  # tests add their own
    assert sorted(independent["modules"]) == sorted(ours)
