"""RESULTS.md's tables, generated from the committed result files: one script, so documents never disagree.

Each generated table sits in RESULTS.md between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``; the prose
around them quotes from these tables. Sources (all committed):

- ``models/reference/comparison.csv``, ``models/reference/*/seed*/robustness.csv``, ``models/reference/paired.csv``
  and ``models/reference/noise_bands.csv`` / ``noise_crossings.csv``: the reference runs;
- ``models/reference/london_readings.csv``, ``london_variants.csv`` and ``aulib/data/london/anchor_mediapipe.csv``:
  the real-face benchmark;
- ``models/reference-controls/paired.csv``: the precision controls, fp32 and bf16 (:mod:`aulib.course.controls`);
- ``models/reference-3d/cue_probe.csv``: what the SynthAU-3D Hourglass reads, an AU's shape or its folds;
- ``models/reference-3d/error_sources.csv``: where the SynthAU-3D readers' errors come from;
- ``models/reference-data-size/paired.csv``: the training-set-size regime (:mod:`aulib.course.data_size`), and
  ``models/reference-3d-data-size/paired.csv`` its SynthAU-3D twin, and ``models/reference-3d-dlib-data-size/`` that
  twin on dlib's landmarks;
- ``models/reference-3d-hard/``: SynthAU-3D's Hourglass on sets at the hard difficulty (its ``comparison.csv``,
  ``paired.csv`` and ``london_readings.csv``);
- ``models/reference-3d-dlib/``: SynthAU-3D's Hourglass, its pooled head, the fixed extent, L2 and ResNet-18 trained
  and scored on crops aligned with dlib's landmarks (``aulib reference --detector dlib``: the same files, and
  ``london_runs.csv``, every run but the Hourglass on the London photos);
- ``models/reference-3d/``: SynthAU-3D's reference runs (``comparison.csv``, ``paired.csv``, ``london_readings.csv``,
  ``london_variants.csv``, and ``appearance.csv`` and ``portraits.csv`` of ``tools/synthau3d_pilot.py``).

    python tools/results_tables.py            # rewrite the tables in RESULTS.md
    python tools/results_tables.py --check    # exit 1 if RESULTS.md differs from what the files give (a test runs it)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from aulib.course.noise_study import NOISE_RESAMPLES

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "RESULTS.md"
REFERENCE = ROOT / "models" / "reference"
BLOCK = re.compile(r"(<!-- generated: (?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.S)
# run → what the table calls it. The local readout (hourglass-local) has no row: on SynthAU's one-peak maps it reads
# the Hourglass's maximum (within 0.0003 ICC), an ablation that cannot differ; RESULTS says so in words.
ROWS = {
    "hourglass": "Hourglass, one net for all AUs (`tiny`)",
    "hourglass-small": "the same Hourglass at the next size (`small`, RQ1)",
    "per-au": "one Hourglass per AU (`per-au-tiny`, RQ4)",
    "resnet18": "ResNet-18 direct regression (`resnet18-small`, RQ2)",
    "hourglass-direct": "the same Hourglass, pooled regression head (`tiny-direct`, RQ2)",
    "fixed-extent": "fixed Gaussian extent (RQ5)",
    "l2": "L2 loss instead of Huber (RQ5)",
}
ROBUSTNESS_SIGMAS = (0, 4, 8, 10, 13, 16, 20, 25, 30, 40)
GROUP_NAMES = {"female": "female", "male": "male", "white": "white", "black": "Black", "east_asian": "East Asian",
               "west_asian": "West Asian", "east_asian/white": "East Asian / white", "unknown": "age not given"}


def bounds(low: float, high: float, digits: int = 3) -> str:
    """An interval as ``[low, high]`` to ``digits`` decimals, with two more (or in scientific notation) where a bound
    is not 0 but would print as ±0: the verdict (level when the interval covers 0) must be readable from the bounds."""
    def bound(value: float) -> str:
        text = f"{value:+.{digits}f}"
        if value == 0 or float(text) != 0:
            return text
        finer = f"{value:+.{digits + 2}f}"
        return finer if float(finer) != 0 else f"{value:+.1e}"
    return f"[{bound(low)}, {bound(high)}]"



def reference_icc(folder: Path = REFERENCE) -> str:
    """Each reference run of ``folder``: ICC per AU (mean of its seeds) and the mean ICC of every seed."""
    long = pd.read_csv(folder / "comparison.csv")
    aus = [a for a in dict.fromkeys(long.AU) if a != "Mean"]
    every_seed = sorted(long.seed.unique())
    seeds_per_run = {len(part.seed.unique()) for _, part in long[long.run.isin(ROWS)].groupby("run")}
    count = (f"{len(every_seed)} seeds" if seeds_per_run == {len(every_seed)}
             else f"{min(seeds_per_run)}–{max(seeds_per_run)} seeds")
    lines = [f"| run | {' | '.join(aus)} | **mean ICC ± sd ({count})** | seeds "
             + ", ".join(str(s) for s in every_seed) + " |",
             "|---|" + "---|" * (len(aus) + 2)]
    for run, name in ROWS.items():
        part = long[long.run == run]
        if part.empty:
            continue
        per_au = part[part.AU != "Mean"].groupby("AU").ICC.mean()
        means = part[part.AU == "Mean"].sort_values("seed").ICC
        cells = " | ".join(f"{per_au[a]:.2f}" for a in aus)
        seeds = ", ".join(f"{v:.3f}" for v in means)
        spread = f"{means.mean():.3f} ± {means.std():.3f}" if len(means) > 1 else f"{means.mean():.3f} (one seed)"
        if len(means) < len(every_seed):  # a run added later, not yet trained with every seed
            seeds += " (seed " + ", ".join(str(s) for s in sorted(part.seed.unique())) + " only)"
        lines.append(f"| {name} | {cells} | **{spread}** | {seeds} |")
    return "\n".join(lines) + "\n"


def reference_paired(folder: Path = REFERENCE) -> str:
    """Each run minus the Hourglass of the same seed, paired by test subject (``paired.csv``), one column per seed."""
    paired = pd.read_csv(folder / "paired.csv")
    seeds = sorted(paired.seed.unique())
    lines = ["| run − Hourglass (same seed) | " + " | ".join(f"seed {s}" for s in seeds) + " |",
             "|---|" + "---|" * len(seeds)]
    names = {**ROWS, "ridge on landmarks": "ridge on the landmarks (no pixels)"}
    for run in [r for r in names if r in set(paired.run)]:
        rows = paired[paired.run == run].set_index("seed")
        lines.append(f"| {names[run]} | " + " | ".join(
            f"{rows.difference[s]:+.3f} {bounds(rows.low[s], rows.high[s])} {rows.verdict[s]}"
            if s in rows.index else "not trained yet" for s in seeds) + " |")
    subjects = int(paired.subjects.iloc[0])
    return "\n".join(lines) + f"\n\nMean ICC difference, 95% paired bootstrap over the {subjects} test subjects.\n"


def reference_robustness() -> str:
    frames = [pd.read_csv(p).assign(run=p.parent.parent.name) for p in sorted(REFERENCE.glob("*/seed*/robustness.csv"))]
    table = pd.concat(frames)
    mean = table[table.AU == "Mean"].groupby(["run", "sigma"]).ICC.mean().unstack("sigma")
    lines = ["| σ (px) | " + " | ".join(str(s) for s in ROBUSTNESS_SIGMAS) + " |",
             "|---|" + "---|" * len(ROBUSTNESS_SIGMAS)]
    for run, name in (("hourglass", "Hourglass"), ("hourglass-small", "Hourglass, `small`"),
                      ("per-au", "per-AU Hourglasses"), ("resnet18", "ResNet-18"),
                      ("hourglass-direct", "Hourglass, regression head"), ("fixed-extent", "fixed extent"),
                      ("l2", "L2 loss")):
        if run in mean.index:
            lines.append(f"| {name} | " + " | ".join(f"{mean.loc[run, float(s)]:.2f}" for s in ROBUSTNESS_SIGMAS)
                         + " |")
    return "\n".join(lines) + "\n"


NOISE_BAND_SIGMAS = (0.0, 0.1, 0.15, 0.175, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)


def reference_noise_bands() -> str:
    """RQ3 in inter-ocular distances (``noise_bands.csv``, ``noise_crossings.csv``): the curve at a few σ with its
    band, then where it leaves its plateau and breaks, with intervals."""
    bands = pd.read_csv(REFERENCE / "noise_bands.csv").set_index("sigma_iod")
    crossings = pd.read_csv(REFERENCE / "noise_crossings.csv")
    shown = [s for s in NOISE_BAND_SIGMAS if s in bands.index]
    lines = ["| σ (IOD) | " + " | ".join(f"{s:g}" for s in shown) + " |", "|---|" + "---|" * len(shown),
             "| σ (px at the mean IOD) | " + " | ".join(f"{bands.sigma_px[s]:.1f}" for s in shown) + " |",
             "| mean ICC | " + " | ".join(f"{bands.ICC[s]:.3f}" for s in shown) + " |",
             "| 95% band | " + " | ".join(f"{bands.low[s]:.2f}–{bands.high[s]:.2f}" for s in shown) + " |",
             "", "| the curve | σ (IOD) [95% interval] | σ (px) [95% interval] |", "|---|---|---|"]
    for row in crossings.itertuples():
        lines.append(f"| {row.what} ({row.fraction:.0%} of the clean ICC) | {row.sigma_iod:.3f} [{row.low:.3f}, "
                     f"{row.high:.3f}] | {row.sigma_px:.1f} [{row.low_px:.1f}, {row.high_px:.1f}] |")
    runs = sum(c.startswith("ICC ") for c in bands.columns)
    step = float(np.diff(bands.index.to_numpy()).min())
    subjects = int(crossings.subjects.iloc[0])
    return "\n".join(lines) + (f"\n\nThe Hourglass's {runs} seeds averaged, σ every {step:g} IOD; 95% bootstrap over "
                               f"the {subjects} test subjects ({NOISE_RESAMPLES:,} resamples).\n")


NOISE_PAIRED_SIGMAS = (0.0, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
NOISE_RUN_LABELS = {"hourglass-small": "`small` Hourglass", "per-au": "per-AU Hourglasses"}
CROSSING_WORDS = {"later": "later (more robust)", "earlier": "earlier (less robust)"}


def reference_noise_paired(folder: Path | None = None) -> str:
    """Each run in ``folder``'s ``noise_paired.csv`` (default: SynthAU v2's reference; the `small` Hourglass) against
    the Hourglass under the same landmark noise, paired by test subject: both curves and their difference at a few σ,
    then both crossings and theirs."""
    paired = pd.read_csv((REFERENCE if folder is None else folder) / "noise_paired.csv")
    lines = []
    for run, rows in paired.groupby("run", sort=False):
        label = NOISE_RUN_LABELS.get(run, run)
        icc_rows = rows[rows.what == "ICC"].set_index("sigma_iod")
        shown = [s for s in NOISE_PAIRED_SIGMAS if s in icc_rows.index]
        lines += ["| σ (IOD) | " + " | ".join(f"{s:g}" for s in shown) + " |", "|---|" + "---|" * len(shown),
                  "| Hourglass | " + " | ".join(f"{icc_rows.reference[s]:.3f}" for s in shown) + " |",
                  f"| {label} | " + " | ".join(f"{icc_rows.other[s]:.3f}" for s in shown) + " |",
                  f"| {label} − Hourglass | " + " | ".join(
                      f"{icc_rows.difference[s]:+.3f} {bounds(icc_rows.low[s], icc_rows.high[s])} "
                      f"{icc_rows.verdict[s]}" for s in shown) + " |",
                  "", f"| the curve | Hourglass (IOD) | {label} (IOD) | difference [95% interval] |",
                  "|---|---|---|---|"]
        for row in rows[rows.what != "ICC"].itertuples():
            lines.append(f"| {row.what} | {row.reference:.3f} | {row.other:.3f} | {row.difference:+.3f} "
                         f"{bounds(row.low, row.high)} {CROSSING_WORDS.get(row.verdict, row.verdict)} |")
        lines.append("")
    subjects, resamples = int(paired.subjects.iloc[0]), int(paired.resamples.max())
    return "\n".join(lines) + (f"\nMean ICC(3,1), each model's seeds averaged; differences with a 95% bootstrap over "
                               f"the {subjects} test subjects ({resamples:,} resamples), paired: the same subjects, "
                               "frames and noise for both.\n")


def london_tables(folder: Path = REFERENCE, prefix: str = "") -> dict[str, str]:
    """The London benchmark of ``folder``'s reference Hourglasses (its ``london_readings.csv``) beside MediaPipe:
    AU12 and AU6 per seed with their intervals, the other AUs and the dev split in prose, AU12 per group; the
    blocks are named ``{prefix}london-…``."""
    sys.path.insert(0, str(ROOT))
    from aulib.data.london import london_people
    from aulib.predict.benchmark import anchor_readings, group_table, pair_table, split_summary

    readings = pd.concat([pd.read_csv(folder / "london_readings.csv", dtype={"face_id": str}).drop(columns="seed"),
                          anchor_readings()], ignore_index=True)
    pairs = pair_table(readings, london_people())
    summary = split_summary(pairs, ["test", "dev"])
    test = summary[summary.split == "test"].set_index(["model", "AU"])
    seeds = [m for m in dict.fromkeys(readings.model) if m.startswith("reference")]
    anchor = "MediaPipe blendshapes (5× proxy)"

    def row(name: str, r: pd.Series) -> str:
        return (f"| {name} | {100 * r.share_higher:.0f}% [{100 * r.share_low:.0f}, {100 * r.share_high:.0f}] | "
                f"[{100 * r.wilson_low:.0f}, {100 * r.wilson_high:.0f}] | {r.mean_neutral:.2f} | "
                f"{r.mean_smiling:.2f} | {r.mean_gap:.2f} [{r.gap_low:.2f}, {r.gap_high:.2f}] |")

    header = ["| model | smiling reads higher (bootstrap) | Wilson | mean neutral | mean smiling | gap (bootstrap) |",
              "|---|---|---|---|---|---|"]
    au12 = [*header, *(row(m, test.loc[(m, "AU12")]) for m in seeds)]
    three = test.loc[[(m, "AU12") for m in seeds]]
    au12.append(f"| **three seeds, mean ± sd** | **{100 * three.share_higher.mean():.1f}% ± "
                f"{100 * three.share_higher.std():.1f}** | | **{three.mean_neutral.mean():.2f} ± "
                f"{three.mean_neutral.std():.2f}** | **{three.mean_smiling.mean():.2f} ± "
                f"{three.mean_smiling.std():.2f}** | "
                f"**{three.mean_gap.mean():.2f} ± {three.mean_gap.std():.2f}** |")
    au12.append(row("MediaPipe blendshapes (5 × mouthSmile)", test.loc[(anchor, "AU12")]))
    au06 = [*header, *(row(m, test.loc[(m, "AU06")]) for m in seeds)]
    au06.append("| MediaPipe: cheekSquint (AU6-like) | no usable output: 0 on every photo | | | | |")
    au06.append(row("MediaPipe: 5 × eyeSquint (AU7-like lid tightener, not AU6)", test.loc[(anchor, "AU07")]))

    dev = summary[summary.split == "dev"].set_index(["model", "AU"])
    others = {au: np.mean([test.loc[(m, au)].share_higher for m in seeds]) for au in ("AU14", "AU10", "AU17")}
    prose = (f"The other AUs, reference Hourglasses (three-seed mean of the share): AU14 {100 * others['AU14']:.0f}%, "
             f"AU10 {100 * others['AU10']:.0f}%, AU17 {100 * others['AU17']:.0f}%. **Dev people "
             f"({int(dev.loc[(seeds[0], 'AU12')].n)})**, for comparison only: AU12 "
             + ", ".join(f"{100 * dev.loc[(m, 'AU12')].share_higher:.0f}%" for m in seeds) + " (seeds 0–2), gap "
             + ", ".join(f"{dev.loc[(m, 'AU12')].mean_gap:.2f}" for m in seeds) + "; AU6 "
             + ", ".join(f"{100 * dev.loc[(m, 'AU06')].share_higher:.0f}%" for m in seeds)
             + f"; MediaPipe AU12 {100 * dev.loc[(anchor, 'AU12')].share_higher:.0f}%.\n")

    groups = pd.concat([group_table(pairs[(pairs.split == "test") & (pairs.model == m)]) for m in seeds])
    groups = groups[groups.AU == "AU12"]
    lines = ["| group | n | seed 0: smiling reads higher | seeds 1, 2 | seed 0: gap |", "|---|---|---|---|---|"]
    for grouping in ("gender", "ethnicity", "age_band"):
        part = groups[groups.group_by == grouping]
        for group in dict.fromkeys(part.group):
            rows = part[part.group == group].set_index("model").loc[seeds]
            first = rows.iloc[0]
            gap = (f"{first.mean_gap:.2f}" + (" (one person)" if first.n == 1 else
                                              f" [{first.gap_low:.2f}, {first.gap_high:.2f}]")).replace("-", "−")
            lines.append(f"| {GROUP_NAMES.get(group, group)} | {int(first.n)} | {100 * first.share_higher:.0f}% "
                         f"[{100 * first.wilson_low:.0f}, {100 * first.wilson_high:.0f}] | "
                         + ", ".join(f"{100 * v:.0f}%" for v in rows.share_higher.iloc[1:]) + f" | {gap} |")
    return {f"{prefix}london-au12": "\n".join(au12) + "\n", f"{prefix}london-au06": "\n".join(au06) + "\n",
            f"{prefix}london-others": prose, f"{prefix}london-groups": "\n".join(lines) + "\n"}


REFERENCE_3D = ROOT / "models" / "reference-3d"
# earlier renderer versions' results, kept for comparison: (label, folder)
EARLIER_3D = (("SynthAU-3D v1 (first pilot)", ROOT / "models" / "reference-3d-v1"),
              ("SynthAU-3D v2", ROOT / "models" / "reference-3d-v2"))
LATEST_3D = "SynthAU-3D v3"
# the same renderer's reference runs on sets at the hard difficulty (aulib reference --difficulty hard)
REFERENCE_3D_HARD, HARD_3D = ROOT / "models" / "reference-3d-hard", "SynthAU-3D v3, hard difficulty"
# the same renderer's reference runs trained and scored on crops aligned with dlib's landmarks (--detector dlib)
REFERENCE_3D_DLIB, DLIB_3D = ROOT / "models" / "reference-3d-dlib", "SynthAU-3D v3, dlib's landmarks"


def synthau3d_cue_probe(folder: Path = REFERENCE_3D) -> str:
    """What the SynthAU-3D Hourglass reads (``cue_probe.csv``, ``tools/synthau3d_probe.py``): per AU and cue, the rise
    of the AU's own reading from intensity 0 to 5, averaged over the three seeds, with a 95% bootstrap interval over
    the people, and its share of the full AU's rise."""
    sys.path.insert(0, str(ROOT))
    from aulib.method.bootstrap import bootstrap

    probe = pd.read_csv(folder / "cue_probe.csv")
    ends = probe[probe.intensity.isin([0, 5])].pivot_table(index=["au", "cue", "person"], columns="intensity",
                                                           values="reading")  # mean over the seeds
    rise = (ends[5] - ends[0]).unstack("cue")  # (au, person) x cue
    lines = ["| AU | both cues: rise 0 → 5 | shape only | folds only | shape's share | folds' share |",
             "|---|---|---|---|---|---|"]
    for au, table in rise.groupby(level="au"):
        cells = {}
        for cue in ("both", "shape", "folds"):
            values = table[cue].to_numpy()
            interval = bootstrap(lambda idx, v=values: float(v[idx].mean()), len(values), seed=0)
            cells[cue] = f"{interval.estimate:+.2f} [{interval.low:+.2f}, {interval.high:+.2f}]"
        share = {cue: table[cue].mean() / table["both"].mean() for cue in ("shape", "folds")}
        lines.append(f"| AU{au:02d} | {cells['both']} | {cells['shape']} | {cells['folds']} | "
                     f"{round(100 * share['shape'])}% | {round(100 * share['folds'])}% |")
    return "\n".join(lines) + (f"\n\nThe AU's own reading at intensity 5 minus at 0 (the reference Hourglass's "
                               f"{probe.seed.nunique()} seeds averaged), {probe.person.nunique()} people of the course "
                               "set's config, frontal and clean; 95% bootstrap interval over the people.\n")


