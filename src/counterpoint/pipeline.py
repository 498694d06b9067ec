"""The main job, files to report: embed a dataset, analyse every space, write the report.

Used by ``counterpoint run`` (any dataset, flags or a params/TOML file), ``counterpoint demo``
(the built-in corpus) and ``counterpoint analyze`` (a store). Options of a run are a plain
dataclass (:class:`~counterpoint.config.RunSettings`) so a file of ``--flag value`` lines and a
TOML table map onto the same fields. The stages run in the order the data flows: every
matrix is read once, the per-space analysis, the comparison and the probes compute, and
:func:`counterpoint.report.build.build_report` writes last.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable

from counterpoint.config import AnalysisSettings, RunSettings
from counterpoint.errors import CounterpointError, DatasetError

if TYPE_CHECKING:
    from counterpoint.data.manifest import Manifest, Problem
    from counterpoint.analysis.factors import FactorsResult
    from counterpoint.config import FactorSettings
    from counterpoint.store import Store
    from counterpoint.progress import ProgressCallback


@dataclass
class ReportResult:
    """A written report and what it was written from."""

    report: Path                      # its index.html
    analysis: Any                     # AnalysisResult
    comparison: Any | None            # CompareResult, when the store holds both modalities
    probes: Any | None                # ProbeTable, when probe models were asked for
    notes: list[str]                  # every note of the page
    results: dict[str, Any] = field(default_factory=dict)   # every section's result, by name

    @property
    def summary(self) -> str:
        """What the terminal prints of the report: every section's summary, in page order."""
        from counterpoint.report.sections import summaries

        return "\n\n".join(summaries(self.results))


def analyze_everything(store_path: "str | Path | Store", options: AnalysisSettings, out_dir: str | Path, *,
                       step: Callable[[str], None] | None = None, dataset_notes: Sequence[str] = ()) -> ReportResult:
    """Every registered section of the report (:mod:`counterpoint.report.sections`: per-space analysis,
    cross-modal comparison, layer maps, time-aligned comparison, probes, a plugin's) run on a store, in one
    report folder.

    The comparison runs when the store holds an audio and a symbolic encoder with tracks;
    probes when ``options.probe_models`` names any. Every section reads the same labels (cut
    to ``options.depth``) and groups. What was left out, and why, goes to the report's notes
    and to ``step`` (one ``note: …`` line each), after ``dataset_notes`` (what the dataset's
    check warned of, see :func:`dataset_notes_of`).
    """
    from counterpoint.analysis.inputs import require_columns, require_embeddings
    from counterpoint.data.time_pairing import store_time_pairing
    from counterpoint.report.build import build_report, report_notes
    from counterpoint.report.plotly_bundle import full_bundle_note
    from counterpoint.report.sections import SectionInputs, run_sections
    from counterpoint.store import as_store

    announce = step or (lambda text: None)
    store = as_store(store_path)  # a Store may come filtered (Store.where)
    require_embeddings(store)
    require_columns(store, options.label, options.group)
    matrices = {record.spec: store.pooled(record.spec) for record in store.encoders_with_tracks()}
    inputs = SectionInputs(store, options, matrices, {}, list(dataset_notes), announce,
                           time_pairing=store_time_pairing(store.path))
    results = run_sections(inputs)
    analysis, comparison, probes = results["analysis"], results.get("comparison"), results.get("probes")
    announce("writing the report")
    index = build_report(analysis, comparison, probes, out_dir=out_dir, notes=inputs.notes,
                         figure_formats=options.figure_formats, results=results, probe_weights=options.probe_weights)
    every_note = report_notes(analysis, comparison, probes, notes=inputs.notes)
    for note in every_note:
        announce(f"note: {note}")
    if (bundle_note := full_bundle_note()) is not None:
        announce(f"note: {bundle_note}")
    return ReportResult(index, analysis, comparison, probes, every_note, results)


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
    for record in store.all_encoders:  # every stored layer too
        digest.update(json.dumps({"spec": record.spec, "modality": record.modality, "fingerprint": record.fingerprint,
                                  "n_frames": record.n_frames, "feature_names": record.feature_names},
                                 sort_keys=True).encode())
        matrix = store.pooled(record.spec)
        digest.update("\n".join(matrix.obs["id"].astype(str)).encode())
        digest.update(np.ascontiguousarray(matrix.X, dtype=np.float32).tobytes())
    return digest.hexdigest()


def report_stamp(options: RunSettings) -> dict[str, Any]:
    """What a run's report is computed from: the store's content, the analysis options, the version."""
    from counterpoint import __version__

    analysis = {name: getattr(options, name) for name in ("label", "depth", "group", "seed", "compare",
                                                          "probe_models", "probe_seeds", "probe_weights", "figure_format",
                                                          "aligned")}
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


