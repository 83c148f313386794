"""Where and in what precision a network runs: device choice, native-bf16 detection and autocast dtypes.

Two rules share these helpers:

- **training** (:func:`autocast_dtype`): ``"auto"`` is bf16 wherever the hardware does bf16 natively (CUDA, or a CPU
  with AVX-512 BF16 / AMX), because training steps are what it speeds up;
- **inference** (:func:`resolve_precision`): ``"auto"`` is bf16 on CUDA only; on a CPU it stays fp32, whose outputs
  match the original code's to 3e-6 (bf16 moves intensities by up to 0.05).

``"auto"`` never picks bf16 where it is emulated (a CPU without native bf16, 5–70× slower than fp32); an explicit
``"bf16"`` there is honoured with a warning that says what it costs (:func:`warn_if_emulated`).

Example:
    >>> import torch
    >>> resolve_precision("auto", torch.device("cpu")) is None  # fp32 on a CPU
    True
    >>> autocast_dtype("fp32", torch.device("cuda")) is None
    True
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch

PRECISIONS = ("auto", "bf16", "fp32")


def resolve_device(name: str | torch.device) -> torch.device:
    """``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` as a device; a clear error without CUDA."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was asked for, but torch finds no CUDA device here; use --device cpu")
    return torch.device(name)


def cpu_supports_bf16() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX-512 BF16 or AMX), where bf16 autocast pays off."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def _check(precision: str) -> None:
    if precision == "int8":
        raise ValueError("int8 is not an autocast precision: it is a quantised ONNX Runtime graph, built by "
                         "AUModel.quantized (aulib predict --precision int8 and "
                         "aulib.predict.loop.load_inference_model do it)")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")


def warn_if_emulated(device: torch.device) -> None:
    """Warn that an explicit bf16 on a CPU without native bf16 is emulated, and what that costs."""
    if device.type == "cpu" and not cpu_supports_bf16():
        capability = torch.backends.cpu.get_cpu_capability()
        warnings.warn(
            f"bf16 was asked for, but this CPU has no native bf16 (no AVX-512 BF16 or AMX; torch's CPU capability is "
            f"{capability}): torch emulates it. Measured on a 2-core AVX2 EPYC, the paper network took 1-13 s per "
            "image in bf16 against 0.19 s in fp32. Use precision fp32 (what auto picks here).",
            RuntimeWarning, stacklevel=3)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The training rule: ``"auto"`` is bf16 on CUDA and on CPUs with native bf16, else fp32 (``None``)."""
    _check(precision)
    if precision == "fp32":
        return None
    if precision == "bf16":
        warn_if_emulated(device)
        return torch.bfloat16
    if device.type == "cuda" or (device.type == "cpu" and cpu_supports_bf16()):
        return torch.bfloat16
    return None


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The inference rule: the autocast dtype for ``precision`` on ``device``; ``None`` = fp32.

    ``"auto"`` is **bf16 on CUDA** (several times the fp32 throughput on tensor cores) and **fp32 on a CPU**, even
    one with native bf16 (AVX-512 BF16, AMX). Why fp32 there: on the 2-core AVX-512 BF16 EPYC of BENCHMARKS.md,
    bf16 made ``aulib predict`` only 1.5× faster end to end (32 against 22 frames/s: face finding, decoding and
    warping do not speed up), while it moved intensities by up to 0.05 (0.003–0.01 on average) on the 0–5
    scale, beyond the 0.01 this project allows bf16; fp32 reproduces the original code's network to 3e-6. Pass
    ``"bf16"`` for the extra speed when a few hundredths of an intensity level do not matter.
    """
    _check(precision)
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return autocast_dtype(precision, device)


@contextlib.contextmanager
def without_tf32() -> Iterator[None]:
    """fp32 means fp32 on a GPU too: cuDNN would otherwise use TF32 (a 10-bit mantissa) for convolutions."""
    previous = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = previous
