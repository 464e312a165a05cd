"""SLIC, the Secure Learned Image Codec.

    >>> import slic
    >>> codec = slic.load_codec()            # slic-default once bundled
    >>> data = codec.encode("photo.jpg")     # bytes of a .slic file
    >>> image = codec.decode(data)           # PIL image

Watermarks (a watermark model, e.g. one exported by `slic train-watermark --export my-wm`):

    >>> wm = slic.load_codec("my-wm")
    >>> data = wm.encode("photo.jpg", watermark="0x5a1c0ffee0")
    >>> slic.extract(wm.decode(data)).payload  # b'Z\x1c\x0f\xfe\xe0'
"""

from .codec import Codec, ExtractResult, default_model, extract, load_codec
from .errors import FormatError, InputError, ModelMismatchError, SlicError, WeightsError

__version__ = "0.1.0"
__all__ = ["Codec", "ExtractResult", "extract", "load_codec", "default_model", "SlicError", "InputError", "FormatError",
           "ModelMismatchError", "WeightsError", "__version__"]
