"""Batched training augmentation of aligned faces, on the training device.

One random 2×3 affine per sample carries the whole geometric augmentation, so a batch costs one
:func:`aulib.method.align.warp_affine` call (bilinear) whatever is switched on:

- **landmark jitter** (tracker noise): the crop is re-warped as if it had been aligned from noisy
  landmarks. Gaussian noise (σ in pixels of the 256 frame) is added to the alignment points 8, 36 and
  45, and the paper's 3-point affine that maps the noisy points back onto the clean ones is solved
  (batched, in torch). For a crop aligned with ``method="paper"`` the clean points *are* the template,
  so this is exactly the alignment the released code would have computed from the noisy tracker
  output; for other alignments it is the same perturbation around wherever the points sit, and it is
  the identity when σ = 0;
- **scale** (uniform ``1 ± scale``), **rotation** (uniform ``± rotation`` degrees) about the crop
  centre, and **translation** (uniform ``± translation`` of the crop side along each axis);
- **horizontal flip** (probability ``flip``) as a negative x-scale about the centre, ``x → S − 1 − x``
  (the :func:`aulib.method.shape.flip_landmarks` convention); flipped samples also get their landmarks
  re-indexed (:func:`flip_permutation`) so that point 36 is again the subject's right eye corner.
  Labels are unchanged: the AUs used here are bilateral;
- the **resize** from the stored crop side ``S`` to the network's input side ``out_size``.

The landmarks follow the same affine exactly but are returned in the 256 frame *of the output crop*
(as if the output were 256×256), because :func:`aulib.method.heatmaps.render_targets` expects that frame and
scales to the heatmap size itself.

Photometric augmentation runs after the warp, on the (usually smaller) output: per-sample brightness
(scale by ``b``), contrast (blend with the image's mean grey) and saturation (blend with the per-pixel
grey), fused into one pass, then one clamp to [0, 1] (without clamps in between, these linear steps
commute, so their order does not matter). Label jitter is the paper's ``I ← I + 0.2·I·|z|``,
``z ~ N(0, 1)`` per sample and AU; it never lowers a non-negative label, keeps 0 at 0 and NaN
(uncodeable) as NaN.

All random numbers come from the given ``torch.Generator``, always in the same amounts and order
whatever the configuration (so switching colour jitter on or off does not change the geometry drawn
for a seed), and are then moved to the tensors' devices: the same seed gives the same batch, on the CPU
bit for bit.

Example:
    >>> import torch
    >>> from aulib.training.augment import AugmentConfig, augment_batch
    >>> from aulib.method.shape import mean_shape
    >>> images = torch.zeros(2, 3, 256, 256, dtype=torch.uint8)
    >>> landmarks = torch.tensor(mean_shape(), dtype=torch.float32).expand(2, 68, 2)
    >>> labels = torch.tensor([[0.0, 1.0, 2.0, 3.0, float("nan")]] * 2)
    >>> out, lms, labs = augment_batch(images, landmarks, labels, out_size=96, config=AugmentConfig(),
    ...                                generator=torch.Generator().manual_seed(0))
    >>> out.shape, out.dtype, lms.shape, bool(labs[0, 0] == 0), bool(labs[0, 4].isnan())
    (torch.Size([2, 3, 96, 96]), torch.float32, torch.Size([2, 68, 2]), True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from aulib.method.align import FRAME_SIZE, PAPER_LANDMARKS, scale_matrix
from aulib.method.aus import INNER_MOUTH_CORNERS_68, landmark_index
from aulib.method.crops import check_crops, crop_landmarks, resize_batch, warp_crops
from aulib.method.shape import FLIP_68
from aulib.options import from_options

# ITU-R BT.601 luma weights, as torchvision's rgb_to_grayscale; the crops are RGB.
GREY_WEIGHTS = (0.299, 0.587, 0.114)

# Columns of the per-sample uniform draws (one (B, 8) tensor, always drawn in full).
_SCALE, _ROTATION, _TX, _TY, _FLIP, _BRIGHTNESS, _CONTRAST, _SATURATION = range(8)
_N_UNIFORM = 8


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the training augmentation. Every range is symmetric and uniform unless said otherwise.

    Attributes:
        scale: relative zoom range: the factor is ``1 ± scale``.
        rotation: rotation range in degrees about the crop centre (``± rotation``).
        translation: shift range along each axis as a fraction of the crop side (``± translation``).
        landmark_jitter: σ in pixels of the 256 frame of the Gaussian noise added to the alignment
            landmarks (8, 36, 45) before re-deriving the alignment (simulated tracker noise).
        flip: probability of a horizontal flip.
        brightness: the image is multiplied by ``1 ± brightness``.
        contrast: the image is blended with its mean grey, factor ``1 ± contrast``.
        saturation: the image is blended with its per-pixel grey, factor ``1 ± saturation``.
        label_jitter: ``k`` of the paper's label noise ``I ← I + k·I·|z|``, ``z ~ N(0, 1)``.

    Example:
        >>> AugmentConfig.none().geometric, AugmentConfig().geometric
        (False, True)
    """

    scale: float = 0.08
    rotation: float = 10.0
    translation: float = 0.04
    landmark_jitter: float = 0.0
    flip: float = 0.5
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    label_jitter: float = 0.2

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"AugmentConfig.{field.name} must be a finite number >= 0; got {value!r}")
        # Factors 1 ± r must stay positive (a zero or negative scale/brightness is not an augmentation).
        for name in ("scale", "brightness", "contrast", "saturation"):
            if getattr(self, name) >= 1:
                raise ValueError(f"AugmentConfig.{name} must be < 1 (the factor is 1 ± {name}); "
                                 f"got {getattr(self, name)}")
        if self.flip > 1:
            raise ValueError(f"AugmentConfig.flip is a probability in [0, 1]; got {self.flip}")
        if self.rotation > 180:
            raise ValueError(f"AugmentConfig.rotation must be <= 180 degrees; got {self.rotation}")

    @classmethod
    def none(cls) -> AugmentConfig:
        """Everything off: :func:`augment_batch` then only resizes (as :func:`aulib.method.crops.resize_batch`)."""
        return cls(scale=0.0, rotation=0.0, translation=0.0, landmark_jitter=0.0, flip=0.0,
                   brightness=0.0, contrast=0.0, saturation=0.0, label_jitter=0.0)

    @classmethod
    def from_options(cls, **options: object) -> AugmentConfig:
        """Build from keyword options (e.g. a YAML section), naming any unknown option in the error."""
        return from_options(cls, options, "augmentation")

    @property
    def geometric(self) -> bool:
        """Whether any geometric augmentation is on (otherwise the warp is a plain resize)."""
        return any((self.scale, self.rotation, self.translation, self.landmark_jitter, self.flip))

    @property
    def photometric(self) -> bool:
        """Whether any colour jitter is on."""
        return any((self.brightness, self.contrast, self.saturation))


