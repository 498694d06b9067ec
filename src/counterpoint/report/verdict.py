"""The answer first: the label's two verdicts, then the track-by-track one, as sentences and compact tables.

* (a) *Does each modality know the label?* One sentence per encoder from the label-knowledge table
  (:mod:`counterpoint.analysis.label_knowledge`).
* (b) *Do the two modalities organise the label the same way?* One sentence per audio × symbolic pair
  from the label-structure table (:mod:`counterpoint.analysis.label_structure`).
* (c) *Do they agree track by track?* One sentence per pair from the headline figures
  (:func:`counterpoint.analysis.compare.verdict_table`).

Every sentence follows mechanically from its table: each figure gets its verdict from the one rule,
:func:`counterpoint.significance.verdict_of` (stated in :data:`~counterpoint.significance.VERDICT_RULE`),
and a sentence only gathers the figures by verdict. The same text goes to the page and the terminal.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from counterpoint.analysis.compare import P_VALUE_FAMILIES
from counterpoint.ranges import MEASURES, base_name, measure_title
from counterpoint.report.html import escape, format_number, format_value, sortable_table, table_html
from counterpoint.report.scatter import playable_tracks
from counterpoint.report.sections import ReportPage, Section, register_section
from counterpoint.significance import (ABOVE_CHANCE, CANNOT_TELL, NOT_COMPUTED, TOUCHES_CHANCE, VERDICT_RULE,
                                       verdict_of)

if TYPE_CHECKING:
    from counterpoint.analysis.compare import CompareResult



def figure_name(row: pd.Series) -> str:
    """A figure as a reader names it: ``Recall@1 audio→symbolic (ridge)``, ``mutual-kNN@10``, ``label transfer
    symbolic→audio``."""
    name = measure_title(row.measure)
    if row.measure == "label_transfer":
        return f"{name} {row.direction}"
    return f"{name} {row.direction} ({row.method})" if row.method else name


def _finite(value: object) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return value


def reference_level(row: pd.Series) -> float:
    """What the figure is compared with: its chance level, else the mean of its null distribution."""
    chance = _finite(row.chance)
    return chance if math.isfinite(chance) else _finite(row.null_mean)


def row_verdict(row: pd.Series, value_column: str = "value") -> str:
    """The verdict of one table row under the one rule (:func:`counterpoint.significance.verdict_of`)."""
    if not math.isfinite(_finite(row[value_column])):
        return NOT_COMPUTED
    return verdict_of(_finite(row.p_holm), _finite(row.ci_low), reference_level(row))


def p_text(p: float | None) -> str:
    """A p-value for reading: two significant digits (0.0005, not 0.001), — when there is none."""
    return "—" if p is None or not math.isfinite(_finite(p)) else f"{float(p):.2g}"


def _number(value: float) -> str:
    return format_number(_finite(value), 2)


def figure_phrase(row: pd.Series, name: str, value_column: str = "value") -> str:
    """``name 0.72 [0.60, 0.83] vs chance 0.25 (p 0.001)``: p Holm-adjusted; "null mean" where there is no chance."""
    against = "chance" if math.isfinite(_finite(row.chance)) else "null mean"
    return (f"{name} {_number(row[value_column])} [{_number(row.ci_low)}, {_number(row.ci_high)}] vs {against} "
            f"{_number(reference_level(row))} (p {p_text(row.p_holm)})")


# --------------------------------------------------------------------------------------
# (a) per encoder


def knowledge_sentence(row: pd.Series, label: str) -> str:
    """Verdict (a) of one encoder: ``audio-stats knows tune_type: accuracy 0.72 [0.60, 0.83] vs chance 0.25 (p 0.001)``."""
    if isinstance(row.get("error"), str) and row.error:
        return f"{row.encoder}: no probe accuracy of {label} — {row.error}"
    verdict = row_verdict(row, "accuracy")
    figure = figure_phrase(row, "accuracy", "accuracy")
    if verdict == ABOVE_CHANCE:
        return f"{row.encoder} knows {label}: {figure}."
    if verdict == TOUCHES_CHANCE:
        return f"{row.encoder} knows {label} above chance, but the interval touches chance: {figure}."
    if verdict == CANNOT_TELL:
        return f"{row.encoder}'s knowledge of {label} cannot be told from chance: {figure}."
    return f"{row.encoder}: probe accuracy of {label} not computed."


# --------------------------------------------------------------------------------------
# (b) and (c) per pair


def pair_sentence(audio: str, symbolic: str, rows: pd.DataFrame, *, claim: str) -> str:
    """The sentence of one pair from its figures' verdicts: the two ``claim`` (e.g. "organise style the same
    way") when all are above chance, "partly" when some are, "no evidence that" they do when none is; the
    figures whose interval touches chance and those that cannot be told from chance are named apart."""
    verdicts = {verdict: [] for verdict in (ABOVE_CHANCE, TOUCHES_CHANCE, CANNOT_TELL, NOT_COMPUTED)}
    for _, row in rows.iterrows():
        verdicts[row_verdict(row)].append(figure_phrase(row, figure_name(row)))
    tested = len(rows) - len(verdicts[NOT_COMPUTED])
    above, touching, cannot = verdicts[ABOVE_CHANCE], verdicts[TOUCHES_CHANCE], verdicts[CANNOT_TELL]
    details = []
    if touching:
        details.append(f"{TOUCHES_CHANCE}: {'; '.join(touching)}")
    if cannot:
        details.append(f"{CANNOT_TELL}: {'; '.join(cannot)}")
    rest = f" — {'. '.join(details)}" if details else ""
    if tested and len(above) == tested:
        return f"{audio} and {symbolic} {claim}: all {tested} figures are {ABOVE_CHANCE} ({'; '.join(above)})."
    if above:
        return f"{audio} and {symbolic} {claim} partly: {len(above)} of {tested} figures are {ABOVE_CHANCE} " \
               f"({'; '.join(above)}){rest}."
    if not tested:
        return f"{audio} × {symbolic}: no figure could be computed."
    return f"No evidence that {audio} and {symbolic} {claim}: none of the {tested} figures is {ABOVE_CHANCE}{rest}."


#: What verdicts (b) and (c) claim of a pair (``{label}``: the label column).
STRUCTURE_CLAIM = "organise {label} the same way"
TRACK_CLAIM = "agree track by track"


def pair_sentences(table: pd.DataFrame, claim: str, label: str = "") -> list[str]:
    """One sentence per pair of a long table (columns audio, symbolic, and the figure columns)."""
    return [pair_sentence(audio, symbolic, part, claim=claim.format(label=label))
            for (audio, symbolic), part in table.groupby(["audio", "symbolic"], sort=False)]


# --------------------------------------------------------------------------------------
# Tables and the page's sections


def _dims_text(dims: dict[tuple[str, str], tuple[int, int]], audio: str, symbolic: str) -> str:
    shape = dims.get((audio, symbolic))
    return f"{shape[0]} × {shape[1]}" if shape else "—"


def compact_table(table: pd.DataFrame, dims: dict[tuple[str, str], tuple[int, int]] | None = None) -> pd.DataFrame:
    """The figures of (b) or (c) as the page and the terminal show them: pair, figure, value, interval, chance
    (or null mean), Holm- and BH-adjusted p, verdict, n and the two spaces' dimensions."""
    dims = dims or {}
    return pd.DataFrame([{"pair": f"{r.audio} × {r.symbolic}", "figure": figure_name(r), "value": r.value,
                          "95 % CI": f"[{format_value(r.ci_low)}, {format_value(r.ci_high)}]",
                          "chance / null": reference_level(r), "p (Holm)": p_text(r.p_holm), "p (BH)": p_text(r.p_bh),
                          "verdict": row_verdict(r), "n": int(r.n) if math.isfinite(_finite(r.n)) else 0,
                          "dims (audio × symbolic)": _dims_text(dims, r.audio, r.symbolic)}
                         for _, r in table.iterrows()])


