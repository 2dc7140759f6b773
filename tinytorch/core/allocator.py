"""Keep freed memory in the process for the next training step instead of returning it (glibc).

A training step allocates and frees the same activations and gradients every time. By default
glibc's malloc gives memory back to the kernel as soon as a few tens of megabytes are free at
the top of its heap, and maps blocks above a threshold separately, unmapping them on free. The
next step then takes a page fault for every 4 KiB page it touches again. On the project machine
that was ~45,000 faults and 15-25% of the bigger benchmark GPT's step (1.87-1.93 s -> 1.39-1.66
s), and still ~2,700 faults per step of the small one; with freed memory kept: 5 and 3.

`keep_freed_memory()` asks glibc to serve blocks up to 32 MiB (the most it allows) from its heap
and to keep up to 1 GiB of freed memory there, as PyTorch's caching allocators keep theirs. The
process's resident memory then stays near its peak instead of falling between steps; the peak
itself does not grow (measured with `python -m benchmarks --cases memory`). The setting is
process-wide, so importing tinytorch does not apply it: a program that trains calls it once at
the start (`tinytorch.keep_freed_memory()`; the `tinytorch` command and the benchmarks do).
The environment variable `TINYTORCH_KEEP_FREED_MEMORY=0` turns the call into a no-op. Other C
libraries (macOS, musl) are left alone.
"""

from __future__ import annotations

import ctypes
import os
import platform

_M_TRIM_THRESHOLD = -1  # from glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3
HEAP_BLOCK_LIMIT = 32 * 1024 * 1024  # glibc refuses an mmap threshold above HEAP_MAX_SIZE / 2
KEPT_FREE_MEMORY = 1024 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Apply the glibc settings above; True when they took effect.

    Returns False, changing nothing, when opted out with `TINYTORCH_KEEP_FREED_MEMORY=0` or when
    the C library is not glibc.
    """
    if os.environ.get("TINYTORCH_KEEP_FREED_MEMORY", "1") == "0":
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL("libc.so.6").mallopt  # returns 1 when glibc accepts the setting
    heap_limit_set = mallopt(_M_MMAP_THRESHOLD, HEAP_BLOCK_LIMIT)
    return bool(heap_limit_set and mallopt(_M_TRIM_THRESHOLD, KEPT_FREE_MEMORY))
