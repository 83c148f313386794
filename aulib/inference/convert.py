"""Standalone model files, and converting checkpoints into them (``aulib convert-checkpoint``).

A **standalone model file** is everything :func:`aulib.predict.predict` needs to run a network on new
faces, without the run folder or the prepared dataset it was trained on. It is a plain dict saved with
:func:`torch.save` and read back with ``torch.load(..., weights_only=True)``, so loading one never runs
pickled code::

    {"format": "aulib-model", "version": 1,
     "preset": "paper",                 # aulib.models.create_model(preset, num_maps=len(aus))
     "aus": [6, 10, 12, 14, 17],        # AU numbers, in channel order
     "alignment": "paper",              # aulib.method.align method the network was trained with
     "crop_size": 256,                  # side of the aligned crop before resizing to the input size
     "readout_window": None,            # None: the paper's global-max readout; else the local radius
     "source": "authors-checkpoint.pth.tar",    # where the weights came from (informative)
     "state_dict": {...}}               # the aulib model's state dict, float32 tensors

:func:`convert_checkpoint` writes such a file from

- the authors' released checkpoint (their public code's repository): a dict whose
  ``state_dict`` holds the ``FullNetwork`` weights under FAN-style names with a ``module.`` prefix; they
  are renamed by :func:`aulib.models.hourglass.fan_to_aulib_state_dict` onto the ``paper`` preset, and any
  key or shape that does not fit is reported in one error listing all of them;
- a checkpoint of ``aulib train`` (``RUN/best.pt``), whose preset, AUs and alignment it records.

Example:
    >>> import tempfile, pathlib, torch
    >>> from aulib.models import create_model
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> model = create_model("tiny")
    >>> _ = save_model_file(folder / "tiny.pt", model.state_dict(), preset="tiny", aus=[6, 10, 12, 14, 17])
    >>> meta = load_model_file(folder / "tiny.pt")
    >>> meta["preset"], meta["aus"], meta["alignment"]
    ('tiny', [6, 10, 12, 14, 17], 'paper')
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from aulib.io import atomic_open
from aulib.method.align import FRAME_SIZE
from aulib.method.aus import BP4D_AUS, resolve_aus
from aulib.models import create_model
from aulib.models.hourglass import fan_to_aulib_state_dict

MODEL_FORMAT = "aulib-model"
MODEL_FORMAT_VERSION = 1
ALIGNMENTS = ("paper", "similarity")
_REQUIRED = {"format": str, "version": int, "preset": str, "aus": list, "alignment": str, "state_dict": dict}
_LISTED = 12  # keys named per category in a mismatch message; the rest are counted


class UnsafeCheckpointError(ValueError):
    """The file holds pickled Python objects other than tensors and plain containers: it is not loaded."""


class CheckpointMismatchError(ValueError):
    """A checkpoint's tensors do not fit the target network (missing, unexpected or mis-shaped keys)."""