def knowledge_table(table: pd.DataFrame) -> pd.DataFrame:
    """Verdict (a)'s compact table: encoder, accuracy, interval, chance, p (Holm), verdict, n, classes, dims."""
    return pd.DataFrame([{"encoder": r.encoder, "modality": r.modality, "accuracy": r.accuracy,
                          "95 % CI": f"[{format_value(r.ci_low)}, {format_value(r.ci_high)}]", "chance": r.chance,
                          "p (Holm)": p_text(r.p_holm), "verdict": row_verdict(r, "accuracy") if not r.error else r.error,
                          "n": r.n, "classes": r.n_classes, "dims": r.dim} for _, r in table.iterrows()])


def knowledge_section(table: pd.DataFrame, label: str) -> str:
    """Verdict (a) on the page: one sentence per encoder, its compact table, the protocol each used."""
    sentences = "".join(f'<p class="answer">{escape(knowledge_sentence(r, label))}</p>' for _, r in table.iterrows())
    protocols = sorted({str(p) for p in table.get("protocol", pd.Series(dtype=object)).dropna() if str(p)})
    return (f'<section class="verdict" id="verdict-a"><h2>(a) Does each modality know {escape(label)}?</h2>{sentences}'
            f"{table_html(knowledge_table(table), caption='Probe accuracy of each encoder')}"
            "<p class=\"note\">Probe accuracy of the one protocol: "
            f"{escape('; '.join(protocols) or '—')}. p: label-permutation null, Holm-adjusted over the encoders.</p>"
            "</section>")


