"""What every command of the command line shares: the argument parser (one-line usage
errors), the checks of numeric options (with their units), the options that set the
user's limits (the library names them by their ``edgeml.estimate.Limits`` field; the
command line by its options), the console and small printing helpers."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import EdgeMLError

KB = 1024
SEED_MAX = 2**32 - 1  # numpy's and scikit-learn's seeds are unsigned 32-bit


class UsageError(EdgeMLError):
    """A command line argparse could not parse: a wrong value, a missing option."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the option and what it accepts
    (raised as :class:`UsageError`, exit code 2), not the whole usage block."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(_reword(message), hint=f"see {self.prog} --help")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # argparse turns `--epochs=--` into an empty list that no type check sees
        for arg in sys.argv[1:] if args is None else args:
            if isinstance(arg, str) and arg.startswith("--") and arg.endswith("=--"):
                self.error(f"argument {arg[:-3]}: expected one argument")
        return super().parse_known_args(args, namespace)


_CHOICE = re.compile(r"argument (\S+): invalid choice: '?(.*?)'? \(choose from (.*)\)$")
_TYPE = re.compile(r"argument (\S+): invalid (\w+) value: (.*)$")
_ARG = re.compile(r"argument (\S+?)(?:/\S+)?: (.*)$")


def _reword(message: str) -> str:
    m = _CHOICE.match(message)
    if m:
        opt, value, choices = m.groups()
        accepted = ", ".join(c.strip().strip("'") for c in choices.split(","))
        return f"{opt}: unknown value {value!r}; use one of: {accepted}"
    m = _TYPE.match(message)
    if m:
        opt, kind, value = m.groups()
        what = "a whole number" if kind == "int" else "a number" if kind == "float" else kind
        return f"{opt} takes {what} (got {value})"
    m = _ARG.match(message)
    if m:
        return f"{m.group(1)} {m.group(2)}"
    return message


def number(*, unit: str = "", integer: bool = False, low: float | None = None,
           high: float | None = None, low_open: bool = False,
           high_open: bool = False) -> Callable[[str], float | int]:
    """An argparse ``type`` for a numeric option: a finite number (whole if ``integer``)
    in [low, high] (an end excluded when ``*_open``). Its messages carry the unit as the
    user wrote the number: ``--max-ram-kb must be more than 0 KB (got -5 KB)``."""
    u = f" {unit}" if unit else ""

    def fmt(v: float, unit: bool = True) -> str:
        text = str(int(v)) if integer or v == int(v) else f"{v:g}"
        one = u[:-1] if v == 1 and u.endswith("s") else u  # 1 trial, 2 trials
        return text + (one if unit else "")

    def parse(text: str) -> float | int:
        try:
            value: float | int = int(text, 10) if integer else float(text)
        except ValueError:
            what = "a whole number" if integer else "a number"
            raise argparse.ArgumentTypeError(f"takes {what}{' of' + u if u else ''} "
                                             f"(got {text!r})") from None
        got = f"(got {text.strip()}{u})"
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number {got}")
        if low is not None and (value < low or (low_open and value == low)):
            if high is not None:
                raise argparse.ArgumentTypeError(f"must be {_range(low, high, low_open, high_open, fmt)} {got}")
            raise argparse.ArgumentTypeError(
                f"must be {'more than' if low_open else 'at least'} {fmt(low)} {got}")
        if high is not None and (value > high or (high_open and value == high)):
            if low is not None:
                raise argparse.ArgumentTypeError(f"must be {_range(low, high, low_open, high_open, fmt)} {got}")
            raise argparse.ArgumentTypeError(
                f"must be {'less than' if high_open else 'at most'} {fmt(high)} {got}")
        return value

    return parse


def _range(low: float, high: float, low_open: bool, high_open: bool,
           fmt: Callable[..., str]) -> str:
    if not low_open and not high_open:
        return f"from {fmt(low, False)} to {fmt(high)}"
    return (f"{'more than' if low_open else 'at least'} {fmt(low, False)} and "
            f"{'less than' if high_open else 'at most'} {fmt(high)}")


# The numeric options of every command, one definition each.
KILOBYTES = number(unit="KB", low=0, low_open=True)
MILLISECONDS = number(unit="ms", low=0, low_open=True)
FRACTION = number(low=0, high=1, low_open=True, high_open=True)  # --prune, --structured
TOLERANCE = number(low=0, high=1, high_open=True)       # --accuracy-tolerance
POINTS = number(unit="points", low=0, high=100)         # --max-int8-drop
SEED = number(integer=True, low=0, high=SEED_MAX)
FACTOR = number(low=0, low_open=True)                   # calibrate --mac-factor


def count(unit: str) -> Callable[[str], float | int]:
    """A whole number of ``unit`` (trials, epochs), at least 1."""
    return number(unit=unit, integer=True, low=1)


@dataclass(frozen=True)
class LimitOption:
    flag: str          # the option
    scale: int         # option value x scale = the Limits field's value
    help: str
    type: Callable[[str], float | int]   # the check of the value, with its unit


#: Limits field -> the option that sets it
LIMIT_OPTIONS: dict[str, LimitOption] = {
    "max_arena_bytes": LimitOption("--max-ram-kb", KB, "cap on the tensor arena (KB)", KILOBYTES),
    "max_model_bytes": LimitOption("--max-flash-kb", KB, "cap on the model's bytes (KB)",
                                   KILOBYTES),
    "max_latency_ms": LimitOption("--max-latency-ms", 1, "cap on estimated latency (ms)",
                                  MILLISECONDS),
}


def add_limit_options(parser: Any) -> None:
    for opt in LIMIT_OPTIONS.values():
        parser.add_argument(opt.flag, type=opt.type, default=None, help=opt.help)


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
