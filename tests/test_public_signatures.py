"""Every public function of the package takes its data positionally and every option by keyword: at most
three positional parameters (librosa's habit), so a call reads ``mutual_knn(X, Y, k=10)`` and an option can
be added or reordered without silently shifting the meaning of a caller's arguments. The command-line
package is left out: its functions are typer commands, called by the command line only."""

from __future__ import annotations

import ast
from pathlib import Path

import counterpoint

MAX_POSITIONAL = 3
PACKAGE = Path(counterpoint.__file__).parent


def too_positional(source: str) -> dict[str, int]:
    """{name: number of positional parameters} of the public module-level functions of ``source`` that take
    more than ``MAX_POSITIONAL`` positional parameters."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            positional = len(node.args.posonlyargs) + len(node.args.args)
            if positional > MAX_POSITIONAL:
                found[node.name] = positional
    return found


def public_functions(source: str) -> set[str]:
    return {node.name for node in ast.parse(source).body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_")}


def package_modules() -> dict[str, Path]:
    """{dotted module name: file} of every module of the package but the command-line package's."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[1:2] == ("cli",):
            continue
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def test_the_check_counts_positional_parameters_only() -> None:
    source = ("def four(a, b, c, d=1): ...\n"
              "def three_then_options(a, b, c, *, d, e=1): ...\n"
              "def positional_only(a, b, /, c, d): ...\n"
              "def _private(a, b, c, d): ...\n"
              "class Holder:\n    def method(self, a, b, c): ...\n")
    assert too_positional(source) == {"four": 4, "positional_only": 4}


def test_the_scan_reaches_every_package_but_the_command_line() -> None:
    modules = package_modules()
    assert {"counterpoint.analysis.similarity", "counterpoint.probes.run", "counterpoint.report.figures",
            "counterpoint.store"} <= set(modules)
    assert not any(name.startswith("counterpoint.cli") for name in modules)
    assert "mutual_knn" in public_functions(modules["counterpoint.analysis.similarity"].read_text(encoding="utf-8"))


def test_no_public_function_takes_more_than_three_positional_parameters() -> None:
    offenders = [f"{module}.{name} ({count} positional)"
                 for module, path in package_modules().items()
                 for name, count in too_positional(path.read_text(encoding="utf-8")).items()]
    assert not offenders, ("put a `*` after the data arguments (at most three) of: " + ", ".join(offenders))
