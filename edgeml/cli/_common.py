"""What every command of the command line shares: the console, small printing helpers,
and the options that set the user's limits (the library names them by their
``edgeml.estimate.Limits`` field; the command line by its options)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

KB = 1024


@dataclass(frozen=True)
class LimitOption:
    flag: str          # the option
    scale: int         # option value x scale = the Limits field's value
    help: str


#: Limits field -> the option that sets it
LIMIT_OPTIONS: dict[str, LimitOption] = {
    "max_arena_bytes": LimitOption("--max-ram-kb", KB, "cap on the tensor arena (KB)"),
    "max_model_bytes": LimitOption("--max-flash-kb", KB, "cap on the model's bytes (KB)"),
    "max_latency_ms": LimitOption("--max-latency-ms", 1, "cap on estimated latency (ms)"),
}


def add_limit_options(parser: Any) -> None:
    for opt in LIMIT_OPTIONS.values():
        parser.add_argument(opt.flag, type=float, default=None, help=opt.help)


def limits_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~edgeml.estimate.Limits` the limit options set (each must be positive)."""
    from ..errors import EdgeMLError
    from ..estimate import Limits

    values = {}
    for name, opt in LIMIT_OPTIONS.items():
        value = getattr(args, opt.flag[2:].replace("-", "_"))
        if value is not None and not value > 0:
            raise EdgeMLError(f"{opt.flag} must be a positive number (got {value:g})",
                              hint=f"omit {opt.flag} to use the target's own limit")
        values[name] = None if value is None else (int(value * opt.scale) if opt.scale != 1
                                                   else float(value))
    return Limits(**values)


def in_cli_words(text: str) -> str:
    """A library message with each limit's field name replaced by the option that sets it."""
    for name, opt in LIMIT_OPTIONS.items():
        text = text.replace(name, opt.flag)
    return text


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_rows(title: str, rows: list[tuple[str, str]]) -> None:
    """A two-column summary: a table on a terminal, plain 'key: value' lines otherwise."""
    con = console()
    if not con.is_terminal:
        print(title)
        for key, value in rows:
            print(f"  {key}: {value}")
        return
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("", overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    con.print(table)
