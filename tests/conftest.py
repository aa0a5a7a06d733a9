"""Tests run on the CPU (set before JAX starts); shared helpers are in tests/helpers.py."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
