"""int8 graphs for ONNX Runtime: static quantisation of the exported network, calibrated on SynthAU crops.

``aulib predict --precision int8`` (:meth:`aulib.inference.model.AUModel.quantized`) runs the network as an int8
ONNX Runtime graph: per-channel int8 weights, uint8 activations whose ranges come from running the fp32 graph on
calibration crops (SynthAU faces aligned as the pipeline aligns them: :func:`aulib.data.calibration.calibration_crops`),
and the first and last convolutions kept in fp32 (the input image and the maps, where rounding would show
directly). It is about three times as fast as fp32 on a 2-core CPU with AVX-512 VNNI, but **not exact**: on real
and SynthAU crops its intensities differ from fp32 by about 0.03–0.05 (median over faces of the largest AU
difference; up to ~0.08 on single faces), against ~1e-6 for the fp32 graph
(BENCHMARKS.md). It is therefore never the default.

On a CPU without VNNI (AVX2 only), ONNX Runtime's uint8 × int8 kernels can saturate their 16-bit
intermediate sums, so the weights are quantised to 7 bits there (ONNX Runtime's ``reduce_range``), which costs
accuracy (median ~0.06 on the ``paper`` network). The two graphs are cached under different names.

The int8 graph is cached next to the fp32 one (:func:`aulib.inference.onnx.cache_path`), keyed by the same hash of
the weights: ``<file>.<sha>.int8.onnx`` (``.int8-r7.onnx`` for the 7-bit variant). Calibration renders its
crops, so nothing is downloaded.

Example:
    >>> int8_path("paper.pt.0123abcd.onnx", reduce_range=False).name
    'paper.pt.0123abcd.int8.onnx'
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from aulib.method.crops import resize_batch

VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def cpu_has_vnni() -> bool:
    """Whether this CPU has int8 dot-product instructions (AVX-512 VNNI, AVX-VNNI or AMX), from ``/proc/cpuinfo``."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: assume the worst, the 7-bit graph is safe everywhere
        return False
    return any(f" {flag}" in flags for flag in VNNI_FLAGS)


def network_inputs(crops: np.ndarray, input_size: int) -> np.ndarray:
    """Crops ``(N, S, S, 3)`` uint8 → the network's float input ``(N, 3, input_size, input_size)`` in [0, 1]."""
    images = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2)
    resized, _ = resize_batch(images, torch.zeros(len(crops), 1, 2), input_size)
    return np.ascontiguousarray(resized.numpy())


def _no_preprocessing_advice(record: logging.LogRecord) -> bool:
    return "pre-processing" not in record.getMessage()


def int8_path(fp32_graph: str | os.PathLike, reduce_range: bool) -> Path:
    """Where the int8 graph of ``<file>.<sha>.onnx`` lives: ``<file>.<sha>.int8.onnx`` (or ``.int8-r7.onnx``)."""
    graph = Path(fp32_graph)
    return graph.with_name(graph.name[: -len(".onnx")] + (".int8-r7.onnx" if reduce_range else ".int8.onnx"))


def quantize_graph(fp32_graph: str | os.PathLike, inputs: np.ndarray, out: str | os.PathLike, *,
                   reduce_range: bool) -> Path:
    """Quantise an fp32 graph statically (QDQ, per-channel int8 weights, uint8 activations), written atomically.

    Args:
        fp32_graph: the exported network (:func:`aulib.inference.onnx.export`).
        inputs: calibration inputs ``(N, 3, S, S)`` float32 (:func:`network_inputs`); the activation ranges are
            their minima and maxima.
        out: where to write the int8 graph.
        reduce_range: 7-bit weights, for CPUs without VNNI.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from aulib.inference.onnx import INPUT

    if inputs.ndim != 4 or inputs.shape[1] != 3 or len(inputs) == 0:
        raise ValueError(f"calibration inputs must be (N, 3, S, S) with N >= 1; got {inputs.shape}")
    convolutions = [node.name for node in onnx.load(str(fp32_graph), load_external_data=False).graph.node
                    if node.op_type == "Conv"]

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(np.array_split(inputs.astype(np.float32), max(1, len(inputs) // 4)))

        def get_next(self) -> dict | None:
            batch = next(self.batches, None)
            return None if batch is None else {INPUT: batch}

    out = Path(out)
    handle, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    os.close(handle)
    root = logging.getLogger()  # onnxruntime.quantization's advice to pre-process (measured: no gain here)
    root.addFilter(_no_preprocessing_advice)
    try:
        quantize_static(str(fp32_graph), partial, Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=reduce_range, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=convolutions[:1] + convolutions[-1:])
        os.replace(partial, out)
    finally:
        root.removeFilter(_no_preprocessing_advice)
        Path(partial).unlink(missing_ok=True)
    return out


def cached_int8_graph(fp32_graph: str | os.PathLike, input_size: int, calibration: Callable[[], np.ndarray], *,
                      reduce_range: bool | None = None) -> Path:
    """The int8 graph beside ``fp32_graph``, quantised first if there is none.

    Args:
        fp32_graph: the cached fp32 graph (:func:`aulib.inference.onnx.cached_graph`).
        input_size: the network's input side.
        calibration: returns aligned uint8 crops ``(N, S, S, 3)`` to calibrate on (called only when the graph
            is built; :func:`aulib.data.calibration.calibration_crops` renders SynthAU ones).
        reduce_range: 7-bit weights; default: when this CPU has no VNNI (:func:`cpu_has_vnni`).
    """
    reduce_range = (not cpu_has_vnni()) if reduce_range is None else reduce_range
    path = int8_path(fp32_graph, reduce_range)
    if not path.is_file():
        quantize_graph(fp32_graph, network_inputs(calibration(), input_size), path, reduce_range=reduce_range)
    return path
