"""Where the demo's corpus comes from: built once into ``OUT/corpus``, reused when it is there."""

from __future__ import annotations

from pathlib import Path
from typing import Callable


def ensure_demo_corpus(out: str | Path, *, pieces_per_style: int, excerpt_seconds: float, seed: int,
                       announce: Callable[[str], None] | None = None) -> Path:
    """The demo corpus in ``out/corpus``: reused when its ``info.csv`` is there, else built
    (:func:`~counterpoint.data.demo.build_demo_corpus`); ``announce(text)`` says which. Returns its folder."""
    say = announce or (lambda text: None)
    corpus = Path(out) / "corpus"
    if (corpus / "info.csv").is_file():
        say(f"corpus already built: {corpus}")
        return corpus
    from counterpoint.data.demo import build_demo_corpus

    say(f"building the demo corpus in {corpus}")
    build_demo_corpus(corpus, pieces_per_style=pieces_per_style, excerpt_seconds=excerpt_seconds, seed=seed)
    return corpus
