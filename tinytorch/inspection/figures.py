"""Pictures of an `Inspection`: one PNG per view, and an overview that combines them.

Drawn with matplotlib's object API (a Figure on an Agg canvas, never pyplot): no display is
needed and no global backend is switched. Each `*_figure` function returns its Figure, so a
notebook can show it and a test can count its panels; `write_figures` saves them all. Token
labels are drawn with `parse_math=False`, so a "$" in a token stays a dollar sign; text inside
an axes is kept out of the layout computation (`in_layout=False`), which is most of its cost.
"""

from __future__ import annotations

import io
import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Rectangle

from tinytorch.files import atomic_write_bytes
from tinytorch.inspection.analysis import EmbeddingMemory, Inspection, Neighbours
from tinytorch.inspection.positions import PositionSimilarity
from tinytorch.inspection.tokens import TokenizationStats, TokenizedText

MAX_PROJECTION_LABELS = 100  # beyond this the scatter labels only the most frequent tokens
MAX_LEGEND_NAMES = 6
MAX_FIGURE_INCHES = 48.0  # the attention grid's longer side, at most 4800 pixels
SIMILARITY = {"cmap": "RdBu_r", "vmin": -1.0, "vmax": 1.0}
WEIGHTS = {"cmap": "viridis", "vmin": 0.0, "vmax": 1.0}
INSIDE = {"parse_math": False, "in_layout": False}  # for text drawn inside an axes
HIDDEN = "#e4e4e4"  # cells a causal model never uses (key after query)
Container = Figure | SubFigure


def _bytes_text(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _future_hidden(matrix: np.ndarray) -> np.ma.MaskedArray:
    """Mask the cells j > i of the last two axes (a causal model never attends there)."""
    size = matrix.shape[-1]
    return np.ma.masked_array(
        matrix, np.broadcast_to(np.triu(np.ones((size, size)), 1) > 0, matrix.shape)
    )


def _image(ax: Any, matrix: np.ndarray, **style: Any) -> Any:
    cmap = style.pop("cmap")
    return ax.imshow(matrix, cmap=_with_bad(cmap), interpolation="nearest", **style)


def _with_bad(name: str) -> Any:
    from matplotlib import colormaps

    return colormaps[name].with_extremes(bad=HIDDEN)


# ----------------------------------------------------------------------------- panels
def draw_projection(
    ax: Any,
    coords: np.ndarray,
    ratio: np.ndarray,
    labels: list[str],
    counts: np.ndarray | None = None,
    fitted_on_used: bool = False,
) -> None:
    """Scatter of the 2-D projection; tokens that occur in the text (counts > 0) in blue and
    labelled (the MAX_PROJECTION_LABELS most frequent, if more), the others grey and named in
    the legend (they sit together near their initial values, where labels would overlap).
    `fitted_on_used` says the axes were fitted on the blue points only (the title says so)."""
    used = np.ones(len(coords), bool) if counts is None else counts > 0
    unused = np.flatnonzero(~used).tolist()
    names = ", ".join(labels[i] for i in unused[:MAX_LEGEND_NAMES])
    more = f" and {len(unused) - MAX_LEGEND_NAMES} more" if len(unused) > MAX_LEGEND_NAMES else ""
    ax.scatter(*coords[~used].T, s=10, color="0.65", label=f"not in the text: {names}{more}")
    ax.scatter(*coords[used].T, s=14, color="tab:blue", label="in the text")
    shown = np.flatnonzero(used)
    if len(shown) > MAX_PROJECTION_LABELS:
        order = shown if counts is None else np.argsort(-counts, kind="stable")
        shown = order[:MAX_PROJECTION_LABELS]
    for i in shown.tolist():
        ax.annotate(
            labels[i],
            coords[i],
            xytext=(3, 2),
            textcoords="offset points",
            fontsize=9,
            **INSIDE,
        )
    ax.set_xlabel(f"principal axis 1 ({ratio[0]:.0%} of the variance)")
    ax.set_ylabel(f"principal axis 2 ({ratio[1]:.0%} of the variance)")
    labelled = "" if len(shown) == used.sum() else f"; labels: {len(shown)} most frequent"
    fitted = f"; axes fitted on the {int(used.sum())} in the text" if fitted_on_used else ""
    ax.set_title(
        f"Token embeddings: 2-D PCA of {len(coords)} tokens{fitted}{labelled}", fontsize=11
    )
    if counts is not None and not used.all():
        legend = ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.08), ncols=2, fontsize=8)
        legend.get_texts()[0].set_parse_math(False)
    ax.grid(alpha=0.2)