def flip_permutation(layout: int = 68) -> tuple[int, ...]:
    """The horizontal-flip re-indexing of a landmark layout.

    After mirroring an image, point ``i`` of the mirrored face is the mirror image of point
    ``perm[i]`` of the original. For DISFA's 66-point layout this is :data:`aulib.method.shape.FLIP_68`
    without the inner-mouth corners 60 and 64 (which swap with each other, so the rest stays closed),
    re-indexed to the 66 layout.

    Args:
        layout: 68 (iBUG) or 66 (DISFA).

    Returns:
        A tuple of ``layout`` indices; an involution (applying it twice gives the identity).

    Example:
        >>> perm = flip_permutation(66)
        >>> len(perm), perm[36], perm[45], perm[60], perm[62]
        (66, 45, 36, 62, 60)
    """
    if layout == 68:
        return FLIP_68
    if layout != 66:
        raise ValueError(f"Unknown landmark layout {layout}; use 68 (iBUG) or 66 (DISFA)")
    kept = [i for i in range(68) if i not in INNER_MOUTH_CORNERS_68]
    return tuple(landmark_index(FLIP_68[i], 66) for i in kept)


def _compose(second: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
    # second ∘ first for (…, 2, 3) torch matrices (aulib.method.align.compose_affine is the numpy twin).
    linear = second[..., :2] @ first[..., :2]
    translation = second[..., :2] @ first[..., 2:] + second[..., 2:]
    return torch.cat([linear, translation], dim=-1)


def _geometry(
    landmarks: torch.Tensor, uniform: torch.Tensor, noise: torch.Tensor, size: int, config: AugmentConfig,
    frame_size: int,
) -> torch.Tensor:
    """``(B, 2, 3)`` float64 augmentation matrices in the ``S`` frame (crop pixels → crop pixels)."""
    u = uniform * 2 - 1  # (B, 8) in [-1, 1)
    flipped = uniform[:, _FLIP] < config.flip  # rand ∈ [0, 1): never for 0, always for 1
    zoom = 1 + config.scale * u[:, _SCALE]
    angle = torch.deg2rad(config.rotation * u[:, _ROTATION])
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    mirror = torch.where(flipped, -1.0, 1.0).to(u)
    # zoom·R(angle)·diag(mirror, 1), about the centre c, then shifted by t:  x ↦ L(x − c) + c + t.
    linear = torch.stack([torch.stack([cos * mirror, -sin], -1), torch.stack([sin * mirror, cos], -1)], -2)
    centre = (size - 1) / 2  # the pixel-centre convention: x → S − 1 − x is the mirror about it
    shift = config.translation * size * u[:, [_TX, _TY]]  # (B, 2)
    offset = centre + shift - linear.sum(-1) * centre  # c + t − L·c, with c = (centre, centre)
    matrices = torch.cat([linear, offset[..., None]], dim=-1)  # (B, 2, 3)

    if config.landmark_jitter > 0:
        # Re-align from noisy points: the 3-point affine taking clean + noise back onto clean. The
        # target landmarks then follow it exactly, so they keep describing the re-warped image.
        clean = landmarks[:, list(PAPER_LANDMARKS)].to(torch.float64)  # (B, 3, 2)
        noisy = clean + noise * (config.landmark_jitter * size / frame_size)
        system = torch.cat([noisy, torch.ones_like(noisy[..., :1])], dim=-1)  # (B, 3, 3)
        # solve_ex: no host sync on CUDA for the error check; 3 noisy face points are never collinear
        # at tracker-like σ (a few pixels against a ~100 px triangle).
        solution, _ = torch.linalg.solve_ex(system, clean)  # (B, 3, 2): [x y 1] @ X = clean
        matrices = _compose(matrices, solution.transpose(-1, -2))
    return matrices


def _colour_jitter(images: torch.Tensor, uniform: torch.Tensor, config: AugmentConfig) -> torch.Tensor:
    """Brightness, contrast and saturation on ``(B, 3, H, W)`` floats in [0, 1], in place, then a clamp.

    The three steps (in any order: they commute) are

    - brightness ``x₁ = b·x``,
    - contrast ``x₂ = c·x₁ + (1 − c)·mean(grey(x₁))``,
    - saturation ``x₃ = s·x₂ + (1 − s)·grey(x₂)``,

    and since ``grey`` is linear and maps a constant image to itself (its weights sum to 1), they
    collapse to ``x₃ = b·c·(s·x + (1 − s)·grey(x)) + b·(1 − c)·mean(grey(x))``: one grey image and one
    pass over the batch instead of six.
    """
    u = (uniform * 2 - 1).to(images)  # (B, 8)
    ones = torch.ones_like(u[:, 0])
    b = 1 + config.brightness * u[:, _BRIGHTNESS] if config.brightness else ones
    c = 1 + config.contrast * u[:, _CONTRAST] if config.contrast else ones
    s = 1 + config.saturation * u[:, _SATURATION] if config.saturation else ones
    # grey = Σ_c w_c·x_c, accumulated channel by channel (no (B, 3, H, W) temporary).
    grey = images[:, :1] * GREY_WEIGHTS[0]  # (B, 1, H, W)
    grey.add_(images[:, 1:2], alpha=GREY_WEIGHTS[1]).add_(images[:, 2:3], alpha=GREY_WEIGHTS[2])
    mean_grey = grey.mean(dim=(-2, -1), keepdim=True)  # (B, 1, 1, 1)
    view = (-1, 1, 1, 1)
    # The per-pixel term shared by the three channels: b·c·(1 − s)·grey + b·(1 − c)·mean.
    shared = grey.mul_((b * c * (1 - s)).view(view)).add_((b * (1 - c)).view(view) * mean_grey)
    images.mul_((b * c * s).view(view)).add_(shared)
    # One clamp at the end (torchvision clamps after each step; the difference is only in how far
    # over-exposed pixels are pulled back by a later contrast or saturation change).
    return images.clamp_(0.0, 1.0)


def augment_batch(
    images: torch.Tensor,
    landmarks: torch.Tensor,
    labels: torch.Tensor,
    *,
    out_size: int,
    config: AugmentConfig | None = None,
    generator: torch.Generator | None = None,
    frame_size: int = FRAME_SIZE,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augment a batch of aligned faces on their device: one random affine and one warp per batch.

    Args:
        images: ``(B, 3, S, S)`` uint8 RGB aligned crops (float in [0, 1] is accepted too) on any device.
        landmarks: ``(B, L, 2)`` in pixels of the ``S`` frame. L = 68 or 66 when flipping or jittering
            landmarks (other layouts are fine otherwise).
        labels: ``(B, A)`` intensities; NaN marks uncodeable labels and stays NaN.
        out_size: side of the network's input (96 for the CPU preset, 256 for the paper).
        config: the ranges; ``AugmentConfig()`` (the defaults) when ``None``.
        generator: source of all randomness (on the CPU or the tensors' device); the global generator
            when ``None``. The draws are moved to each tensor's device.
        frame_size: the frame of the returned landmarks and the unit of ``landmark_jitter`` (256).

    Returns:
        ``(images, landmarks, labels)``: float32 images in [0, 1] of side ``out_size``; the landmarks
        moved by the same affine, re-indexed for flipped samples, in the ``frame_size`` frame of the
        output crop; the jittered labels (same dtype and device).

    Shape:
        - images: ``(B, 3, S, S) -> (B, 3, out_size, out_size)``
        - landmarks: ``(B, L, 2) -> (B, L, 2)``
        - labels: ``(B, A) -> (B, A)``

    Example:
        >>> import torch
        >>> from aulib.method.shape import mean_shape
        >>> images = torch.randint(0, 256, (4, 3, 128, 128), dtype=torch.uint8)
        >>> landmarks = torch.tensor(mean_shape() / 2, dtype=torch.float32).expand(4, 68, 2)  # the 128 frame
        >>> out, lms, labs = augment_batch(images, landmarks, torch.ones(4, 5), out_size=64,
        ...                                config=AugmentConfig(landmark_jitter=2.0),
        ...                                generator=torch.Generator().manual_seed(1))
        >>> out.shape, bool(out.min() >= 0) and bool(out.max() <= 1), bool((labs >= 1).all())
        (torch.Size([4, 3, 64, 64]), True, True)
    """
    config = AugmentConfig() if config is None else config
    size = check_crops(images, landmarks)
    batch, n_points = landmarks.shape[:2]
    if labels.ndim != 2 or labels.shape[0] != batch:
        raise ValueError(f"labels must be (B, A) with B = {batch}; got {tuple(labels.shape)}")
    if (config.flip or config.landmark_jitter) and n_points not in (66, 68):
        raise ValueError(f"flipping and landmark jitter need the 68- or 66-point layout; got {n_points} points")

    # Every draw, always in full and in this order, so that a seed fixes the batch whatever is on.
    draw_device = generator.device if generator is not None else torch.device("cpu")
    uniform = torch.rand(batch, _N_UNIFORM, generator=generator, dtype=torch.float64, device=draw_device)
    noise = torch.randn(batch, len(PAPER_LANDMARKS), 2, generator=generator, dtype=torch.float64,
                        device=draw_device)
    label_z = torch.randn(labels.shape, generator=generator, dtype=torch.float64, device=draw_device)

    geo_device = landmarks.device
    to_frame = torch.as_tensor(scale_matrix(frame_size, size), device=geo_device)  # S frame -> 256 frame
    if config.geometric:
        uniform_geo = uniform.to(geo_device)
        augmentation = _geometry(landmarks, uniform_geo, noise.to(geo_device), size, config, frame_size)
        resize = torch.as_tensor(scale_matrix(out_size, size), device=geo_device)
        out_images = warp_crops(images, _compose(resize, augmentation), out_size)  # (B, 3, out, out)
        out_landmarks = crop_landmarks(landmarks, _compose(to_frame, augmentation))
        flipped = uniform_geo[:, _FLIP] < config.flip  # (B,)
        if config.flip:
            # Re-index only the flipped samples: gather with a per-sample index (B, L).
            perm = torch.as_tensor(flip_permutation(n_points), device=geo_device)
            identity = torch.arange(n_points, device=geo_device)
            index = torch.where(flipped[:, None], perm, identity)
            out_landmarks = out_landmarks.gather(1, index[..., None].expand(-1, -1, 2))
    else:
        out_images, out_landmarks = resize_batch(images, landmarks, out_size, frame_size)

    if config.photometric:
        out_images = _colour_jitter(out_images, uniform.to(out_images.device), config)

    out_labels = labels.clone()
    if config.label_jitter:
        z = label_z.to(device=labels.device, dtype=labels.dtype if labels.is_floating_point() else torch.float32)
        jittered = labels + config.label_jitter * labels * z.abs()
        out_labels = torch.where(torch.isfinite(labels), jittered, labels)
    return out_images, out_landmarks, out_labels
