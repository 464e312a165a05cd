"""The weights zoo: named models (`registry`), where their files are and how they are checked and
fetched (`files`), and the model cards that describe them (`cards`)."""

from .cards import ModelCard, read_cards
from .files import (AUX_FILES, PACKAGE_WEIGHTS, WeightFile, bundled_file, fetch, fetch_aux, locate, search_roots,
                    sha256_file, slic_home, verify)
from .registry import LAMBDAS, ModelSpec, get_spec, model_rows, registry, vanilla_base

__all__ = ["ModelCard", "read_cards", "AUX_FILES", "PACKAGE_WEIGHTS", "WeightFile", "bundled_file", "fetch",
           "fetch_aux", "locate", "search_roots", "sha256_file", "slic_home", "verify", "LAMBDAS", "ModelSpec",
           "get_spec", "model_rows", "registry", "vanilla_base"]
