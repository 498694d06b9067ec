"""The one pairwise driver: every analysis between audio and symbolic encoders opens the store, checks it,
finds the comparable encoders, loops over the audio × symbolic pairs with a note for each pair left out,
adjusts each table's p-values as one family, and notes each family too large for its permutations.

:func:`open_pairs` does the first three, :func:`each_pair` the loop, :func:`family_table` the adjustment
and :func:`family_notes` the last; :func:`~counterpoint.analysis.compare.run_compare`,
:func:`~counterpoint.analysis.time_aligned.run_aligned_compare`, :func:`~counterpoint.analysis.layers.layer_cka_map`
and (its tables) :func:`~counterpoint.analysis.factors.run_factors` use them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from counterpoint.analysis.inputs import require_columns, require_embeddings
from counterpoint.errors import CounterpointError, StoreError
from counterpoint.significance import family_size, undecidable_family_note, with_adjusted_p_values
from counterpoint.store import as_store

if TYPE_CHECKING:
    from counterpoint.store import Store


class PairSkipped(CounterpointError):
    """A pair left out for a reason its driver words in full (the note is ``A × S: <reason>``)."""


@dataclass
class PairedStore:
    """A checked store and its comparable encoders: the audio and the symbolic specs holding tracks."""

    store: "Store"
    audio: list[str]
    symbolic: list[str]


@dataclass
class PairResults:
    """What :func:`each_pair` gathered: each compared pair's result, and each left-out pair's reason, by
    (audio, symbolic), in loop order."""

    done: dict[tuple[str, str], Any] = field(default_factory=dict)
    skipped: dict[tuple[str, str], str] = field(default_factory=dict)


def _modality_specs(store: "Store", modality: str) -> list[str]:
    """The specs of the analysed encoders (:meth:`~counterpoint.store.Store.analysed_encoders`) of ``modality``."""
    return [r.spec for r in store.analysed_encoders() if r.modality == modality]


def empty_encoders(store: "Store") -> list[str]:
    """Specs of the encoders that hold no track (e.g. an audio encoder on MIDI-only rows)."""
    return [r.spec for r in store.encoders if r.n_tracks == 0]


def comparable_encoders(store: "Store") -> tuple[list[str], list[str]]:
    """The audio and the symbolic encoder specs holding tracks, untrained controls left to the untrained control
    (:meth:`~counterpoint.store.Store.analysed_encoders`); a :class:`StoreError` when one kind has none."""
    audio, symbolic = _modality_specs(store, "audio"), _modality_specs(store, "symbolic")
    if not audio or not symbolic:
        empty = empty_encoders(store)
        held = f" ({', '.join(empty)}: no tracks)" if empty else ""
        raise StoreError(f"{store.path}: comparing needs an audio and a symbolic encoder with embedded tracks (audio: "
                         f"{', '.join(audio) or 'none'}; symbolic: {', '.join(symbolic) or 'none'}){held} — "
                         "embed paired audio and MIDI with both kinds, e.g. "
                         "`counterpoint embed ROOT --encoders audio-stats,symbolic-stats`; "
                         "`counterpoint store info FILE --failures` says why tracks failed")
    return audio, symbolic


def open_pairs(store_or_path: "Store | str | Path", label: str, group: str | None = None, *,
               comparable: bool = True) -> PairedStore:
    """The store (a path is opened), checked to hold embeddings and the ``label`` and ``group`` columns, with
    its comparable encoders (:func:`comparable_encoders`; with ``comparable=False`` every analysed audio and
    symbolic encoder, for an analysis that words its own error when one kind is missing)."""
    store = as_store(store_or_path)
    require_embeddings(store)
    require_columns(store, label, group)
    if comparable:
        audio, symbolic = comparable_encoders(store)
    else:
        audio, symbolic = _modality_specs(store, "audio"), _modality_specs(store, "symbolic")
    return PairedStore(store, audio, symbolic)


def each_pair(audio: Sequence[str], symbolic: Sequence[str], compare_pair: Callable[[str, str], Any],
              *, notes: list[str], left_out: str = "skipped") -> PairResults:
    """``compare_pair(audio_spec, symbolic_spec)`` for every audio × symbolic pair, in order.

    A pair that raises a :class:`~counterpoint.errors.CounterpointError` is left out and the others go on:
    its reason is ``"<left_out> — <error>"`` (a :class:`PairSkipped` error is the reason as it is), noted
    as ``"A × S: <reason>"``. A pair whose result is None is neither kept nor noted.
    """
    results = PairResults()
    for audio_spec in audio:
        for symbolic_spec in symbolic:
            pair = (audio_spec, symbolic_spec)
            try:
                result = compare_pair(audio_spec, symbolic_spec)
            except PairSkipped as reason:
                results.skipped[pair] = str(reason)
            except CounterpointError as error:
                results.skipped[pair] = f"{left_out} — {error}"
            else:
                if result is not None:
                    results.done[pair] = result
                continue
            notes.append(f"{audio_spec} × {symbolic_spec}: {results.skipped[pair]}")
    return results


def family_table(rows: Iterable[dict] | pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """One table of ``columns`` whose finite p-values are one family: ``p_holm`` and ``p_bh`` added
    (:func:`~counterpoint.significance.with_adjusted_p_values`), in ``columns``' order."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    frame = frame.reindex(columns=[c for c in columns if c not in ("p_holm", "p_bh")])
    return with_adjusted_p_values(frame).reindex(columns=list(columns))


def family_notes(families: Iterable[tuple[str, pd.DataFrame | int, int]], *, fixed: bool) -> list[str]:
    """A note for each family ``(name, table or its number of tests, permutations per test)`` too large to be
    decided after Holm (:func:`~counterpoint.significance.undecidable_family_note`); ``fixed``: the
    permutations were taken as given (``--fixed-n-perm``)."""
    notes = []
    for name, table, n_perm in families:
        m = table if isinstance(table, int) else family_size(table)
        note = undecidable_family_note(name, m, n_perm, fixed=fixed)
        if note:
            notes.append(note)
    return notes