def draw_neighbours(ax: Any, neighbours: Neighbours, labels: list[str], source: str) -> None:
    """A table: each query token, then its nearest tokens by cosine with the similarity."""
    ax.axis("off")
    rows, k = neighbours.ids.shape
    ax.set_title(
        f"Nearest neighbours (cosine) of the {rows} most frequent tokens of the {source}",
        fontsize=11,
    )
    height = 1.0 / (rows + 1)
    width = 0.86 / max(k, 1)
    ax.text(0.0, 1 - height / 2, "token", fontsize=9, weight="bold", va="center", **INSIDE)
    for j in range(k):
        ax.text(
            0.14 + j * width,
            1 - height / 2,
            f"#{j + 1}",
            fontsize=9,
            weight="bold",
            va="center",
            **INSIDE,
        )
    for r in range(rows):
        y = 1 - (r + 1.5) * height
        if r % 2 == 0:
            ax.add_patch(Rectangle((0, y - height / 2), 1, height, color="0.94", zorder=0))
        ax.text(
            0.0,
            y,
            labels[neighbours.query_ids[r]],
            fontsize=10,
            weight="bold",
            va="center",
            **INSIDE,
        )
        for j in range(k):
            ax.text(
                0.14 + j * width,
                y,
                f"{labels[neighbours.ids[r, j]]}  {neighbours.similarities[r, j]:.2f}",
                fontsize=9,
                va="center",
                **INSIDE,
            )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)


def draw_positions(
    container: Container, positions: PositionSimilarity, max_heads: int | None = None
) -> None:
    """The model's position structure beside the sinusoidal reference; the description of
    what the left side shows (and, for RoPE, ALiBi or no positions, that there is no table) is
    written on the figure. Score biases (ALiBi) are drawn as exp(bias), the factor by which a
    head scales the weight of key j, on one shared scale; with more than `max_heads` heads
    only the first and the last are drawn (for ALiBi the steepest and the flattest)."""
    own = positions.own
    biased = positions.kind == "score bias"
    heads = list(range(own.shape[0])) if biased else []
    if max_heads is not None and len(heads) > max_heads:
        heads = [heads[0], heads[-1]]
    axes = np.atleast_1d(container.subplots(1, 1 + max(len(heads), 1), squeeze=False)[0])
    length = positions.reference.shape[0]
    if own is None:
        axes[0].axis("off")
        axes[0].text(0.5, 0.5, "no position table", ha="center", va="center", fontsize=12)
    elif biased:
        for h, ax in zip(heads, axes[:-1], strict=True):
            factor = _image(ax, _future_hidden(np.exp(own[h])), **WEIGHTS)
            step = f": bias {own[h, 1, 0]:.3g} at distance 1" if length > 1 else ""
            ax.set_title(f"head {h + 1}{step}", fontsize=9)
        container.colorbar(
            factor, ax=list(axes[:-1]), shrink=0.8, label="exp(bias): factor on the weight"
        )
    else:
        image = _image(axes[0], own, **SIMILARITY)
        what = "rotation (no table)" if positions.kind == "rotation" else "table"
        axes[0].set_title(f"{positions.scheme} {what}", fontsize=10)
    image = _image(axes[-1], positions.reference, **SIMILARITY)
    axes[-1].set_title(f"sinusoidal reference\n({length} positions)", fontsize=10)
    for ax in axes:
        if ax.images:
            ax.set_xlabel("position j", fontsize=8)
            ax.set_ylabel("position i", fontsize=8)
            ax.tick_params(labelsize=7)
    container.colorbar(
        image,
        ax=axes[-1] if heads else list(axes),
        shrink=0.8,
        label="cosine",
    )
    container.suptitle("Positions: " + textwrap.fill(positions.description, 90), fontsize=10)


def draw_attention(
    container: Container,
    maps: np.ndarray,
    tokens: list[str],
    layers: list[int] | None = None,
    cell_inches: float = 2.5,
) -> None:
    """A grid of attention maps, one row per layer in `layers` (default all), one column per
    head; rows are queries, columns keys, both labelled by the prompt's tokens (sized to fit
    a map `cell_inches` wide)."""
    layers = list(range(maps.shape[0])) if layers is None else layers
    heads, length = maps.shape[1], maps.shape[-1]
    grid = container.subplots(len(layers), heads, squeeze=False)
    size = max(4.0, min(9.0, 0.75 * 72.0 * cell_inches / length))  # points per token row
    image = None
    for row, layer in enumerate(layers):
        for head in range(heads):
            ax = grid[row, head]
            image = _image(ax, _future_hidden(maps[layer, head]), **WEIGHTS)
            ax.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=9)
            ax.set_xticks(
                range(length),
                tokens if row == len(layers) - 1 else [],
                fontsize=size,
                rotation=90,
                parse_math=False,
            )
            ax.set_yticks(
                range(length), tokens if head == 0 else [], fontsize=size, parse_math=False
            )
    container.colorbar(image, ax=list(grid.flat), shrink=0.8, label="attention weight")
    shown = (
        ""
        if len(layers) == maps.shape[0]
        else (f" (layers {', '.join(str(i + 1) for i in layers)} of {maps.shape[0]})")
    )
    container.suptitle(
        f"Attention: row = query token, column = the earlier token it attends to{shown}",
        fontsize=10,
    )