def synthau3d_error_sources(folder: Path = REFERENCE_3D) -> str:
    """Where the SynthAU-3D readers' errors come from (``error_sources.csv``, ``tools/synthau3d_error_sources.py``):
    per AU and reader, the ICC, the reading's slope on the continuous intensity, and each block's share of the
    residual variance in percent, the seeds' mean with the widest of their bootstrap intervals over people."""
    sources = pd.read_csv(folder / "error_sources.csv")
    names = {"hourglass": "Hourglass", "hourglass-direct": "pooled head", "ridge on landmarks": "ridge"}
    blocks = ("intensity", "expressivity", "person", "person_slope", "frame", "unexplained")
    lines = ["| AU | reader | ICC | slope | intensity | expressivity | person: offset | person: slope | frame | "
             "unexplained |", "|---|---|---|---|---|---|---|---|---|---|"]
    for (au, reader), table in sources.groupby(["AU", "reader"], sort=True):
        cells = [f"{100 * table[f'share_{b}'].mean():.0f}% [{100 * table[f'share_{b}_low'].min():.0f}, "
                 f"{100 * table[f'share_{b}_high'].max():.0f}]" for b in blocks]
        lines.append(f"| {au} | {names.get(reader, reader)} ({len(table)}) | {table.icc.mean():.2f} | "
                     f"{table.slope.mean():.2f} | " + " | ".join(cells) + " |")
    people, frames = int(sources.people.max()), int(sources.frames.max())
    return "\n".join(lines) + (f"\n\nThe residual is the reading minus the frame's continuous intensity; each block's "
                               "share is the part of its variance the block explains beyond the blocks to its left "
                               "(nested least squares, so the order matters), with the seeds' mean and the widest of "
                               f"their 95% bootstrap intervals over the {people} test people; the reader's number of "
                               "seeds in brackets. Slope: the reading's rise per intensity unit. By chance alone, "
                               f"the {people - 1} terms of each person block would explain about "
                               f"{100 * (people - 1) / (frames - 1):.0f}% of the {frames:,} frames' residual.\n")


