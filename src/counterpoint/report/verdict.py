"""The answer first: the verdict block of every audio × symbolic pair.

The sentence of a pair follows from its headline figures (:func:`counterpoint.analysis.compare.verdict_table`)
by one rule: a figure *supports agreement* when its Holm-adjusted p-value is at most
:data:`ALPHA` **and** the lower end of its 95 % interval lies above its chance level (or null
mean). All figures supporting → "agree"; some → "agree partly" (naming those that do); none →
"no evidence that they agree". The table shows the Benjamini–Hochberg-adjusted p too, over the same
family, for readers who accept a controlled share of false discoveries instead.
"""

from __future__ import annotations

import math

import pandas as pd

from counterpoint.analysis.compare import P_VALUE_FAMILIES
from counterpoint.report.html import escape, format_value, table_html
from counterpoint.significance import ALPHA

FIGURE_NAMES = {"cka_debiased": "debiased CKA", "rsa_spearman": "RSA (Spearman)", "recall@1": "Recall@1"}


def figure_name(row: pd.Series) -> str:
    """A headline figure as a reader names it: ``Recall@1 audio→symbolic (ridge)``, ``mutual-kNN@10``."""
    name = FIGURE_NAMES.get(row.measure, str(row.measure).replace("mutual_knn", "mutual-kNN"))
    return f"{name} {row.direction} ({row.method})" if row.method else name


def reference_level(row: pd.Series) -> float:
    """What the figure is compared with: its chance level, else the mean of its null distribution."""
    return row.chance if row.chance is not None and math.isfinite(row.chance) else row.null_mean


def supports_agreement(row: pd.Series, alpha: float = ALPHA) -> bool:
    """Holm-adjusted p ≤ ``alpha`` and the interval's lower end above the chance level (see module doc)."""
    reference = reference_level(row)
    return bool(math.isfinite(row.p_holm) and row.p_holm <= alpha and math.isfinite(row.ci_low)
                and math.isfinite(reference) and row.ci_low > reference)


def verdict_sentence(audio: str, symbolic: str, rows: pd.DataFrame, alpha: float = ALPHA) -> str:
    """The one plain sentence of a pair (rule in the module doc)."""
    supporting = [figure_name(r) for _, r in rows.iterrows() if supports_agreement(r, alpha)]
    if len(supporting) == len(rows) and len(rows):
        return (f"{audio} and {symbolic} agree: all {len(rows)} headline figures are above chance "
                f"(Holm-adjusted p ≤ {alpha}, interval above chance).")
    if supporting:
        return (f"{audio} and {symbolic} agree partly: {len(supporting)} of {len(rows)} headline figures are above "
                f"chance ({', '.join(supporting)}); the others cannot be told from chance.")
    return (f"No evidence that {audio} and {symbolic} agree: none of the {len(rows)} headline figures is above "
            f"chance after Holm correction.")


def verdict_section(table: pd.DataFrame, alpha: float = ALPHA) -> str:
    """The verdict block: one sentence per pair, then the headline figures of every pair."""
    sentences, rows = [], []
    for (audio, symbolic), part in table.groupby(["audio", "symbolic"], sort=False):
        sentences.append(f'<p class="answer"><b>{escape(verdict_sentence(audio, symbolic, part, alpha))}</b></p>')
        for _, r in part.iterrows():
            rows.append({"audio": audio, "symbolic": symbolic, "figure": figure_name(r), "value": r.value,
                         "95 % CI": f"[{format_value(r.ci_low)}, {format_value(r.ci_high)}]",
                         "chance / null": reference_level(r), "p": p_text(r.p_value), "p (Holm)": p_text(r.p_holm), "p (BH)": p_text(r.p_bh),
                         "above chance": "yes" if supports_agreement(r, alpha) else "no", "n": int(r.n)})
    return (f'<section class="verdict" id="verdict"><h2>Do the audio and symbolic spaces agree?</h2>{"".join(sentences)}'
            f'<p class="note">Rule: a figure supports agreement when its Holm-adjusted p ≤ {alpha} and its 95 % '
            f"interval lies above chance (or the null mean). {escape(family_sentence(P_VALUE_FAMILIES['verdict']))} "
            "Recall@1 is of the ridge map fitted on the training tracks, ranking the held-out tracks; "
            "CKA, RSA and mutual-kNN use all paired tracks, p-values from shuffled pairings.</p>"
            f"{table_html(pd.DataFrame(rows))}</section>")


def family_sentence(family: str) -> str:
    """What a table's ``p_holm`` and ``p_bh`` were corrected over (``family``, in words), and what each controls."""
    return (f"Holm and Benjamini–Hochberg (BH) adjust over one family, {family}. Holm-adjusted "
            f"p ≤ {ALPHA} keeps the chance of any false positive in that family at most {ALPHA} (family-wise error); "
            f"BH-adjusted p ≤ {ALPHA} keeps the expected share of false positives among the figures called "
            f"significant at most {ALPHA} (false discovery rate).")


def p_text(p: float | None) -> str:
    """A p-value for reading: two significant digits (0.0005, not 0.001), — when there is none."""
    return "—" if p is None or not math.isfinite(p) else f"{p:.2g}"
