"""The one exception family of Counterpoint.

Every message names the file (or row, or encoder), the problem and the fix, so that the
command line can print it without a traceback.
"""


class CounterpointError(Exception):
    """Base class: an error a user can act on."""


class DatasetError(CounterpointError):
    """The dataset folder or its manifest is unusable as a whole."""


class TrackError(CounterpointError):
    """One track cannot be read or embedded; the others go on."""


class EncoderError(CounterpointError):
    """An encoder spec is unknown or its parameters are invalid."""


class WeightsError(CounterpointError):
    """Model weights are missing, corrupt or cannot be fetched."""


class StoreError(CounterpointError):
    """The embedding store is missing, of the wrong layout, or lacks what was asked for."""