def synthau3d_pilot() -> str:
    """SynthAU v2 against the SynthAU-3D pilot: the London test people, held-out ICC, ridge, the two portraits."""
    sys.path.insert(0, str(ROOT))
    from aulib.data.london import london_people
    from aulib.predict.benchmark import pair_table, split_summary

    people = london_people()
    lines = ["| training data | split | AU12 smiling higher (mean ± sd of 3 seeds) | lowest bound: bootstrap, Wilson | "
             "AU12 neutral | AU12 smiling | AU12 gap | AU6 smiling higher | AU6 gap |",
             "|---|---|---|---|---|---|---|---|---|"]
    sources = [("SynthAU v2 (drawn)", REFERENCE), *EARLIER_3D, (LATEST_3D, REFERENCE_3D),
               (HARD_3D, REFERENCE_3D_HARD), (DLIB_3D, REFERENCE_3D_DLIB)]
    for name, folder in [(n, f) for n, f in sources if (f / "london_readings.csv").is_file()]:
        readings = pd.read_csv(folder / "london_readings.csv", dtype={"face_id": str}).drop(columns="seed")
        summary = split_summary(pair_table(readings, people), ["test", "dev"]).set_index(["split", "AU"])
        for split in ("test", "dev"):
            au12, au6 = summary.loc[(split, "AU12")], summary.loc[(split, "AU06")]

            def spread(values: pd.Series, percent: bool = False) -> str:
                scale = 100 if percent else 1
                digits = 1 if percent else 2
                return f"{scale * values.mean():.{digits}f} ± {scale * values.std():.{digits}f}"

            lines.append(f"| {name} | {split} ({int(au12.n.iloc[0])}) | {spread(au12.share_higher, True)}% | "
                         f"{100 * au12.share_low.min():.0f}%, {100 * au12.wilson_low.min():.0f}% | "
                         f"{spread(au12.mean_neutral)} | {spread(au12.mean_smiling)} | {spread(au12.mean_gap)} | "
                         f"{spread(au6.share_higher, True)}% | {spread(au6.mean_gap)} |")
    return ("\n".join(lines) + "\n" + heldout_paragraph(REFERENCE_3D, LATEST_3D)
            + "".join(earlier_version_line(label, folder) for label, folder in EARLIER_3D))


