"""The `slic` command (entry point `slic.cli:main`); `python -m slic.cli` runs it too."""

from .main import EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED, build_parser, main

__all__ = ["main", "build_parser", "EXIT_ERROR", "EXIT_INTERNAL", "EXIT_INTERRUPTED"]
