"""Image input/output: reading any image (`images`), atomic writes (`atomic`), uint8 ↔ tensor (`convert`)."""

from .atomic import atomic_write, save_bytes, save_torch, write_json, write_text
from .convert import quantize_8bit, to_tensor, to_uint8
from .images import as_uint8_array, check_size, find_images, load_image, max_pixels, save_image

__all__ = ["atomic_write", "save_bytes", "save_torch", "write_json", "write_text", "quantize_8bit", "to_tensor",
           "to_uint8", "as_uint8_array", "check_size", "find_images", "load_image", "max_pixels", "save_image"]