def earlier_version_line(label: str, folder: Path) -> str:
    """An earlier renderer version's held-out ICC and ridge gap, in one sentence (its files in ``folder``)."""
    if not (folder / "appearance.csv").is_file():
        return ""
    long = pd.read_csv(folder / "comparison.csv")
    means = long[(long.run == "hourglass") & (long.AU == "Mean")].ICC
    appearance = pd.read_csv(folder / "appearance.csv")
    return (f"\n**{label}**, on its own held-out subjects: mean ICC {means.mean():.3f} ± "
            f"{means.std():.3f}; ridge {appearance.ridge_icc.iloc[0]:.3f}; Hourglass minus ridge "
            + ", ".join(f"{r.difference:.3f} [{r.difference_low:.3f}, {r.difference_high:.3f}]"
                        for r in appearance.itertuples()) + " (seeds 0–2).\n")


def heldout_paragraph(folder: Path, label: str) -> str:
    """Held-out ICC per AU, localisation, noise, ridge against the Hourglasses and the two portraits of a 3D run."""
    long = pd.read_csv(folder / "comparison.csv")
    hourglass = long[(long.run == "hourglass")]
    per_au = hourglass[hourglass.AU != "Mean"].groupby("AU").ICC.agg(["mean", "min"])
    means = hourglass[hourglass.AU == "Mean"].sort_values("seed")
    robustness = pd.concat(pd.read_csv(path).assign(seed=int(path.parent.name[4:]))
                           for path in sorted((folder / "hourglass").glob("seed*/robustness.csv")))
    noise = robustness[robustness.AU == "Mean"].set_index(["sigma", "seed"]).ICC.unstack("seed")
    appearance = pd.read_csv(folder / "appearance.csv")
    portraits = pd.read_csv(folder / "portraits.csv").set_index(["face", "seed"])
    return (f"\n**{label} held-out subjects** (the course set's test people, rendered in 3D; three seeds): mean ICC "
           f"**{means.ICC.mean():.3f} ± {means.ICC.std():.3f}** (seeds: "
           + ", ".join(f"{v:.3f}" for v in means.ICC) + "); per AU "
           + ", ".join(f"{au} {row['mean']:.2f}" for au, row in per_au.iterrows())
           + f" (the lowest AU of any seed: {per_au['min'].idxmin()} {per_au['min'].min():.2f})"
           + f"; localisation {means.LocErr64.mean():.2f} map pixels (AU present); under landmark noise, mean ICC "
           + ", ".join(f"{noise.loc[sigma].mean():.2f} at σ = {sigma:.0f} px" for sigma in noise.index)
           + " (the three seeds' mean). "
           f"Ridge on the aligned tracked landmarks, fitted on the reference set's training and validation people "
           f"(the data-size table below fits it on the 102 training people alone, as the Hourglasses train): "
           f"{appearance.ridge_icc.iloc[0]:.3f} (fitted on the course set's own training and validation people, as "
           f"for SynthAU v2: "
           f"{appearance.ridge_course_icc.iloc[0]:.3f}); Hourglass minus ridge "
           + ", ".join(f"{r.difference:.3f} [{r.difference_low:.3f}, {r.difference_high:.3f}]"
                       for r in appearance.itertuples())
           + " (seeds 0–2; paired bootstrap over the "
           f"{int(appearance.subjects.iloc[0])} held-out subjects).\n\n**Two individual cases** (AU12, three seeds): "
           f"astronaut {portraits.loc['astronaut'].AU12.mean():.2f} ± {portraits.loc['astronaut'].AU12.std():.2f}, "
           f"Grace Hopper {portraits.loc['grace_hopper'].AU12.mean():.2f} ± "
           f"{portraits.loc['grace_hopper'].AU12.std():.2f}; AU6 astronaut "
           f"{portraits.loc['astronaut'].AU06.mean():.2f}, Hopper {portraits.loc['grace_hopper'].AU06.mean():.2f}.\n")