def require_manifest_columns(manifest: "Manifest", label: str, group: str | None = None) -> None:
    """Raise a :class:`DatasetError` listing the manifest's columns when the ``label`` or ``group`` column the
    analysis will read is not one of them, so a run stops before it embeds anything."""
    from counterpoint.matrix import PATH_COLUMNS

    columns = [c for c in manifest.to_frame().columns if c not in PATH_COLUMNS]
    for option, column in (("label", label), ("group", group)):
        if column is not None and column not in columns:
            default = (" (the default label, which only class-folder datasets have)"
                       if option == "label" and column == RunSettings.label else "")
            raise DatasetError(f"{manifest.root}: no {option} column {column!r}{default} in its {manifest.layout} "
                               f"(it has: {', '.join(columns)}) — pass one of those as --{option}")


#: File in a run's output folder listing every warning of the dataset check (see :func:`dataset_notes_of`).
WARNINGS_FILE = "dataset_warnings.csv"
#: How many of a dataset's warnings a run prints and the report shows one by one.
WARNINGS_SHOWN = 5


def dataset_notes_of(warnings: "Sequence[Problem]", csv_path: Path) -> list[str]:
    """The report's notes for a dataset's warnings: a count, the first :data:`WARNINGS_SHOWN`, and where
    all of them are (``csv_path``, written here: track_id, path, problem, fix); none without warnings."""
    import pandas as pd

    if not warnings:
        csv_path.unlink(missing_ok=True)
        return []
    pd.DataFrame([vars(w) for w in warnings], columns=["track_id", "path", "problem", "fix"]).to_csv(csv_path, index=False)
    notes = [f"dataset check: {len(warnings)} warning(s), listed in {csv_path}"]
    notes += [f"dataset check: {w}" for w in warnings[:WARNINGS_SHOWN]]
    if len(warnings) > WARNINGS_SHOWN:
        notes.append(f"dataset check: … {len(warnings) - WARNINGS_SHOWN} more in {csv_path}")
    return notes


def run_pipeline(options: RunSettings, *, embed_progress: ProgressCallback | None = None,
                 step: Callable[[str], None] | None = None) -> PipelineResult:
    """Embed ``options.dataset`` into ``out/embeddings.h5`` and write ``out/report/index.html``.

    ``embed_progress`` is the embedding progress callback; ``step(text)`` announces each stage.
    Before any embedding, the label and group columns are checked against the manifest and the
    dataset check's warnings (durations, leaking splits; :func:`~counterpoint.data.validation.dataset_warnings`)
    are announced, written to ``out/dataset_warnings.csv`` and carried into the report's notes.
    The report is left as it is when the store's content, the analysis options and the
    Counterpoint version are those it was written from (``report/report_stamp.json``).
    """
    from counterpoint.data.manifest import load_manifest
    from counterpoint.data.validation import dataset_warnings
    from counterpoint.embed import embed_dataset
    from counterpoint.engines import check_engine

    if not options.dataset:
        raise CounterpointError("no dataset given — give the dataset folder as ROOT or --dataset ROOT (or dataset = \"ROOT\" in the params file)")
    check_engine(options.engine, options.ray_address)
    analysis_options = options.analysis()
    announce = step or (lambda text: None)
    manifest = load_manifest(options.dataset, strict_paths=options.strict_paths, csv=options.csv or None,
                             id_column=options.id_column or None, id_from=options.id_from or None)
    require_manifest_columns(manifest, analysis_options.label, analysis_options.group)
    Path(options.out).mkdir(parents=True, exist_ok=True)
    notes = dataset_notes_of(dataset_warnings(manifest), Path(options.out) / WARNINGS_FILE)
    for note in notes:
        announce(f"note: {note}")
    announce(f"embedding {options.dataset} with {options.encoders}")
    embedded = embed_dataset(manifest, options.store_path, options.encoders,
                             batch_size=options.batch_size or None, progress=embed_progress,
                             engine=options.engine, ray_address=options.ray_address or None)
    stamp, stamp_path = report_stamp(options), options.report_dir / STAMP_FILE
    index = options.report_dir / "index.html"
    if index.is_file() and _read_stamp(stamp_path) == stamp:
        announce(f"report up to date: {index} (the store and the analysis options are those it was written from)")
        return PipelineResult(options.store_path, index, embedded, None)
    stamp_path.unlink(missing_ok=True)  # an interrupted analysis must not leave a stamp of the old report
    report = analyze_everything(options.store_path, analysis_options, options.report_dir, step=step, dataset_notes=notes)
    stamp_path.write_text(json.dumps(stamp, indent=2), encoding="utf-8")
    return PipelineResult(options.store_path, report.report, embedded, report)


