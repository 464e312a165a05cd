"""SLIC, the Secure Learned Image Codec.

    >>> import slic
    >>> codec = slic.load_codec()            # slic-default once bundled
    >>> data = codec.encode("photo.jpg")     # bytes of a .slic file
    >>> image = codec.decode(data)           # PIL image
"""

from .codec import Codec, default_model, load_codec
from .errors import FormatError, InputError, ModelMismatchError, SlicError, WeightsError

__version__ = "0.1.0"
__all__ = ["Codec", "load_codec", "default_model", "SlicError", "InputError", "FormatError",
           "ModelMismatchError", "WeightsError", "__version__"]
