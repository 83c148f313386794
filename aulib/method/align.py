"""Face alignment: from detected landmarks to a 256×256 aligned crop, and back.

Conventions used throughout aulib:

- Pixel coordinates are ``(x, y)`` with the *centre* of pixel ``(i, j)`` at ``x = j, y = i`` (OpenCV's
  convention). A 2×3 matrix ``M`` maps a point ``p`` of the source image to ``M[:, :2] @ p + M[:, 2]`` in
  the aligned frame.
- The paper's alignment (``method="paper"``) is the released code's 3-point affine: landmarks 8 (chin),
  36 and 45 (outer eye corners) onto :data:`PAPER_TEMPLATE`. It is exact on those three points and
  shears the rest of the face as needed.
- ``method="similarity"`` is a least-squares similarity (rotation, uniform scale, translation;
  Umeyama 1991) of stable points (eye corners and nose) onto the same points of the mean shape. It never
  shears, and it is less sensitive to noise in any single landmark.

Every function takes one face ``(L, 2)`` or a batch ``(B, L, 2)``, for the 68-point iBUG layout and
DISFA's 66-point layout (the alignment points exist in both).

Example:
    >>> import numpy as np
    >>> from aulib.method.align import alignment_matrix, transform_points, PAPER_TEMPLATE
    >>> from aulib.method.shape import mean_shape
    >>> face = mean_shape() * 0.5 + 40.0          # a smaller, shifted face
    >>> M = alignment_matrix(face)
    >>> np.allclose(transform_points(face[[8, 36, 45]], M), PAPER_TEMPLATE)
    True
"""

from __future__ import annotations

from typing import Literal, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from aulib.method.aus import eye_corner_indices
from aulib.method.shape import mean_shape

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

FRAME_SIZE = 256

# The released code's template: where landmarks 8, 36 and 45 land in the 256×256 crop.
PAPER_LANDMARKS: tuple[int, int, int] = (8, 36, 45)
PAPER_TEMPLATE = np.array([[127.6475, 227.8161], [79.1608, 87.0376], [176.8392, 87.0376]])

# Points that AUs barely move: the four eye corners and the nose (bridge and base). Brows, lids,
# mouth and jaw are excluded on purpose: AU1/2/4, AU5/6, AU10–26 move them, and an alignment that
# followed them would cancel the very changes we want to see.
SIMILARITY_LANDMARKS: tuple[int, ...] = (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45)

Method = Literal["paper", "similarity"]


def _check_landmarks(landmarks: np.ndarray, name: str = "landmarks") -> np.ndarray:
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim not in (2, 3) or pts.shape[-1] != 2 or pts.shape[-2] not in (66, 68):
        raise ValueError(f"{name} must have shape (68, 2), (66, 2) or (B, L, 2); got {pts.shape}")
    if not np.isfinite(pts).all():
        bad = np.argwhere(~np.isfinite(pts).all(axis=-1))
        raise ValueError(f"{name} contain NaN or inf at (face, point) / point indices {bad[:5].tolist()}")
    return pts


def frame_scale(size: int, frame_size: int = FRAME_SIZE) -> tuple[float, float]:
    """Scale and offset that map the 256 frame onto a ``size``-pixel grid: ``u = s·x + o``.

    Pixel *areas* correspond (pixel ``j`` of the small grid covers ``[j·k − 0.5, (j+1)·k − 0.5)`` with
    ``k = frame_size / size``), so ``s = size / frame_size`` and ``o = (s − 1) / 2``.
    """
    scale = size / frame_size
    return scale, 0.5 * scale - 0.5


def template_points(size: int = FRAME_SIZE, method: Method = "paper") -> np.ndarray:
    """The target points of an alignment method in a ``size``×``size`` crop.

    Returns:
        ``(3, 2)`` for ``"paper"`` (landmarks 8, 36, 45) or ``(13, 2)`` for ``"similarity"``.
    """
    scale, offset = frame_scale(size)
    if method == "paper":
        points = PAPER_TEMPLATE
    elif method == "similarity":
        points = mean_shape()[list(SIMILARITY_LANDMARKS)]
    else:
        raise ValueError(f"Unknown alignment method {method!r}; use 'paper' or 'similarity'")
    return points * scale + offset