def run_factors_with_quality(store_or_path: "Store | str | Path", settings: "FactorSettings") -> "FactorsResult":
    """``counterpoint factors``: :func:`~counterpoint.analysis.factors.run_factors` given each transcribed track's
    note F-measure against its ground truth, read from the MIDI files under the store's dataset roots
    (:func:`~counterpoint.data.transcription_quality.transcription_quality`; a file that cannot be scored is a note)."""
    from counterpoint.analysis.factors import run_factors
    from counterpoint.data.transcription_quality import transcription_quality
    from counterpoint.store import as_store

    store = as_store(store_or_path)
    quality, notes = transcription_quality(store.tracks(), store.roots, piece=settings.piece)
    result = run_factors(store, settings, quality=quality)
    result.notes.extend(f"transcription F-measure: {note}" for note in notes)
    return result


def run_factors_demo(out: str | Path, encoders: str, *, pieces_per_style: int = 7, seed: int = 0,
                     embed_progress: ProgressCallback | None = None, step: Callable[[str], None] | None = None) -> Path:
    """``counterpoint demo OUT --factors``: the designed corpus of the demo pieces (two SoundFonts,
    basic-pitch transcriptions; :func:`~counterpoint.data.demo.build_factors_corpus`) in
    ``OUT/factors/``, embedded with ``encoders`` into ``OUT/factors/embeddings.h5``, and its factors
    report (``OUT/factors/report/index.html``, whose path is returned). The demo corpus must be in
    ``OUT/corpus``. Every step resumes."""
    from counterpoint.config import FactorSettings
    from counterpoint.data.demo import build_factors_corpus
    from counterpoint.embed import embed_dataset
    from counterpoint.report.factors import write_factors_report

    announce = step or (lambda text: None)
    folder = Path(out) / "factors"
    announce(f"building the designed corpus in {folder} ({pieces_per_style} pieces per style)")
    corpus, failures = build_factors_corpus(Path(out) / "corpus", folder, pieces_per_style=pieces_per_style, seed=seed, progress=embed_progress)
    for failure in failures:
        announce(f"note: {failure.track_id} left out — {failure.error}")
    announce(f"embedding {corpus} with {encoders}")
    store = folder / "embeddings.h5"
    embed_dataset(corpus, store, encoders, progress=embed_progress)
    announce("measuring piece, rendering and transcription")
    result = run_factors_with_quality(store, FactorSettings(label="style", seed=seed))
    for note in result.notes:
        announce(f"note: {note}")
    return write_factors_report(result, folder / "report")


#: Encoders of ``counterpoint demo --equivariance``: the two descriptors and musicnn's penultimate layer.
EQUIVARIANCE_DEMO_ENCODERS = "audio-stats,musicnn:layer=penultimate,symbolic-stats"


def run_equivariance_demo(out: str | Path, encoders: str = EQUIVARIANCE_DEMO_ENCODERS, *, pieces: int = 8,
                          seed: int = 0, embed_progress: ProgressCallback | None = None,
                          step: Callable[[str], None] | None = None) -> Path:
    """``counterpoint demo OUT --equivariance``: ``pieces`` demo pieces (a seeded choice from ``OUT/corpus``)
    transposed and tempo-changed (:func:`~counterpoint.data.transforms.transform_dataset`, its default
    amounts) into ``OUT/equivariance/corpus``, embedded with ``encoders`` into
    ``OUT/equivariance/embeddings.h5``, and their equivariance report
    (``OUT/equivariance/report/index.html``, whose path is returned). Every step resumes."""
    from counterpoint.analysis.equivariance import run_equivariance
    from counterpoint.config import EquivarianceSettings
    from counterpoint.data.transforms import transform_dataset
    from counterpoint.embed import embed_dataset
    from counterpoint.report.equivariance import write_equivariance_report

    announce = step or (lambda text: None)
    folder = Path(out) / "equivariance"
    announce(f"transposing and changing the tempo of {pieces} demo pieces into {folder / 'corpus'}")
    made = transform_dataset(Path(out) / "corpus", folder / "corpus", pieces=pieces, seed=seed, progress=embed_progress)
    for text in made.skipped:
        announce(f"note: {text}")
    for failure in made.failures:
        announce(f"note: {failure.track_id} left out — {failure.error}")
    announce(f"embedding {made.root} with {encoders}")
    store = folder / "embeddings.h5"
    embed_dataset(made.root, store, encoders, progress=embed_progress)
    announce("measuring how each encoder moves under transposition and tempo change")
    result = run_equivariance(store, EquivarianceSettings(seed=seed))
    for note in result.notes:
        announce(f"note: {note}")
    return write_equivariance_report(result, folder / "report")
