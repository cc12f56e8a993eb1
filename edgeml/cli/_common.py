"""What every command of the command line shares: the console and small printing helpers."""

from __future__ import annotations

from typing import Any

KB = 1024


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def kb_limit(value: float | None) -> int | None:
    return None if value is None else int(value * KB)


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
