"""The ``edgeml`` command line: argument parsing and printing only; the work is
done by the library (``edgeml.pipeline``, ``edgeml.estimate``, ...). One module per
command, each with ``add_parser(sub)`` and ``run(args)``.

TensorFlow is never imported at module level: ``edgeml --help`` and
``edgeml targets`` answer in about a second.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .. import __version__
from ..errors import EdgeMLError
from . import calibrate, compress, export, features, profile, search, targets
from ._common import in_cli_words
from ._native import NativeStderr

__all__ = ["main", "build_parser"]

# The order of the commands in `edgeml --help`.
COMMANDS = (search, compress, export, features, targets, profile, calibrate)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edgeml",
        description="Hardware-constrained AutoML for microcontrollers: search models that fit "
                    "the board, quantize to int8, verify in TFLite Micro, export for firmware.")
    p.add_argument("--version", action="version", version=f"edgeml {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    func: Callable[[argparse.Namespace], int] = args.func
    with NativeStderr(enabled=not args.debug) as native:
        try:
            return int(func(args) or 0)
        except EdgeMLError as exc:
            if args.debug:
                raise
            text = in_cli_words(str(exc)) if getattr(exc, "limit", None) else str(exc)
            print(f"edgeml: error: {text}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print("edgeml: interrupted", file=sys.stderr)
            return 130
        except Exception:
            native.keep = True
            print(f"edgeml: internal error; native library messages are in {native.path}",
                  file=sys.stderr)
            raise
