"""Importing tinytorch makes glibc keep freed memory, so a repeated step stops page-faulting.

Each case runs in a fresh interpreter (the allocator settings are per process and cannot be
undone): it allocates and frees 64 MiB of touched arrays a few times, then counts the minor page
faults of five more rounds. With freed memory kept there are none; with the opt-out, glibc's
default of returning memory to the kernel makes every round fault its pages in again.
"""

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the allocator settings apply to glibc only",
)

ROUNDS = """
import resource
import numpy as np
import tinytorch
from tinytorch.core.allocator import keep_freed_memory

def round_of_allocations():
    arrays = [np.ones(4 * 1024 * 1024, np.float32) for _ in range(4)]  # 4 x 16 MiB
    del arrays

round_of_allocations()
round_of_allocations()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    round_of_allocations()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, keep_freed_memory())
"""


def _faults_and_applied(opt_out: bool) -> tuple[int, bool]:
    env = {k: v for k, v in os.environ.items() if k != "TINYTORCH_KEEP_FREED_MEMORY"}
    if opt_out:
        env["TINYTORCH_KEEP_FREED_MEMORY"] = "0"
    done = subprocess.run(
        [sys.executable, "-c", ROUNDS], env=env, capture_output=True, text=True, check=True
    )
    faults, applied = done.stdout.split()
    return int(faults), applied == "True"


def test_import_keeps_freed_memory_so_repeated_allocations_do_not_fault():
    faults, applied = _faults_and_applied(opt_out=False)
    assert applied
    assert faults < 100  # 5 rounds x 16,384 pages would fault if memory were returned


def test_opt_out_keeps_glibc_defaults_which_fault_again():
    faults, applied = _faults_and_applied(opt_out=True)
    assert not applied
    assert faults > 1000
