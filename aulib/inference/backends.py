"""What runs a network, and the policy that picks it: eager PyTorch or ONNX Runtime.

:class:`aulib.inference.model.AUModel` holds a backend and calls it; it does not choose one. :func:`make_backend`
does: ``"auto"`` is ONNX Runtime for fp32 inference when it is installed (a third faster on a CPU than eager
PyTorch: BENCHMARKS.md), and PyTorch for bf16, for a module that must stay shared (the trainer's validation runs its
training module), or without ONNX Runtime. The precision itself follows :mod:`aulib.inference.precision`.

Example:
    >>> import torch
    >>> from aulib.models import create_model
    >>> backend = make_backend("torch", create_model("tiny").eval(), 96, torch.device("cpu"), None, None, False)
    >>> backend.name, tuple(backend(torch.rand(1, 3, 96, 96)).shape)
    ('torch', (1, 5, 24, 24))
"""

from __future__ import annotations

import contextlib
import copy
import os
from typing import Protocol

import torch
from torch import nn

from aulib.inference.precision import without_tf32


class Backend(Protocol):
    """What runs a network: ``backend(images) -> outputs`` on float ``(B, 3, S, S)`` images in [0, 1]."""

    name: str

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


class TorchBackend:
    """Eager PyTorch: the module in eval mode, channels-last, under ``inference_mode`` and autocast.

    Args:
        network: the module (not copied: the trainer's validation runs its training module this way).
        device: where it runs.
        amp_dtype: autocast dtype (``torch.bfloat16``) or ``None`` for fp32 (TF32 off on CUDA).
    """

    name = "torch"

    def __init__(self, network: nn.Module, device: torch.device, amp_dtype: torch.dtype | None) -> None:
        self.network, self.device, self.amp_dtype = network, device, amp_dtype

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        self.network.eval()
        images = images.to(self.device).contiguous(memory_format=torch.channels_last)
        exact = without_tf32() if self.amp_dtype is None and self.device.type == "cuda" else contextlib.nullcontext()
        with torch.inference_mode(), exact, torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                                                           enabled=self.amp_dtype is not None):
            return self.network(images).float()


BACKENDS = ("auto", "torch", "onnxruntime")


def make_backend(name: str, network: nn.Module, input_size: int, device: torch.device, amp_dtype: torch.dtype | None,
             source: str | os.PathLike | None, share: bool) -> Backend:
    """The backend ``name`` for ``network``: eager PyTorch, or ONNX Runtime on the cached exported graph."""
    from aulib.inference import onnx

    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {name!r}")
    if name == "auto":
        name = "onnxruntime" if amp_dtype is None and not share and onnx.available() else "torch"
    if name == "torch":
        return TorchBackend(network, device, amp_dtype)
    if amp_dtype is not None:
        raise ValueError("the onnxruntime backend runs fp32 only; use precision fp32, or the torch backend for bf16")
    if not onnx.available():
        raise ImportError("the onnxruntime backend needs the onnxruntime and onnxscript packages "
                          "(pip install onnxruntime onnxscript); or use backend='torch'")
    graph = onnx.cached_graph(copy.deepcopy(network).cpu(), input_size, next_to=source)
    return onnx.OnnxBackend(graph, device)