def load_weights_only(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` with clear errors; never falls back to unsafe loading.

    Args:
        path: a file written by :func:`torch.save`.

    Returns:
        The loaded object (tensors, dicts, lists, numbers, strings).

    Raises:
        FileNotFoundError: when the file does not exist.
        UnsafeCheckpointError: when the file contains pickled code (a class instance, a function): loading
            it would execute that code, so it is refused.
        ValueError: when the file is not a torch checkpoint at all (truncated, another format).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # torch raises UnpicklingError for a global (class, function) outside its allow-list, and for
        # bytes that are no torch pickle at all; the message tells which.
        text = str(error)
        if "allowed global" in text or "Unsupported global" in text:
            raise UnsafeCheckpointError(
                f"{path} contains pickled Python code or objects (not only tensors and plain containers), so it "
                "was not loaded: unpickling it could run arbitrary code. aulib only loads checkpoints with "
                "torch.load(weights_only=True). If you trust the file, re-save its state_dict alone, e.g. "
                "torch.save({'state_dict': model.state_dict()}, 'clean.pth') in the environment that wrote it. "
                f"Detail: {_detail(text)}"
            ) from error
        raise ValueError(f"{path} is not a readable torch checkpoint (not written by torch.save, or truncated): "
                         f"{_detail(text)}") from error
    except (RuntimeError, EOFError, OSError) as error:
        raise ValueError(f"{path} is not a readable torch checkpoint (truncated or another format?): "
                         f"{type(error).__name__}: {error}") from error


def _detail(message: str) -> str:
    # torch's message is long boilerplate; keep its specific lines (the global's name, the bad opcode).
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    specific = [line for line in lines if "global" in line.lower() or "unsupported" in line.lower()]
    return " ".join(specific[:2] or lines[:1])[:300]


def save_model_file(
    path: str | os.PathLike,
    state_dict: Mapping[str, torch.Tensor],
    *,
    preset: str,
    aus: Sequence[int] = BP4D_AUS,
    alignment: str = "paper",
    crop_size: int = FRAME_SIZE,
    readout_window: float | None = None,
    source: str = "",
) -> Path:
    """Write a standalone model file (the format of this module's docstring) atomically.

    The state dict is checked first: it must load strictly into ``create_model(preset, num_maps=len(aus))``.

    Args:
        path: the file to write (``.pt`` by convention).
        state_dict: weights of the aulib network.
        preset: model preset name.
        aus: AU numbers in channel order.
        alignment: ``"paper"`` or ``"similarity"``.
        crop_size: side of the aligned crop the network's inputs were resized from.
        readout_window: ``None`` for the global-max readout, else the local readout's radius.
        source: where the weights came from.

    Returns:
        The path written.

    Raises:
        CheckpointMismatchError: when the weights do not fit the preset.
        ValueError: for an unknown alignment.
    """
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}; got {alignment!r}")
    aus = list(resolve_aus(aus))
    model = create_model(preset, num_maps=len(aus))
    check_state_dict(model, state_dict, what=f"the weights for preset {preset!r}")
    model.load_state_dict(state_dict, strict=True)
    payload = {
        "format": MODEL_FORMAT, "version": MODEL_FORMAT_VERSION, "preset": preset, "aus": aus,
        "alignment": alignment, "crop_size": int(crop_size),
        "readout_window": None if readout_window is None else float(readout_window), "source": str(source),
        # contiguous float32 copies: no channels-last strides or half-precision surprises in the file
        "state_dict": {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        torch.save(payload, handle)
    return path


def load_model_file(path: str | os.PathLike) -> dict:
    """Read and check a standalone model file.

    Returns:
        Its dict (see the module docstring), with ``crop_size`` and ``readout_window`` filled in if absent.

    Raises:
        UnsafeCheckpointError: when the file holds pickled code.
        ValueError: when it is not an ``aulib-model`` file of a known version, or a field is missing or wrong.
    """
    payload = load_weights_only(path)
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        hint = (" It looks like a training or authors' checkpoint: convert it first with "
                f"`aulib convert-checkpoint {path} --out model.pt`." if isinstance(payload, dict) else "")
        raise ValueError(f"{path} is not an {MODEL_FORMAT} file (format {found!r}).{hint}")
    if payload.get("version") != MODEL_FORMAT_VERSION:
        raise ValueError(f"{path}: {MODEL_FORMAT} version {payload.get('version')!r} is not supported "
                         f"(this aulib reads version {MODEL_FORMAT_VERSION})")
    for field, kind in _REQUIRED.items():
        if not isinstance(payload.get(field), kind):
            raise ValueError(f"{path}: field {field!r} must be a {kind.__name__}; got {payload.get(field)!r:.80}")
    if payload["alignment"] not in ALIGNMENTS:
        raise ValueError(f"{path}: field 'alignment' must be one of {ALIGNMENTS}; got {payload['alignment']!r}")
    payload.setdefault("crop_size", FRAME_SIZE)
    payload.setdefault("readout_window", None)
    return payload


def _listing(title: str, items: Sequence[str]) -> str:
    shown = ", ".join(items[:_LISTED]) + (f", … ({len(items) - _LISTED} more)" if len(items) > _LISTED else "")
    return f"{len(items)} {title}: {shown}"


def check_state_dict(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], *, what: str,
                     unexpected: Sequence[str] = ()) -> None:
    """Raise one :class:`CheckpointMismatchError` naming every missing, unexpected and mis-shaped key.

    ``num_batches_tracked`` counters may be missing (checkpoints of torch < 0.4.1 have none; eval-mode
    BatchNorm never reads them).

    Args:
        model: the target network.
        state_dict: renamed weights.
        what: how to call the weights in the message.
        unexpected: source keys that could not even be renamed (reported as unexpected).
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict and not k.endswith("num_batches_tracked")]
    extra = [*unexpected, *(k for k in state_dict if k not in expected)]
    shapes = [f"{k} (checkpoint {tuple(v.shape)}, model {tuple(expected[k].shape)})"
              for k, v in state_dict.items() if k in expected and tuple(v.shape) != tuple(expected[k].shape)]
    if missing or extra or shapes:
        parts = [_listing(title, items) for title, items in
                 (("missing keys", missing), ("unexpected keys", extra), ("shape mismatches", shapes)) if items]
        raise CheckpointMismatchError(f"{what} do not fit the network: " + "; ".join(parts))


def _authors_state_dict(obj: Any, src: Path) -> dict[str, torch.Tensor]:
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{src} holds no state dict: expected a dict with a 'state_dict' of tensors (the authors' "
                         f"the authors' released checkpoint) or a dict of tensors; found {type(obj).__name__}"
                         + (f" with keys {sorted(obj)[:10]}" if isinstance(obj, dict) else ""))
    return state


def convert_authors_state_dict(state: Mapping[str, torch.Tensor], *, preset: str = "paper",
                               num_maps: int | None = None) -> dict[str, torch.Tensor]:
    """Rename the authors' ``FullNetwork`` weights onto ``preset`` and check every key and shape.

    Args:
        state: the authors' state dict (``module.`` prefixes allowed).
        preset: the aulib preset to map onto (``"paper"``).
        num_maps: AUs of the network; default: the output channels of ``l0``.

    Returns:
        A state dict that loads strictly into ``create_model(preset, num_maps=num_maps)`` (missing
        ``num_batches_tracked`` counters are filled with the model's).

    Raises:
        CheckpointMismatchError: listing the missing keys, the unexpected keys and the shape mismatches.
    """
    if num_maps is None:
        last = state.get("module.l0.weight", state.get("l0.weight"))
        num_maps = int(last.shape[0]) if last is not None else len(BP4D_AUS)
    model = create_model(preset, num_maps=num_maps)
    depth = int(getattr(model, "depth", 4))
    renamed: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    for key, value in state.items():
        try:  # one key at a time, so that every foreign key is reported, not just the first
            renamed.update(fan_to_aulib_state_dict({key: value}, depth=depth))
        except KeyError:
            unexpected.append(key)
    check_state_dict(model, renamed, what=f"the authors' weights for preset {preset!r}", unexpected=unexpected)
    for key, value in model.state_dict().items():
        renamed.setdefault(key, value)  # only num_batches_tracked can be absent here
    return renamed


def convert_checkpoint(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    preset: str | None = None,
    aus: Sequence[int] | None = None,
    alignment: str | None = None,
) -> Path:
    """Convert the authors' released checkpoint (or an ``aulib train`` checkpoint) into a standalone model file.

    Args:
        src: the checkpoint, loaded with ``weights_only=True`` (never unsafe unpickling).
        dst: the standalone model file to write.
        preset: target preset; default ``"paper"`` for the authors' file, the run's preset for an aulib one.
        aus: AU numbers of the output channels; default BP4D's five (the authors' released model) or the run's.
        alignment: the alignment the network expects; default ``"paper"`` (the authors' 3-point warp) or the
            run's prepared dataset's.

    Returns:
        ``dst`` as a Path.

    Raises:
        UnsafeCheckpointError: when ``src`` contains pickled code.
        CheckpointMismatchError: when the weights do not fit the preset (every problem is listed).
        ValueError: when ``src`` holds no state dict, or the AUs do not match the output channels.
    """
    src = Path(src)
    obj = load_weights_only(src)
    if isinstance(obj, dict) and obj.get("format") == MODEL_FORMAT:
        meta = load_model_file(src)
        state, preset = meta["state_dict"], preset or meta["preset"]
        aus, alignment = aus or meta["aus"], alignment or meta["alignment"]
        extra = {"crop_size": meta["crop_size"], "readout_window": meta["readout_window"]}
    elif isinstance(obj, dict) and {"model", "config", "model_name"} <= set(obj):  # aulib train checkpoint
        state, preset = obj["model"], preset or obj["model_name"]
        aus = aus or obj.get("aus") or BP4D_AUS
        config = obj["config"]
        alignment_meta = _run_alignment(obj)
        alignment = alignment or alignment_meta.get("method", "paper")
        extra = {"crop_size": alignment_meta.get("size", FRAME_SIZE), "readout_window": config.get("readout_window")}
    else:
        preset, aus, alignment = preset or "paper", aus or BP4D_AUS, alignment or "paper"
        aus = resolve_aus(aus)
        state = convert_authors_state_dict(_authors_state_dict(obj, src), preset=preset)  # maps from l0
        extra = {}
    aus = resolve_aus(aus)
    model_maps = next((v.shape[0] for k, v in state.items() if k.startswith("to_maps.") and k.endswith("weight")),
                      len(aus))
    if int(model_maps) != len(aus):
        raise ValueError(f"{src}: the network has {model_maps} output channels but {len(aus)} AUs were given "
                         f"({list(aus)}); pass the AU list of the model's channels")
    return save_model_file(dst, state, preset=preset, aus=aus, alignment=alignment, source=src.name, **extra)


def _run_alignment(state: dict) -> dict:
    """How a run's training crops were aligned: recorded in its checkpoint, or in its prepared dataset's meta.json."""
    if state.get("alignment"):
        return dict(state["alignment"])
    meta = Path(state["config"].get("data") or "") / "meta.json"
    if state["config"].get("data") and meta.is_file():
        return dict(json.loads(meta.read_text()).get("alignment", {}))
    return {}
