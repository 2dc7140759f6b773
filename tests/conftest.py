"""Suite-wide settings.

PyTorch is only the oracle here. Its OpenMP workers keep spinning after each op and then fight
OpenBLAS (used by NumPy) for the machine's cores, which can make a 6 ms step take 500 ms; one
torch thread keeps the suite's run time predictable without changing any result.
"""

import torch

torch.set_num_threads(1)

# The Hugging Face GPT-2 directories that tests/13_transformer and tests/cli share.
pytest_plugins = ["tests.hf_gpt2_fixtures"]
