"""The inference object: a trained network and everything needed to feed it and read its answer.

:class:`AUModel` is what every part of aulib that runs a network holds: the trainer's validation, evaluation, the
robustness study, ``aulib predict``, the step-by-step explanation and the notebook explorer. It needs no optimiser,
no training configuration and no training data:

- what it holds: the network (run by a :class:`Backend`), the AU of each output channel, the input size, the
  heatmap design it learnt, the alignment of its training crops (method and crop size), the readout, the device
  and the precision;
- where it comes from: a run folder of ``aulib train`` (:meth:`AUModel.from_run`: its ``config.json`` and
  checkpoint only), a standalone model file of ``aulib convert-checkpoint`` (:meth:`AUModel.from_file`), or a
  module (:meth:`AUModel.from_module`); :meth:`AUModel.load` takes any of them;
- what it does: :meth:`AUModel.predict` on a batch of input-sized images, :meth:`AUModel.predict_crops` on aligned
  crops, both returning a :class:`Prediction` (maps, intensities, peaks).

A backend is the only part that runs the network (:mod:`aulib.inference.backends`: eager PyTorch under autocast, or
ONNX Runtime); which one, and in what precision, is decided there and in :mod:`aulib.inference.precision`.

Example:
    >>> import torch
    >>> from aulib.models import create_model
    >>> model = AUModel.from_module(create_model("tiny"), device="cpu")
    >>> out = model.predict(torch.rand(2, 3, 96, 96))
    >>> out.intensities.shape, out.maps.shape, model.aus
    (torch.Size([2, 5]), torch.Size([2, 5, 24, 24]), (6, 10, 12, 14, 17))
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from aulib.inference.backends import Backend, TorchBackend, make_backend
from aulib.inference.precision import resolve_device, resolve_precision
from aulib.method.align import FRAME_SIZE
from aulib.method.aus import BP4D_AUS, resolve_aus
from aulib.method.crops import resize_batch
from aulib.method.heatmaps import HeatmapConfig, heatmap_to_frame, read_intensities, read_peaks
from aulib.models import fold_batchnorm


@dataclass(frozen=True)
class Prediction:
    """What :class:`AUModel` answers for a batch.

    Attributes:
        intensities: ``(B, A)`` readouts in [0, 5].
        maps: ``(B, A, h, w)`` float32 heatmaps, or ``None`` for a direct-regression network.
        peaks: ``(B, A, 2)`` each map's sub-pixel maximum in pixels of the 256 aligned frame (``None`` without maps).
    """

    intensities: torch.Tensor
    maps: torch.Tensor | None
    peaks: torch.Tensor | None


@dataclass(frozen=True, eq=False)
class AUModel:
    """A trained AU network, ready to run (module docstring).

    Attributes:
        backend: what runs the network.
        module: the network itself (for exporting to another runtime, or inspecting).
        aus: the AU of each output channel.
        input_size: side of the square input.
        output_kind: ``"heatmap"`` (one map per AU) or ``"intensity"`` (direct regression).
        heatmap: the target design it learnt (heatmap networks; the explorer draws targets with it).
        alignment: :mod:`aulib.method.align` method of its training crops.
        crop_size: side of its training crops (resized to ``input_size``).
        readout_window: ``None`` for the paper's global-maximum readout, else the local readout's radius.
        device: where it runs.
    """

    backend: Backend
    module: nn.Module
    aus: tuple[int, ...]
    input_size: int
    output_kind: str = "heatmap"
    heatmap: HeatmapConfig | None = None
    alignment: str = "paper"
    crop_size: int = FRAME_SIZE
    readout_window: float | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    # ------------------------------------------------------------------------------------------ constructors
    @classmethod
    def from_module(
        cls, module: nn.Module, *, aus: Sequence[int] | None = None, heatmap: HeatmapConfig | dict | None = None,
        alignment: str = "paper", crop_size: int = FRAME_SIZE, readout_window: float | None = None,
        device: str | torch.device = "auto", amp_dtype: torch.dtype | None = None, share: bool = False,
        backend: str = "torch", source: str | os.PathLike | None = None,
    ) -> AUModel:
        """Wrap a network.

        Args:
            module: an aulib network (:func:`aulib.models.create_model`) or any module with the same outputs.
            aus: AU numbers of its channels (default: the module's ``aus``, else BP4D's five for five channels).
            heatmap: its target design (:class:`HeatmapConfig` or its options; the size comes from the module).
            alignment, crop_size, readout_window: see the class attributes.
            device: where it runs.
            amp_dtype: autocast dtype, or ``None`` for fp32.
            share: run ``module`` itself, on its device (the trainer's validation); otherwise a copy moved to
                ``device`` with its BatchNorms folded, and the caller's module is left as it was.
            backend: ``"torch"``, ``"onnxruntime"`` (:mod:`aulib.inference.onnx`: fp32 only) or ``"auto"``
                (ONNX Runtime for fp32 when it is installed, else PyTorch; PyTorch for bf16).
            source: the weights file, next to which the exported graph is cached.
        """
        kind = getattr(module, "output_kind", "heatmap")
        count = int(getattr(module, "num_maps", getattr(module, "num_outputs", 0)) or 0)
        chosen = aus if aus is not None else getattr(module, "aus", None)
        if chosen is None:
            if count not in (0, len(BP4D_AUS)):
                raise ValueError(f"the model has {count} output maps: pass aus=[...] with their AU numbers")
            chosen = BP4D_AUS
        chosen = resolve_aus(chosen)
        if count and len(chosen) != count:
            raise ValueError(f"the model has {count} output maps but {len(chosen)} AUs were given: {chosen}")
        if share:
            resolved = next(module.parameters()).device
            network = module
        else:
            resolved = resolve_device(device)
            # channels-last: oneDNN and cuDNN convolutions run faster on NHWC tensors (the training default too)
            module = copy.deepcopy(module).to(resolved, memory_format=torch.channels_last).eval()
            network = fold_batchnorm(module)
        design = None
        if kind == "heatmap":
            options = heatmap if isinstance(heatmap, dict) else ({} if heatmap is None else asdict(heatmap))
            size = int(getattr(module, "heatmap_size", options.get("size", 64)))
            design = HeatmapConfig.from_options(**{**options, "size": size, "max_intensity": None})
        runner = make_backend(backend, network, int(getattr(module, "input_size", FRAME_SIZE)), resolved, amp_dtype,
                          source, share)
        return cls(backend=runner, module=module, aus=chosen,
                   input_size=int(getattr(module, "input_size", FRAME_SIZE)), output_kind=kind, heatmap=design,
                   alignment=alignment, crop_size=int(crop_size), readout_window=readout_window, device=resolved)

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, *, checkpoint: str = "best.pt", device: str | torch.device = "auto",
                 precision: str = "auto", backend: str = "torch") -> AUModel:
        """A run folder of ``aulib train``, from its own files only (``config.json`` and the checkpoint).

        Args:
            run_dir: the run folder.
            checkpoint: ``best.pt`` (the selected epoch) or ``last.pt``.
            device: where it runs.
            precision: ``"auto"``, ``"bf16"`` or ``"fp32"`` by the inference rule
                (:func:`aulib.inference.precision.resolve_precision`): ``"auto"`` is fp32 on any CPU, so that a run
                scores the same on a CPU with native bf16 and on one without (bf16 on CUDA).
            backend: see :meth:`from_module`.
        """
        from aulib.models import create_model

        run_dir = Path(run_dir)
        weights = run_dir / checkpoint
        if not weights.is_file() or not (run_dir / "config.json").is_file():
            raise FileNotFoundError(f"{run_dir} is not a trained run: it needs config.json and {checkpoint} "
                                    f"(train with `aulib train --out {run_dir}`)")
        config = json.loads((run_dir / "config.json").read_text())
        state = torch.load(weights, map_location="cpu", weights_only=True)
        aus = tuple(int(a) for a in state["aus"])
        network = create_model(config["model"], num_maps=len(aus))
        network.load_state_dict(state["model"], strict=True)
        network.eval()
        alignment = state.get("alignment") or {}
        meta_path = Path(config.get("data", "")) / "meta.json"
        if not alignment and meta_path.is_file():  # a checkpoint from before runs recorded their alignment
            alignment = json.loads(meta_path.read_text()).get("alignment", {})
        resolved = resolve_device(device)
        amp = resolve_precision(precision, resolved)
        return cls.from_module(network, aus=aus, heatmap=config.get("heatmap", {}),
                               alignment=alignment.get("method", "paper"),
                               crop_size=int(alignment.get("size", FRAME_SIZE)),
                               readout_window=config.get("readout_window"), device=resolved, amp_dtype=amp,
                               backend=backend, source=weights)

    @classmethod
    def from_file(cls, path: str | os.PathLike, *, device: str | torch.device = "auto",
                  amp_dtype: torch.dtype | None = None, backend: str = "torch") -> AUModel:
        """A standalone model file (``aulib convert-checkpoint``; :func:`aulib.inference.convert.load_model_file`)."""
        from aulib.inference.convert import load_model_file
        from aulib.models import create_model

        meta = load_model_file(path)
        network = create_model(meta["preset"], num_maps=len(meta["aus"]))
        network.load_state_dict(meta["state_dict"], strict=True)
        return cls.from_module(network.eval(), aus=meta["aus"], alignment=meta["alignment"],
                               crop_size=meta["crop_size"], readout_window=meta["readout_window"], device=device,
                               amp_dtype=amp_dtype, backend=backend, source=path)

    @classmethod
    def load(cls, model: Any, *, device: str | torch.device = "auto", precision: str = "auto",
             checkpoint: str = "best.pt", aus: Sequence[int] | None = None, backend: str = "torch") -> AUModel:
        """Any model argument aulib takes: a run folder, a model file, an :class:`AUModel`, an object with an
        ``inference`` attribute (a :class:`~aulib.training.trainer.Trainer`) or an ``nn.Module``.

        ``precision`` follows the inference rule (:func:`aulib.inference.precision.resolve_precision`: fp32 on a
        CPU, bf16 on CUDA for ``"auto"``); ``backend`` is :meth:`from_module`'s.

        Raises:
            FileNotFoundError: when the path does not exist.
            aulib.inference.convert.UnsafeCheckpointError: when a model file contains pickled code.
            ValueError: when the AUs do not match the network's outputs.
            TypeError: for anything else.
        """
        resolved = resolve_device(device)
        amp = resolve_precision(precision, resolved)
        if hasattr(model, "inference") and isinstance(model.inference, AUModel):
            model = model.inference  # a trainer: its training module, with its data's alignment
            return cls.from_module(model.module, aus=model.aus, heatmap=model.heatmap, alignment=model.alignment,
                                   crop_size=model.crop_size, readout_window=model.readout_window, device=resolved,
                                   amp_dtype=amp, backend=backend)
        if isinstance(model, str | os.PathLike):
            path = Path(model)
            if path.is_dir():
                return cls.from_run(path, checkpoint=checkpoint, device=resolved,
                                    precision="fp32" if amp is None else "bf16", backend=backend)
            if path.is_file():
                return cls.from_file(path, device=resolved, amp_dtype=amp, backend=backend)
            raise FileNotFoundError(f"model not found: {path} (give a run folder of `aulib train` or a model file "
                                    "written by `aulib convert-checkpoint`)")
        if isinstance(model, AUModel):
            return model.with_precision(amp)
        if isinstance(model, nn.Module):
            return cls.from_module(model, aus=aus, device=resolved, amp_dtype=amp, backend=backend)
        raise TypeError(f"model must be a run folder, a model file, an AUModel or an nn.Module; got {type(model)}")

    def with_precision(self, amp_dtype: torch.dtype | None) -> AUModel:
        """The same model run in another precision (``None``: fp32); bf16 runs on PyTorch."""
        if isinstance(self.backend, TorchBackend):
            return replace(self, backend=TorchBackend(self.backend.network, self.device, amp_dtype))
        if amp_dtype is None:
            return self
        return replace(self, backend=TorchBackend(fold_batchnorm(self.module), self.device, amp_dtype))

    def quantized(self, calibration: Callable[[], np.ndarray], *, reduce_range: bool | None = None) -> AUModel:
        """The same model run as an int8 ONNX Runtime graph on the CPU (:mod:`aulib.inference.quantize`).

        Faster (about 3x the fp32 network on a 2-core AVX-512 VNNI CPU) but not exact: intensities move by about
        0.03–0.05. The graph is cached beside the fp32 one, keyed by the weights.

        Args:
            calibration: returns aligned uint8 crops ``(N, S, S, 3)`` (called only when the graph is built;
                :func:`aulib.data.calibration.calibration_crops`).
            reduce_range: 7-bit weights (default: on CPUs without VNNI, where 8-bit ones can saturate).

        Raises:
            ValueError: on a GPU (int8 is a CPU path here).
            ImportError: without ONNX Runtime.
        """
        from aulib.inference import onnx
        from aulib.inference.quantize import cached_int8_graph

        if self.device.type != "cpu":
            raise ValueError(f"precision int8 runs on the CPU only (ONNX Runtime); this model is on {self.device}: "
                             "use precision bf16 or fp32 there")
        if not onnx.available():
            raise ImportError("precision int8 runs on ONNX Runtime, which needs the onnxruntime and onnxscript "
                              "packages (pip install onnxruntime onnxscript)")
        if isinstance(self.backend, onnx.OnnxBackend) and self.backend.precision == "fp32":
            fp32_graph = self.backend.path  # already exported beside the weights
        else:
            fp32_graph = onnx.cached_graph(fold_batchnorm(copy.deepcopy(self.module).cpu().eval()), self.input_size)
        graph = cached_int8_graph(fp32_graph, self.input_size, calibration, reduce_range=reduce_range)
        return replace(self, backend=onnx.OnnxBackend(graph, self.device, precision="int8"))

    # ------------------------------------------------------------------------------------------ running
    def predict(self, images: torch.Tensor, landmarks: torch.Tensor | None = None, *,
                readout_window: float | None = None) -> Prediction:
        """Run on float images ``(B, 3, input_size, input_size)`` in [0, 1].

        Args:
            images: the input batch (any device; moved to the model's).
            landmarks: ``(B, L, 2)`` aligned landmarks in the 256 frame; the local readout needs them.
            readout_window: override the model's readout with the local one of this radius (the RQ5 ablation).

        Returns:
            A :class:`Prediction`; intensities are clamped to [0, 5].
        """
        if images.ndim != 4 or images.shape[1] != 3 or images.shape[-1] != self.input_size:
            raise ValueError(f"images must be (B, 3, {self.input_size}, {self.input_size}); got {tuple(images.shape)}")
        output = self.backend(images)
        if self.output_kind != "heatmap":
            return Prediction(intensities=output.clamp(0, 5), maps=None, peaks=None)
        window = readout_window if readout_window is not None else self.readout_window
        if window and landmarks is None:
            raise ValueError("the local readout needs the aligned landmarks")
        points = landmarks.to(output.device, output.dtype) if window else None
        intensities = read_intensities(output, landmarks=points, aus=self.aus, window=window)
        _, peaks = read_peaks(output)
        return Prediction(intensities=intensities, maps=output,
                          peaks=heatmap_to_frame(peaks.double(), output.shape[-1]))

    def predict_crops(self, crops: np.ndarray | torch.Tensor | Sequence[np.ndarray],
                      aligned: np.ndarray | torch.Tensor | Sequence[np.ndarray]) -> Prediction:
        """Run on aligned crops as the training data was evaluated: ``crop / 255``, resized to the input size.

        Args:
            crops: ``(B, S, S, 3)`` uint8 RGB crops (numpy, or a list of ``(S, S, 3)``), or a ``(B, 3, S, S)``
                tensor, at the model's ``crop_size``.
            aligned: ``(B, L, 2)`` landmarks in crop pixels.

        Returns:
            A :class:`Prediction` whose ``peaks`` are in crop pixels.
        """
        if isinstance(crops, torch.Tensor):
            images = crops
        else:
            images = torch.from_numpy(np.ascontiguousarray(np.stack(list(crops)))).permute(0, 3, 1, 2)
        points = torch.as_tensor(np.stack(list(aligned)) if not isinstance(aligned, torch.Tensor) else aligned,
                                 dtype=torch.float32)
        images, frame_points = resize_batch(images.to(self.device), points.to(self.device), self.input_size)
        result = self.predict(images, frame_points)
        if result.peaks is None:
            return result
        scale = self.crop_size / FRAME_SIZE  # the 256 frame -> the crop's pixels (pixel centres at integers)
        return replace(result, peaks=(result.peaks + 0.5) * scale - 0.5)