def _affine_from_3_points(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    # Solve [x y 1] @ M.T = [u v] for the 3 correspondences; batched over leading dims.
    ones = np.ones((*src.shape[:-1], 1))
    system = np.concatenate([src, ones], axis=-1)  # (…, 3, 3)
    if np.any(np.abs(np.linalg.det(system)) < 1e-9):
        raise ValueError("Landmarks 8, 36 and 45 are collinear or coincide; cannot compute the affine")
    return np.swapaxes(np.linalg.solve(system, np.broadcast_to(dst, src.shape)), -1, -2)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity mapping ``src`` onto ``dst`` (Umeyama 1991, no reflection).

    Args:
        src: ``(…, N, 2)`` source points.
        dst: ``(N, 2)`` or ``(…, N, 2)`` target points.

    Returns:
        ``(…, 2, 3)`` matrices.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.broadcast_to(np.asarray(dst, dtype=np.float64), src.shape)
    src_mean, dst_mean = src.mean(axis=-2, keepdims=True), dst.mean(axis=-2, keepdims=True)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = np.swapaxes(dst_c, -1, -2) @ src_c / src.shape[-2]  # (…, 2, 2)
    u, singular, vt = np.linalg.svd(covariance)
    # Flip the last axis when the best orthogonal map is a reflection: faces are never mirrored.
    sign = np.sign(np.linalg.det(u @ vt))
    correction = np.stack([np.ones_like(sign), sign], axis=-1)
    rotation = (u * correction[..., None, :]) @ vt
    src_var = (src_c**2).sum(axis=(-1, -2)) / src.shape[-2]
    scale = (singular * correction).sum(axis=-1) / src_var
    linear = scale[..., None, None] * rotation
    translation = dst_mean[..., 0, :] - (linear @ src_mean[..., 0, :, None])[..., 0]
    return np.concatenate([linear, translation[..., None]], axis=-1)


def alignment_matrix(landmarks: np.ndarray, method: Method = "paper", size: int = FRAME_SIZE) -> np.ndarray:
    """The 2×3 matrix that maps the image onto the aligned ``size``×``size`` crop.

    Args:
        landmarks: ``(L, 2)`` or ``(B, L, 2)`` with L = 68 or 66, in image pixels.
        method: ``"paper"`` (3-point affine of the released code) or ``"similarity"``.
        size: side of the aligned crop; the template scales with it.

    Returns:
        ``(2, 3)`` or ``(B, 2, 3)`` float64 matrices.

    Raises:
        ValueError: for a wrong shape, NaN/inf landmarks or degenerate points.
    """
    pts = _check_landmarks(landmarks)
    if method == "paper":
        return _affine_from_3_points(pts[..., list(PAPER_LANDMARKS), :], template_points(size, "paper"))
    if method == "similarity":
        return similarity_transform(pts[..., list(SIMILARITY_LANDMARKS), :], template_points(size, method))
    raise ValueError(f"Unknown alignment method {method!r}; use 'paper' or 'similarity'")


def invert_affine(matrix: ArrayT) -> ArrayT:
    """Invert ``(…, 2, 3)`` affine matrices (numpy or torch)."""
    if isinstance(matrix, torch.Tensor):
        linear_inv = torch.linalg.inv(matrix[..., :2])
        return torch.cat([linear_inv, -(linear_inv @ matrix[..., 2:])], dim=-1)
    matrix = np.asarray(matrix, dtype=np.float64)
    linear_inv = np.linalg.inv(matrix[..., :2])
    return np.concatenate([linear_inv, -(linear_inv @ matrix[..., 2:])], axis=-1)


def transform_points(points: ArrayT, matrix: ArrayT) -> ArrayT:
    """Apply ``(…, 2, 3)`` affine matrices to ``(…, N, 2)`` points (numpy or torch).

    Map back to the image with ``transform_points(p, invert_affine(M))``.
    """
    if isinstance(points, torch.Tensor):
        matrix = torch.as_tensor(matrix, dtype=points.dtype, device=points.device)
        return points @ matrix[..., :2].transpose(-1, -2) + matrix[..., None, :, 2]
    points = np.asarray(points, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    return points @ np.swapaxes(matrix[..., :2], -1, -2) + matrix[..., None, :, 2]


def scale_matrix(size: int, frame_size: int = FRAME_SIZE) -> np.ndarray:
    """The 2×3 matrix from the ``frame_size`` frame to a ``size`` grid (e.g. 256 → 64 heatmaps)."""
    scale, offset = frame_scale(size, frame_size)
    return np.array([[scale, 0.0, offset], [0.0, scale, offset]])


def compose_affine(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The affine ``second ∘ first`` (apply ``first``, then ``second``), batched."""
    second, first = np.asarray(second, dtype=np.float64), np.asarray(first, dtype=np.float64)
    linear = second[..., :2] @ first[..., :2]
    translation = second[..., :2] @ first[..., 2:] + second[..., 2:]
    return np.concatenate([linear, translation], axis=-1)


def _normalised_grid_matrix(matrix: torch.Tensor, src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> torch.Tensor:
    # affine_grid works in normalised coordinates (align_corners=False: −1 and +1 are the outer pixel
    # edges), mapping *output* to *input*. Convert "input pixels → output pixels" M into that:
    #   N_in ∘ M⁻¹ ∘ N_out⁻¹, where N maps pixel x to (2x + 1) / W − 1.
    def to_normalised(h: int, w: int) -> torch.Tensor:
        return matrix.new_tensor([[2.0 / w, 0.0, 1.0 / w - 1.0], [0.0, 2.0 / h, 1.0 / h - 1.0], [0, 0, 1]])

    def to_3x3(m: torch.Tensor) -> torch.Tensor:
        bottom = m.new_tensor([0.0, 0.0, 1.0]).expand((*m.shape[:-2], 1, 3))
        return torch.cat([m, bottom], dim=-2)

    inverse = to_3x3(invert_affine(matrix))
    theta = to_normalised(*src_hw) @ inverse @ torch.linalg.inv(to_normalised(*dst_hw))
    return theta[..., :2, :]


def warp_affine(
    images: ArrayT,
    matrix: np.ndarray | torch.Tensor,
    out_size: int | tuple[int, int],
    *,
    mode: Literal["bilinear", "nearest"] = "bilinear",
    padding: Literal["zeros", "border", "reflection"] = "zeros",
) -> ArrayT:
    """Warp images with affine matrices that map input pixels to output pixels (batched).

    Args:
        images: a numpy ``(H, W)`` / ``(H, W, C)`` image (any dtype; uint8 stays uint8), or a torch
            ``(B, C, H, W)`` tensor (float or uint8) on any device.
        matrix: ``(2, 3)`` or ``(B, 2, 3)``, input pixels → output pixels.
        out_size: ``S`` for an ``S×S`` output, or ``(height, width)``.
        mode: interpolation.
        padding: what lies outside the input (``"zeros"`` gives black borders, as OpenCV's default).

    Returns:
        The warped images, in the input's kind, dtype and layout.

    Shape:
        - numpy: ``(H, W[, C]) -> (S, S[, C])``
        - torch: ``(B, C, H, W) -> (B, C, S, S)``
    """
    out_hw = (out_size, out_size) if isinstance(out_size, int) else tuple(out_size)
    if isinstance(images, np.ndarray):
        if images.ndim not in (2, 3):
            raise ValueError(f"numpy image must be (H, W) or (H, W, C); got shape {images.shape}")
        if np.asarray(matrix).shape != (2, 3):
            raise ValueError(f"a numpy image takes one (2, 3) matrix; got {np.asarray(matrix).shape}")
        chw = images[None, None] if images.ndim == 2 else np.moveaxis(images, -1, 0)[None]
        warped = warp_affine(torch.from_numpy(np.ascontiguousarray(chw)), matrix, out_hw, mode=mode,
                             padding=padding)
        warped = warped[0].numpy()
        return warped[0] if images.ndim == 2 else np.moveaxis(warped, 0, -1)

    if images.ndim != 4:
        raise ValueError(f"torch images must be (B, C, H, W); got shape {tuple(images.shape)}")
    batch = images.shape[0]
    matrix_t = torch.as_tensor(matrix, dtype=torch.float64, device=images.device)
    if matrix_t.shape == (2, 3):
        matrix_t = matrix_t.expand(batch, 2, 3)
    if matrix_t.shape != (batch, 2, 3):
        raise ValueError(f"matrix must be (2, 3) or ({batch}, 2, 3); got {tuple(matrix_t.shape)}")
    # float64 for the matrix algebra (sub-pixel exactness), the image's float type for sampling.
    work_dtype = images.dtype if images.is_floating_point() else torch.float32
    theta = _normalised_grid_matrix(matrix_t, tuple(images.shape[-2:]), out_hw).to(work_dtype)
    grid = F.affine_grid(theta, [batch, images.shape[1], *out_hw], align_corners=False)
    warped = F.grid_sample(images.to(work_dtype), grid, mode=mode, padding_mode=padding, align_corners=False)
    if images.dtype == torch.uint8:
        return warped.round_().clamp_(0, 255).to(torch.uint8)
    return warped


def warp_face(image: ArrayT, matrix: np.ndarray | torch.Tensor, size: int = FRAME_SIZE) -> ArrayT:
    """Warp an image (or a batch) into the aligned ``size``×``size`` crop. See :func:`warp_affine`."""
    return warp_affine(image, matrix, size)


def align_face(
    image: np.ndarray, landmarks: np.ndarray, method: Method = "paper", size: int = FRAME_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Align one face: returns ``(crop, aligned_landmarks, matrix)``."""
    matrix = alignment_matrix(landmarks, method=method, size=size)
    return warp_face(image, matrix, size), transform_points(landmarks, matrix), matrix


def heatmap_to_image(
    heatmaps: ArrayT,
    matrix: np.ndarray,
    image_size: tuple[int, int],
    frame_size: int = FRAME_SIZE,
) -> ArrayT:
    """Map heatmaps of an aligned face back onto the original image, for overlays.

    Args:
        heatmaps: numpy ``(h, w)`` / ``(h, w, A)`` or torch ``(B, A, h, w)`` maps of the aligned crop.
        matrix: the alignment matrix (image → ``frame_size`` crop) that produced the crop.
        image_size: ``(height, width)`` of the original image.
        frame_size: side of the aligned crop the matrix targets (256).

    Returns:
        The maps resampled onto the original image's pixel grid; zero outside the crop.
    """
    height = heatmaps.shape[-2] if isinstance(heatmaps, torch.Tensor) or heatmaps.ndim == 2 else heatmaps.shape[0]
    image_to_heatmap = compose_affine(scale_matrix(height, frame_size), matrix)
    return warp_affine(heatmaps, invert_affine(image_to_heatmap), tuple(image_size))


def inter_ocular_distance(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners (36, 45): ``(L, 2) -> ()``, ``(B, L, 2) -> (B,)``."""
    pts = _check_landmarks(landmarks)
    right, left = eye_corner_indices(pts.shape[-2])
    return np.linalg.norm(pts[..., left, :] - pts[..., right, :], axis=-1)


def add_landmark_noise(
    landmarks: np.ndarray,
    sigma: float,
    unit: Literal["px", "iod"] = "px",
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Add isotropic Gaussian noise to landmarks, as a tracker's errors would.

    Args:
        landmarks: ``(L, 2)`` or ``(B, L, 2)`` image-pixel coordinates.
        sigma: standard deviation per coordinate, in pixels (``unit="px"``) or as a fraction of each
            face's inter-ocular distance (``unit="iod"``).
        unit: ``"px"`` or ``"iod"``.
        seed: an int or a ``numpy.random.Generator``; the same seed gives the same noise.

    Returns:
        A noisy float64 copy; ``sigma == 0`` returns an exact copy.
    """
    pts = _check_landmarks(landmarks)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0; got {sigma}")
    if unit not in ("px", "iod"):
        raise ValueError(f"unit must be 'px' or 'iod'; got {unit!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    scale = sigma * (inter_ocular_distance(pts)[..., None, None] if unit == "iod" else 1.0)
    return pts + rng.standard_normal(pts.shape) * scale
