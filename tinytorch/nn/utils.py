"""`torch.nn.utils`: the gradient clipping PyTorch training loops call."""

from tinytorch.core.grad_clipping import clip_grad_norm_

__all__ = ["clip_grad_norm_"]
