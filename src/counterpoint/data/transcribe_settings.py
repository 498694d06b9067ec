"""The settings of `dataset transcribe` (kept apart from :mod:`counterpoint.data.transcribe`, which imports
numpy and the completion machinery, so the command line reads their defaults cheaply)."""

from __future__ import annotations

from dataclasses import dataclass

from counterpoint.errors import CounterpointError


@dataclass(frozen=True)
class TranscribeSettings:
    """How `dataset transcribe` runs basic-pitch (here, not in ``counterpoint.config``, which the
    encoders import: data modules never import it): its note-creation thresholds (its own defaults:
    onset 0.5, frame 0.3, notes of at least 127.7 ms), the 2-s windows per model call (speed
    only) and the longest audio accepted, in seconds (a longer file is a named failure)."""

    onset_threshold: float = 0.5
    frame_threshold: float = 0.3
    minimum_note_ms: float = 127.70
    windows_per_call: int = 16
    max_seconds: float = 1800.0

    def __post_init__(self) -> None:
        if isinstance(self.windows_per_call, bool) or not isinstance(self.windows_per_call, int) or self.windows_per_call < 1:
            raise CounterpointError(f"windows-per-call = {self.windows_per_call!r}: give a whole number ≥ 1")
        if not (0 < self.onset_threshold < 1 and 0 < self.frame_threshold < 1):
            raise CounterpointError(f"thresholds {self.onset_threshold}, {self.frame_threshold}: give numbers in (0, 1)")
        if not (self.minimum_note_ms >= 0 and self.max_seconds > 0):
            raise CounterpointError(f"minimum note {self.minimum_note_ms} ms, max seconds {self.max_seconds}: "
                                    "give a length ≥ 0 and a limit > 0")