def portraits_table(folder: Path) -> str:
    """The two individual cases, the astronaut and Grace Hopper, read by each seed's Hourglass (``portraits.csv``)."""
    portraits = pd.read_csv(folder / "portraits.csv").set_index(["seed", "face"])
    lines = ["| seed | AU12 astronaut | AU12 Grace Hopper | astronaut above Hopper on AU12 | AU6 astronaut | "
             "AU6 Grace Hopper |", "|---" * 6 + "|"]
    for seed in sorted(portraits.index.get_level_values("seed").unique()):
        astronaut, hopper = portraits.loc[(seed, "astronaut")], portraits.loc[(seed, "grace_hopper")]
        above = "yes" if astronaut.AU12 > hopper.AU12 else "no"
        lines.append(f"| {seed} | {astronaut.AU12:.2f} | {hopper.AU12:.2f} | {above} | {astronaut.AU06:.2f} | "
                     f"{hopper.AU06:.2f} |")
    return "\n".join(lines) + "\n\nTwo photos, each read once per seed: a sanity check, not a measurement.\n"


CONTROLS = ROOT / "models" / "reference-controls"


def reference_controls(control: str = "fp32") -> str:
    """A control of ``models/reference-controls/paired.csv``: the Hourglass trained again in fp32, or in bf16 as the
    reference was (the first tables had only the fp32 control and no ``control`` column)."""
    paired = pd.read_csv(CONTROLS / "paired.csv")
    paired = paired[paired.control == control] if "control" in paired else paired
    lines = ["| comparison (paired by test subject) | seed | base ICC | other ICC | difference [95% interval] |",
             "|---|---|---|---|---|"]
    for row in paired.itertuples():
        name = row.comparison
        for run, label in ROWS.items():
            name = name.replace(f"{run} − ", f"{label} − ")
        lines.append(f"| {name} | {row.seed} | {row.base_icc:.3f} | {row.other_icc:.3f} | {row.difference:+.3f} "
                     f"{bounds(row.low, row.high)} {row.verdict} |")
    subjects = int(paired.subjects.iloc[0])
    return "\n".join(lines) + f"\n\nMean ICC(3,1), 95% paired bootstrap over the {subjects} test subjects.\n"


DATA_SIZE = ROOT / "models" / "reference-data-size"
DATA_SIZE_3D = ROOT / "models" / "reference-3d-data-size"
DATA_SIZE_3D_DLIB = ROOT / "models" / "reference-3d-dlib-data-size"


def reference_data_size(folder: Path | None = None) -> str:
    """The training-set-size regime (``paired.csv`` of ``folder``, default ``models/reference-data-size``): the pooled
    head against the Hourglass on fewer subjects, as many updates, and the Hourglass against geometry alone (ridge on
    the landmarks of the same people) where the table has it."""
    folder = folder or DATA_SIZE
    paired = pd.read_csv(folder / "paired.csv")
    ridge = "ridge_icc" in paired.columns
    provenance = folder / "provenance.json"
    precision = json.loads(provenance.read_text()).get("precision", "fp32") if provenance.is_file() else "fp32"
    lines = ["| training subjects (frames) | seed | Hourglass | pooled head | pooled head − Hourglass [95% interval] |"
             + (" ridge, same people | Hourglass − ridge [95% interval] |" if ridge else ""),
             "|---|---|---|---|---|" + ("---|---|" if ridge else "")]
    for row in paired.sort_values(["train_subjects", "seed"]).itertuples():
        lines.append(f"| {row.train_subjects} ({row.train_frames:,}) | {row.seed} | {row.hourglass_icc:.3f} | "
                     f"{row.pooled_icc:.3f} | {row.difference:+.3f} {bounds(row.low, row.high)} "
                     f"{row.verdict} |" + (f" {row.ridge_icc:.3f} | {row.over_ridge:+.3f} "
                                           f"{bounds(row.over_ridge_low, row.over_ridge_high)} "
                                           f"{row.over_ridge_verdict} |" if ridge else ""))
    for size, rows in paired.groupby("train_subjects"):  # over the seeds: mean ± sd, and the verdicts they found
        if len(rows) < 2:
            continue
        cells = [f"{rows[column].mean():.3f} ± {rows[column].std(ddof=1):.3f}"
                 for column in ("hourglass_icc", "pooled_icc")]
        verdicts = ", ".join(f"{count} {verdict}" for verdict, count in sorted(rows.verdict.value_counts().items()))
        line = (f"| **{size}**: mean ± sd over seeds | {', '.join(map(str, sorted(rows.seed)))} | {cells[0]} | "
                f"{cells[1]} | {rows.difference.mean():+.3f} ± {rows.difference.std(ddof=1):.3f} ({verdicts}) |")
        if ridge:
            over = ", ".join(f"{count} {verdict}" for verdict, count in
                             sorted(rows.over_ridge_verdict.value_counts().items()))
            line += (f" {rows.ridge_icc.iloc[0]:.3f} | {rows.over_ridge.mean():+.3f} ± "
                     f"{rows.over_ridge.std(ddof=1):.3f} ({over}) |")
        lines.append(line)
    return "\n".join(lines) + (f"\n\nMean ICC(3,1) on the {int(paired.test_subjects.iloc[0])} test subjects, 95% "
                               f"paired bootstrap over them; every run {int(paired.steps.iloc[0]):,} updates, "
                               f"{'bf16 where the CPU has it (auto)' if precision == 'auto' else precision}"
                               + ("; ridge fitted on the same training people, the same for every seed" if ridge
                                  else "") + ".\n")


