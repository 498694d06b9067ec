"""The command line starts without the heavy libraries: `import counterpoint.cli`, `--version` and `--help`
load no pandas, numpy, torch, scikit-learn, h5py or scipy (each is imported by the command that uses it).
Times are measured by benchmarks/startup.py, not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("pandas", "numpy", "torch", "sklearn", "h5py", "scipy", "librosa")
SOURCE = str(Path(__file__).parents[1] / "src")


def modules_loaded_by(arguments: list[str]) -> list[str]:
    """The heavy top-level packages in ``sys.modules`` after ``counterpoint.cli`` imports and runs ``arguments``
    (none: only the import), in a fresh interpreter."""
    code = ("import sys\n"
            f"sys.argv = ['counterpoint', *{arguments!r}]\n"
            "import counterpoint.cli\n"
            "if len(sys.argv) > 1:\n"
            "    try:\n"
            "        counterpoint.cli.app()\n"
            "    except SystemExit:\n"
            "        pass\n"
            f"print(__import__('json').dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))), "
            "file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": SOURCE, "PATH": "/usr/bin:/bin"})
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("arguments", [[], ["--version"], ["--help"], ["embed", "--help"]])
def test_starting_the_command_line_imports_no_heavy_library(arguments: list[str]) -> None:
    assert modules_loaded_by(arguments) == []
