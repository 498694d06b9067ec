"""The command line only parses and calls the API: no command writes a file or decides what to reuse itself."""

from __future__ import annotations

import ast
from pathlib import Path

from counterpoint.data.demo_corpus import ensure_demo_corpus

CLI = Path(__file__).parents[1] / "src" / "counterpoint" / "cli"
#: Calls that write or remove files.
WRITERS = {"write_text", "write_bytes", "mkdir", "unlink", "rmtree", "to_csv", "to_json", "savefig", "open"}


def test_no_command_module_writes_files() -> None:
    """Only the safety net writes (the traceback of an internal error, cli/app.py); every other module of the
    command line leaves writing to the API it calls."""
    writes = {}
    for path in sorted(CLI.glob("*.py")):
        calls = [node.func for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)]
        names = {getattr(f, "attr", getattr(f, "id", None)) for f in calls} & WRITERS
        if names:
            writes[path.name] = names
    assert writes == {"app.py": {"mkdir", "write_text"}}


def test_the_demo_corpus_is_reused_when_its_manifest_is_there(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "info.csv").write_text("id,audio_filename,midi_filename,style\n")
    before = (corpus / "info.csv").stat().st_mtime_ns
    said: list[str] = []
    assert ensure_demo_corpus(tmp_path, pieces_per_style=1, excerpt_seconds=1.0, seed=0, announce=said.append) == corpus
    assert said == [f"corpus already built: {corpus}"]
    assert (corpus / "info.csv").stat().st_mtime_ns == before and sorted(p.name for p in corpus.iterdir()) == ["info.csv"]
