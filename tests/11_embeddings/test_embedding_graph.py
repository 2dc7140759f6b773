"""The graph an embedding records: grad modes switch recording off and on around the lookup, and
a table changed in place between forward and backward is refused (PyTorch's rules)."""

import pytest
import torch

from tinytorch.core.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinytorch.optim import SGD
from tinytorch.text.embeddings import Embedding

IDS = [[1, 2, 3]]


def test_grad_modes_around_a_lookup() -> None:
    """With statements, decorators and the plain call of set_grad_enabled each switch recording
    for exactly their scope and restore what they found, as torch.no_grad and friends do."""
    table = Embedding(10, 4)

    @no_grad()
    def infer():
        return table(IDS)

    @set_grad_enabled(False)
    def infer_too():
        return table(IDS)

    @enable_grad()
    def record():
        return table(IDS)

    @set_grad_enabled(True)
    def record_too():
        return table(IDS)

    assert is_grad_enabled() is True  # decorating changed nothing outside the functions
    assert (infer().requires_grad, infer_too().requires_grad) == (False, False)
    with no_grad():
        assert (record().requires_grad, record_too().requires_grad) == (True, True)
        assert table(IDS).requires_grad is False
    assert table(IDS).requires_grad is True
    set_grad_enabled(False)  # called on its own: the mode stays until changed
    try:
        assert (is_grad_enabled(), table(IDS).requires_grad) == (False, False)
        with set_grad_enabled(True):
            assert table(IDS).requires_grad is True
        assert is_grad_enabled() is False
    finally:
        set_grad_enabled(True)
    assert is_grad_enabled() is True


def test_optimizer_step_before_backward_is_refused() -> None:
    """A tied output head reads the table again; an optimizer step between forward and backward
    would make backward use the updated table for the forward's gradient. PyTorch refuses it
    (the step writes in place and bumps the table's version), and so do we, with its words."""
    table = Embedding(10, 4)
    optimizer = SGD(table.parameters(), lr=0.1)
    (table(IDS) @ table.weight.T).sum().backward()  # a gradient for the step to apply
    loss = (table(IDS) @ table.weight.T).sum()
    optimizer.step()
    with pytest.raises(RuntimeError) as caught:
        loss.backward()
    assert str(caught.value) == (
        "one of the variables needed for gradient computation has been modified by an inplace "
        "operation: an input of EmbeddingFunction of shape (10, 4) is at version 1; expected "
        "version 0 instead. Write into a clone() or before the tensor is used."
    )

    reference = torch.nn.Embedding(10, 4)
    torch_optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    ids = torch.tensor(IDS)
    (reference(ids) @ reference.weight.T).sum().backward()
    loss = (reference(ids) @ reference.weight.T).sum()
    torch_optimizer.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
