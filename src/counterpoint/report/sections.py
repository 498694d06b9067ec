"""The registry of the report's sections: the pipeline runs them, the page shows them, the terminal prints them.

A :class:`Section` declares, once, everything the report does with one analysis: how the pipeline
computes its result from a store and the analysis settings (``run``), where it goes on the page and
what it writes (``order``, ``write``), and what the terminal prints of it (``summary``).
:func:`register_section` adds one; :func:`counterpoint.pipeline.analyze_everything` runs every
registered section in order, :func:`counterpoint.report.build.build_report` writes each whose result
is there, and the command line prints their summaries. Adding an analysis to the report is its
module and one ``register_section`` call.

Built-in sections register where they are drawn (:mod:`counterpoint.report.build`,
:mod:`~counterpoint.report.verdict`, :mod:`~counterpoint.report.compare`, :mod:`~counterpoint.report.layers`,
:mod:`~counterpoint.report.time_aligned`, :mod:`~counterpoint.report.probes`, :mod:`~counterpoint.report.factors`,
:mod:`~counterpoint.report.equivariance`, :mod:`~counterpoint.report.distances`,
:mod:`~counterpoint.report.untrained`);
:func:`sections` imports them all first.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from counterpoint.warping import TimePairing
    from counterpoint.config import AnalysisSettings
    from counterpoint.matrix import EmbeddingMatrix
    from counterpoint.store import Store


@dataclass
class SectionInputs:
    """What a section's ``run`` reads: the store (already filtered), the analysis settings, the pooled
    matrices read once for every section, the results of the sections run before it (by name), and
    where it says what it left out (``notes``, shown on the page) and what it is doing (``announce``);
    ``time_pairing`` pairs audio with score time for the time-aligned section (None: that section is a note)."""

    store: "Store"
    options: "AnalysisSettings"
    matrices: Mapping[str, "EmbeddingMatrix"]
    results: dict[str, Any]
    notes: list[str]
    announce: Callable[[str], None]
    time_pairing: "TimePairing | None" = None   # the dataset stage's pairing of tracks in time (time-aligned section)

    def note_failure(self, what: str, reason: Exception) -> None:
        """A section that could not run on this store: one note, ``no WHAT: REASON``, the store's path left out."""
        self.notes.append(f"no {what}: {str(reason).removeprefix(f'{self.store.path}: ')}")


@dataclass
class ReportPage:
    """What a section's ``write`` writes into: the report folder (``out_dir``, the page's own folder), the
    figure formats, every section's result by name, every note of the page, the class colours, what the
    per-space section shares with the others (``figures``: space → figure name → file; ``payload``: the
    data of the page's scripts) and which probe weight files to keep (:data:`~counterpoint.config.PROBE_WEIGHTS`)."""

    out_dir: Path
    formats: Sequence[str]
    results: Mapping[str, Any]
    notes: list[str]
    colours: dict[str, str] = field(default_factory=dict)
    figures: dict[str, dict[str, Path]] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    probe_weights: str = "first"


@dataclass(frozen=True)
class Section:
    """One section of the report (see the module's docstring).

    ``name``: the key of its result (``results[name]``); ``order``: its place on the page (ascending);
    ``write(result, page)``: writes its files under ``page.out_dir`` and returns its HTML ("" for nothing);
    ``uses``: the result it shows, when another section computes it (the verdicts show ``comparison``),
    None for a section of the page itself (the notes), which is always written; ``run(inputs)``: computes
    its result in the pipeline (None: nothing to show, with a note in ``inputs.notes`` saying why when the
    reason is the store's), None for a section that only shows another's result; ``summary(result)``: what
    the terminal prints of it, None for nothing.
    """

    name: str
    order: float
    write: Callable[[Any, ReportPage], str]
    uses: str | None = ""
    run: Callable[[SectionInputs], Any] | None = None
    summary: Callable[[Any], str] | None = None

    @property
    def reads(self) -> str | None:
        """The name of the result it shows (its own unless ``uses`` names another), None for the page's own."""
        return self.name if self.uses == "" else self.uses


_REGISTRY: dict[str, Section] = {}

#: The modules whose sections are built in (each registers its own when imported).
BUILT_IN = ("counterpoint.report.build", "counterpoint.report.verdict", "counterpoint.report.compare",
            "counterpoint.report.layers", "counterpoint.report.time_aligned", "counterpoint.report.probes",
            "counterpoint.report.factors", "counterpoint.report.equivariance", "counterpoint.report.distances",
            "counterpoint.report.untrained")


def register_section(section: Section) -> Section:
    """Add ``section`` to the report (replacing one of the same name); returns it."""
    _REGISTRY[section.name] = section
    return section


def unregister_section(name: str) -> None:
    """Take the section ``name`` out of the report (a plugin's, say); nothing when there is none."""
    _REGISTRY.pop(name, None)


def sections() -> list[Section]:
    """Every registered section, built-in ones included, in page order."""
    for module in BUILT_IN:
        importlib.import_module(module)
    return sorted(_REGISTRY.values(), key=lambda section: section.order)


def run_sections(inputs: SectionInputs) -> dict[str, Any]:
    """Run every section that computes a result, in page order, each seeing the results before it;
    returns ``inputs.results`` with theirs (a section that returns None or fails adds nothing)."""
    for section in sections():
        if section.run is None or section.name in inputs.results:
            continue
        result = section.run(inputs)
        if result is not None:
            inputs.results[section.name] = result
    return inputs.results


def write_sections(page: ReportPage) -> list[str]:
    """Every section's HTML in page order: those whose result is in ``page.results``, and the page's own."""
    parts = []
    for section in sections():
        if section.reads is None:
            parts.append(section.write(None, page))
        elif page.results.get(section.reads) is not None:
            parts.append(section.write(page.results[section.reads], page))
    return [part for part in parts if part]


def summaries(results: Mapping[str, Any]) -> list[str]:
    """What the terminal prints of every result, in page order (the sections that declare a summary)."""
    return [text for section in sections() if section.summary is not None
            and section.reads is not None and results.get(section.reads) is not None
            and (text := section.summary(results[section.reads]))]
