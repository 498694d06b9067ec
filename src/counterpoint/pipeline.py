"""The main job, files to report: embed a dataset, analyse every space, write the report.

Used by ``counterpoint run`` (any dataset, flags or a params/TOML file) and ``counterpoint
demo`` (the built-in corpus). Options of a run are a plain dataclass so a file of
``--flag value`` lines and a TOML table map onto the same fields.
"""

from __future__ import annotations

import json
import shlex
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Sequence

from counterpoint.encoders.registry import DEFAULT_ENCODERS
from counterpoint.errors import CounterpointError, StoreError


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
    compare: bool = True
    probe_models: str = "linear,mlp"
    probe_seeds: int = 3
    strict_paths: bool = False
    engine: str = "local"  # where encoders run: local, or ray (Ray Data)
    ray_address: str = ""  # a running Ray cluster (auto, ray://host:10001); empty: start one here

    def check(self) -> None:
        """Raise a :class:`CounterpointError` for a whole-number option out of range or an unknown engine."""
        from counterpoint.analysis.inputs import require_whole
        from counterpoint.engines import check_engine

        for name, lowest in (("depth", 0), ("batch_size", 0), ("seed", 0), ("probe_seeds", 1)):
            require_whole(name, getattr(self, name), lowest)
        check_engine(self.engine, self.ray_address or None)

    @property
    def store_path(self) -> Path:
        return Path(self.out) / "embeddings.h5"

    @property
    def report_dir(self) -> Path:
        return Path(self.out) / "report"


def _field_types() -> dict[str, type]:
    return {f.name: type(f.default) for f in fields(RunOptions)}


_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def _coerce(name: str, value: Any, source: str) -> tuple[str, Any]:
    """The RunOptions field and typed value of ``--name value`` (``--no-name`` turns a switch off)."""
    types = _field_types()
    key = name.replace("-", "_")
    if key not in types and key.startswith("no_") and types.get(key[3:]) is bool:
        key, value = key[3:], "false"
    if key not in types:
        raise CounterpointError(f"{source}: unknown option {name!r} — known: {', '.join('--' + k.replace('_', '-') for k in types)}")
    kind = types[key]
    if kind is bool and not isinstance(value, bool):
        text = str(value).strip().lower()
        if text not in _TRUE + _FALSE:
            raise CounterpointError(f"{source}: option {name!r} is a switch (true/false), got {value!r}")
        return key, text in _TRUE
    try:
        return key, kind(value)
    except (TypeError, ValueError):
        raise CounterpointError(f"{source}: option {name!r} needs a {kind.__name__}, got {value!r}") from None


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
class ReportResult:
    report: Path
    analysis: Any  # AnalysisResult
    comparison: Any | None  # CompareResult, when the store holds both modalities
    probes: Any | None  # probe table (DataFrame), when probe models were asked for


def analyze_everything(store_path: str | Path, label: str, out_dir: str | Path, depth: int | None = None,
                       group: str | None = None, seed: int = 0, compare: bool = True,
                       probe_models: Sequence[str] = (), probe_seeds: int = 3, step=None) -> ReportResult:
    """Per-space analysis, cross-modal comparison and probes of a store, in one report page.

    The comparison runs when the store holds an audio and a symbolic encoder with tracks;
    probes when ``probe_models`` names any. Their outputs go to ``out_dir/compare`` and
    ``out_dir/probes``. What was left out, and why, goes to the report's notes and to
    ``step`` (one ``note: …`` line each).
    """
    from counterpoint.analysis.analyze import analyze_store
    from counterpoint.analysis.compare import comparable_encoders, empty_encoders
    from counterpoint.analysis.inputs import require_columns, require_embeddings, require_whole
    from counterpoint.store import Store

    require_whole("seed", seed, 0)
    require_whole("probe seeds", probe_seeds, 1)
    if depth is not None:
        require_whole("depth", depth, 0)
    announce = step or (lambda text: None)
    out = Path(out_dir)
    store = Store(store_path)
    require_embeddings(store)
    require_columns(store, label, group)
    sections, notes, comparison, probes = [], [], None, None
    if compare:
        try:
            comparable_encoders(store)
        except StoreError as reason:
            notes.append(f"no audio × symbolic comparison: {str(reason).removeprefix(f'{store.path}: ')}")
        else:
            from counterpoint.analysis.compare import run_compare
            from counterpoint.report.compare_figures import compare_html_section

            announce("comparing audio and symbolic spaces (alignment, retrieval, label quality)")
            comparison = run_compare(store_path, label, out / "compare", group=group, seed=seed)
            sections.append(compare_html_section(comparison, image_prefix="compare/"))
            notes += [f"comparison: {note}" for note in comparison.notes if "z-scored" not in note]
    if probe_models:
        from counterpoint.probes.run import probe_html_section, probe_table

        announce(f"training probes ({', '.join(probe_models)}; {probe_seeds} seeds)")
        with_tracks = [spec for spec in store.encoder_specs if spec not in empty_encoders(store)]
        probes = probe_table(store_path, label, models=list(probe_models), seeds=probe_seeds, out_dir=out / "probes",
                             encoders=with_tracks, group=group, label_depth=depth,
                             progress=lambda text: announce(f"  {text}"))
        sections.append(probe_html_section(probes))
        notes += [f"probe {row.encoder} · {row.model}: {row.error}" for row in probes.itertuples() if row.error]
    announce("analysing every embedding space")
    analysis = analyze_store(store_path, label, out, depth=depth, group=group, seed=seed, sections=sections,
                             progress=lambda spec: announce(f"  {spec}"), notes=notes)
    for note in analysis.notes:
        announce(f"note: {note}")
    return ReportResult(analysis.report, analysis, comparison, probes)


