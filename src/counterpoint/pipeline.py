"""The main job, files to report: embed a dataset, analyse every space, write the report.

Used by ``counterpoint run`` (any dataset, flags or a params/TOML file) and ``counterpoint
demo`` (the built-in corpus). Options of a run are a plain dataclass so a file of
``--flag value`` lines and a TOML table map onto the same fields.
"""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from counterpoint.errors import CounterpointError

from counterpoint.encoders.registry import DEFAULT_ENCODERS


@dataclass
class RunOptions:
    """Everything `counterpoint run` takes; the field names are the flags (``--batch-size``)."""

    dataset: str = ""
    out: str = "counterpoint-output"
    encoders: str = ",".join(DEFAULT_ENCODERS)
    label: str = "class"
    depth: int = 0
    group: str = ""
    batch_size: int = 0
    seed: int = 0

    @property
    def store_path(self) -> Path:
        return Path(self.out) / "embeddings.h5"

    @property
    def report_dir(self) -> Path:
        return Path(self.out) / "report"


def _field_types() -> dict[str, type]:
    return {f.name: type(f.default) for f in fields(RunOptions)}


def _coerce(name: str, value: Any, source: str) -> Any:
    types = _field_types()
    key = name.replace("-", "_")
    if key not in types:
        raise CounterpointError(f"{source}: unknown option {name!r} — known: {', '.join('--' + k.replace('_', '-') for k in types)}")
    try:
        return key, types[key](value)
    except (TypeError, ValueError):
        raise CounterpointError(f"{source}: option {name!r} needs a {types[key].__name__}, got {value!r}") from None


def read_params_file(path: str | Path) -> dict[str, Any]:
    """Options from a TOML file (``key = value``) or a file of ``--flag value`` lines with ``#`` comments."""
    path = Path(path)
    if not path.is_file():
        raise CounterpointError(f"{path}: no such params file")
    text = path.read_text(encoding="utf-8")
    values: dict[str, Any] = {}
    if path.suffix == ".toml":
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CounterpointError(f"{path}: not valid TOML ({exc})") from exc
        table = table.get("run", table)
        for name, value in table.items():
            key, coerced = _coerce(name, "+".join(value) if isinstance(value, list) else value, str(path))
            values[key] = coerced
        return values
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = shlex.split(line, comments=True)
        if not tokens:
            continue
        if not tokens[0].startswith("--") or len(tokens) > 2:
            raise CounterpointError(f"{path} line {number}: expected '--flag value', got {line.strip()!r}")
        value = tokens[1] if len(tokens) == 2 else "true"
        key, coerced = _coerce(tokens[0][2:], value, f"{path} line {number}")
        values[key] = coerced
    return values


@dataclass
class PipelineResult:
    store: Path
    report: Path
    embed: Any  # EmbedReport
    analysis: Any  # AnalysisResult


def run_pipeline(options: RunOptions, embed_progress=None, step=None) -> PipelineResult:
    """Embed ``options.dataset`` into ``out/embeddings.h5`` and write ``out/report/index.html``.

    ``embed_progress`` is the embedding progress callback; ``step(text)`` announces each stage.
    """
    from counterpoint.analysis.analyze import analyze_store
    from counterpoint.embed import embed_dataset

    if not options.dataset:
        raise CounterpointError("no dataset given — pass --dataset ROOT (or dataset = \"ROOT\" in the params file)")
    announce = step or (lambda text: None)
    Path(options.out).mkdir(parents=True, exist_ok=True)
    announce(f"embedding {options.dataset} with {options.encoders}")
    embedded = embed_dataset(options.dataset, options.store_path, options.encoders,
                             batch_size=options.batch_size or None, progress=embed_progress)
    announce("analysing every embedding space")
    analysis = analyze_store(options.store_path, options.label, options.report_dir, depth=options.depth or None,
                             group=options.group or None, seed=options.seed, progress=lambda spec: announce(f"  {spec}"))
    return PipelineResult(options.store_path, analysis.report, embedded, analysis)
