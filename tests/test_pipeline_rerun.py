"""`run` and `demo` leave a finished report alone until the store or the analysis options change."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from conftest import make_class_folders
from counterpoint.pipeline import STAMP_FILE, RunSettings, run_pipeline


def run(options: RunSettings) -> tuple[list[str], dict[str, int]]:
    """The announced steps, and the modification times of the report's files afterwards."""
    steps: list[str] = []
    run_pipeline(options, step=steps.append)
    report = Path(options.out) / "report"
    return steps, {path.name: path.stat().st_mtime_ns for path in report.iterdir() if path.is_file()}


def test_a_rerun_keeps_the_report_and_a_change_recomputes_it(tmp_path: Path) -> None:
    root = make_class_folders(tmp_path / "data", per_class=4)
    options = RunSettings(dataset=str(root), out=str(tmp_path / "out"), encoders="symbolic-stats", label="class",
                         probe_models="")
    first_steps, first = run(options)
    assert "analysing every embedding space" in first_steps and STAMP_FILE in first

    again_steps, again = run(options)
    assert "analysing every embedding space" not in again_steps
    assert any(step.startswith("report up to date: ") for step in again_steps)
    assert again == first                        # not one file of the report was rewritten

    reseeded_steps, reseeded = run(replace(options, seed=1))
    assert "analysing every embedding space" in reseeded_steps
    assert reseeded["metrics.json"] != first["metrics.json"]

    more_steps, _ = run(replace(options, seed=1, encoders="symbolic-stats,audio-stats"))   # the store changed
    assert "analysing every embedding space" in more_steps
    assert not any(step.startswith("report up to date") for step in more_steps)
