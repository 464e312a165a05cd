"""The `slic` command line: the parser, and errors as one line on stderr with a non-zero exit,
never a traceback. Each command group lives in its own module, imported here explicitly:
`codec_commands` (owners of images), `train_commands` and `eval_commands` (researchers)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from ..errors import SlicError
from . import codec_commands, eval_commands, serve_commands, train_commands, verify_commands, watermark_commands

EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED = 1, 3, 130


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="slic", description="SLIC, the Secure Learned Image Codec")
    parser.add_argument("--version", action="version", version=f"slic {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no notes on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    codec_commands.add_commands(sub)
    verify_commands.add_commands(sub)
    watermark_commands.add_commands(sub)
    eval_commands.add_commands(sub)
    train_commands.add_commands(sub)
    serve_commands.add_commands(sub)
    return parser


def _interrupt(signum, _frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP stop a command like Ctrl-C does, so `finally` blocks run: temporary
    `.part` files are removed and training writes its checkpoint."""
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            try:
                signal.signal(sig, _interrupt)
            except ValueError:  # not the main thread (e.g. called from a test worker thread)
                pass


class _NoteFormatter(logging.Formatter):
    def format(self, record):
        return f"slic: note: {record.getMessage()}"


def _setup_logging(quiet: bool) -> None:
    log = logging.getLogger("slic")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_NoteFormatter())
        log.addHandler(handler)
    log.setLevel(logging.ERROR if quiet else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.quiet)
    _stop_on_signals()
    try:
        return args.func(args)
    except SlicError as exc:
        print(f"slic: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("slic: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `slic models | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MemoryError:
        print("slic: error: out of memory (try a smaller image or --max-pixels)", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"slic: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug: still one line, full trace on request
        if os.environ.get("SLIC_DEBUG"):
            raise
        print(f"slic: internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(set SLIC_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL

