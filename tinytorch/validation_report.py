"""What a run says about its validation: how much of the held-out text each evaluation scores,
and the numbers a validation loss is measured against (the n-gram baseline, the corpus floor)."""

from __future__ import annotations

from tinytorch.evaluation import HeldOutWindows
from tinytorch.models.ngram import DEFAULT_ORDER
from tinytorch.train_config import TrainConfig
from tinytorch.training_data import TrainingData


def describe_validation(
    config: TrainConfig, data: TrainingData, sample: HeldOutWindows
) -> list[str]:
    """The lines printed at the start of a run, after the model's (`sample`: the windows that
    evaluations during the run score)."""
    budget = f"; {config.time_budget:g}-minute time budget" if config.time_budget else ""
    counted = (
        f", counted on the last {data.baseline_tokens:,} training tokens"
        if data.baseline_tokens < len(data.train_ids)
        else ""
    )
    floor = data.floor_bits_per_char
    return [
        f"validation: {sample.num_targets:,} of the {data.held_out.num_targets:,} held-out "
        f"tokens (windows spread over all of them) every {config.eval_interval} steps, all at "
        f"the end{budget}",
        f"n-gram baseline (order {DEFAULT_ORDER}, Kneser-Ney{counted}): "
        f"{data.baseline.bits_per_char:.3f} bits/char on the held-out text"
        + (f"; corpus entropy floor {floor:.3f}" if floor is not None else ""),
    ]


def comparisons(data: TrainingData) -> str:
    """'n-gram baseline 0.513, corpus floor 0.291': what a validation number is measured against."""
    floor = data.floor_bits_per_char
    return f"n-gram baseline {data.baseline.bits_per_char:.3f}" + (
        f", corpus floor {floor:.3f}" if floor is not None else ""
    )