def paired_cells(table: pd.DataFrame, keys: tuple[tuple[str, str], ...]) -> list[str]:
    """Cells of ``paired_model_difference`` rows indexed by ``(AU, quantity)``: shares in points, readings in ICC
    units, each ``base → other: difference [low, high]``."""
    return [(f"{100 * r.base:.0f}% → {100 * r.other:.0f}%: {100 * r.difference:+.0f} "
             f"[{100 * r.low:+.0f}, {100 * r.high:+.0f}] points") if quantity == "higher" else
            f"{r.base:.2f} → {r.other:.2f}: {r.difference:+.2f} {bounds(r.low, r.high, digits=2)}"
            for (_, quantity), r in ((key, table.loc[key]) for key in keys)]


def london_variants(folder: Path = REFERENCE) -> str:
    """The small Hourglass and the local readout on the London test people, paired with the Hourglass of the same
    seed (``london_variants.csv`` beside ``london_readings.csv`` in ``folder``)."""
    sys.path.insert(0, str(ROOT))
    from aulib.course.reference import london_variant_differences

    differences = london_variant_differences(folder)
    lines = ["| variant − Hourglass (same seed) | seed | AU12 smiling higher | AU12 gap | AU12 on neutral faces | "
             "AU6 smiling higher | AU6 gap |", "|---|---|---|---|---|---|---|"]
    for variant, label in (("small", "`small` Hourglass (RQ1)"), ("local readout", "local readout (RQ5)")):
        for seed in (0, 1, 2):
            table = differences[(differences.variant == variant) & (differences.seed == seed)]
            if table.empty:
                continue
            table = table.set_index(["AU", "quantity"])
            keys = (("AU12", "higher"), ("AU12", "gap"), ("AU12", "neutral"), ("AU06", "higher"), ("AU06", "gap"))
            cells = paired_cells(table, keys)
            lines.append(f"| {label} | {seed} | " + " | ".join(cells) + " |")
    people = int(differences.n.max())
    return "\n".join(lines) + (f"\n\nMean reading, Hourglass → variant: difference [95% paired bootstrap over the "
                               f"{people} London test people].\n")


def synthau3d_real_tracker() -> str:
    """dlib's landmark errors on the SynthAU-3D course set against the simulated tracker's, and the Hourglass against
    ridge with either tracker (``real_tracker.csv``, ``real_tracker_paired.csv`` in models/reference-3d)."""
    trackers = pd.read_csv(REFERENCE_3D / "real_tracker.csv")
    lines = ["| tracker | landmarks | share of the motion followed (gain) | noise (IOD) | bias (IOD) | jitter (IOD) | "
             "mean error (IOD) |", "|---|---|---|---|---|---|---|"]
    for row in trackers[trackers.points.isin(["all", "eyes", "mouth"])].itertuples():
        cells = [f"{getattr(row, name):.3f} [{getattr(row, name + '_low'):.3f}, {getattr(row, name + '_high'):.3f}]"
                 for name in ("gain", "noise", "bias", "jitter", "nme")]
        lines.append(f"| {row.tracker} | {row.points} | " + " | ".join(cells) + " |")
    first = trackers.iloc[0]
    detection = pd.read_csv(REFERENCE_3D / "real_tracker_detection.csv")
    found = detection.assign(hits=detection.frames * detection.detected).groupby("hand")[["hits", "frames"]].sum()
    text = "\n".join(lines) + (
        f"\n\n{int(first.frames):,} frames of {int(first.people)} people where dlib found the face "
        f"({100 * first.detected:.1f}% of the set: {100 * found.hits[False] / found.frames[False]:.1f}% of the "
        f"{int(found.frames[False]):,} frames without a hand on the face, "
        f"{100 * found.hits[True] / found.frames[True]:.1f}% of the {int(found.frames[True]):,} with one; every "
        f"yaw within {detection.yaw.str.split('-').str[1].astype(int).max()}°); 95% bootstrap over people. "
        "Over the whole set dlib's landmarks also sit a mean "
        f"{trackers[(trackers.tracker == 'dlib') & (trackers.points == 'all')].offset.iloc[0]:.3f} IOD from the "
        "exact ones (the face model's landmark vertices): a fixed difference of definitions plus the mean motion it "
        "does not follow, not in the noise.\n")
    paired = pd.read_csv(REFERENCE_3D / "real_tracker_paired.csv")
    lines = ["| landmarks from | seed | Hourglass | ridge on the landmarks | Hourglass − ridge |",
             "|---|---|---|---|---|"]
    for row in paired.itertuples():
        lines.append(f"| {row.tracker} tracker | {row.seed} | {row.hourglass_icc:.3f} | {row.ridge_icc:.3f} | "
                     f"{row.difference:+.3f} {bounds(row.low, row.high)} {row.verdict} |")
    seeds = paired.drop_duplicates("seed")
    return text + "\n" + "\n".join(lines) + (
        f"\n\nMean ICC(3,1) on the {int(paired.frames.iloc[0]):,} test frames ({int(paired.subjects.iloc[0])} "
        f"people) where dlib found the face, 95% paired bootstrap over them; ridge fitted on the course set's "
        "training people with either tracker's aligned landmarks (dlib's: on the training frames it found), the "
        "Hourglass read on crops aligned with either tracker's. This machine's render and reading of the set moved "
        f"the Hourglasses' committed mean ICC by at most {seeds.rerender_shift.abs().max():.0e} and one frame's "
        f"reading by at most {seeds.rerender_max_change.max():.3f}.\n")


def synthau3d_dlib_retrained() -> str:
    """The Hourglass trained on dlib's crops against the one trained on the simulated tracker's, both read on dlib's
    crops (``real_tracker_retrained.csv`` in models/reference-3d)."""
    table = pd.read_csv(REFERENCE_3D / "real_tracker_retrained.csv")
    aus = [c.removeprefix("dlib_trained_") for c in table.columns if c.startswith("dlib_trained_AU")]
    lines = ["| seed | trained on the simulated tracker's crops | trained on dlib's crops | difference | "
             + " | ".join(f"{au}: simulated → dlib" for au in aus) + " |", "|---" * (4 + len(aus)) + "|"]
    for row in table.itertuples():
        cells = [f"{getattr(row, 'simulated_trained_' + au):.2f} → {getattr(row, 'dlib_trained_' + au):.2f}"
                 for au in aus]
        lines.append(f"| {row.seed} | {row.simulated_trained_icc:.3f} | {row.dlib_trained_icc:.3f} | "
                     f"{row.difference:+.3f} {bounds(row.low, row.high)} {row.verdict} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + (f"\n\nMean ICC(3,1) on the {int(table.frames.iloc[0]):,} test frames, 95% paired "
                               f"bootstrap over the {int(table.subjects.iloc[0])} test people.\n")


