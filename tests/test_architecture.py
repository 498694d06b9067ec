"""The architecture rules of ``pyproject.toml``'s import-linter contracts hold, and cover every encoder."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

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


#: The crossings of the one-way flow that no contract checked before (issue 20): importer, what it
#: must not import (a package or module), and why. The contracts above now forbid each of them; these
#: name them one by one, so a crossing that comes back says which rule it breaks.
CROSSINGS = [
    ("counterpoint.analysis", "counterpoint.data", "time pairing reads audio and MIDI: a dataset-stage step"),
    ("counterpoint.matrix", "counterpoint.data", "label depth and split names live in counterpoint.labels"),
    ("counterpoint.store", "counterpoint.encoders", "specs are read with what the encoder recorded at write time"),
    ("counterpoint.config", "counterpoint.encoders", "settings are declared without the encoder registry"),
    ("counterpoint.config", "counterpoint.engines", "settings are declared without the engines"),
]


def import_graph():
    import grimp

    return grimp.build_graph("counterpoint", exclude_type_checking_imports=True, cache_dir=None)


@pytest.mark.parametrize("importer, imported, why", CROSSINGS, ids=[f"{a}->{b}" for a, b, _ in CROSSINGS])
def test_a_crossing_of_the_one_way_flow_is_gone(importer: str, imported: str, why: str) -> None:
    graph = import_graph()
    assert not graph.direct_import_exists(importer=importer, imported=imported, as_packages=True), why


def test_the_analysis_never_writes_the_warping_path_file() -> None:
    """The sixth crossing: the time-aligned comparison wrote the warping-path file beside the store;
    the dataset stage's time pairing keeps it now, and the analysis reads the paths it is handed."""
    graph = import_graph()
    analysis = {"counterpoint.analysis"} | graph.find_descendants("counterpoint.analysis")
    lines = [detail["line_contents"] for module in sorted(analysis)
             for detail in graph.get_import_details(importer=module, imported="counterpoint.warping")]
    assert lines, "the time-aligned comparison reads warping paths from counterpoint.warping"
    assert not [line for line in lines if "WarpingPathFile" in line or "warping_file_path" in line], lines


def test_every_module_of_the_package_sits_in_a_layer() -> None:
    """The layers cover every package and top-level module: a new module must be given its place in the flow."""
    layered = {name.strip(" ()") for c in contracts() if c["type"] == "layers" for layer in c["layers"]
               for name in layer.split("|")}
    package = ROOT / "src" / "counterpoint"
    modules = {f"counterpoint.{path.stem}" for path in package.glob("*.py") if path.stem != "__init__"}
    packages = {f"counterpoint.{path.parent.name}" for path in package.glob("*/__init__.py")}
    assert sorted((modules | packages) - layered) == []
