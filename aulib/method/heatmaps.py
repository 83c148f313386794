"""Heatmap targets and their readout: how an AU's location and intensity become a 2-D map, and back.

For each AU the target map holds one Gaussian per AU centre (:mod:`aulib.method.aus`), and the map is the
pixel-wise **maximum** over them (so two centres never add up to more than the intensity). Each
Gaussian:

- has **amplitude = intensity**: the map's largest pixel equals the intensity exactly, even when the
  centre falls between pixels (the Gaussian is evaluated at the exact sub-pixel centre, then scaled so
  that its sampled peak is the intensity; the paper reads intensity as the map's maximum, so this is
  the quantity that must be exact);
- has an **extent that grows with intensity** by default: ``σ(I) = σ_min + (σ_max − σ_min)·min(I, 5)/5``,
  with ``σ_min = 4`` and ``σ_max = 12`` pixels of the 256×256 aligned face (1 to 3 pixels of a 64×64
  map). ``extent="fixed"`` uses ``σ = sigma_fixed = 8`` for every intensity (the RQ5 ablation);
- is **truncated** at ``truncate·σ`` (3σ by default): pixels farther than that are exactly zero, so a
  map is zero away from its AU's centres.

Intensity 0 gives an all-zero map. The readout is the map's maximum, clamped to [0, 5]
(:func:`read_intensities`), or the maximum within a window around the AU's centres (``window=``, the
local-readout ablation). :func:`read_peaks` also returns each peak's sub-pixel location.

Coordinates: landmarks are pixels of the 256×256 aligned frame; a ``size``-pixel heatmap pixel ``j``
covers frame pixels ``[j·k − 0.5, (j + 1)·k − 0.5)`` with ``k = 256 / size`` (see
:func:`aulib.method.align.frame_scale`).

Example:
    >>> import torch
    >>> from aulib.method.heatmaps import render_targets, read_intensities
    >>> from aulib.method.shape import mean_shape
    >>> landmarks = torch.tensor(mean_shape())[None]          # (1, 68, 2)
    >>> intensities = torch.tensor([[0.0, 1.0, 2.5, 4.0, 5.0]], dtype=torch.float64)  # AUs 6, 10, 12, 14, 17
    >>> maps = render_targets(landmarks, intensities)
    >>> maps.shape
    torch.Size([1, 5, 64, 64])
    >>> torch.allclose(read_intensities(maps), intensities)
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import nn

from aulib.method.align import FRAME_SIZE, frame_scale
from aulib.method.aus import BP4D_AUS, MAX_INTENSITY, au_centres, resolve_aus
from aulib.options import from_options


@dataclass(frozen=True)
class HeatmapConfig:
    """Options of the target design (the RQ2/RQ5 ablations switch these).

    Attributes:
        size: heatmap side in pixels (64 for the paper's 256 input).
        frame_size: side of the aligned face the landmarks refer to.
        extent: ``"growing"`` (σ grows linearly with intensity) or ``"fixed"``.
        sigma_min: σ at intensity 0⁺, in aligned-frame pixels (growing extent).
        sigma_max: σ at intensity 5, in aligned-frame pixels (growing extent).
        sigma_fixed: σ for every intensity, in aligned-frame pixels (fixed extent).
        truncate: radius of support in units of σ.
        max_intensity: largest intensity accepted; ``None`` disables the check (label jitter
            ``I ← I + 0.2·I·|z|`` produces values above 5 during training).
    """

    size: int = 64
    frame_size: int = FRAME_SIZE
    extent: Literal["growing", "fixed"] = "growing"
    sigma_min: float = 4.0
    sigma_max: float = 12.0
    sigma_fixed: float = 8.0
    truncate: float = 3.0
    max_intensity: float | None = MAX_INTENSITY

    def __post_init__(self) -> None:
        if self.extent not in ("growing", "fixed"):
            raise ValueError(f"extent must be 'growing' or 'fixed'; got {self.extent!r}")
        if self.size < 2 or self.frame_size < self.size:
            raise ValueError(f"need 2 <= size <= frame_size; got size={self.size}, frame_size={self.frame_size}")
        if not 0 < self.sigma_min <= self.sigma_max or self.sigma_fixed <= 0:
            raise ValueError(
                f"need 0 < sigma_min <= sigma_max and sigma_fixed > 0; got {self.sigma_min}, "
                f"{self.sigma_max}, {self.sigma_fixed}"
            )
        if self.truncate <= 0:
            raise ValueError(f"truncate must be > 0; got {self.truncate}")

    @classmethod
    def from_options(cls, **options: object) -> HeatmapConfig:
        return from_options(cls, options, "heatmap")

    def sigma(self, intensities: torch.Tensor) -> torch.Tensor:
        """σ in aligned-frame pixels for each intensity (same shape)."""
        if self.extent == "fixed":
            return torch.full_like(intensities, self.sigma_fixed)
        fraction = intensities.clamp(0, MAX_INTENSITY) / MAX_INTENSITY
        return self.sigma_min + (self.sigma_max - self.sigma_min) * fraction


def _check_batch(landmarks: torch.Tensor, intensities: torch.Tensor | None, n_aus: int) -> None:
    if landmarks.ndim != 3 or landmarks.shape[-1] != 2 or landmarks.shape[1] not in (66, 68):
        raise ValueError(f"landmarks must be (B, 68, 2) or (B, 66, 2); got {tuple(landmarks.shape)}")
    if not landmarks.is_floating_point():
        raise ValueError(f"landmarks must be a floating-point tensor; got {landmarks.dtype}")
    bad = ~torch.isfinite(landmarks).all(dim=-1)
    if bad.any():
        raise ValueError(f"landmarks contain NaN or inf at (sample, point) {bad.nonzero()[:5].tolist()}")
    if intensities is None:
        return
    if intensities.shape != (landmarks.shape[0], n_aus):
        raise ValueError(
            f"intensities must be (B, A) = ({landmarks.shape[0]}, {n_aus}) to match the landmarks and the "
            f"{n_aus} AUs; got {tuple(intensities.shape)}"
        )


def render_gaussians(
    centres: torch.Tensor, amplitudes: torch.Tensor, sigmas: torch.Tensor, size: int, truncate: float = 3.0
) -> torch.Tensor:
    """Render truncated Gaussians on a ``size``×``size`` grid and combine them by maximum.

    The low-level renderer behind :func:`render_targets`, in heatmap-pixel units. Each Gaussian is
    evaluated only in the square window that holds its support (``2⌈truncate·σ_max⌉ + 1`` pixels a
    side) and scattered into the maps with a maximum, which is what makes the batch cheap: a 64×64 map
    with σ ≤ 3 touches under a tenth of its pixels per centre.

    Args:
        centres: ``(..., C, 2)`` sub-pixel ``(x, y)`` centres in heatmap pixels.
        amplitudes: ``(..., C)`` non-negative sampled peak values (0 draws nothing).
        sigmas: ``(..., C)`` standard deviations in heatmap pixels.
        size: grid side.
        truncate: support radius in units of σ; pixels farther away are exactly 0.

    Returns:
        ``(..., size, size)`` maps.
    """
    lead = centres.shape[:-2]
    out = centres.new_zeros(*lead, size * size)
    if centres.numel() == 0:
        return out.view(*lead, size, size)
    half = math.ceil(truncate * float(sigmas.max()))
    steps = torch.arange(-half, half + 1, device=centres.device)  # (K,)
    # The window is centred on the pixel nearest each centre; that pixel holds the amplitude.
    nearest_pixel = centres.round()
    offsets = nearest_pixel.long()
    xs = offsets[..., 0:1] + steps  # (..., C, K) integer pixel columns
    ys = offsets[..., 1:2] + steps
    dx2 = (xs - centres[..., 0:1]) ** 2
    dy2 = (ys - centres[..., 1:2]) ** 2
    inv_two_var = (0.5 / sigmas**2)[..., None]  # (..., C, 1)
    offset2 = ((centres - nearest_pixel) ** 2).sum(-1)[..., None]
    # exp(−(d² − d²_nearest)/2σ²): the nearest pixel gets exactly the amplitude. Pixels off the grid
    # get 0 (folded into the separable factors) and are sent to a valid index, where max(·, 0) is a no-op.
    gx = torch.exp(-(dx2 - offset2) * inv_two_var) * amplitudes[..., None] * ((xs >= 0) & (xs < size))
    gy = torch.exp(-dy2 * inv_two_var) * ((ys >= 0) & (ys < size))
    patches = gy[..., :, None] * gx[..., None, :]  # (..., C, K, K)
    in_disc = (dy2[..., :, None] + dx2[..., None, :]) <= ((truncate * sigmas) ** 2)[..., None, None]
    patches = torch.where(in_disc, patches, 0.0)
    index = ys.clamp(0, size - 1)[..., :, None] * size + xs.clamp(0, size - 1)[..., None, :]
    out.scatter_reduce_(-1, index.reshape(*lead, -1), patches.reshape(*lead, -1), reduce="amax")
    return out.view(*lead, size, size)


def render_targets(
    landmarks: torch.Tensor,
    intensities: torch.Tensor,
    aus: Sequence[int] = BP4D_AUS,
    **options: object,
) -> torch.Tensor:
    """Render the heatmap targets of a batch of aligned faces.

    Vectorised over samples, AUs and centres; runs on the landmarks' device in their dtype.

    Args:
        landmarks: ``(B, 68, 2)`` (or ``(B, 66, 2)``) in pixels of the 256×256 aligned frame.
        intensities: ``(B, A)`` in [0, 5] (see ``max_intensity``), one column per AU of ``aus``.
        aus: AU numbers in channel order; BP4D's five by default.
        **options: fields of :class:`HeatmapConfig` (``size``, ``extent``, ``sigma_min`` …).

    Returns:
        ``(B, A, size, size)`` targets.

    Raises:
        ValueError: wrong shapes, NaN/inf landmarks or intensities, intensities outside the range.

    Example:
        >>> import torch
        >>> from aulib.method.shape import mean_shape
        >>> maps = render_targets(torch.tensor(mean_shape())[None], torch.tensor([[3.0, 0, 0, 0, 0]]))
        >>> float(maps[0, 0].max()), float(maps[0, 1].max())
        (3.0, 0.0)
    """
    config = HeatmapConfig.from_options(**options)
    aus = resolve_aus(aus)
    landmarks = torch.as_tensor(landmarks)
    intensities = torch.as_tensor(intensities, device=landmarks.device)
    if landmarks.is_floating_point():
        intensities = intensities.to(landmarks.dtype)
    _check_batch(landmarks, intensities, len(aus))
    if not torch.isfinite(intensities).all():
        where = (~torch.isfinite(intensities)).nonzero()[:5].tolist()
        raise ValueError(
            f"intensities contain NaN or inf at (sample, AU column) {where}; set invalid labels to 0 and "
            "mask them out of the loss"
        )
    upper = config.max_intensity if config.max_intensity is not None else float("inf")
    out_of_range = (intensities < 0) | (intensities > upper)
    if out_of_range.any():
        b, a = out_of_range.nonzero()[0].tolist()
        raise ValueError(
            f"intensity {intensities[b, a].item():g} of sample {b}, AU{aus[a]} is outside [0, {upper:g}]"
        )

    scale, offset = frame_scale(config.size, config.frame_size)
    centres, valid = au_centres(landmarks, aus)  # (B, A, C, 2), (A, C)
    centres = centres * scale + offset  # aligned frame -> heatmap pixels
    sigmas = config.sigma(intensities) * scale  # (B, A), heatmap pixels
    n_centres = centres.shape[2]
    amplitudes = intensities[..., None] * valid  # padded centres get amplitude 0
    return render_gaussians(
        centres, amplitudes, sigmas[..., None].expand(-1, -1, n_centres), config.size, config.truncate
    )


class HeatmapRenderer(nn.Module):
    """Module form of :func:`render_targets`, holding the AU list and the target design.

    Example:
        >>> import torch
        >>> from aulib.method.shape import mean_shape
        >>> renderer = HeatmapRenderer(aus=(6, 12), extent="fixed")
        >>> renderer(torch.tensor(mean_shape())[None], torch.tensor([[1.0, 2.0]])).shape
        torch.Size([1, 2, 64, 64])
    """

    def __init__(self, *, aus: Sequence[int] = BP4D_AUS, **options: object) -> None:
        super().__init__()
        self.aus = resolve_aus(aus)
        self.config = HeatmapConfig.from_options(**options)

    def forward(self, landmarks: torch.Tensor, intensities: torch.Tensor) -> torch.Tensor:
        return render_targets(landmarks, intensities, self.aus, **asdict(self.config))

    def extra_repr(self) -> str:
        return f"aus={self.aus}, {self.config}"


def _check_heatmaps(heatmaps: torch.Tensor) -> None:
    if not isinstance(heatmaps, torch.Tensor) or heatmaps.ndim != 4:
        shape = tuple(heatmaps.shape) if hasattr(heatmaps, "shape") else type(heatmaps).__name__
        raise ValueError(f"heatmaps must be a (B, A, H, W) tensor; got {shape}")


def _parabola_offset(left: torch.Tensor, centre: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    # Vertex of the parabola through (-1, left), (0, centre), (1, right), clamped to half a pixel.
    # On log-values this is exact for a sampled Gaussian, whose logarithm is a parabola.
    curvature = left + right - 2 * centre
    offset = torch.where(curvature < 0, 0.5 * (left - right) / curvature.clamp(max=-1e-12), 0.0)
    return offset.clamp(-0.5, 0.5)


def read_peaks(heatmaps: torch.Tensor, subpixel: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Each map's maximum and where it is.

    Args:
        heatmaps: ``(B, A, H, W)`` maps.
        subpixel: refine the arg-max with a parabola through the log-values of its neighbours along x
            and y (exact for a Gaussian peak; falls back to the raw values where a neighbour is ≤ 0 and
            to the integer position on the border).

    Returns:
        ``(values, locations)``: the raw maxima ``(B, A)`` (not clamped) and ``(B, A, 2)`` ``(x, y)``
        peak positions in heatmap pixels. Convert to the aligned frame with
        :func:`heatmap_to_frame`.
    """
    _check_heatmaps(heatmaps)
    batch, n_maps, height, width = heatmaps.shape
    flat = heatmaps.reshape(batch, n_maps, -1)
    values, index = flat.max(dim=-1)
    ys, xs = index // width, index % width
    locations = torch.stack([xs, ys], dim=-1).to(heatmaps.dtype if heatmaps.is_floating_point() else torch.float32)
    if not subpixel:
        return values, locations

    def sample(dx: int, dy: int) -> torch.Tensor:
        x = (xs + dx).clamp(0, width - 1)
        y = (ys + dy).clamp(0, height - 1)
        return flat.gather(-1, (y * width + x)[..., None])[..., 0]

    refined = []
    for axis_size, coord, (lo, hi) in ((width, xs, ((-1, 0), (1, 0))), (height, ys, ((0, -1), (0, 1)))):
        left, right = sample(*lo), sample(*hi)
        positive = (left > 0) & (right > 0) & (values > 0)
        tiny = torch.finfo(locations.dtype).tiny
        log_offset = _parabola_offset(left.clamp_min(tiny).log(), values.clamp_min(tiny).log(),
                                      right.clamp_min(tiny).log())
        raw_offset = _parabola_offset(left, values, right)
        offset = torch.where(positive, log_offset, raw_offset)
        on_border = (coord == 0) | (coord == axis_size - 1)
        refined.append(torch.where(on_border, 0.0, offset))
    return values, locations + torch.stack(refined, dim=-1).to(locations.dtype)


def heatmap_to_frame(points: torch.Tensor, size: int, frame_size: int = FRAME_SIZE) -> torch.Tensor:
    """Convert heatmap-pixel coordinates to aligned-frame pixels (inverse of the frame → heatmap map)."""
    scale, offset = frame_scale(size, frame_size)
    return (points - offset) / scale


def local_window_mask(
    landmarks: torch.Tensor,
    aus: Sequence[int],
    size: int,
    window: float,
    frame_size: int = FRAME_SIZE,
) -> torch.Tensor:
    """``(B, A, size, size)`` booleans: pixels within ``window`` aligned-frame pixels of an AU centre."""
    scale, offset = frame_scale(size, frame_size)
    centres, valid = au_centres(landmarks, aus)
    centres = centres * scale + offset
    grid = torch.arange(size, dtype=centres.dtype, device=centres.device)
    d2 = (grid - centres[..., 1:2])[..., :, None] ** 2 + (grid - centres[..., 0:1])[..., None, :] ** 2
    near = (d2 <= (window * scale) ** 2) & valid[None, :, :, None, None]
    return near.any(dim=2)


def read_intensities(
    heatmaps: torch.Tensor,
    *,
    landmarks: torch.Tensor | None = None,
    aus: Sequence[int] = BP4D_AUS,
    window: float | None = None,
    frame_size: int = FRAME_SIZE,
) -> torch.Tensor:
    """The paper's readout: each map's maximum, clamped to [0, 5].

    Args:
        heatmaps: ``(B, A, H, W)`` predicted maps.
        landmarks: ``(B, L, 2)`` aligned-frame landmarks; needed only for the local readout.
        aus: AU numbers of the channels (local readout).
        window: if given, the **local readout** (ablation): the maximum within ``window`` aligned-frame
            pixels of the AU's centres; a strong response elsewhere on the face is ignored.
        frame_size: side of the aligned frame the landmarks refer to.

    Returns:
        ``(B, A)`` intensities.
    """
    _check_heatmaps(heatmaps)
    if window is None:
        return heatmaps.amax(dim=(-2, -1)).clamp(0.0, MAX_INTENSITY)
    if landmarks is None:
        raise ValueError("the local readout (window=...) needs the aligned landmarks")
    landmarks = torch.as_tensor(landmarks, device=heatmaps.device, dtype=heatmaps.dtype)
    if len(resolve_aus(aus)) != heatmaps.shape[1]:
        raise ValueError(f"{heatmaps.shape[1]} heatmaps but {len(aus)} AUs {tuple(aus)}")
    mask = local_window_mask(landmarks, aus, heatmaps.shape[-1], window, frame_size)
    masked = heatmaps.masked_fill(~mask, float("-inf")).amax(dim=(-2, -1))
    return masked.clamp(0.0, MAX_INTENSITY)


def localisation_error(
    heatmaps: torch.Tensor, landmarks: torch.Tensor, aus: Sequence[int] = BP4D_AUS, frame_size: int = FRAME_SIZE
) -> torch.Tensor:
    """Distance (heatmap pixels) from each map's peak to the nearest of its AU's centres: ``(B, A)``."""
    _, peaks = read_peaks(heatmaps)
    scale, offset = frame_scale(heatmaps.shape[-1], frame_size)
    centres, valid = au_centres(torch.as_tensor(landmarks, dtype=peaks.dtype, device=peaks.device), aus)
    centres = centres * scale + offset
    distance = (centres - peaks[:, :, None]).norm(dim=-1).masked_fill(~valid, float("inf"))
    return distance.amin(dim=-1)
