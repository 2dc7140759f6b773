"""The machine a benchmark ran on, and one thread count applied to both libraries.

NumPy's BLAS (OpenBLAS in the NumPy wheels) is told its thread count through OpenBLAS's own C
functions, found in the shared libraries this process has loaded (the way threadpoolctl does
it, without the dependency); torch gets `torch.set_num_threads`. Both are read back and printed,
so a table always says how many threads produced it.
"""

from __future__ import annotations

import ctypes
import os
import platform
import warnings
from typing import Any

import numpy as np
import scipy
import torch

from tinytorch.core import parallel

# OpenBLAS exports its API with a prefix and suffix that depend on the build: the NumPy and
# SciPy wheels use `scipy_openblas_*64_`, a system OpenBLAS plain `openblas_*`.
_OPENBLAS_NAMES = (("scipy_openblas_", "64_"), ("scipy_openblas_", ""), ("openblas_", ""))


def _loaded_openblas_paths() -> list[str]:
    """Paths of the OpenBLAS libraries mapped into this process (NumPy's, SciPy's)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    return sorted(p for p in paths if p.startswith("/"))


def _openblas_function(library: ctypes.CDLL, name: str) -> Any:
    for prefix, suffix in _OPENBLAS_NAMES:
        function = getattr(library, f"{prefix}{name}{suffix}", None)
        if function is not None:
            return function
    return None


def _openblas_libraries() -> list[tuple[str, ctypes.CDLL]]:
    libraries = []
    for path in _loaded_openblas_paths():
        library = ctypes.CDLL(path)
        if _openblas_function(library, "get_num_threads") is not None:
            libraries.append((path, library))
    return libraries


def set_threads(count: int) -> None:
    """Use `count` threads in NumPy's BLAS (every loaded OpenBLAS), tinytorch's ops and torch."""
    if count < 1:
        raise ValueError(f"thread count must be >= 1, got {count}")
    libraries = _openblas_libraries()
    if not libraries:
        raise RuntimeError(
            "no OpenBLAS library is loaded, so NumPy's BLAS thread count cannot be set; "
            f"NumPy's BLAS is {blas_description()}"
        )
    for _, library in libraries:
        _openblas_function(library, "set_num_threads")(ctypes.c_int(count))
    parallel.set_num_threads(count)
    torch.set_num_threads(count)


def blas_description() -> str:
    """NumPy's BLAS: name and version from its build config, plus OpenBLAS's running kernel."""
    with warnings.catch_warnings():  # NumPy suggests pyyaml for prettier output; dicts need none
        warnings.simplefilter("ignore")
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    text = f"{blas.get('name')} {blas.get('version')}"
    for _, library in _openblas_libraries()[:1]:
        corename = _openblas_function(library, "get_corename")
        if corename is not None:
            corename.restype = ctypes.c_char_p
            text += f" (kernel {corename().decode()})"
    return text


def numpy_blas_threads() -> list[int]:
    """Thread count of every loaded OpenBLAS (NumPy's and SciPy's copies)."""
    return [
        int(_openblas_function(library, "get_num_threads")())
        for _, library in _openblas_libraries()
    ]


def cpu_model() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def describe() -> dict[str, Any]:
    """Everything a reader needs to compare a result table with their own machine."""
    return {
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "load_average_1min": os.getloadavg()[0],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "numpy_blas": blas_description(),
        "numpy_blas_threads": numpy_blas_threads(),
        "tinytorch_threads": parallel.get_num_threads(),
        "torch_threads": torch.get_num_threads(),
        "torch_blas": "MKL" if torch.backends.mkl.is_available() else "other",
        "openblas_env": {
            name: os.environ[name]
            for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")
            if name in os.environ
        },
    }


def format_description(info: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"machine: {info['cpu']}, nproc {info['nproc']} ({info['usable_cpus']} usable), "
            f"1-min load average {info['load_average_1min']:.2f}",
            f"python {info['python']}, numpy {info['numpy']}, scipy {info['scipy']}, "
            f"torch {info['torch']} ({info['torch_blas']})",
            f"numpy BLAS: {info['numpy_blas']}",
            f"threads: numpy BLAS {info['numpy_blas_threads']}, tinytorch ops "
            f"{info['tinytorch_threads']}, torch {info['torch_threads']}"
            + (f"; OpenBLAS environment {info['openblas_env']}" if info["openblas_env"] else ""),
        ]
    )
