"""The one shape of a progress callback, shared by every stage that reports progress.

``progress(what, done, total)`` is called after each unit of work: ``what`` names the work (an encoder
spec, a probe, a file), ``done`` counts the units finished of ``total``. The command line turns the
calls into progress bars; Python callers may pass any function of that shape, or None for silence.
"""

from __future__ import annotations

from typing import Callable

ProgressCallback = Callable[[str, int, int], None]
