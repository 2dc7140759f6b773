"""Optimizers (SGD, Adam, AdamW); gradient clipping and the LR schedules are re-exported from
`tinytorch.core.grad_clipping` and `tinytorch.core.schedules`.

The update formulas are PyTorch's (`torch.optim.sgd` / `adam` single-tensor paths), applied in
place to `param.data` (other objects hold references to those arrays) with in-place NumPy ops
and Python-float constants, so a float32 parameter and its state stay float32.

Row-sparse gradients (`RowSparseGrad`, from `Embedding(sparse=True)`) are applied without
densifying: only the rows in `grad.indices` of the parameter and of its state are read and
written. Without momentum or weight decay SGD gives exactly the dense result. Everything that
would touch every row in the dense formula (momentum decay, Adam moments, weight decay) is
"lazy" instead, as in `torch.optim.SparseAdam`: a row's state changes only in steps where the
row has a gradient, while bias correction uses the parameter's global step count.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from tinytorch.core.checks import is_number
from tinytorch.core.grad_clipping import clip_grad_norm_
from tinytorch.core.schedules import LambdaLR, LRSchedule, WarmupCosineSchedule
from tinytorch.core.sparse import RowSparseGrad, zero_grads
from tinytorch.core.tensor import Tensor

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "clip_grad_norm_",
    "LRSchedule",
    "LambdaLR",
    "WarmupCosineSchedule",
]

ParamsArg = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer(ABC):
    """Base class: parameter groups, per-parameter state, `zero_grad`, `step`, state dicts.

    `params` is an iterable of tensors or of group dicts (`{"params": [...], "lr": ...}`); a
    group's missing hyperparameters come from `defaults`. Each group's `"lr"` may be changed
    between steps (LR schedules do). Subclasses implement `_update(param, grad, group, state)`.
    """

    _STATE_COUNTS: tuple[str, ...] = ()  # per-parameter state entries that are integer counts
    _STATE_ARRAYS: tuple[str, ...] = ()  # per-parameter state entries shaped like the parameter
    _REQUIRED_STATE: tuple[str, ...] = ()  # entries a loaded state must have (others are lazy)

    def __init__(self, params: ParamsArg, defaults: dict[str, Any]) -> None:
        if isinstance(params, (Tensor, Mapping)):
            raise TypeError(
                "params must be an iterable of tensors or of param-group dicts, got a single "
                f"{type(params).__name__}"
            )
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        self._workspaces: dict[np.dtype, np.ndarray] = {}
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: Mapping[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill the rest)."""
        if not isinstance(group, Mapping) or "params" not in group:
            raise TypeError(f"a param group must be a dict with a 'params' entry, got {group!r}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer params must be Tensors, got {type(p).__name__}")
            if p.dtype.kind != "f" or not p.is_leaf:
                raise ValueError(
                    f"can only optimize floating-point leaf tensors, got one of dtype {p.dtype}"
                    f"{'' if p.is_leaf else ' that is not a leaf'}"
                )
            if id(p) in seen:
                raise ValueError("a parameter appears more than once in the optimizer's groups")
            seen.add(id(p))
        full = {**self.defaults, **group, "params": params}
        unknown = sorted(set(full) - set(self.defaults) - {"params"})
        if unknown:
            raise ValueError(
                f"unknown hyperparameters {unknown} for {type(self).__name__}; "
                f"allowed: {sorted(self.defaults)}"
            )
        self._check_hyperparameters(full)
        self.param_groups.append(full)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        """Raise ValueError for a hyperparameter outside its allowed range."""
        _check_non_negative(group, "lr")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every gradient, or (set_to_none=False) replace it by zeros of the same kind."""
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return `closure()` if one is given."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.shape != p.shape:
                    raise ValueError(
                        f"gradient of shape {p.grad.shape} does not match its parameter of shape "
                        f"{p.shape}"
                    )
                self._update(p, p.grad, group, self.state.setdefault(p, {}))
                p._version += 1  # an in-place write: a graph that saved p refuses to backward
        return loss

    @abstractmethod
    def _update(self, param: Tensor, grad: Any, group: dict[str, Any], state: dict) -> None:
        """Apply one step to `param` in place; `grad` is an ndarray or a `RowSparseGrad`."""

    def _workspace(self, like: np.ndarray) -> np.ndarray:
        """A scratch array shaped like `like`, reused across parameters and steps."""
        buffer = self._workspaces.get(like.dtype)
        if buffer is None or buffer.size < like.size:
            buffer = self._workspaces[like.dtype] = np.empty(like.size, dtype=like.dtype)
        return buffer[: like.size].reshape(like.shape)

    @staticmethod
    def _apply_to_rows(
        rows: np.ndarray | None, arrays: list[np.ndarray], update: Callable[..., None]
    ) -> None:
        """Run the in-place `update(*arrays)` on whole arrays, or only on `rows` of them."""
        if rows is None:
            update(*arrays)
            return
        gathered = [array[rows] for array in arrays]
        update(*gathered)
        for array, part in zip(arrays, gathered, strict=True):
            array[rows] = part

    # ---------------------------------------------------------------------------- state
    def _indexed_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """Plain data only: `{"state": {index: {name: array | int}}, "param_groups": [...]}`.

        Parameters are referred to by their index across all groups, as in PyTorch; arrays are
        copies, so the dict is a snapshot.
        """
        state = {}
        for index, p in enumerate(self._indexed_params()):
            if self.state.get(p):
                state[index] = {
                    k: (v.copy() if isinstance(v, np.ndarray) else v)
                    for k, v in self.state[p].items()
                }
        groups = []
        offset = 0
        for group in self.param_groups:
            count = len(group["params"])
            groups.append({**group, "params": list(range(offset, offset + count))})
            offset += count
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and state; validate everything first, so a bad dict changes
        nothing. State keys may be ints or their strings (JSON); floating state arrays take the
        parameter's dtype, as in PyTorch."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"state dict has {len(saved_groups)} param groups, optimizer has "
                f"{len(self.param_groups)}"
            )
        new_groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"param group {i} has {len(saved['params'])} parameters in the state dict, "
                    f"{len(group['params'])} in the optimizer"
                )
            if set(saved) != set(group):
                raise ValueError(
                    f"param group {i} hyperparameters differ: state dict has {sorted(saved)}, "
                    f"optimizer has {sorted(group)}"
                )
            new_group = {
                k: (tuple(v) if isinstance(group[k], tuple) else v)
                for k, v in saved.items()
                if k != "params"
            }
            new_group["params"] = group["params"]
            self._check_hyperparameters(new_group)
            new_groups.append(new_group)

        params = self._indexed_params()
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, entries in state_dict["state"].items():
            index = int(key)
            if not 0 <= index < len(params):
                raise ValueError(f"state for parameter index {index}, but there are {len(params)}")
            new_state[params[index]] = self._validated_state(index, params[index], entries)

        self.param_groups = new_groups
        self.state = new_state

    def _validated_state(self, index: int, param: Tensor, entries: Mapping[str, Any]) -> dict:
        state: dict[str, Any] = {}
        for name, value in entries.items():
            if name in self._STATE_COUNTS:
                count = np.asarray(value)
                if count.shape != () or count.dtype.kind not in "iu" or count < 0:
                    raise ValueError(
                        f"state {name!r} of parameter {index} must be a non-negative integer, "
                        f"got {value!r}"
                    )
                state[name] = int(count)
            elif name in self._STATE_ARRAYS:
                array = np.asarray(value)
                if array.shape != param.shape:
                    raise ValueError(
                        f"state {name!r} of parameter {index} has shape {array.shape}, the "
                        f"parameter has shape {param.shape}"
                    )
                if array.dtype.kind != "f":
                    raise TypeError(
                        f"state {name!r} of parameter {index} must be floating point, got dtype "
                        f"{array.dtype}"
                    )
                state[name] = array.astype(param.dtype, copy=True)
            else:
                raise ValueError(
                    f"unknown state {name!r} for parameter {index} of {type(self).__name__}; "
                    f"allowed: {[*self._STATE_COUNTS, *self._STATE_ARRAYS]}"
                )
        missing = [name for name in self._REQUIRED_STATE if name not in state]
        if state and missing:
            raise ValueError(f"state of parameter {index} lacks {missing}")
        return state


def _check_non_negative(group: Mapping[str, Any], *names: str) -> None:
    for name in names:
        value = group[name]
        if not is_number(value) or not value >= 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")


def _check_implementation_choices(**choices: Any) -> None:
    """PyTorch's `foreach`, `fused` and `capturable` choose how the same update is computed
    (per-tensor loops, one kernel, CUDA graphs); tinytorch has one implementation, so they are
    accepted and change nothing. `differentiable=True` would record step() in the graph, which
    tinytorch does not do, so only False is accepted."""
    for name, value in choices.items():
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool or None, got {value!r}")
    if choices.get("differentiable"):
        raise ValueError(
            "differentiable=True is not supported (allowed: False): tinytorch does not record "
            "optimizer steps in the graph"
        )


def _gradient_rows(grad: Any) -> tuple[np.ndarray | None, np.ndarray]:
    """(rows, values) of a row-sparse gradient, or (None, the dense gradient)."""
    if isinstance(grad, RowSparseGrad):
        return grad.indices, grad.values
    return None, grad


# ------------------------------------------------------------------------------------ SGD
class SGD(Optimizer):
    """Stochastic gradient descent with PyTorch's momentum, dampening, Nesterov and L2 rules.

    The momentum buffer starts as the first gradient (no dampening on that step), then
    `buf = momentum * buf + (1 - dampening) * grad`; Nesterov steps along
    `grad + momentum * buf`. Row-sparse gradients: see the module docstring (with momentum, the
    buffer starts as zeros with the first gradient's rows filled in).
    """

    _STATE_ARRAYS = ("momentum_buffer",)

    def __init__(
        self,
        params: ParamsArg,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
        *,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_implementation_choices(
            foreach=foreach, differentiable=differentiable, fused=fused
        )
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        _check_non_negative(group, "lr", "momentum", "dampening", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "Nesterov momentum requires momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _update(self, param: Tensor, grad: Any, group: dict[str, Any], state: dict) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, weight_decay = float(group["dampening"]), float(group["weight_decay"])
        rows, grad = _gradient_rows(grad)
        if group["maximize"]:
            grad = -grad
        first_step = momentum != 0.0 and "momentum_buffer" not in state
        if first_step:
            state["momentum_buffer"] = np.zeros_like(param.data)
        arrays = [param.data] + ([state["momentum_buffer"]] if momentum != 0.0 else [])

        def update(p: np.ndarray, buf: np.ndarray | None = None) -> None:
            g = grad + weight_decay * p if weight_decay != 0.0 else grad
            work = self._workspace(p)
            if buf is not None:
                if first_step:
                    buf[...] = g
                else:
                    buf *= momentum
                    np.multiply(g, 1.0 - dampening, out=work)
                    buf += work
                if group["nesterov"]:
                    np.multiply(buf, momentum, out=work)
                    work += g
                    g = work
                else:
                    g = buf
            np.multiply(g, lr, out=work)
            p -= work

        self._apply_to_rows(rows, arrays, update)


# ----------------------------------------------------------------------------------- Adam
class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's formula: bias-corrected moments, `eps` added after
    dividing `sqrt(v)` by `sqrt(1 - beta2^t)`, weight decay added to the gradient (L2), optional
    AMSGrad. Row-sparse gradients: lazy moments, see the module docstring. `foreach`, `fused`,
    `capturable` are accepted for PyTorch code and change nothing (one implementation here);
    `decoupled_weight_decay=True` is AdamW's rule, as in PyTorch."""

    _STATE_COUNTS = ("step",)
    _STATE_ARRAYS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _REQUIRED_STATE = ("step", "exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_implementation_choices(
            foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused
        )
        self._decoupled_weight_decay = bool(decoupled_weight_decay)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        _check_non_negative(group, "lr", "eps", "weight_decay")
        betas = group["betas"]
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")

    def _update(self, param: Tensor, grad: Any, group: dict[str, Any], state: dict) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        rows, grad = _gradient_rows(grad)
        if group["maximize"]:
            grad = -grad
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param.data)
            state["exp_avg_sq"] = np.zeros_like(param.data)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(param.data)
        state["step"] += 1
        step = state["step"]
        step_size = lr / (1.0 - beta1**step)
        bias_correction2_sqrt = math.sqrt(1.0 - beta2**step)
        decoupled = self._decoupled_weight_decay

        def update(p: np.ndarray, m: np.ndarray, v: np.ndarray, v_max: Any = None) -> None:
            g = grad
            if weight_decay != 0.0:
                if decoupled:
                    p *= 1.0 - lr * weight_decay
                else:
                    g = grad + weight_decay * p
            work = self._workspace(p)
            np.subtract(g, m, out=work)  # m.lerp_(g, 1 - beta1)
            work *= 1.0 - beta1
            m += work
            v *= beta2
            np.multiply(g, g, out=work)
            work *= 1.0 - beta2
            v += work
            if v_max is not None:
                np.maximum(v_max, v, out=v_max)
            np.sqrt(v if v_max is None else v_max, out=work)
            work /= bias_correction2_sqrt
            work += eps
            np.divide(m, work, out=work)
            work *= -step_size
            p += work

        arrays = [param.data, state["exp_avg"], state["exp_avg_sq"]]
        if group["amsgrad"]:
            arrays.append(state["max_exp_avg_sq"])
        self._apply_to_rows(rows, arrays, update)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): `p *= 1 - lr * weight_decay`
    before the Adam step instead of adding `weight_decay * p` to the gradient; PyTorch's default
    weight_decay for AdamW is 1e-2 (Adam's is 0). Everything else is Adam's."""

    __init__ = functools.partialmethod(
        Adam.__init__, weight_decay=1e-2, decoupled_weight_decay=True
    )
