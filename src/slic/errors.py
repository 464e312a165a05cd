"""The package's own exceptions: each carries a one-line message the CLI prints as is."""


class SlicError(Exception):
    """Base class: anything the user can fix (bad input, missing weights, foreign files)."""


class InputError(SlicError):
    """An input image or argument that cannot be used."""


class FormatError(SlicError):
    """A `.slic` file that is truncated, corrupted, foreign or of an unknown version."""


class ModelMismatchError(SlicError):
    """A `.slic` file made with other weights than the ones it would be decoded with."""


class WeightsError(SlicError):
    """Weights that are missing, unreadable or fail their checksum."""