#: File in the report folder recording what the report was computed from (see :func:`report_stamp`).
STAMP_FILE = "report_stamp.json"


def store_digest(store_path: str | Path) -> str:
    """SHA-256 of what the analysis reads from a store: the track table, the failures, and per
    encoder its spec, fingerprint, frame count, track ids and pooled vectors.

    The ``updated`` time that every embed run writes is left out, so a rerun that embedded
    nothing new leaves the digest as it was.
    """
    import hashlib

    import numpy as np

    from counterpoint.store import Store

    store = Store(store_path)
    digest = hashlib.sha256()
    digest.update(store.tracks().to_csv(index=False).encode())
    digest.update(store.failures().to_csv(index=False).encode())
    for record in store.encoders:
        digest.update(json.dumps({"spec": record.spec, "modality": record.modality, "fingerprint": record.fingerprint,
                                  "n_frames": record.n_frames, "feature_names": record.feature_names},
                                 sort_keys=True).encode())
        matrix = store.pooled(record.spec)
        digest.update("\n".join(matrix.obs["id"].astype(str)).encode())
        digest.update(np.ascontiguousarray(matrix.X, dtype=np.float32).tobytes())
    return digest.hexdigest()


def report_stamp(options: RunOptions) -> dict[str, Any]:
    """What a run's report is computed from: the store's content, the analysis options, the version."""
    from counterpoint import __version__

    analysis = {name: getattr(options, name) for name in ("label", "depth", "group", "seed", "compare",
                                                          "probe_models", "probe_seeds")}
    return {"counterpoint": __version__, "store": store_digest(options.store_path), "options": analysis}


def _read_stamp(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class PipelineResult:
    store: Path
    report: Path
    embed: Any  # EmbedReport
    analysis: ReportResult | None  # None when the report was up to date and left as it was


def run_pipeline(options: RunOptions, embed_progress=None, step=None) -> PipelineResult:
    """Embed ``options.dataset`` into ``out/embeddings.h5`` and write ``out/report/index.html``.

    ``embed_progress`` is the embedding progress callback; ``step(text)`` announces each stage.
    The report is left as it is when the store's content, the analysis options and the
    Counterpoint version are those it was written from (``report/report_stamp.json``).
    """
    from counterpoint.data.manifest import load_manifest
    from counterpoint.embed import embed_dataset

    if not options.dataset:
        raise CounterpointError("no dataset given — pass --dataset ROOT (or dataset = \"ROOT\" in the params file)")
    options.check()
    announce = step or (lambda text: None)
    Path(options.out).mkdir(parents=True, exist_ok=True)
    announce(f"embedding {options.dataset} with {options.encoders}")
    manifest = load_manifest(options.dataset, strict_paths=options.strict_paths)
    embedded = embed_dataset(manifest, options.store_path, options.encoders,
                             batch_size=options.batch_size or None, progress=embed_progress,
                             engine=options.engine, ray_address=options.ray_address or None)
    stamp, stamp_path = report_stamp(options), options.report_dir / STAMP_FILE
    index = options.report_dir / "index.html"
    if index.is_file() and _read_stamp(stamp_path) == stamp:
        announce(f"report up to date: {index} (the store and the analysis options are those it was written from)")
        return PipelineResult(options.store_path, index, embedded, None)
    stamp_path.unlink(missing_ok=True)  # an interrupted analysis must not leave a stamp of the old report
    models = [m.strip() for m in options.probe_models.split(",") if m.strip()]
    report = analyze_everything(options.store_path, options.label, options.report_dir, depth=options.depth or None,
                                group=options.group or None, seed=options.seed, compare=options.compare,
                                probe_models=models, probe_seeds=options.probe_seeds, step=step)
    stamp_path.write_text(json.dumps(stamp, indent=2), encoding="utf-8")
    return PipelineResult(options.store_path, report.report, embedded, report)
