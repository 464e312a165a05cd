"""The `.slic` file format (docs/FORMAT.md): `container` packs and unpacks header + entropy-coded strings."""

from . import container
from .container import SlicHeader, pack, unpack

__all__ = ["container", "SlicHeader", "pack", "unpack"]
