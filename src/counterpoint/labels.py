"""Labels and split names, as every stage reads them: the dataset stage writes them, the store keeps
them as text, the analysis cuts them. A neutral module, so that reading a label never imports the
dataset stage (:mod:`counterpoint.data`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

#: The three splits a track can belong to, in the order they are reported.
SPLIT_NAMES = ("train", "validation", "test")
#: Other spellings of the three splits, as written by common tools and datasets.
SPLIT_ALIASES = {"training": "train", "val": "validation", "valid": "validation", "dev": "validation",
                 "eval": "test", "testing": "test"}
#: Values that mean "not given" in a label, group or split cell (compared lower-cased).
MISSING_VALUES = frozenset({"", "nan", "none", "null", "na", "n/a"})


def label_at_depth(value: str, depth: int | None, separator: str = "/") -> str:
    """Cut a hierarchical label such as ``rock/indie`` to its first ``depth`` levels.

    >>> label_at_depth("rock/indie/lofi", 1)
    'rock'
    """
    if depth is None or depth <= 0:
        return value
    return separator.join(value.split(separator)[:depth])


def canonical_split(value: str) -> str | None:
    """``train``, ``validation`` or ``test`` for a split cell (aliases such as ``val`` understood); None if unknown."""
    value = value.strip().lower()
    return value if value in SPLIT_NAMES else SPLIT_ALIASES.get(value)


#: "007", "-01": codes whose leading zeros a number would lose, so their column stays text.
_LEADING_ZERO = re.compile(r"^[+-]?0\d")


def numeric_labels(values: Sequence[object]) -> pd.Series | None:
    """The numbers of a label column whose every non-empty value is a number and none a code with
    leading zeros (``007``), NaN where empty; None for any other column. The one test of "a numeric
    label column", used where labels are read (:func:`counterpoint.data.manifest.canonical_labels`) and by ``export``."""
    text = pd.Series(list(values), dtype=object).astype(str).str.strip()
    present = text[text != ""]
    if present.empty or present.str.match(_LEADING_ZERO).any():
        return None
    try:
        return pd.to_numeric(text.replace("", np.nan), errors="raise")
    except (ValueError, TypeError):
        return None
