"""Import torchvision/CompressAI on machines where torchvision's C extension cannot load.

The only torchvision build on some registries is a CUDA build whose compiled ops fail to load on a
CPU-only torch; `import torchvision` then dies with "operator torchvision::nms does not exist".
Declaring the two op schemas it registers Python fallbacks for lets the pure-Python parts (which
is all CompressAI needs) import. On a normal install the real ops are present and nothing changes.
"""

from __future__ import annotations

import torch

_MISSING_OPS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_shim_library = None


def _declare_missing_ops() -> None:
    global _shim_library
    if _shim_library is not None:
        return
    try:
        torch.ops.torchvision.nms  # noqa: B018 - raises when the op is unknown
        return
    except (AttributeError, RuntimeError):
        pass
    _shim_library = torch.library.Library("torchvision", "DEF")
    for schema in _MISSING_OPS:
        _shim_library.define(schema)


def import_torchvision():
    """Return the torchvision module, declaring missing C ops first if needed."""
    try:
        import torchvision
    except RuntimeError:
        _declare_missing_ops()
        import sys

        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        import torchvision
    return torchvision


def import_compressai():
    """Return the compressai module (torchvision imported safely first)."""
    import_torchvision()
    import compressai
    import compressai.zoo  # noqa: F401 - registers the model architectures

    return compressai