def synthau3d_dlib_noise() -> str:
    """RQ3's crossings (``noise_crossings.csv``) of the SynthAU-3D Hourglasses on the simulated tracker's landmarks and
    on dlib's, noise added to each set's own landmarks."""
    lines = ["| landmarks the noise is added to | clean mean ICC | plateau ends (90%): σ in IOD [95%] | "
             "breaks (50%): σ in IOD [95%] |", "|---|---|---|---|"]
    for name, folder in (("the simulated tracker's (models/reference-3d)", REFERENCE_3D),
                         ("dlib's (models/reference-3d-dlib)", REFERENCE_3D_DLIB)):
        crossings = pd.read_csv(folder / "noise_crossings.csv").set_index("what")
        clean = pd.read_csv(folder / "noise_bands.csv").set_index("sigma_iod").ICC.iloc[0]
        cells = [f"{crossings.sigma_iod[w]:.3f} [{crossings.low[w]:.3f}, {crossings.high[w]:.3f}]"
                 for w in ("plateau ends", "breaks")]
        lines.append(f"| {name}: {int(crossings.runs.iloc[0])} seeds, {int(crossings.subjects.iloc[0])} test "
                     f"subjects | {clean:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + (f"\n\nEach row: its Hourglasses' seeds averaged, 95% bootstrap over its test subjects "
                               f"({NOISE_RESAMPLES:,} resamples).\n")


PAPER_ROWS = (("hourglass", "Hourglass (the paper's `paper` preset; here `tiny`)", "0.68"),
              ("resnet18", "ResNet-18 direct regression (here `resnet18-small`)", "0.64"),
              ("hourglass-direct", "the same Hourglass with a pooled regression head (`tiny-direct`)",
               "not in the paper"),
              (None, "2DC", "0.66"),
              ("per-au", "one Hourglass per AU (`per-au-tiny`)", "worse than the joint one, at 5× its cost (RQ4)"))


def paper_table(folder: Path) -> str:
    """The paper's BP4D numbers beside the default's: held-out mean ICC on SynthAU-3D (``comparison.csv``) and the
    London test people's AU12 (``london_runs.csv`` and ``london_readings.csv``), seed means ± sd."""
    sys.path.insert(0, str(ROOT))
    from aulib.course.london_runs import london_run_summary

    long = pd.read_csv(folder / "comparison.csv")
    means = long[long.AU == "Mean"]
    london = london_run_summary(folder)
    london = london[(london.split == "test") & (london.AU == "AU12")]
    test_people = int(london.n.max())
    lines = ["| model | the paper, BP4D (real faces) | this course, SynthAU-3D on dlib's landmarks: held-out mean ICC "
             f"| this course, London test people ({test_people}): AU12 higher on the smile "
             "| AU12 gap, smiling − neutral |",
             "|---" * 5 + "|"]
    def mean_sd(values: pd.Series, digits: int, scale: float = 1, unit: str = "") -> str:
        if len(values) < 2:  # a row the course has no runs for (2DC)
            return "not implemented"
        return f"{scale * values.mean():.{digits}f} ± {scale * values.std(ddof=1):.{digits}f}{unit}"

    for run, label, paper in PAPER_ROWS:
        read = london[london.run == run]
        cells = [mean_sd(means[means.run == run].ICC, 3), mean_sd(read.share_higher, 1, 100, "%"),
                 mean_sd(read.mean_gap, 2)]
        lines.append(f"| {label} | {paper} | " + " | ".join(cells) + " |")
    seeds = means[means.run == "hourglass"].seed.nunique()
    return "\n".join(lines) + (f"\n\nThe course's columns: {seeds} seeds, mean ± sd; ICC(3,1) over AUs 6, 10, 12, "
                               "14 and 17 on the 30 held-out SynthAU-3D people (frames where dlib found the face).\n")


def london_runs(folder: Path) -> str:
    """Every trained run of ``folder`` on the London dev and test people (``london_runs.csv`` beside the Hourglass's
    ``london_readings.csv``), seed means ± sd, and the run the dev split's rule chooses (aulib.course.london_runs)."""
    sys.path.insert(0, str(ROOT))
    from aulib.course.london_runs import dev_choice, london_run_pairs, london_run_summary
    from aulib.course.reference import reference_model_name
    from aulib.predict.benchmark import paired_model_difference

    pairs = london_run_pairs(folder)
    summary = london_run_summary(folder, pairs=pairs)
    dev_people, test_people = (int(summary[summary.split == split].n.max()) for split in ("dev", "test"))
    chosen, rule = dev_choice(summary, dev_people)
    rule = rule.set_index("run")

    def cell(split: str, au: str, column: str, run: str, percent: bool = False) -> str:
        values = summary[(summary.run == run) & (summary.split == split) & (summary.AU == au)][column]
        scale, digits = (100, 1) if percent else (1, 2)
        sd = f" ± {scale * values.std(ddof=1):.{digits}f}" if len(values) > 1 else ""
        return f"{scale * values.mean():.{digits}f}{'%' if percent else ''}{sd}"

    lines = ["| run | seeds | dev: AU12 smiling higher | dev: AU12 gap | dev rule | test: AU12 smiling higher | "
             "test: AU12 on neutral faces | test: AU12 gap | test: AU6 smiling higher |", "|---" * 9 + "|"]
    for run in [r for r in ROWS if r in set(summary.run)]:
        seeds = sorted(summary[summary.run == run].seed.unique())
        verdict = ("chosen" if run == chosen else "qualifies" if rule.loc[run, "qualifies"] else
                   "the baseline" if run == "hourglass" else
                   f"waits for its seeds ({rule.loc[run, 'seeds']} of {rule.loc['hourglass', 'seeds']})"
                   if rule.loc[run, "seeds"] < rule.loc["hourglass", "seeds"] else "no")
        cells = [cell("dev", "AU12", "share_higher", run, True), cell("dev", "AU12", "mean_gap", run), verdict,
                 cell("test", "AU12", "share_higher", run, True), cell("test", "AU12", "mean_neutral", run),
                 cell("test", "AU12", "mean_gap", run), cell("test", "AU06", "share_higher", run, True)]
        lines.append(f"| {ROWS[run]} | {', '.join(map(str, seeds))} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + (f"\n\nSeed means ± sd over the {dev_people} dev and "
                               f"{test_people} test people. The dev split's rule "
                               "(fixed before any run was read): a run replaces the Hourglass when its dev AU12 "
                               "direction is at most one person below the Hourglass's and its dev AU12 gap is larger; "
                               "the largest gap wins; a run with fewer seeds than the Hourglass waits for them. "
                               f"**It chooses: {ROWS[chosen]}.**\n")
    if chosen == "hourglass":
        return text
    test_pairs = pairs[pairs.split == "test"].drop(columns=["run", "seed"])
    lines = ["", "The chosen run against the Hourglass of the same seed on the test people, paired by person:", "",
             "| seed | AU12 smiling higher | AU12 gap | AU12 on neutral faces | AU6 smiling higher |", "|---" * 5 + "|"]
    keys = (("AU12", "higher"), ("AU12", "gap"), ("AU12", "neutral"), ("AU06", "higher"))
    for seed in sorted(summary[summary.run == chosen].seed.unique()):
        table = paired_model_difference(test_pairs, reference_model_name(seed), f"{chosen}, seed {seed}").set_index(
            ["AU", "quantity"])
        lines.append(f"| {seed} | " + " | ".join(paired_cells(table, keys)) + " |")
    return text + "\n".join(lines) + "\n\nHourglass → chosen run: difference [95% paired bootstrap over the people].\n"


