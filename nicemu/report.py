"""Rendering nicemu's per-layer counters for people."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

LAYER_ORDER = ("transport", "miniport", "ndis", "vswitch", "tcpip")


def counters_table(report: dict[str, dict[str, int]], *, title: str = "nicemu counters",
                   show_zero: bool = False) -> Table:
    """One row per counter, grouped by layer bottom to top; zeros hidden unless asked for."""
    table = Table(title=title, title_justify="left")
    table.add_column("layer", style="bold")
    table.add_column("counter")
    table.add_column("value", justify="right")
    layers = [name for name in LAYER_ORDER if name in report] + [n for n in report if n not in LAYER_ORDER]
    for layer in layers:
        first = True
        for name, value in report[layer].items():
            if value == 0 and not show_zero:
                continue
            style = "red" if any(word in name for word in ("error", "drop", "discard", "failed")) else None
            table.add_row(layer if first else "", name, str(value), style=style)
            first = False
    return table


def print_report(report: dict[str, dict[str, int]], console: Console | None = None, **options: object) -> None:
    """Print the counters table (to stderr unless a console is given)."""
    (console or Console(stderr=True)).print(counters_table(report, **options))  # type: ignore[arg-type]
