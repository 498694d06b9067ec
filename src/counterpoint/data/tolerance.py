"""How far the durations of a pair's audio and MIDI may differ (kept apart so the CLI reads its defaults cheaply)."""

from __future__ import annotations

from dataclasses import dataclass

#: Paired durations may differ by the larger of these before ``dataset check`` warns (seconds, fraction).
DURATION_TOLERANCE_S = 2.0
DURATION_TOLERANCE_FRACTION = 0.05


@dataclass(frozen=True)
class DurationTolerance:
    """The larger of ``seconds`` and ``fraction`` of the longer duration."""

    seconds: float = DURATION_TOLERANCE_S
    fraction: float = DURATION_TOLERANCE_FRACTION

    def allows(self, audio_s: float, midi_s: float) -> bool:
        """Whether durations ``audio_s`` and ``midi_s`` (seconds) are close enough to be one performance."""
        return abs(audio_s - midi_s) <= max(self.seconds, self.fraction * max(audio_s, midi_s))
