"""The training curves of a run (loss.png): what a user looks at to see whether it learned."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any


def loss_plot_png(
    records: Sequence[Mapping[str, Any]],
    tokens_per_char: float,
    floor_bits_per_char: float | None,
) -> bytes:
    """loss.png's bytes: curves in bits per character, so char and BPE runs and the corpus floor
    share an axis.

    Train loss is per token; times tokens-per-character of the training text it becomes bits
    per character on average (exact for a character tokenizer).
    """
    # The Agg canvas directly, not pyplot: no display needed, no global backend switched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(
        [r["step"] for r in records],
        [r["train_loss"] / math.log(2) * tokens_per_char for r in records],
        label="train",
        linewidth=1,
    )
    evaluated = [r for r in records if "val_bits_per_char" in r]
    ax.plot(
        [r["step"] for r in evaluated],
        [r["val_bits_per_char"] for r in evaluated],
        "o-",
        label="validation",
        markersize=3,
    )
    if floor_bits_per_char is not None:
        ax.axhline(
            floor_bits_per_char,
            color="k",
            linestyle="--",
            linewidth=1,
            label=f"corpus entropy floor ({floor_bits_per_char:.3f})",
        )
    ax.set_xlabel("step")
    ax.set_ylabel("bits per character")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue()