def draw_tokens(ax: Any, prompt: TokenizedText, stats: TokenizationStats, source: str) -> None:
    """The prompt as a row of token boxes (label above, id below), then the text's statistics."""
    ax.axis("off")
    width_limit = 64.0
    x, y = 0.0, 0.0
    for label, token_id in zip(prompt.tokens, prompt.ids.tolist(), strict=True):
        width = max(len(label), len(str(token_id))) + 1.2
        if x + width > width_limit and x > 0:
            x, y = 0.0, y - 2.6
        ax.add_patch(
            Rectangle((x, y - 1.0), width - 0.3, 2.0, facecolor="#dbe9f6", edgecolor="tab:blue")
        )
        ax.text(
            x + (width - 0.3) / 2,
            y + 0.35,
            label,
            ha="center",
            va="center",
            fontsize=10,
            **INSIDE,
        )
        ax.text(
            x + (width - 0.3) / 2,
            y - 0.5,
            str(token_id),
            ha="center",
            va="center",
            fontsize=7,
            color="0.35",
            **INSIDE,
        )
        x += width
    frequent = "  ".join(label for _, label, _ in stats.most_frequent[:10])
    lines = [
        f"{source}: {stats.num_chars:,} characters -> {stats.num_tokens:,} tokens, "
        f"{stats.chars_per_token:.2f} characters per token",
        f"vocabulary use: {stats.distinct_ids} of {stats.vocab_size} ids "
        f"({stats.vocab_use:.0%}); unknown: {stats.unknown_share:.2%}"
        + (f" ({''.join(stats.unknown_chars)!r})" if stats.unknown_chars else ""),
        f"most frequent: {frequent}",
    ]
    for i, line in enumerate(lines):
        ax.text(0.0, y - 2.2 - 1.3 * i, line, fontsize=9, va="center", **INSIDE)
    ax.set_xlim(-0.2, width_limit)
    ax.set_ylim(y - 2.2 - 1.3 * len(lines), 1.4)
    ax.set_title(
        f"Tokenization of the prompt {prompt.text!r}: {len(prompt.ids)} tokens",
        fontsize=11,
        loc="left",
    )


def draw_memory(ax: Any, memory: EmbeddingMemory) -> None:
    """Bars: the table, + its gradient, + AdamW's two moments, and the whole model's weights."""
    itemsize = memory.table_bytes // memory.table_parameters
    bars = [
        ("token table", memory.table_bytes),
        ("+ gradient", memory.table_bytes + memory.gradient_bytes),
        ("+ AdamW state", memory.training_bytes),
        ("whole model (weights)", memory.model_parameters * itemsize),
    ]
    names, sizes = zip(*bars, strict=True)
    colors = ["tab:blue"] * 3 + ["0.6"]
    ax.barh(range(len(bars)), sizes, color=colors)
    ax.set_yticks(range(len(bars)), names, fontsize=9)
    ax.invert_yaxis()
    for i, size in enumerate(sizes):
        ax.text(size, i, f" {_bytes_text(size)}", va="center", fontsize=9, **INSIDE)
    ax.set_xlim(0, max(sizes) * 1.3)
    ax.set_xticks([])  # each bar carries its size
    head = (
        "the output head is tied to this table (counted once)"
        if memory.tied_head
        else "the output head is a separate matrix (not included)"
    )
    ax.set_title(
        f"Embedding table {memory.vocab_size} x {memory.embed_dim} {memory.dtype}: "
        f"{memory.parameter_share:.1%} of {memory.model_parameters:,} parameters\n{head}",
        fontsize=10,
    )


# ---------------------------------------------------------------------------- figures
def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def projection_figure(
    coords: np.ndarray,
    ratio: np.ndarray,
    labels: list[str],
    counts: np.ndarray | None = None,
    fitted_on_used: bool = False,
) -> Figure:
    fig = _figure(9, 8)
    draw_projection(fig.add_subplot(), coords, ratio, labels, counts, fitted_on_used)
    return fig