def structure_section(table: pd.DataFrame, label: str, dims: dict[tuple[str, str], tuple[int, int]] | None = None) -> str:
    """Verdict (b) on the page: one sentence per pair, then its figures."""
    sentences = "".join(f'<p class="answer">{escape(s)}</p>' for s in pair_sentences(table, STRUCTURE_CLAIM, label))
    return (f'<section class="verdict" id="verdict-b"><h2>(b) Do audio and score organise {escape(label)} the same '
            f"way?</h2>{sentences}"
            f"{table_html(compact_table(table, dims), caption='Label-structure figures of each pair')}"
            f'<p class="note">{escape(measures_prose(table))} '
            f"{escape(family_sentence(P_VALUE_FAMILIES['label_structure']))}</p></section>")


def verdict_section(table: pd.DataFrame, dims: dict[tuple[str, str], tuple[int, int]] | None = None) -> str:
    """Verdict (c) on the page: one sentence per pair from the headline figures, then the figures."""
    sentences = "".join(f'<p class="answer">{escape(s)}</p>' for s in pair_sentences(table, TRACK_CLAIM))
    return (f'<section class="verdict" id="verdict"><h2>(c) Do they agree track by track?</h2>{sentences}'
            f"{table_html(compact_table(table, dims), caption='Track-by-track figures of each pair')}"
            f"<p class=\"note\">{escape(family_sentence(P_VALUE_FAMILIES['verdict']))} "
            f"{escape(measures_prose(table))}</p></section>")


def verdicts_block(label: str, knowledge: pd.DataFrame, structure: pd.DataFrame, *, track: pd.DataFrame,
                   dims: dict[tuple[str, str], tuple[int, int]] | None = None) -> str:
    """The report's first screen: the label's question, verdicts (a) and (b), then (c), and the rule once."""
    parts = [f'<h2 class="question">Do the audio and the score carry the same information about '
             f"<b>{escape(label)}</b>?</h2>", f'<p class="note rule">{escape(VERDICT_RULE)}</p>']
    if len(knowledge):
        parts.append(knowledge_section(knowledge, label))
    if len(structure):
        parts.append(structure_section(structure, label, dims))
    if len(track):
        parts.append(verdict_section(track, dims))
    return "".join(parts)


INFLUENCE_NOTE = ("Leave-one-out: each figure recomputed without one track (debiased CKA from the Gram matrices of at "
                  "most the pairwise-subsample's tracks; centroid agreement, error agreement and confusion similarity "
                  "recomputed; label transfer without that track's held-out predictions, maps not refitted). A figure "
                  "that one track moves across chance is fragile.")


def influence_section(influence: pd.DataFrame, playable: set[str]) -> str:
    """The tracks whose removal moves each figure most, with their ids; a track with audio plays on click
    (the page's audio player, ``data-cp-track``)."""
    if influence.empty:
        return ""
    rows = []
    for _, r in influence.iterrows():
        track = escape(r.id)
        link = (f'<a href="#explore" class="cp-track-link" data-cp-track="{track}">▶ {track}</a>'
                if str(r.id) in playable else track)
        figure = measure_title(r.measure) + (f" {r.direction}" if r.direction else "")
        rows.append(f"<tr><td>{escape(r.audio)} × {escape(r.symbolic)}</td><td>{escape(figure)}</td>"
                    f"<td>{int(r['rank'])}</td><td>{link}</td><td>{format_value(r.value)}</td>"
                    f"<td>{format_value(r.value_without)}</td><td>{format_value(r.change)}</td></tr>")
    head = ("pair", "figure", "rank", "track", "value", "without the track", "change")
    return (f'<section id="influence"><h2>How robust is the answer? The tracks that move each figure most</h2>'
            f'<p class="note">{escape(INFLUENCE_NOTE)}</p>'
            f"{sortable_table(head, ''.join(rows), caption='Figures recomputed without their most influential tracks')}"
            "</section>")


