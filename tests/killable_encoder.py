"""A pitch-class encoder whose worker processes can be found and killed, for engine tests.

``pid_dir`` makes every process that prepares a track leave an empty file named by its pid
(a test kills one of them mid-run); ``crash_on`` names a track whose preparation kills the
process preparing it, every time (a crash inside a decoding library, as it looks from outside).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from counterpoint.encoders.base import Parameter
from counterpoint.encoders.registry import EncoderEntry, register
from pitch_class_encoder import PitchClassEncoder


class KillableEncoder(PitchClassEncoder):
    name = "test-killable"
    parameters = {**PitchClassEncoder.parameters,
                  "pid_dir": Parameter("", "folder where each process preparing a track leaves a file named by its pid"),
                  "crash_on": Parameter("", "track id whose preparation kills the process preparing it")}

    def prepare(self, track):
        if self.params["pid_dir"]:
            (Path(self.params["pid_dir"]) / str(os.getpid())).touch()
        if track.id == self.params["crash_on"]:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().prepare(track)


register(EncoderEntry("test-killable", __name__, "KillableEncoder"))