def neighbours_figure(neighbours: Neighbours, labels: list[str], source: str) -> Figure:
    fig = _figure(10, 0.45 * len(neighbours.query_ids) + 1.2)
    draw_neighbours(fig.add_subplot(), neighbours, labels, source)
    return fig


def positions_figure(positions: PositionSimilarity) -> Figure:
    heads = positions.own.shape[0] if positions.kind == "score bias" else 1
    fig = _figure(4.2 * (heads + 1) + 1, 5)
    draw_positions(fig, positions)
    return fig


def attention_figure(maps: np.ndarray, tokens: list[str]) -> Figure:
    """Every layer and head; a map grows with the prompt (0.14 inch per token, room for a
    7-point label) until the figure would pass MAX_FIGURE_INCHES."""
    layers, heads, length = maps.shape[:3]
    cell = min(max(2.5, 0.14 * length + 0.8), MAX_FIGURE_INCHES / max(layers, heads))
    fig = _figure(cell * heads + 1.2, cell * layers + 0.6)
    draw_attention(fig, maps, tokens, cell_inches=cell)
    return fig


def tokens_figure(prompt: TokenizedText, stats: TokenizationStats, source: str) -> Figure:
    fig = _figure(11, 3.2)
    draw_tokens(fig.add_subplot(), prompt, stats, source)
    return fig


def memory_figure(memory: EmbeddingMemory) -> Figure:
    fig = _figure(8, 3.4)
    draw_memory(fig.add_subplot(), memory)
    return fig


def overview_layers(num_layers: int) -> list[int]:
    """The layers the overview shows: the first and the last (all layers are in attention.png)."""
    return [0] if num_layers == 1 else [0, num_layers - 1]


def overview_figure(inspection: Inspection, title: str = "") -> Figure:
    """One page: projection and neighbours; positions and attention; tokens and memory."""
    fig = _figure(19, 15)
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[1.35, 1.0, 0.55])
    left, right = top.subfigures(1, 2, width_ratios=[1.25, 1])
    draw_projection(
        left.add_subplot(),
        inspection.projection,
        inspection.explained_variance_ratio,
        inspection.labels,
        inspection.stats.counts,
        inspection.projection_fitted_on_used,
    )
    draw_neighbours(
        right.add_subplot(), inspection.neighbours, inspection.labels, inspection.stats_source
    )
    left, right = middle.subfigures(1, 2, width_ratios=[1, 1.35])
    draw_positions(left, inspection.positions, max_heads=2)
    layers = overview_layers(inspection.attention.shape[0])
    cell = min(10.0 / inspection.attention.shape[1], 5.5 / len(layers))  # the panel's share
    draw_attention(right, inspection.attention, inspection.prompt.tokens, layers, cell)
    left, right = bottom.subfigures(1, 2, width_ratios=[1.5, 1])
    draw_tokens(left.add_subplot(), inspection.prompt, inspection.stats, inspection.stats_source)
    draw_memory(right.add_subplot(), inspection.memory)
    fig.suptitle(title or describe_model(inspection), fontsize=14, weight="bold")
    return fig


def describe_model(inspection: Inspection) -> str:
    c = inspection.model_config
    return (
        f"{inspection.tokenizer_name}, vocabulary {c.vocab_size}, embed {c.embed_dim}, "
        f"{c.num_layers} layers x {c.num_heads} heads, positions: {c.pos_encoding}"
    )


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Render `fig` as PNG and replace `path` atomically; returns the path."""
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def inspection_figures(inspection: Inspection, title: str = "") -> dict[str, Figure]:
    """Every figure of an inspection by file name, the overview last."""
    i = inspection
    return {
        "embeddings.png": projection_figure(
            i.projection,
            i.explained_variance_ratio,
            i.labels,
            i.stats.counts,
            i.projection_fitted_on_used,
        ),
        "neighbours.png": neighbours_figure(i.neighbours, i.labels, i.stats_source),
        "positions.png": positions_figure(i.positions),
        "attention.png": attention_figure(i.attention, i.prompt.tokens),
        "tokens.png": tokens_figure(i.prompt, i.stats, i.stats_source),
        "memory.png": memory_figure(i.memory),
        "overview.png": overview_figure(i, title),
    }


def write_figures(
    inspection: Inspection, out_dir: str | os.PathLike[str], title: str = ""
) -> list[Path]:
    """Save every figure of `inspection_figures` into `out_dir` (created if needed)."""
    os.makedirs(out_dir, exist_ok=True)
    figures = inspection_figures(inspection, title)
    return [save_figure(fig, os.path.join(out_dir, name)) for name, fig in figures.items()]
