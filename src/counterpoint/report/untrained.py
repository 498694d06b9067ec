"""The untrained control (:mod:`counterpoint.analysis.untrained`) written out: ``untrained_control.csv``,
``untrained_control.json`` and the report's ``untrained`` section, which runs after the comparison whenever a
compared encoder has an untrained twin in the store (``init=random``)."""

from __future__ import annotations

from pathlib import Path

from counterpoint.analysis.untrained import P_VALUE_FAMILY, UntrainedControlResult, control_sentences
from counterpoint.errors import CounterpointError
from counterpoint.report.files import write_json
from counterpoint.report.html import escape, table_html
from counterpoint.report.sections import ReportPage, Section, SectionInputs, register_section

#: The folder of the section's files inside a report.
FOLDER = "untrained"
SHOWN = ["audio", "symbolic", "untrained", "figure", "value_trained", "value_untrained", "value", "ci_low", "ci_high",
         "p_value", "p_holm", "p_bh", "n"]


def write_untrained(result: UntrainedControlResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``untrained_control.csv`` and ``untrained_control.json`` into ``out_dir``; returns {name: path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"table": out / "untrained_control.csv", "json": out / "untrained_control.json"}
    result.control.to_csv(files["table"], index=False)
    write_json(files["json"], {**result.as_dict(), "twins": result.twins, "p_value_family": P_VALUE_FAMILY})
    return files


def untrained_terminal_text(result: UntrainedControlResult) -> str:
    """What the terminal prints: one sentence per pair and replaced encoder."""
    return "\n".join(["Untrained control (trained minus the same architecture with random weights):",
                      *(f"  {sentence}" for sentence in control_sentences(result))])


def untrained_html(result: UntrainedControlResult) -> str:
    """The section: why the control, one sentence per pair, the table, the family of its corrections."""
    sentences = "".join(f"<li>{escape(sentence)}</li>" for sentence in control_sentences(result))
    notes = "".join(f'<p class="note">{escape(note)}</p>' for note in result.notes)
    return f"""<section id="untrained"><h2>Calibration: trained versus untrained networks</h2>
<p class="note">Similarity between two spaces grows with a network's depth and width whatever its weights learnt, so
each figure of a trained encoder is set beside the same figure of its <b>untrained twin</b>: the same architecture
and input pipeline with seeded random weights (the spec plus <code>init=random</code>), on the same tracks.
<b>trained − untrained</b> is what training added. Intervals: 95 %, from the same resamples for both encoders
(random halves of the tracks for debiased CKA, bootstrap resamples of the tracks or held-out queries for mutual kNN,
Recall@1 and MRR); p-values: one-sided bootstrap test that trained − untrained is at most 0. p_holm (Holm) and p_bh
(Benjamini–Hochberg) are adjusted over {escape(P_VALUE_FAMILY)}.</p>
<ul>{sentences}</ul>
{table_html(result.control.reindex(columns=SHOWN), caption="Trained versus untrained twin, per pair and figure")}
{notes}</section>"""


def _run_untrained(inputs: SectionInputs) -> UntrainedControlResult | None:
    """The control of the report's comparison, when a compared encoder has an untrained twin in the store."""
    from counterpoint.analysis.untrained import run_untrained_control

    comparison = inputs.results.get("comparison")
    if comparison is None or not comparison.pairs or not inputs.store.untrained_controls():
        return None
    inputs.announce("calibrating against the untrained twins (init=random)")
    try:
        return run_untrained_control(comparison, inputs.store, matrices=inputs.matrices)
    except CounterpointError as reason:  # e.g. too few tracks shared with a twin for the held-out retrieval
        inputs.note_failure("untrained control", reason)
        return None


def _untrained_section(result: UntrainedControlResult, page: ReportPage) -> str:
    write_untrained(result, page.out_dir / FOLDER)
    return untrained_html(result)


register_section(Section("untrained", 55, run=_run_untrained, write=_untrained_section,
                         summary=untrained_terminal_text))