def tables() -> dict[str, str]:
    generated = {"reference-icc": reference_icc(), "reference-robustness": reference_robustness(), **london_tables()}
    if (REFERENCE / "noise_bands.csv").is_file():
        generated["reference-noise-bands"] = reference_noise_bands()
    if (REFERENCE / "noise_paired.csv").is_file():
        generated["reference-noise-paired"] = reference_noise_paired()
    if (REFERENCE / "paired.csv").is_file():
        generated["reference-paired"] = reference_paired()
    if (REFERENCE_3D / "appearance.csv").is_file():
        generated["synthau3d-pilot"] = synthau3d_pilot()
    if set(pd.read_csv(REFERENCE_3D / "comparison.csv").run) - {"hourglass", "hourglass-local"}:  # other models
        generated["synthau3d-icc"] = reference_icc(REFERENCE_3D)
        generated["synthau3d-paired"] = reference_paired(REFERENCE_3D)
    if (REFERENCE_3D / "london_readings.csv").is_file():
        generated.update(london_tables(REFERENCE_3D, prefix="synthau3d-"))
    if (REFERENCE_3D / "london_variants.csv").is_file():
        generated["synthau3d-london-variants"] = london_variants(REFERENCE_3D)
    if (REFERENCE_3D / "cue_probe.csv").is_file():
        generated["synthau3d-cue-probe"] = synthau3d_cue_probe()
    if (REFERENCE_3D_HARD / "paired.csv").is_file():
        generated["synthau3d-hard-icc"] = reference_icc(REFERENCE_3D_HARD)
        generated["synthau3d-hard-paired"] = reference_paired(REFERENCE_3D_HARD)
    if (REFERENCE_3D_DLIB / "paired.csv").is_file():
        generated["synthau3d-dlib-icc"] = reference_icc(REFERENCE_3D_DLIB)
        generated["synthau3d-dlib-paired"] = reference_paired(REFERENCE_3D_DLIB)
        london = london_tables(REFERENCE_3D_DLIB, prefix="synthau3d-dlib-")
        generated.update(london)
    if (REFERENCE_3D_DLIB / "london_runs.csv").is_file():
        generated["synthau3d-dlib-paper-table"] = paper_table(REFERENCE_3D_DLIB)
    if (REFERENCE_3D_DLIB / "portraits.csv").is_file():
        generated["synthau3d-dlib-portraits"] = portraits_table(REFERENCE_3D_DLIB)
    if (REFERENCE_3D_DLIB / "london_runs.csv").is_file():
        generated["synthau3d-dlib-london-runs"] = london_runs(REFERENCE_3D_DLIB)
    if (REFERENCE_3D_DLIB / "london_variants.csv").is_file():
        generated["synthau3d-dlib-london-variants"] = london_variants(REFERENCE_3D_DLIB)
    if (REFERENCE_3D_DLIB / "noise_crossings.csv").is_file() and (REFERENCE_3D / "noise_crossings.csv").is_file():
        generated["synthau3d-dlib-noise"] = synthau3d_dlib_noise()
    if (REFERENCE_3D_DLIB / "noise_paired.csv").is_file():
        generated["synthau3d-dlib-noise-paired"] = reference_noise_paired(REFERENCE_3D_DLIB)
    if (REFERENCE_3D / "real_tracker_retrained.csv").is_file():
        generated["synthau3d-dlib-retrained"] = synthau3d_dlib_retrained()
    if (REFERENCE_3D / "real_tracker_paired.csv").is_file():
        generated["synthau3d-real-tracker"] = synthau3d_real_tracker()
    if (REFERENCE_3D / "error_sources.csv").is_file():
        generated["synthau3d-error-sources"] = synthau3d_error_sources()
    if (CONTROLS / "paired.csv").is_file():
        generated["reference-controls"] = reference_controls()
        if "bf16" in set(pd.read_csv(CONTROLS / "paired.csv").get("control", [])):  # the bf16 control, once run
            generated["reference-controls-bf16"] = reference_controls("bf16")
    if (REFERENCE / "london_variants.csv").is_file():
        generated["london-variants"] = london_variants()
    if (DATA_SIZE / "paired.csv").is_file():
        generated["reference-data-size"] = reference_data_size()
    if (DATA_SIZE_3D / "paired.csv").is_file():
        generated["synthau3d-data-size"] = reference_data_size(DATA_SIZE_3D)
    if (DATA_SIZE_3D_DLIB / "paired.csv").is_file():
        generated["synthau3d-dlib-data-size"] = reference_data_size(DATA_SIZE_3D_DLIB)
    return generated


def render(text: str, generated: dict[str, str]) -> str:
    names = {m["name"] for m in BLOCK.finditer(text)}
    missing = set(generated) - names
    if missing:
        raise SystemExit(f"{RESULTS} has no block for {sorted(missing)}: "
                         "add <!-- generated: NAME --> … <!-- end: NAME -->")
    return BLOCK.sub(lambda m: m.group(1) + generated[m["name"]] + m.group(4), text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that RESULTS.md is up to date")
    args = parser.parse_args()
    text = RESULTS.read_text()
    updated = render(text, tables())
    if args.check:
        if updated != text:
            sys.exit("RESULTS.md differs from the committed result files: run python tools/results_tables.py")
        print("RESULTS.md matches the committed result files")
        return
    RESULTS.write_text(updated)
    print(f"rewrote the generated tables of {RESULTS}")


if __name__ == "__main__":
    main()
