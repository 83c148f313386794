"""The course's exercise checks: each compares a student's function with aulib's own and says what is wrong.

Every exercise asks for a small function (its body between nbgrader's ``### BEGIN SOLUTION`` and
``### END SOLUTION`` markers; the student release replaces it with ``raise NotImplementedError()``). Its check cell
calls one function here, which runs the student's function on cases with known answers and either prints what was
right or raises :class:`ExerciseFeedback`: an ``AssertionError`` (so nbgrader's autograder counts it as a failed
test) that a notebook shows as its message alone, without a traceback. Check cells are tagged ``raises-exception``,
so *Run all* (JupyterLab, papermill, nbclient) goes on past an unsolved exercise: no later cell uses a student's
function, and a stuck student still gets the files the next notebooks read. The messages name
the likely mistake, e.g. "your ICC differs from the reference by 0.21; did you divide the error mean square by
(n−1)(k−1)?".

Example:
    >>> import numpy as np
    >>> def my_icc(ratings):
    ...     raise NotImplementedError()
    >>> try:
    ...     icc_from_anova(my_icc)
    ... except ExerciseFeedback as feedback:
    ...     print(feedback)
    Not written yet: icc_from_anova calls your my_icc, which still raises NotImplementedError. Replace the stub with \
your code, then run this cell again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch

from aulib.course.feedback import ExerciseFeedback, as_array, call_student, passed

# Shrout & Fleiss (1979), Table 2: six targets rated by four judges, with ICC(1,1) = .17, ICC(2,1) = .29 and
# ICC(3,1) = .71 in the paper.
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
                         dtype=float)


# -- notebook 01: data and alignment --------------------------------------------------------------------------


def affine(function: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> bool:
    """Exercise 1.1: ``function(src (3, 2), dst (3, 2)) -> (2, 3)``, the affine that maps three points exactly."""
    from aulib.method.align import PAPER_LANDMARKS, alignment_matrix, template_points
    from aulib.method.shape import mean_shape

    rng = np.random.default_rng(0)
    for trial in range(4):
        face = mean_shape() * rng.uniform(0.5, 2.0) + rng.uniform(-50, 200, 2)
        angle = rng.uniform(-0.4, 0.4)
        face = face @ np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]).T
        expected = alignment_matrix(face)
        src, dst = face[list(PAPER_LANDMARKS)], template_points()
        got = as_array(call_student("affine", function, src.copy(), dst.copy()), (2, 3), "The matrix")
        if np.allclose(got, expected, atol=1e-6):
            continue
        if np.allclose(got[:, :2].T, expected[:, :2], atol=1e-6):
            raise ExerciseFeedback("The 2×2 part is transposed: x' = A @ x uses A's rows, one per output coordinate.")
        if np.allclose(got[:, :2], expected[:, :2], atol=1e-6):
            raise ExerciseFeedback("The linear part is right but the translation (third column) is off: solve for "
                                   "all six unknowns, with a column of ones beside the source points.")
        inverse = np.linalg.inv(np.vstack([expected, [0, 0, 1]]))[:2]
        if np.allclose(got, inverse, atol=1e-6):
            raise ExerciseFeedback("This is the inverse: it maps the template onto the face. Map src onto dst.")
        error = float(np.abs(got - expected).max())
        raise ExerciseFeedback(f"On test face {trial + 1} your matrix differs from aulib.method.align.alignment_matrix "
                               f"by up to {error:.3g}. Check that row k of src goes to row k of dst.")
    return passed("Your affine maps the three landmarks exactly as the released code's alignment does.")


def strong_share(function: Callable[[pd.DataFrame, tuple[str, ...]], float], frames: pd.DataFrame,
                 train_splits: tuple[str, ...]) -> bool:
    """Exercise 1.2: ``function(frames, train_splits) -> float``, the share of training frames with AU12 at 3 or
    more (the training splits come from the dataset's split specification)."""
    train = frames[frames["split"].isin(train_splits)]["AU12"]
    expected = float((train >= 3).mean())
    got = float(call_student("strong_share", function, frames.copy(), tuple(train_splits)))
    if math.isclose(got, expected, abs_tol=1e-9):
        return passed(f"{got:.1%} of the training frames show AU12 at C (marked) or stronger.")
    if math.isclose(got, float((frames["AU12"] >= 3).mean()), abs_tol=1e-9):
        raise ExerciseFeedback(f"That is the share over every split: keep only the rows whose split is in "
                               f"{list(train_splits)}.")
    if math.isclose(got, float((train > 3).mean()), abs_tol=1e-9):
        raise ExerciseFeedback("Intensity 3 counts too: use >= 3, not > 3.")
    if math.isclose(got, 100 * expected, abs_tol=1e-6):
        raise ExerciseFeedback("Return a fraction between 0 and 1, not a percentage.")
    raise ExerciseFeedback(f"Your share differs from the labels' by {abs(got - expected):.3f}.")


# -- notebook 02: heatmap targets -----------------------------------------------------------------------------


def gaussian(function: Callable[[np.ndarray, float, float, int], np.ndarray]) -> bool:
    """Exercise 2.1: ``function(centre (2,), intensity, sigma, size) -> (size, size)`` in heatmap pixels: a Gaussian
    whose value at the pixel nearest the (sub-pixel) centre is exactly the intensity."""
    from aulib.method.heatmaps import render_gaussians

    for centre, intensity, sigma in [((20.3, 31.7), 3.0, 2.0), ((40.0, 12.5), 5.0, 3.0), ((8.6, 50.2), 1.0, 1.0)]:
        expected = render_gaussians(torch.tensor([[list(centre)]], dtype=torch.float64),
                                    torch.tensor([[intensity]], dtype=torch.float64),
                                    torch.tensor([[sigma]], dtype=torch.float64), 64, truncate=40.0)[0].numpy()
        got = as_array(call_student("gaussian", function, np.array(centre), intensity, sigma, 64), (64, 64), "The map")
        if np.allclose(got, expected, atol=1e-6):
            continue
        ys, xs = np.unravel_index(got.argmax(), got.shape)
        want_y, want_x = np.unravel_index(expected.argmax(), expected.shape)
        if (xs, ys) != (want_x, want_y):
            raise ExerciseFeedback(f"Your peak is at pixel (x={xs}, y={ys}); the centre is at x={centre[0]}, "
                                   f"y={centre[1]}: images are indexed [y, x].")
        if np.allclose(got / got.max(), expected / expected.max(), atol=1e-6):
            raise ExerciseFeedback(f"The shape is right but the maximum is {got.max():.4f}, not the intensity "
                                   f"{intensity:g}: the centre falls between pixels, so scale the Gaussian until the "
                                   "pixel nearest the centre holds the intensity (no 1/(2πσ²) normalisation either).")
        gap = np.abs(got - expected).max()
        raise ExerciseFeedback(f"The peak is in place but the shape is off by up to {gap:.3f}: is σ in heatmap "
                               "pixels, and the exponent −d²/(2σ²)?")
    return passed("Your Gaussian is the target aulib renders: amplitude = intensity, peak at the centre.")


def sum_peak(function: Callable[[float, float, float], float]) -> bool:
    """Exercise 2.3: ``function(intensity, distance, sigma) -> float``: the maximum of the *sum* of two Gaussians of
    height ``intensity`` and width ``sigma`` whose centres lie ``distance`` apart, with ``distance ≤ 2·sigma`` (one
    peak): what the readout would report had the target summed its Gaussians instead of taking their maximum.

    The truth is found numerically (the sum on a fine grid along the line through both centres, where its maximum
    lies), not from a formula.
    """
    for intensity, distance, sigma in ((3.0, 8.0, 8.8), (5.0, 12.0, 12.0), (2.0, 3.0, 4.0)):
        x = np.linspace(-3 * distance - 4 * sigma, 3 * distance + 4 * sigma, 200_001)
        total = intensity * (np.exp(-((x - distance / 2) ** 2) / (2 * sigma**2))
                             + np.exp(-((x + distance / 2) ** 2) / (2 * sigma**2)))
        expected = float(total.max())
        got = float(call_student("sum_peak", function, intensity, distance, sigma))
        if math.isclose(got, expected, rel_tol=1e-4):
            continue
        at_centre = intensity * (1 + math.exp(-distance**2 / (2 * sigma**2)))
        case = f"I = {intensity:g}, d = {distance:g}, σ = {sigma:g}"
        if math.isclose(got, intensity, rel_tol=1e-6):
            raise ExerciseFeedback(f"For {case} you answer the intensity: that is the maximum's readout, the target "
                                   "the course uses. The question is what the *sum* of the two Gaussians would read.")
        if math.isclose(got, 2 * intensity, rel_tol=1e-6):
            raise ExerciseFeedback(f"For {case} you answer 2·I: the two peaks do not coincide. They are d apart, so "
                                   "where one Gaussian peaks the other has fallen. Where is their sum largest?")
        if math.isclose(got, at_centre, rel_tol=1e-6):
            raise ExerciseFeedback(f"For {case} you answer the sum at one centre ({at_centre:.3f}). Overlapping this "
                                   "much (d ≤ 2σ), the sum has a single peak: by symmetry, midway between them.")
        raise ExerciseFeedback(f"For {case} you answer {got:.3f}; the sum's maximum is {expected:.3f}. Evaluate "
                               "each Gaussian at the point where the sum is largest.")
    return passed("Summed, two centres d apart would read 2·I·exp(−d²/8σ²): 5.41 for I = 3, d = 8, σ = 8.8, more "
                  "than the intensity. The maximum keeps the readout equal to the intensity, however the maps overlap.")


def sigma_for_map(function: Callable[[float, int], float]) -> bool:
    """Exercise 2.2: ``function(intensity, map_size) -> float``: σ of the growing extent in aligned-frame pixels,
    chosen so that it spans the same 1–3 *map* pixels on any map size.

    The truths are the designs aulib trains, not a formula of this module: the paper's 64×64 maps
    (:class:`aulib.method.heatmaps.HeatmapConfig`: 4–12 frame pixels) and the live model's 24×24 maps (the smoke
    profile of :class:`aulib.training.config.TrainConfig`: 10.7–32 frame pixels, rounded there to 0.1).
    """
    from aulib.course.targets import live_heatmap_config
    from aulib.method.heatmaps import HeatmapConfig

    designs = [HeatmapConfig(), live_heatmap_config()]
    for config in designs:
        per_pixel = config.frame_size / config.size
        for intensity in (0.5, 2.5, 5.0):
            expected = float(config.sigma(torch.tensor([intensity]))[0])
            got = float(call_student("sigma_for_map", function, intensity, config.size))
            if math.isclose(got, expected, abs_tol=0.06):
                continue
            if math.isclose(got, expected / per_pixel, abs_tol=0.02):
                raise ExerciseFeedback(f"That is σ in map pixels ({config.size}×{config.size}); the answer is in "
                                       f"pixels of the 256 aligned frame: one map pixel is {per_pixel:.2f} of them.")
            if config.size != 64 and math.isclose(got, float(designs[0].sigma(torch.tensor([intensity]))[0]),
                                                  abs_tol=1e-6):
                raise ExerciseFeedback(f"Your σ does not depend on the map size: on {config.size}×{config.size} "
                                       f"maps one map pixel is {per_pixel:.2f} frame pixels, so 4 frame pixels are "
                                       "less than one map pixel. Keep σ at 1–3 map pixels.")
            raise ExerciseFeedback(f"On {config.size}×{config.size} maps at intensity {intensity:g}, σ is "
                                   f"{expected:.2f} frame pixels; you give {got:g}. σ grows linearly from 1 map "
                                   "pixel (intensity 0) to 3 (intensity 5); then convert map pixels to frame pixels.")
    return passed("σ spans 1–3 map pixels whatever the map size: 4–12 frame pixels on the paper's 64×64 maps, "
                   "10.7–32 on the live model's 24×24.")


# -- notebook 03: training ------------------------------------------------------------------------------------


def optimiser_steps(function: Callable[[int, int, int], int], frames: int, batch_size: int, epochs: int) -> bool:
    """Exercise 3.3: ``function(frames, batch_size, epochs) -> int``, the optimiser steps of a run."""
    expected = max(1, frames // batch_size) * epochs
    got = int(call_student("optimiser_steps", function, frames, batch_size, epochs))
    if got == expected:
        return passed(f"{got} steps: {frames // batch_size} full batches per epoch, {epochs} epochs.")
    if got == math.ceil(frames / batch_size) * epochs:
        raise ExerciseFeedback("The trainer drops the last, incomplete batch of an epoch: round down.")
    raise ExerciseFeedback(f"Your count is {got}; the trainer takes {expected}. Steps per epoch are the training "
                           "frames divided by the batch size.")


def label_jitter(function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Exercise 3.1: ``function(intensities, z) -> jittered``, the paper's label noise I ← I + 0.2·I·|z|."""
    intensities = torch.tensor([0.0, 1.0, 2.5, 5.0])
    z = torch.tensor([1.5, -2.0, 0.5, -0.1])
    expected = intensities + 0.2 * intensities * z.abs()
    got = as_array(call_student("label_jitter", function, intensities.clone(), z.clone()), (4,), "The jittered labels")
    if np.allclose(got, expected.numpy(), atol=1e-6):
        return passed("Jitter scales with the intensity, never lowers a label and keeps 0 at 0.")
    if np.allclose(got, (intensities + 0.2 * intensities * z).numpy(), atol=1e-6):
        raise ExerciseFeedback("Use |z|: the paper's jitter only ever raises a label.")
    if np.allclose(got, (intensities + 0.2 * z.abs()).numpy(), atol=1e-6):
        raise ExerciseFeedback("The noise is proportional to the intensity (0.2·I·|z|): an absent AU stays at 0.")
    raise ExerciseFeedback("Your jitter differs from I + 0.2·I·|z| on the test labels.")


def foreground_loss(function: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> bool:
    """Exercise 3.2: ``function(prediction, target, foreground_weight) -> scalar``: the Huber loss (δ = 1) of
    ``(B, A, H, W)`` maps, each pixel weighted ``foreground_weight`` where the target is above 0 and 1 elsewhere,
    averaged over every pixel of every map.

    Truths: a hand-computed 2×2 map, and aulib's training loss (:func:`aulib.training.loss.masked_loss`) on random maps.
    """
    from aulib.training.loss import masked_loss

    # By hand: one map, target 2 at one pixel, prediction 0 everywhere. Huber(2) = 2 - 0.5 = 1.5 at that pixel,
    # weighted 5: (5 x 1.5 + 0 + 0 + 0) / 4 pixels = 1.875.
    target = torch.tensor([[[[0.0, 2.0], [0.0, 0.0]]]])
    got = float(call_student("foreground_loss", function, torch.zeros_like(target), target, 5.0))
    if not math.isclose(got, 1.875, abs_tol=1e-5):
        hints = {0.375: "The foreground weight is missing: pixels where the target is above 0 weigh 5.",
                 0.9375: "You divided by the sum of the weights (8); the loss averages the weighted pixels over "
                         "the pixel count (4), so the weight really raises the Gaussians' share.",
                 2.5: "That is half the squared error everywhere: Huber with δ = 1 is |d| − 0.5 beyond |d| = 1.",
                 5.0: "That is the squared error: Huber with δ = 1 is 0.5·d² within |d| ≤ 1 and |d| − 0.5 beyond."}
        hint = next((text for value, text in hints.items() if math.isclose(got, value, abs_tol=1e-5)), None)
        raise ExerciseFeedback(hint or "On the 2×2 example (target 2 at one pixel, prediction 0, weight 5) the loss "
                               f"is (5 × 1.5) / 4 = 1.875; yours is {got:g}.")
    generator = torch.Generator().manual_seed(3)
    target = torch.relu(torch.randn(2, 5, 8, 8, generator=generator)) * 2
    prediction = torch.randn(2, 5, 8, 8, generator=generator) * 1.5
    for weight in (1.0, 5.0):
        expected = float(masked_loss(prediction, target, torch.ones(2, 5, dtype=torch.bool), "huber", weight))
        got = float(call_student("foreground_loss", function, prediction.clone(), target.clone(), weight))
        if not math.isclose(got, expected, rel_tol=1e-4):
            raise ExerciseFeedback(f"Right on the 2×2 example, but on random 2×5×8×8 maps with weight {weight:g} "
                                   f"the loss is {expected:.4f} and yours {got:.4f}: average over every pixel of every "
                                   "map, and weigh where the target is above 0.")
    return passed("Your loss matches aulib's training loss: the Gaussians' pixels count 5× in a 3-epoch CPU run.")


# -- notebook 04: ICC ------------------------------------------------------------------------------------------


def icc_from_anova(function: Callable[[np.ndarray], float]) -> bool:
    """Exercise 4.1: ``function(ratings (n targets, k judges)) -> float``, ICC(3,1) from the two-way ANOVA."""
    from aulib.method.metrics import icc_31

    got = float(call_student("icc_from_anova", function, SHROUT_FLEISS.copy()))
    expected = float(icc_31(SHROUT_FLEISS))
    if math.isclose(got, expected, abs_tol=1e-6):
        return passed(f"ICC(3,1) = {got:.2f} on Shrout & Fleiss's example, as in their paper (0.71).")
    n, k = SHROUT_FLEISS.shape
    grand = SHROUT_FLEISS.mean()
    ss_rows = k * ((SHROUT_FLEISS.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((SHROUT_FLEISS.mean(axis=0) - grand) ** 2).sum()
    ss_error = ((SHROUT_FLEISS - grand) ** 2).sum() - ss_rows - ss_cols
    bms, jms = ss_rows / (n - 1), ss_cols / (k - 1)
    known = {
        "ICC(1,1), which pools the judges into the error (0.17 in the paper)": 0.17,
        "ICC(2,1), which counts the judges' offsets as error (0.29 in the paper)": 0.29,
        "what you get when the error mean square is divided by n·k instead of (n−1)(k−1)":
            (bms - ss_error / (n * k)) / (bms + (k - 1) * ss_error / (n * k)),
        "what you get with the judges' mean square in place of the error mean square":
            (bms - jms) / (bms + (k - 1) * jms),
    }
    for name, value in known.items():
        if math.isclose(got, value, abs_tol=0.005):
            raise ExerciseFeedback(f"Your value {got:.2f} is {name}. ICC(3,1) = (BMS − EMS) / (BMS + (k−1)·EMS).")
    raise ExerciseFeedback(f"Your ICC differs from the reference by {abs(got - expected):.2f}; did you divide the "
                           "error mean square by (n−1)(k−1)?")


def linear_icc(function: Callable[[float, float], float]) -> bool:
    """Exercise 4.2: ``function(a, b) -> float``: ICC(3,1) of a prediction ``a·I + b`` against the truth ``I``, in
    closed form (it does not depend on the truth's values, as long as they vary).

    The truth is :func:`aulib.method.metrics.icc_31` (a two-way ANOVA) on 200 random intensities, for slopes that
    shrink, keep and stretch the scale, with and without an offset, and a reversed one.
    """
    from aulib.method.metrics import icc_31

    truth = np.random.default_rng(0).uniform(0.0, 5.0, 200)
    for a, b in ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (2.0, -0.5), (0.8, 0.3), (-1.0, 5.0)):
        expected = float(icc_31(np.stack([truth, a * truth + b], axis=1)))
        got = float(call_student("linear_icc", function, a, b))
        if math.isclose(got, expected, abs_tol=1e-9):
            continue
        case = f"a = {a:g}, b = {b:g}"
        if a > 0 and a != 1 and math.isclose(got, 1.0, abs_tol=1e-9):
            raise ExerciseFeedback(f"For {case} you answer 1: that is PCC, which sees only that the points lie on a "
                                   "rising line. ICC(3,1) also sees the scale.")
        without_offset = float(call_student("linear_icc", function, a, 0.0))
        if b != 0 and not math.isclose(got, without_offset, abs_tol=1e-9):
            raise ExerciseFeedback(f"For {case} your answer ({got:.3f}) differs from yours at b = 0 "
                                   f"({without_offset:.3f}); ICC(3,1) is {expected:.3f}. The judges' mean square takes "
                                   "up a constant offset, so it is free: b must not change the answer.")
        raise ExerciseFeedback(f"For {case} ICC(3,1) is {expected:.3f}; yours is {got:.3f}. With two judges, BMS is "
                               "half the variance of x + y and EMS half that of x − y: write both for y = a·x + b.")
    return passed("ICC(3,1) = 2a/(1 + a²): 1 only at a = 1, 0.8 at half the scale, whatever the offset b, and "
                  "negative for a reversed scale; PCC is 1 for every a > 0.")


# -- notebook 05: robustness ----------------------------------------------------------------------------------


def halving_sigma(function: Callable[[pd.DataFrame, str, str], float], table: pd.DataFrame, model: str,
                  au: str = "AU12") -> bool:
    """Exercise 5.1: ``function(table, model, au) -> σ``: where the AU's ICC first falls to half its clean value,
    linearly interpolated between the grid's σ."""
    from aulib.evaluation.noise_bands import crossing

    curve = table[(table.model == model) & (table.AU == au)].groupby("sigma").ICC.mean()
    clean = float(curve.iloc[0])
    below = np.flatnonzero(curve.to_numpy() <= clean / 2)
    expected = crossing(curve.index.to_numpy(float), curve.to_numpy(), 0.5)
    why = (f"{au}'s clean ICC is {clean:.2f} ≤ 0, so there is nothing to halve" if clean <= 0  # no agreement
           else f"{au}'s ICC never falls to half on this grid (extend SIGMAS)")
    got = float(call_student("halving_sigma", function, table.copy(), model, au))
    if math.isnan(expected):
        if math.isnan(got):
            return passed(f"{why}: NaN is right.")
        raise ExerciseFeedback(f"{why}; return float('nan').")
    if math.isclose(got, expected, abs_tol=1e-6):
        return passed(f"{au}'s ICC halves at σ ≈ {got:.1f} px.")
    if len(below) and math.isclose(got, float(curve.index[below[0]]), abs_tol=1e-6):
        raise ExerciseFeedback("That is the first grid σ past the half; interpolate linearly between it and the σ "
                               "before it.")
    raise ExerciseFeedback(f"Your σ is {got:.2f}; the curve crosses half its clean ICC at {expected:.2f}. Take the "
                           "clean value at σ = 0 and the rows of the one model and AU.")


# -- notebook 06: a real face ---------------------------------------------------------------------------------


def peak_in_image(function: Callable[[np.ndarray, np.ndarray, int], np.ndarray], report: Any) -> bool:
    """Exercise 6.2: ``function(peak (2,) in map pixels, matrix (2, 3), map_size) -> (2,)`` in image pixels."""
    from aulib.method.heatmaps import read_peaks

    _, peaks = read_peaks(torch.as_tensor(report.maps)[None])
    size = report.maps.shape[-1]
    got = as_array(call_student("peak_in_image", function, peaks[0, 0].numpy().copy(), report.matrix.copy(), size),
                   (2,), "The point")
    expected = report.peaks[0]
    if np.allclose(got, expected, atol=1e-3):
        return passed("Your point is where notebook 06 marks the AU06 peak on the photo.")
    k = report.crop.shape[0] / size
    naive = np.linalg.solve(report.matrix[:, :2], peaks[0, 0].numpy() * k - report.matrix[:, 2])
    if np.allclose(got, naive, atol=1e-3):
        raise ExerciseFeedback(f"Almost: a map pixel covers {k:g} crop pixels, so its centre is at p·{k:g} + "
                               f"{(k - 1) / 2:g}, not p·{k:g} (pixel centres sit at integers).")
    raise ExerciseFeedback(f"Your point is {np.linalg.norm(got - expected):.1f} px from the peak. Map the peak to "
                           "the crop's pixels first, then apply the inverse of the alignment.")


def alignment_scale(function: Callable[[np.ndarray], float], report: Any) -> bool:
    """Exercise 6.1: ``function(matrix (2, 3)) -> float``, crop pixels per image pixel of the alignment."""
    expected = float(np.sqrt(abs(np.linalg.det(report.matrix[:, :2]))))
    got = float(call_student("alignment_scale", function, report.matrix.copy()))
    if math.isclose(got, expected, rel_tol=1e-6):
        return passed(f"The alignment scales the photo by {got:.3f}: the face was {'shrunk' if got < 1 else 'enlarged'}"
                      f" to fit the crop (one crop pixel covers {1 / got:.2f} photo pixels).")
    if math.isclose(got, expected**2, rel_tol=1e-6):
        raise ExerciseFeedback("The determinant is an area ratio; the scale of lengths is its square root.")
    if math.isclose(got, 1 / expected, rel_tol=1e-6):
        raise ExerciseFeedback("That is image pixels per crop pixel: the inverse.")
    raise ExerciseFeedback(f"The alignment's length scale is {expected:.3f}; yours is {got:.3f}.")


def smile_direction(function: Callable[[np.ndarray, np.ndarray], float], pairs: pd.DataFrame,
                    au: str = "AU12") -> bool:
    """Exercise 6.3: ``function(neutral (n,), smiling (n,)) -> share``, strictly higher; ties and NaN fail."""
    from aulib.method.bootstrap import share_higher

    neutral = np.array([0.5, 1.0, 0.2, 2.0])
    cases = (
        ("a model that always reads the smile higher", neutral, neutral + 1.0, 1.0),
        ("a model that always reads 1.0", np.ones(4), np.ones(4), 0.0),
        ("a missing smiling reading (no face found)", neutral, np.array([1.5, np.nan, 0.9, 3.0]), 0.75),
    )
    for what, first, second, expected in cases:
        got = float(call_student("smile_direction", function, first.copy(), second.copy()))
        if math.isclose(got, expected, abs_tol=1e-9):
            continue
        if expected == 0.0 and math.isclose(got, 1.0):
            raise ExerciseFeedback(f"For {what} you return {got:.2f}: a tie is not a smile read higher (use >, "
                                   "not >=), or a constant model would score 100%.")
        if "missing" in what:
            raise ExerciseFeedback(f"For {what} you return {got:.2f}, not {expected:.2f}: a NaN reading cannot "
                                   "count as higher, and the person still counts in the total.")
        raise ExerciseFeedback(f"For {what} the share is {expected:.2f}; yours is {got:.2f}.")
    first, second = pairs[f"{au}_neutral"].to_numpy(float), pairs[f"{au}_smiling"].to_numpy(float)
    expected = share_higher(first, second)
    got = float(call_student("smile_direction", function, first.copy(), second.copy()))
    if not math.isclose(got, expected, abs_tol=1e-9):
        raise ExerciseFeedback(f"On the London readings the share is {expected:.3f}; yours is {got:.3f}.")
    return passed(f"{au} reads higher on the smile for {100 * got:.0f}% of these {len(first)} people.")


# -- the checks that run experiments (notebooks 03 and 05) live in their own module; a notebook calls every check
# as check.<name>, so they are re-exported here
from aulib.course.experiment_exercises import controlled_experiment as controlled_experiment  # noqa: E402
from aulib.course.experiment_exercises import pixel_sigmas as pixel_sigmas  # noqa: E402
from aulib.course.experiment_exercises import read_out_under_noise as read_out_under_noise  # noqa: E402
