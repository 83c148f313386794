"""Aligned crops at a network's input size: the one resampling shared by training, evaluation and inference.

A prepared crop is stored at its alignment size ``S`` (256 by default) with landmarks in its pixels; a network reads
``out_size`` pixels (96 for the CPU preset, 256 for the paper's) and its heatmap targets expect landmarks in the
256-pixel frame. :func:`resize_batch` does both; :mod:`aulib.training.augment` warps with the same helpers when it
augments.

Example:
    >>> import torch
    >>> images = torch.full((1, 3, 256, 256), 255, dtype=torch.uint8)
    >>> out, lms = resize_batch(images, torch.zeros(1, 68, 2), 96)
    >>> out.shape
    torch.Size([1, 3, 96, 96])
"""

from __future__ import annotations

import torch

from aulib.method.align import FRAME_SIZE, scale_matrix, transform_points, warp_affine


def check_crops(images: torch.Tensor, landmarks: torch.Tensor) -> int:
    """Check a batch of square crops ``(B, 3, S, S)`` and their landmarks ``(B, L, 2)``; returns ``S``."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be a (B, 3, S, S) tensor; got {getattr(images, 'shape', type(images))}")
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images must be square crops; got {tuple(images.shape[-2:])}")
    if landmarks.ndim != 3 or landmarks.shape[-1] != 2 or landmarks.shape[0] != images.shape[0]:
        raise ValueError(f"landmarks must be (B, L, 2) with B = {images.shape[0]}; got {tuple(landmarks.shape)}")
    return images.shape[-1]


def _to_unit_float(images: torch.Tensor) -> torch.Tensor:
    # uint8 is scaled to [0, 1]; float images are taken to be in [0, 1] already.
    # Always a new tensor: the colour jitter works in place and must not touch the caller's images.
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images.to(torch.float32, copy=True)


def warp_crops(images: torch.Tensor, matrices: torch.Tensor, out_size: int) -> torch.Tensor:
    """Warp uint8 (or [0, 1] float) crops by ``(B, 2, 3)`` matrices to float ``[0, 1]`` crops of side ``out_size``."""
    # Warp 0..255 floats (warp_affine would round a uint8 result), then scale to [0, 1] at the output
    # size, which is usually the smaller one.
    source = images.float() if images.dtype == torch.uint8 else images.float().mul(255.0)
    return warp_affine(source, matrices, out_size, mode="bilinear", padding="zeros").div_(255.0)


def crop_landmarks(landmarks: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Landmarks moved by the crop's ``(2, 3)`` or ``(B, 2, 3)`` matrices, in float64 then back to their dtype."""
    dtype = landmarks.dtype if landmarks.is_floating_point() else torch.float32
    return transform_points(landmarks.to(torch.float64), matrices).to(dtype)


def resize_batch(
    images: torch.Tensor, landmarks: torch.Tensor, out_size: int, frame_size: int = FRAME_SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize aligned crops for evaluation: no randomness, landmarks kept in the 256 frame.

    Args:
        images: ``(B, 3, S, S)`` uint8 crops (or float in [0, 1]) on any device.
        landmarks: ``(B, L, 2)`` in pixels of the ``S`` frame.
        out_size: side of the network's input.
        frame_size: side of the frame the returned landmarks refer to (256, what
            :func:`aulib.method.heatmaps.render_targets` expects).

    Returns:
        ``(images, landmarks)``: float32 images in [0, 1] and the landmarks in the ``frame_size`` frame
        of the output crop. With ``out_size == S`` the images are just ``images / 255`` (no resampling).

    Shape:
        - images: ``(B, 3, S, S) -> (B, 3, out_size, out_size)``
        - landmarks: ``(B, L, 2) -> (B, L, 2)``

    Example:
        >>> import torch
        >>> images = torch.full((1, 3, 256, 256), 255, dtype=torch.uint8)
        >>> out, lms = resize_batch(images, torch.zeros(1, 68, 2), 96)
        >>> out.shape, float(out[0, 0, 48, 48]), bool((lms == 0).all())
        (torch.Size([1, 3, 96, 96]), 1.0, True)
    """
    size = check_crops(images, landmarks)
    to_frame = torch.as_tensor(scale_matrix(frame_size, size), device=landmarks.device)
    if out_size == size:
        return _to_unit_float(images), crop_landmarks(landmarks, to_frame)
    return warp_crops(images, scale_matrix(out_size, size), out_size), crop_landmarks(landmarks, to_frame)
