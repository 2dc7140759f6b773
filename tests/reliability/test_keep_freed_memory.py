"""`tinytorch.keep_freed_memory()` makes glibc keep freed memory, so a repeated step stops
page-faulting; importing tinytorch alone changes nothing in the process.

Each case runs in a fresh interpreter (the allocator settings are per process and cannot be
undone): it allocates and frees 64 MiB of touched arrays a few times, then counts the minor page
faults of five more rounds. With freed memory kept there are none; with glibc's defaults (no
call, or the opt-out), returning memory to the kernel makes every round fault its pages in again.
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
import sys
import numpy as np
import tinytorch

applied = tinytorch.keep_freed_memory() if sys.argv[1] == "call" else None

def round_of_allocations():
    arrays = [np.ones(4 * 1024 * 1024, np.float32) for _ in range(4)]  # 4 x 16 MiB
    del arrays

round_of_allocations()
round_of_allocations()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    round_of_allocations()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, applied)
"""


def _faults_and_applied(call: bool, opt_out: bool = False) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "TINYTORCH_KEEP_FREED_MEMORY"}
    if opt_out:
        env["TINYTORCH_KEEP_FREED_MEMORY"] = "0"
    done = subprocess.run(
        [sys.executable, "-c", ROUNDS, "call" if call else "import-only"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    faults, applied = done.stdout.split()
    return int(faults), applied


def test_the_call_keeps_freed_memory_so_repeated_allocations_do_not_fault():
    faults, applied = _faults_and_applied(call=True)
    assert applied == "True"
    assert faults < 100  # 5 rounds x 16,384 pages would fault if memory were returned


def test_importing_tinytorch_leaves_the_allocator_alone():
    faults, applied = _faults_and_applied(call=False)
    assert applied == "None"
    assert faults > 1000


def test_opt_out_keeps_glibc_defaults_which_fault_again():
    faults, applied = _faults_and_applied(call=True, opt_out=True)
    assert applied == "False"
    assert faults > 1000