def measures_prose(table: pd.DataFrame) -> str:
    """What each measure of a long table is, once per measure in table order, from its declaration
    (:func:`counterpoint.ranges.declare_measure`)."""
    names = dict.fromkeys(base_name(m) for m in table.get("measure", pd.Series(dtype=object)))
    return " ".join(MEASURES[name].prose for name in names if name in MEASURES and MEASURES[name].prose)


def family_sentence(family: str) -> str:
    """What a table's ``p_holm`` and ``p_bh`` were corrected over (``family``, in words), and what each controls."""
    from counterpoint.significance import ALPHA

    return (f"Holm and Benjamini–Hochberg (BH) adjust over one family, {family}. Holm-adjusted "
            f"p ≤ {ALPHA} keeps the chance of any false positive in that family at most {ALPHA} (family-wise error); "
            f"BH-adjusted p ≤ {ALPHA} keeps the expected share of false positives among the figures called "
            f"significant at most {ALPHA} (false discovery rate).")


# --------------------------------------------------------------------------------------
# The terminal


def terminal_text(label: str, knowledge: pd.DataFrame, structure: pd.DataFrame, *, track: pd.DataFrame,
                  dims: dict[tuple[str, str], tuple[int, int]] | None = None) -> str:
    """What ``run``, ``analyze`` and ``compare`` print: the rule, then per verdict its sentences and its compact
    table (interval, chance, p, verdict)."""
    blocks = [VERDICT_RULE]
    if len(knowledge):
        table = knowledge_table(knowledge).drop(columns=["modality"])
        blocks.append(f"(a) Does each modality know {label}?\n"
                      + "\n".join(f"  {knowledge_sentence(r, label)}" for _, r in knowledge.iterrows())
                      + "\n" + _plain_table(table))
    for title, frame, claim in ((f"(b) Do audio and score organise {label} the same way?", structure, STRUCTURE_CLAIM),
                                ("(c) Do they agree track by track?", track, TRACK_CLAIM)):
        if len(frame):
            blocks.append(title + "\n" + "\n".join(f"  {s}" for s in pair_sentences(frame, claim, label)) + "\n"
                          + _plain_table(compact_table(frame, dims).drop(columns=["p (BH)"])))
    return "\n\n".join(blocks)


def _plain_table(frame: pd.DataFrame) -> str:
    shown = frame.map(lambda v: format_value(v) if isinstance(v, float) else v)
    return shown.to_string(index=False)


def comparison_terminal_text(result: "CompareResult") -> str:
    """:func:`terminal_text` of a comparison (its label, verdicts (a), (b) and (c)); the reason when no pair
    was compared (:func:`counterpoint.analysis.compare.compare_summary`) after verdict (a)."""
    from counterpoint.analysis.compare import compare_summary, verdict_table

    dims = {(pair.audio, pair.symbolic): pair.dims for pair in result.pairs}
    track = verdict_table(result) if result.pairs else result.alignment.iloc[:0]
    text = terminal_text(result.settings.label, result.knowledge, result.label_structure, track=track, dims=dims)
    return text if result.pairs else f"{text}\n\n{compare_summary(result)}"


# --------------------------------------------------------------------------------------
# The report's first sections (see counterpoint.report.sections)


def _verdicts_html(result: "CompareResult", page: ReportPage) -> str:
    from counterpoint.analysis.compare import verdict_table

    dims = {(pair.audio, pair.symbolic): pair.dims for pair in result.pairs}
    track = verdict_table(result) if result.pairs else result.alignment.iloc[:0]
    return verdicts_block(page.results["analysis"].label, result.knowledge, result.label_structure, track=track,
                          dims=dims)


def _influence_html(result: "CompareResult", page: ReportPage) -> str:
    return influence_section(result.influence, playable_tracks(page.payload))


register_section(Section("verdicts", 10, uses="comparison", write=_verdicts_html, summary=comparison_terminal_text))
register_section(Section("influence", 20, uses="comparison", write=_influence_html))
