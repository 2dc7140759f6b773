"""`python -m tinytorch` is the `tinytorch` command."""

import sys

from tinytorch.cli import main

sys.exit(main())
