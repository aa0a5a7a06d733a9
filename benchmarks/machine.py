"""The machine block every benchmark writes beside its figures (one definition for all)."""

from __future__ import annotations

import os
import platform
import time
from importlib.metadata import version

import jax

import purejaxdqn


def machine() -> dict:
    devices = jax.devices()
    return {
        "device": devices[0].device_kind,
        "devices": len(devices),
        "platform": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "purejaxdqn": purejaxdqn.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "versions": {
            "purejaxdqn": purejaxdqn.__version__,
            "jax": jax.__version__,
            "gymnax": version("gymnax"),
        },
    }
