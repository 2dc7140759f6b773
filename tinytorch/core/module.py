"""`Module` and `Parameter`: how a layer owns its weights, names them, saves and loads them.

`Module` registers every `Parameter` and sub-module assigned as an attribute, in assignment order,
so `named_parameters()` and `state_dict()` produce PyTorch's names and a state dict maps 1:1 onto
the equivalent PyTorch model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from tinytorch.core.devices import to_arguments
from tinytorch.core.sparse import zero_grads
from tinytorch.core.tensor import Tensor


class Parameter(Tensor):
    """A tensor a `Module` owns and trains: floating point, `requires_grad=True` by default."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)
        if self.data.dtype.kind != "f":
            raise TypeError(f"a Parameter must be floating point, got dtype {self.data.dtype}")

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        registries = self.__dict__.get("_parameters")
        if registries is None:
            raise RuntimeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before assigning "
                "attributes"
            )
        was_buffer = name in self._buffers
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif was_buffer and isinstance(value, Tensor):  # re-assigning a buffer keeps it one
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value: Any, persistent: bool = True) -> None:
        """A non-trainable array that belongs to the module (e.g. a sinusoidal table)."""
        tensor = value if isinstance(value, Tensor) else Tensor(value)
        object.__setattr__(self, name, tensor)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every sub-module, children before parents, then on this one (PyTorch)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter once (a tied weight appears under its first name only)."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self) -> Iterator[Parameter]:
        for _, param in self.named_parameters():
            yield param

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _named_state(self) -> Iterator[tuple[str, Tensor]]:
        """Parameters (tied ones under every name, like PyTorch) and persistent buffers."""
        for module_name, module in self.named_modules():
            dot = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                yield dot + name, param
            for name, buffer in module._buffers.items():
                if name not in module._non_persistent:
                    yield dot + name, buffer

    # ---------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and persistent buffer, by PyTorch-style dotted name."""
        return {name: tensor.data.copy() for name, tensor in self._named_state()}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> None:
        """Copy values in place; validate everything first so a bad dict changes nothing."""
        targets = dict(self._named_state())
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        if strict and (missing or unexpected):
            raise KeyError(
                f"state dict does not match {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        updates = []
        for name, target in targets.items():
            if name not in state_dict:
                continue
            value = np.asarray(state_dict[name])
            if value.shape != target.shape:
                raise ValueError(
                    f"shape mismatch for {name!r}: checkpoint has {value.shape}, "
                    f"model has {target.shape}"
                )
            if value.dtype.kind != target.dtype.kind:
                raise TypeError(
                    f"dtype mismatch for {name!r}: checkpoint has {value.dtype}, "
                    f"model has {target.dtype}"
                )
            updates.append((target, value))
        for target, value in updates:
            target.data[...] = value

    # --------------------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Module:
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every gradient, or (set_to_none=False) set existing ones to zero (a row-sparse
        gradient stays row-sparse, as the optimizer's zero_grad keeps it)."""
        zero_grads(self.parameters(), set_to_none)

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Cast every floating parameter and buffer in place (e.g. float64 for gradient checks).

        PyTorch's arguments: a dtype, a device (only the CPU; any other raises), both, or a
        tensor; `to("cpu")` changes nothing.
        """
        dtype, _ = to_arguments(args, kwargs)
        if dtype is None:
            return self
        if dtype.kind != "f":
            raise TypeError(f"Module.to only accepts floating-point dtypes, got {dtype}")
        for module in self.modules():
            for tensor in (*module._parameters.values(), *module._buffers.values()):
                if tensor.dtype.kind == "f":
                    tensor.data = tensor.data.astype(dtype)
                    tensor.grad = None
        return self

    def cpu(self) -> Module:
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"
