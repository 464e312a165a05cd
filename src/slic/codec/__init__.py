"""The codec: CompressAI networks (`net`), the `.slic` encoder/decoder with its latent seam (`codec`),
and the codec as a differentiable function for training and attacks (`differentiable`)."""

from .codec import Codec, bits_per_pixel, codec_for_file, default_model, extract, from_tensor, load_codec
from .watermark import ExtractResult
from .net import ARCHITECTURES, MULTIPLE, build_net, deterministic_kernels, read_state_dict, state_digest

__all__ = ["Codec", "ExtractResult", "bits_per_pixel", "codec_for_file", "default_model", "extract", "from_tensor", "load_codec", "ARCHITECTURES", "MULTIPLE",
           "build_net", "deterministic_kernels", "read_state_dict", "state_digest"]
