"""RQ3 with intervals for the committed reference runs: every Hourglass with committed weights (``tiny``, RQ1's
``small`` and RQ4's per-AU Hourglasses) under landmark noise in inter-ocular distances, with bootstrap bands over
test subjects, and each paired with the Hourglass under the same noise (:mod:`aulib.evaluation.noise_bands` does
the statistics).

``aulib reference --noise-bands-only`` runs it on the committed weights (no training); ``make weights`` runs it after
training. fp32 on the CPU, so the tables do not depend on the machine's vector extensions: a rerun on the same
weights writes the same files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from aulib.course.reference import REFERENCE_DIR, ROOT, SEEDS, WEIGHTS_RUNS
from aulib.io import atomic_write_csv

NOISE_BANDS, NOISE_CROSSINGS = "noise_bands.csv", "noise_crossings.csv"
NOISE_PAIRED = "noise_paired.csv"  # each other committed run − the Hourglass under the same noise, paired by subject
# RQ3 in inter-ocular distances, every 0.025 IOD (about 2 px of a SynthAU face) until the Hourglass has halved.
SIGMAS_IOD = tuple(round(0.025 * i, 3) for i in range(25))
NOISE_RESAMPLES = 1000  # bootstrap resamples of test subjects behind every committed band and paired table


def noise_band_files(reference_dir: str | os.PathLike = REFERENCE_DIR, run: str = "hourglass") -> tuple[Path, Path]:
    """Where :func:`build_noise_bands` writes ``run``'s curve and crossings: the Hourglass's at the top of the
    reference folder (``noise_bands.csv``, ``noise_crossings.csv``), another run's in its own folder."""
    folder = Path(reference_dir) if run == "hourglass" else Path(reference_dir) / run
    return folder / NOISE_BANDS, folder / NOISE_CROSSINGS


def build_noise_bands(reference_dir: str | os.PathLike = REFERENCE_DIR, course_prepared: str | os.PathLike =
                      ROOT / "data" / "synthau-prepared", seeds: Sequence[int] = SEEDS, *,
                      runs: Sequence[str] = WEIGHTS_RUNS, sigmas: Sequence[float] = SIGMAS_IOD,
                      n_boot: int = NOISE_RESAMPLES,
                      progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """RQ3 with intervals: the committed Hourglasses under landmark noise in inter-ocular distances, seeds averaged,
    with a bootstrap band over test subjects (:func:`aulib.evaluation.noise_bands.noise_bands`), in fp32 on the CPU.

    The Hourglass's tables go to ``noise_bands.csv`` and ``noise_crossings.csv``. Every other run of ``runs`` with
    committed weights for each of ``seeds`` (the `small` Hourglass, RQ1; the per-AU Hourglasses, RQ4) gets the
    same tables in its own folder (:func:`noise_band_files`), and its difference from the Hourglass, paired by test
    subject under the same noise (:func:`aulib.evaluation.noise_bands.noise_difference`), goes to
    ``noise_paired.csv`` with a ``run`` column.
    A run without weights for every seed is left out, and said to be.

    Returns:
        The Hourglass's ``(bands, crossings)`` and the paired table (empty when no other run has weights).
    """
    from aulib.evaluation.noise_bands import noise_bands, noise_difference, noise_predictions

    reference_dir = Path(reference_dir)
    if "hourglass" not in runs:
        raise ValueError(f"the noise study pairs every run with the Hourglass: add 'hourglass' to runs {list(runs)}")
    studies = {}
    for run in runs:
        folders = [reference_dir / run / f"seed{seed}" for seed in seeds]
        missing = [str(folder) for folder in folders if not (folder / "best.pt").is_file()]
        if missing and run == "hourglass":
            raise FileNotFoundError(f"no weights in {', '.join(missing)}: train the reference Hourglass (make weights)")
        if missing:
            print(f"noise bands: {run} left out, no weights in {', '.join(missing)}")
            continue
        studies[run] = noise_predictions(folders, course_prepared, sigmas, unit="iod", device="cpu",
                                         precision="fp32", progress=progress)
        bands, crossings = noise_bands(studies[run], n_boot=n_boot)
        bands_file, crossings_file = noise_band_files(reference_dir, run)
        atomic_write_csv(bands_file, bands, index=False)
        atomic_write_csv(crossings_file, crossings, index=False)
        if run == "hourglass":
            hourglass_tables = bands, crossings
    paired = [noise_difference(studies["hourglass"], study, n_boot=n_boot).assign(run=run)
              for run, study in studies.items() if run != "hourglass"]
    if not paired:
        return (*hourglass_tables, pd.DataFrame())
    paired_table = pd.concat(paired, ignore_index=True)
    paired_table.insert(0, "run", paired_table.pop("run"))
    atomic_write_csv(reference_dir / NOISE_PAIRED, paired_table, index=False)
    return (*hourglass_tables, paired_table)
