"""ONNX Runtime as the network's runtime: export once, cache the graph next to the weights, run it from there.

Eager PyTorch is the reference and the fallback; ONNX Runtime runs the same (BatchNorm-folded) network with its own
fused, cache-friendly kernels, about twice as fast on a 2-core CPU (BENCHMARKS.md), and on CUDA through its CUDA
provider where the installed package has one. Outputs match PyTorch's fp32 to ~1e-6.

The exported graph is cached next to the model file as ``<file>.<sha>.onnx``, where ``<sha>`` is a hash of the
weights: new weights give a new name, so a stale graph is never run, and an old one is removed when its replacement
is written. A module with no file (or a read-only folder) caches in ``$AULIB_CACHE`` (default
``~/.cache/aulib``). Nothing is ever downloaded.

Example:
    >>> import torch
    >>> from aulib.models import create_model
    >>> module = create_model("tiny").eval()
    >>> digest = weights_digest(module)
    >>> len(digest), digest == weights_digest(module)
    (16, True)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

INPUT, OUTPUT = "images", "outputs"
OPSET = 18


def available() -> bool:
    """Whether ONNX Runtime (and the exporter it needs) is installed."""
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


def weights_digest(module: nn.Module) -> str:
    """A short hash of a module's weights and buffers (names, shapes and values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def cache_path(digest: str, next_to: str | os.PathLike | None = None) -> Path:
    """Where the graph of weights ``digest`` lives: beside ``next_to`` (a weights file) if writable, else the cache."""
    if next_to is not None:
        source = Path(next_to)
        if os.access(source.parent, os.W_OK):
            return source.with_name(f"{source.name}.{digest}.onnx")
    folder = Path(os.environ.get("AULIB_CACHE", Path.home() / ".cache" / "aulib")) / "onnx"
    return folder / f"{digest}.onnx"


def export(network: nn.Module, input_size: int, path: str | os.PathLike) -> Path:
    """Export ``network`` (fp32, eval mode) with a dynamic batch dimension; written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    network = network.float().eval().cpu()
    example = torch.rand(2, 3, input_size, input_size)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(handle)
    try:
        with warnings.catch_warnings(), open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # its chatter
            warnings.simplefilter("ignore")
            torch.onnx.export(network, (example,), partial, input_names=[INPUT], output_names=[OUTPUT],
                              dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=1024)},), dynamo=True,
                              opset_version=OPSET, external_data=False, verbose=False)
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)
    parts = path.name.split(".")
    if len(parts) >= 3:  # <file>.<sha>.onnx beside a weights file: drop the graphs (fp32, int8) of older weights
        source, digest = ".".join(parts[:-2]), parts[-2]
        for stale in path.parent.glob(f"{source}.*.onnx"):
            if not stale.name.startswith(f"{source}.{digest}."):
                stale.unlink(missing_ok=True)
    return path


def cached_graph(network: nn.Module, input_size: int, next_to: str | os.PathLike | None = None) -> Path:
    """The cached graph of ``network``, exported first if there is none for these weights."""
    path = cache_path(weights_digest(network), next_to)
    if not path.is_file():
        export(network, input_size, path)
    return path


class OnnxBackend:
    """Run an exported network with ONNX Runtime: the CPU provider, or CUDA's where present and asked for.

    Args:
        path: the ``.onnx`` graph.
        device: where the outputs go (``cuda`` asks for ONNX Runtime's CUDA provider).
        threads: intra-op threads of the CPU provider (default: one per core).
        precision: what the graph computes in: ``"fp32"``, or ``"int8"`` for a quantised graph
            (:mod:`aulib.inference.quantize`).
    """

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike, device: torch.device, threads: int | None = None,
                 precision: str = "fp32") -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        # No busy-waiting between runs: aulib predict decodes and detects in a second thread on the same cores,
        # which spinning threads would starve (measured: 5-10% more frames/s on 2 cores, fp32 and int8 alike).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.path, self.device, self.precision = Path(path), device, precision
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.providers = self.session.get_providers()

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(images.detach().float().cpu().numpy())
        output = self.session.run([OUTPUT], {INPUT: array})[0]
        return torch.from_numpy(output).to(self.device)
