"""A run saved by an earlier tinytorch (before the settings types existed) still resumes exactly.

`fixtures/run_saved_before_settings/` is a `--preset test` run of 6 steps written by tinytorch
0.1.0 as it was before `GPTConfig` and `TrainConfig` (its config.json has none of the settings
added since, such as betas or activation). Resuming it to step 9 must reproduce, bit for bit, what
that tinytorch produced when it resumed the same run: the same step-9 training loss and the same
weights.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "run_saved_before_settings"
# Recorded with tinytorch 0.1.0 at commit dd7e5f4: `tinytorch train --out RUN --resume --steps 9`.
STEP_9_TRAIN_LOSS = 3.498968760172526
STEP_9_WEIGHTS_SHA256 = "fee4d988e34ae98261f4c1edfbd61ee8af114a43ad586171cce886ff115b3626"


def test_a_run_saved_before_new_settings_existed_resumes_bit_exactly(tmp_path: Path, cli) -> None:
    run = Path(shutil.copytree(FIXTURE, tmp_path / "run"))
    saved = json.loads((run / "config.json").read_text())
    assert "betas" not in saved["train"] and "activation" not in saved["model"]

    result = cli("train", "--out", str(run), "--resume", "--steps", "9")

    assert result.code == 0, result.err
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 9
    assert records[-1]["train_loss"] == STEP_9_TRAIN_LOSS
    weights = hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest()
    assert weights == STEP_9_WEIGHTS_SHA256
    resaved = json.loads((run / "config.json").read_text())
    assert resaved["train"]["betas"] == [0.9, 0.95]  # the defaults are what that run used
    assert resaved["model"]["activation"] == "gelu_tanh"
