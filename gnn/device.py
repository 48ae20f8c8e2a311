"""Pick the torch device: CUDA when present, CPU otherwise."""

from __future__ import annotations

import torch

from ringwatch.errors import ConfigError


def pick_device(setting: str = "auto") -> torch.device:
    """Resolve a device setting.

    Args:
        setting: ``auto`` (CUDA if available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.

    Returns:
        The torch device.

    Raises:
        ConfigError: CUDA requested but not available, or an unknown setting.
    """
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting == "cpu":
        return torch.device("cpu")
    if setting.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {setting!r} requested but CUDA is not available; use auto or cpu")
        return torch.device(setting)
    raise ConfigError(f"unknown device {setting!r}; valid: auto, cpu, cuda, cuda:N")
