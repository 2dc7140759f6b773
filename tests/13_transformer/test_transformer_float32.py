"""A float32 GPT training step never makes a float64 array: no silent promotion anywhere.

NumPy 2 promotes `float32_array * np.float64(x)` to float64, so a single NumPy scalar in an op's
math would double that op's memory traffic and leak float64 into everything downstream. The
check wraps `Function.apply` (every op output) and every `Function.backward` (every gradient
an op hands back), then also inspects parameters, their gradients and the optimizer state.
"""

import numpy as np
import pytest

from tinytorch.core.autograd import Function
from tinytorch.core.optimizers import AdamW
from tinytorch.core.random import manual_seed
from tinytorch.core.sparse import RowSparseGrad
from tinytorch.models.transformer import GPT


def _float_arrays(value):
    """Every floating-point array inside a backward result (tuples, None, sparse grads)."""
    if isinstance(value, (tuple, list)):
        for item in value:
            yield from _float_arrays(item)
    elif isinstance(value, RowSparseGrad):
        yield value.values
    elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
        yield value


@pytest.fixture
def dtype_log(monkeypatch):
    """(op name, where, dtype) of every floating array produced by forward and backward."""
    log = []
    original_apply = Function.apply.__func__

    def checked_apply(cls, *inputs, **params):
        out = original_apply(cls, *inputs, **params)
        if out.dtype.kind == "f":
            log.append((cls.__name__, "forward", out.dtype))
        fn = out._ctx
        if fn is not None:
            original_backward = fn.backward

            def checked_backward(grad, name=cls.__name__, backward=original_backward):
                grads = backward(grad)
                log.extend((name, "backward", g.dtype) for g in _float_arrays(grads))
                return grads

            fn.backward = checked_backward
        return out

    monkeypatch.setattr(Function, "apply", classmethod(checked_apply))
    return log


@pytest.mark.parametrize("pos_encoding", ["learned", "rope", "alibi"])
def test_gpt_training_step_stays_float32(dtype_log, pos_encoding):
    manual_seed(0)
    model = GPT(40, 32, 2, 4, 16, pos_encoding=pos_encoding, dropout=0.1)
    optimizer = AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    rng = np.random.default_rng(0)
    ids, targets = rng.integers(0, 40, (3, 16)), rng.integers(0, 40, (3, 16))

    for _ in range(2):  # the second step runs AdamW on existing moment buffers
        optimizer.zero_grad()
        logits, loss = model(ids, targets)
        loss.backward()
        optimizer.step()

    ops = {name for name, _, _ in dtype_log}
    # The log covers the whole step: every kind of op of a block, forward and backward.
    assert {
        "LinearFunction",
        "LayerNormFunction",
        "GELUFunction",
        "ScaledDotProductAttention",
        "CrossEntropyFunction",
    } <= ops
    assert {where for _, where, _ in dtype_log} == {"forward", "backward"}
    not_float32 = [entry for entry in dtype_log if entry[2] != np.float32]
    assert not_float32 == []
    assert logits.dtype == np.float32 and loss.dtype == np.float32
    for name, param in model.named_parameters():
        assert param.dtype == np.float32, name
        assert param.grad.dtype == np.float32, name
    for state in optimizer.state.values():
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32, key
