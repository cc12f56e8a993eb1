"""The ``edgeml`` command line: argument parsing and printing only; the work is
done by the library (``edgeml.pipeline``, ``edgeml.estimate``, ...). One module per
command, each with ``add_parser(sub)`` and ``run(args)``.

TensorFlow is never imported at module level: ``edgeml --help`` and
``edgeml targets`` answer in about a second.
"""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Callable

from .. import __version__
from ..errors import EdgeMLError
from . import calibrate, compress, export, features, hil, profile, search, targets
from ._common import Parser, UsageError, in_cli_words
from ._native import NativeStderr

__all__ = ["main", "build_parser"]

# The order of the commands in `edgeml --help`.
COMMANDS = (search, compress, export, features, targets, profile, calibrate, hil)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
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
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"edgeml: error: {exc}", file=sys.stderr)
        return exc.exit_code
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
        except KeyboardInterrupt as exc:
            if args.debug:
                raise
            more = f"; {exc}" if str(exc) else ""
            print(f"edgeml: error: interrupted{more}", file=sys.stderr)
            return 130
        except OSError as exc:
            # A file edgeml was told to read or write that the system refuses (a full
            # disk, a read-only or immutable folder): the user's environment, not a bug.
            if args.debug or exc.errno not in _USER_ERRNOS:
                native.keep = not args.debug
                if not args.debug:
                    print(f"edgeml: internal error; native library messages are in "
                          f"{native.path}", file=sys.stderr)
                raise
            from .._io import output_error

            writing = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)
            print(f"edgeml: error: "
                  f"{output_error(exc, exc.filename or 'a file', action='write' if writing else 'use')}",
                  file=sys.stderr)
            return 2
        except Exception:
            native.keep = True
            print(f"edgeml: internal error; native library messages are in {native.path}",
                  file=sys.stderr)
            raise


_USER_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                          errno.EPERM, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG})
