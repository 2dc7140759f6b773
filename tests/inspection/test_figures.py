"""Figures: each draws the expected panels, and each file written is a valid, non-empty PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from tinytorch.core.random import manual_seed
from tinytorch.inspection import figures as fig_module
from tinytorch.inspection import inspect_model, position_similarity
from tinytorch.inspection.figures import (
    attention_figure,
    draw_positions,
    memory_figure,
    neighbours_figure,
    overview_figure,
    positions_figure,
    projection_figure,
    save_figure,
    tokens_figure,
)
from tinytorch.models.transformer import GPT

from .conftest import POSITION_SCHEMES, TEXT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PROMPT = "the cat sat"


def _image_axes(figure) -> list:
    return [ax for ax in figure.get_axes() if ax.images]


def _all_texts(figure) -> str:
    texts = [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]
    return "\n".join(texts)


@pytest.fixture
def inspect(make_gpt, char_tokenizer):
    def run(pos_encoding):
        model = make_gpt(char_tokenizer.vocab_size, pos_encoding)
        return inspect_model(model, char_tokenizer, PROMPT, TEXT, num_queries=5, k=3)

    return run


def test_projection_labels_every_token_of_the_text_and_names_the_others(inspect) -> None:
    inspection = inspect("learned")
    figure = projection_figure(
        inspection.projection,
        inspection.explained_variance_ratio,
        inspection.labels,
        inspection.stats.counts,
        True,
    )
    (ax,) = figure.get_axes()
    used = np.flatnonzero(inspection.stats.counts > 0)
    annotations = [t.get_text() for t in ax.texts]
    assert annotations == [inspection.labels[i] for i in used]
    assert "\u2423" in annotations and "\\n" in annotations
    legend = ax.get_legend().get_texts()[0].get_text()
    assert legend == "not in the text: <pad>, <unk>, <bos>, <eos>"
    assert f"axes fitted on the {len(used)} in the text" in ax.get_title()


def test_projection_labels_only_the_most_frequent_of_a_big_vocabulary(rng) -> None:
    coords = rng.standard_normal((300, 2))
    counts = np.arange(300)[::-1].copy()  # id 0 most frequent, id 299 never used
    labels = [f"t{i}" for i in range(300)]
    (ax,) = projection_figure(coords, np.array([0.5, 0.2]), labels, counts).get_axes()
    assert [t.get_text() for t in ax.texts] == labels[: fig_module.MAX_PROJECTION_LABELS]


def test_neighbour_table_has_a_row_per_query_and_a_cell_per_neighbour(inspect) -> None:
    inspection = inspect("rope")
    (ax,) = neighbours_figure(inspection.neighbours, inspection.labels, "training text").axes
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 1 + 3 + 5 * (1 + 3)  # header row, then query + 3 neighbours per row
    first = inspection.neighbours.ids[0, 0]
    assert f"{inspection.labels[first]}  {inspection.neighbours.similarities[0, 0]:.2f}" in texts


@pytest.mark.parametrize(
    ("pos_encoding", "image_panels", "note"),
    [
        ("learned", 2, "learned table"),
        ("sinusoidal", 2, "sinusoidal table"),
        ("rope", 2, "rope has no position table"),
        ("alibi", 3, "alibi has no position table"),  # 2 heads + the reference
        ("none", 1, "This model uses no positions"),
    ],
)
def test_positions_side_by_side_with_the_reference_and_a_note(
    inspect, pos_encoding, image_panels, note
) -> None:
    figure = positions_figure(inspect(pos_encoding).positions)
    images = _image_axes(figure)
    assert len(images) == image_panels
    assert images[-1].get_title() == "sinusoidal reference\n(16 positions)"
    assert note in figure._suptitle.get_text()
    if pos_encoding == "none":
        assert "no position table" in _all_texts(figure)


@pytest.mark.parametrize("pos_encoding", POSITION_SCHEMES)
def test_attention_grid_is_layers_by_heads_labelled_by_the_prompt(inspect, pos_encoding) -> None:
    inspection = inspect(pos_encoding)
    figure = attention_figure(inspection.attention, inspection.prompt.tokens)
    images = _image_axes(figure)
    assert len(images) == 2 * 2
    bottom_left = images[2]
    assert [t.get_text() for t in bottom_left.get_xticklabels()] == inspection.prompt.tokens
    assert [t.get_text() for t in bottom_left.get_yticklabels()] == inspection.prompt.tokens
    shown = images[1].get_images()[0].get_array()  # layer 1, head 2
    assert np.ma.is_masked(shown) and shown.mask[0, 1] and not shown.mask[1, 0]
    np.testing.assert_array_equal(shown.filled(0.0), inspection.attention[0, 1])


def test_tokens_figure_draws_one_box_per_token(inspect) -> None:
    inspection = inspect("learned")
    (ax,) = tokens_figure(inspection.prompt, inspection.stats, "training text").axes
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(boxes) == len(inspection.prompt.ids) == len(PROMPT)
    texts = [t.get_text() for t in ax.texts]
    assert [str(i) for i in inspection.prompt.ids.tolist()] == texts[1 : 2 * len(PROMPT) : 2]


def test_memory_figure_has_four_bars_with_the_byte_counts(inspect) -> None:
    memory = inspect("learned").memory
    (ax,) = memory_figure(memory).axes
    widths = [bar.get_width() for bar in ax.patches]
    table = memory.table_bytes
    assert widths == [table, 2 * table, 4 * table, memory.model_parameters * 4]
    assert "counted once" in ax.get_title()


@pytest.mark.parametrize("pos_encoding", ["learned", "alibi", "none"])
def test_overview_combines_the_panels(inspect, pos_encoding) -> None:
    inspection = inspect(pos_encoding)
    figure = overview_figure(inspection)
    position_images = {"learned": 2, "alibi": 3, "none": 1}[pos_encoding]
    attention_images = 2 * 2  # first and last layer, 2 heads each
    assert len(_image_axes(figure)) == position_images + attention_images
    titles = _all_texts(figure)
    for part in (
        "Token embeddings",
        "Nearest neighbours",
        "Positions",
        "Attention",
        "Tokenization of the prompt",
        "Embedding table",
    ):
        assert part in titles


def test_save_figure_replaces_a_file_atomically(inspect, tmp_path: Path) -> None:
    target = tmp_path / "m.png"
    target.write_bytes(b"old")
    assert save_figure(memory_figure(inspect("learned").memory), target) == target
    assert target.read_bytes().startswith(PNG_SIGNATURE)
    assert [p.name for p in tmp_path.iterdir()] == ["m.png"]  # no temp file left behind


def test_many_alibi_heads_are_shown_as_the_steepest_and_the_flattest() -> None:
    manual_seed(0)
    positions = position_similarity(GPT(11, 16, 1, 4, 8, pos_encoding="alibi"))
    figure = Figure()
    draw_positions(figure, positions, max_heads=2)
    titles = [ax.get_title() for ax in _image_axes(figure)]
    reference = "sinusoidal reference\n(8 positions)"
    assert titles == [
        "head 1: bias -0.25 at distance 1",
        "head 4: bias -0.00391 at distance 1",
        reference,
    ]
    assert len(_image_axes(positions_figure(positions))) == 4 + 1
