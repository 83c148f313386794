"""``aulib run-notebooks``, ``aulib reference`` and ``aulib figures``: the course's own commands."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from aulib.cli.common import DEVICE, PRECISIONS, add_command, arg
from aulib.course.pipeline import NOTEBOOKS_DIR, PROFILES, ROOT, NotebookFailed, run_notebooks

if TYPE_CHECKING:
    import pandas as pd


def _parse_override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), yaml.safe_load(value)  # YAML gives numbers, booleans and strings their types


def run_cli(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        records = run_notebooks(args.profile, only=args.only, overrides=dict(args.set or []),
                                params_file=args.params, timeout_s=args.timeout, progress=not args.quiet,
                                notebooks_dir=args.notebooks, allow_unsolved=args.allow_unsolved)
    except NotebookFailed as error:
        print(f"error: {error}")
        return 1
    total = time.perf_counter() - started
    for record in records:
        unsolved = f"   exercises not solved: cells {record['unsolved']}" if record["unsolved"] else ""
        print(f"  {record['notebook']:<34}{record['seconds']:>8.1f} s{unsolved}")
    print(f"all {len(records)} notebooks ran in {total:.0f} s; executed copies in {Path(records[0]['output']).parent}")
    return 0


# The jobs of ``aulib reference`` other than training the reference runs, by the flags that ask for them; each does
# one job, so two are refused (the two read-only studies of the committed runs may run together).
REFERENCE_MODES = {"london_only": ("london_only",), "london_variants_only": ("london_variants_only",),
                   "london_runs_only": ("london_runs_only",),
                   "precision_control": ("precision_control",), "data_size": ("data_size",),
                   "committed_only": ("paired_only", "noise_bands_only")}
# Trained on the CPU into their own committed folders: on the 2D sets, and for the training-set-size regime on the
# 3D ones too (its SynthAU-3D twin, --renderer 3d).
CONTROLS = ("precision_control", "data_size")
# The course's committed reference folders (aulib.course.reference.REFERENCE_DIR and its SynthAU-3D twin), which hold
# runs at notebook 01's difficulty: runs at another one go elsewhere.
_COMMITTED_REFERENCE = {(ROOT / "models" / name).resolve() for name in ("reference", "reference-3d")}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _reference_mode(args: argparse.Namespace) -> str | None:
    """The one job asked for (None: train the reference runs); SystemExit naming the flags that conflict, or that
    the job would ignore."""
    given = {mode: [name for name in names if getattr(args, name)] for mode, names in REFERENCE_MODES.items()}
    chosen = [mode for mode, names in given.items() if names]
    if len(chosen) > 1:
        flags = " and ".join("/".join(map(_flag, given[mode])) for mode in chosen)
        raise SystemExit(f"aulib reference: {flags} are separate jobs; give one")
    mode = chosen[0] if chosen else None
    if args.control_precision != "fp32" and mode != "precision_control":
        raise SystemExit("aulib reference: --control-precision is the precision of --precision-control; add "
                         "--precision-control or drop --control-precision")
    if args.precision != "auto" and mode is not None:
        raise SystemExit(f"aulib reference: --precision {args.precision} is the training precision of the reference "
                         f"runs; {'/'.join(map(_flag, given[mode]))} trains none (--control-precision is the "
                         "precision control's)")
    if args.difficulty is not None and mode is not None:
        raise SystemExit("aulib reference: --difficulty sets the data sets of the reference runs; "
                         f"{'/'.join(map(_flag, given[mode]))} does not take it")
    if args.difficulty is not None and Path(args.out).resolve() in _COMMITTED_REFERENCE:
        raise SystemExit(f"aulib reference --difficulty {args.difficulty}: give the runs their own --out; {args.out} "
                         "holds the course's reference runs at its default difficulty")
    # --london-runs-only takes --detector (and --renderer) only to find the full runs under --work, the
    # committed-only studies to find the course set prepared with its landmarks, and --data-size to train its
    # SynthAU-3D twin on them (into its own folder, models/reference-3d-dlib-data-size)
    if args.detector is not None and mode == "data_size":
        if args.renderer != "3d":
            raise SystemExit(f"aulib reference --data-size --detector {args.detector}: the regime on a detector's "
                             "landmarks is SynthAU-3D's; add --renderer 3d")
    elif args.detector is not None and (mode not in (None, "london_runs_only", "committed_only")
                                        or Path(args.out).resolve() in _COMMITTED_REFERENCE):
        raise SystemExit(f"aulib reference --detector {args.detector}: trains the reference runs on its landmarks; "
                         "give them their own --out (not the course's reference folders), and no other job")
    if args.difficulty is not None and args.work == args.default_of("work"):
        raise SystemExit(f"aulib reference --difficulty {args.difficulty}: give the data sets their own --work; "
                         f"{args.work}/ holds the course's sets at notebook 01's difficulty")
    if args.subjects is not None and mode != "data_size":
        raise SystemExit("aulib reference: --subjects sets the training-set sizes of --data-size; add --data-size "
                         "or drop --subjects")
    if mode in CONTROLS:
        taken = ("out", "device", "runs", "sigmas") if mode == "data_size" else ("out", "device", "renderer", "runs",
                                                                                  "sigmas")
        ignored = [_flag(name) for name in taken if getattr(args, name) != args.default_of(name)]
        if ignored:
            sets = "SynthAU sets (--renderer picks 2D or 3D)" if mode == "data_size" else "2D SynthAU sets"
            raise SystemExit(f"aulib reference {_flag(mode)} trains on the CPU on the {sets} and writes its own "
                             f"committed folder; it does not take {', '.join(ignored)}")
    return mode


def _difficulty(text: str) -> str | float:
    """``--difficulty``: a named level or a number in [0, 1] (``Difficulty.from_level`` checks the range)."""
    from aulib.data.synthau.protocol import Difficulty

    try:
        level: str | float = float(text)
    except ValueError:
        level = text
    try:
        Difficulty.from_level(level)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    return level


def _train_control(args: argparse.Namespace, mode: str) -> pd.DataFrame:
    """Train a committed control (a training precision or training-set size) and return its paired table."""
    command = "aulib " + " ".join(args.argv)
    if mode == "data_size":
        from aulib.course.data_size import SUBJECTS, build_data_size_regime

        return build_data_size_regime(work=args.work, subjects=args.subjects or list(SUBJECTS), seeds=args.seeds,
                                      epochs=args.epochs, command=command, renderer=args.renderer,
                                      detector=args.detector)
    from aulib.course.controls import build_precision_control

    return build_precision_control(work=args.work, seeds=args.seeds, epochs=args.epochs, command=command,
                                   precision=args.control_precision)


def _course_set(args: argparse.Namespace) -> Path:
    """The prepared course set that the reference runs are scored on (``prepare_sets``'s second folder)."""
    name = ("synthau3d-prepared" if args.renderer == "3d" else "synthau-prepared")
    return Path(args.work) / (f"{name}-{args.detector}" if args.detector else name)


def run_reference(args: argparse.Namespace) -> int:
    from aulib.course.reference import (
        SEEDS,
        WEIGHTS_RUNS,
        build_london_readings,
        build_london_variants,
        build_paired,
        build_reference,
        reference_model,
        seed_summary,
    )

    mode = _reference_mode(args)
    if mode == "committed_only":
        course = _course_set(args)
        if not (course / "meta.json").is_file():
            raise SystemExit(f"{course} is not a prepared course set: run `make reproduce` (notebook 01) first")
        if args.paired_only:
            print(build_paired(args.out, course, args.seeds).round(3).to_string(index=False))
        if args.noise_bands_only:
            from aulib.course.noise_study import build_noise_bands

            bands, crossings, paired = build_noise_bands(args.out, course, args.seeds)
            print(bands.round(3).to_string(index=False))
            print(crossings.round(3).to_string(index=False))
            if len(paired):
                print(paired.round(3).to_string(index=False))
        return 0
    if mode == "london_only":
        readings = build_london_readings(args.out, args.seeds)
        print(f"wrote the London readings of {readings['model'].nunique()} reference Hourglasses to {args.out}")
        return 0
    if mode in CONTROLS:
        print(_train_control(args, mode).round(3).to_string(index=False))
        return 0
    if mode == "london_variants_only":
        readings = build_london_variants(args.out, args.seeds)
        print(f"wrote the London readings of {readings['model'].nunique()} Hourglass variants to {args.out}")
        return 0
    if mode == "london_runs_only":
        from aulib.course.london_runs import build_london_runs
        from aulib.course.reference import reference_runs_root

        readings = build_london_runs(args.out, reference_runs_root(args.work, args.renderer, args.detector),
                                     args.seeds)
        print(f"wrote the London readings of {readings['model'].nunique()} runs to {args.out}")
        return 0

    course = None
    if args.difficulty is not None:  # notebook 01's course set, at another difficulty
        from aulib.course.pipeline import load_params, notebook_parameters

        course = {**notebook_parameters(load_params("smoke"), "01_data_preparation"), "DIFFICULTY": args.difficulty}
    long = build_reference(work=args.work, out=args.out, seeds=args.seeds, runs=args.runs, epochs=args.epochs,
                           device=args.device, command="aulib " + " ".join(args.argv), renderer=args.renderer,
                           sigmas=args.sigmas, course=course, detector=args.detector, precision=args.precision)
    print(seed_summary(long).round(3).to_string())
    if set(WEIGHTS_RUNS) & set(args.runs):  # RQ3's bands come from the committed weights
        from aulib.course.noise_study import build_noise_bands

        # every committed seed, not only this command's: a seed added later must not shrink the bands to itself
        seeds = [s for s in sorted({*args.seeds, *SEEDS}) if (reference_model(args.out, s) / "best.pt").is_file()]
        if seeds:
            build_noise_bands(args.out, _course_set(args), seeds)
    print(f"wrote {args.out}")
    return 0


def run_figures(_: argparse.Namespace) -> int:
    """Regenerate the README's figures that no notebook draws (``make figures``): SynthAU-3D's grid with head poses
    (needs OpenGL; skipped with the reason without it) and SynthAU v2's grid."""
    import matplotlib.pyplot as plt
    import numpy as np

    from aulib.course.figures import FIGURES_DIR, save_figure, synthau_grid_figure
    from aulib.course.grid3d import synthau3d_grid_figure

    try:
        path = save_figure(synthau3d_grid_figure(), FIGURES_DIR / "synthau3d_grid.png", dpi=110)
        print(f"wrote {path}")
    except RuntimeError as error:  # no OpenGL context: the committed figure stays
        print(f"aulib figures: skipped {FIGURES_DIR / 'synthau3d_grid.png'}: {error}", file=sys.stderr)
    plt.close("all")
    with np.errstate(all="ignore"):
        path = save_figure(synthau_grid_figure(image_size=128), FIGURES_DIR / "synthau_grid.png", dpi=90)
    plt.close("all")
    print(f"wrote {path}")
    return 0


def run_release(args: argparse.Namespace) -> int:
    from aulib.course.release import release

    paths = release(args.out)
    print(f"wrote {len(paths)} student notebooks (solutions stubbed, outputs cleared) to {args.out}")
    return 0


def run_book(args: argparse.Namespace) -> int:
    from aulib.course.book import build

    html = build(executed=args.executed, figures=args.figures, edition="student" if args.student else "instructor")
    print(f"built the {'student' if args.student else 'instructor'} book: {html / 'index.html'}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    from aulib.course.data_size import SUBJECTS as DATA_SIZE_SUBJECTS
    from aulib.course.reference import EPOCHS, REFERENCE_DIR, SEEDS, SIGMAS
    from aulib.training.experiments import RUN_NAMES

    add_command(commands, "run-notebooks", run_cli, "execute the course notebooks in order with papermill", [
        arg("--profile", choices=PROFILES, default="smoke"),
        arg("--only", nargs="*", help="notebooks to run, by name or number (e.g. 03 04)"),
        # "extend": a second --set adds to the first instead of silently replacing it
        arg("--set", nargs="+", action="extend", type=_parse_override, metavar="KEY=VALUE",
            help="override a parameter in every notebook that declares it, e.g. DEVICE=cpu"),
        arg("--params", help="a params file other than params/<profile>.yaml"),
        arg("--timeout", type=int, help="per-cell timeout in seconds"),
        arg("--quiet", action="store_true", help="no per-cell progress bars"),
        arg("--notebooks", default=str(NOTEBOOKS_DIR), help="the notebooks' folder (e.g. student/, a release)"),
        arg("--allow-unsolved", action="store_true",
            help="a student release: report exercises whose check fails instead of stopping"),
    ])
    reference = add_command(commands, "reference", run_reference,
                            "train and evaluate reference runs (make weights: the course's, with --renderer 3d "
                            "--detector dlib --precision fp32 --out models/reference-3d-dlib)", [
        arg("--work", default="data", help="folder for the data sets and full run folders"),
        arg("--out", default=str(REFERENCE_DIR), help="the committed reference folder (default: SynthAU v2's)"),
        arg("--seeds", type=int, nargs="+", default=list(SEEDS)),
        arg("--runs", nargs="+", choices=RUN_NAMES, default=list(RUN_NAMES)),
        arg("--epochs", type=int, default=EPOCHS),
        arg("--renderer", choices=["2d", "3d"], default="2d",
            help="the SynthAU renderer of both data sets (default 2d: SynthAU v2, whose runs models/reference "
                 "holds; 3d: SynthAU-3D, the course's data: give it another --out, except with --data-size, which "
                 "writes its own folder)"),
        arg("--sigmas", type=float, nargs="+", default=list(SIGMAS),
            help="landmark-noise levels of the robustness study (pixels)"),
        arg("--difficulty", type=_difficulty,
            help="the SynthAU difficulty of both data sets (easy, default, hard or a number in [0, 1]; default: "
                 "notebook 01's); with its own --out and --work"),
        arg("--precision", choices=PRECISIONS, default="auto",
            help="training precision of the runs: auto (bf16 on CUDA and on CPUs with native bf16, else fp32), bf16 "
                 "or fp32 (to add a seed, on an AVX-512 machine, to runs trained in fp32 on an AVX2-only one)"),
        arg("--detector", choices=["dlib", "face-alignment"],
            help="align both data sets with this tracker's landmarks, found in every frame, instead of the sets' "
                 "simulated tracker's (their own prepared folders; with its own --out)"),
        DEVICE,
        arg("--london-only", action="store_true",
            help="only read the London set with the committed reference Hourglasses (no training)"),
        arg("--london-variants-only", action="store_true",
            help="only read the London set with the committed small Hourglasses and the local readout (RQ1, RQ5)"),
        arg("--london-runs-only", action="store_true",
            help="only read the London set with every trained run but the Hourglass (their weights in --out or in "
                 "--work's full runs), so that the London dev split can choose among them (aulib.course.london_runs)"),
        arg("--precision-control", action="store_true",
            help="train the reference Hourglass again (in fp32, or the --control-precision) and pair it with the "
                 "reference runs (models/reference-controls; aulib.course.controls)"),
        arg("--control-precision", choices=["fp32", "bf16"], default="fp32",
            help="with --precision-control: fp32 (the control), or bf16 as the reference runs were trained (today's "
                 "code; needs a CPU with native bf16)"),
        arg("--data-size", action="store_true",
            help="train the Hourglass and its pooled head on fewer subjects, as many updates, and pair them and "
                 "geometry alone (models/reference-data-size in fp32; with --renderer 3d, SynthAU-3D's twin in "
                 "models/reference-3d-data-size; aulib.course.data_size)"),
        arg("--subjects", type=int, nargs="+",
            help="with --data-size: the training-set sizes in subjects (default: "
                 f"{' '.join(map(str, DATA_SIZE_SUBJECTS))})"),
        arg("--paired-only", action="store_true",
            help="only compare the committed runs with the Hourglass, paired by test subject (no training)"),
        arg("--noise-bands-only", action="store_true",
            help="only put the committed Hourglasses (tiny and small) through RQ3's noise study in IOD with "
                 "bootstrap bands, and pair the small with the tiny under the same noise (no training)"),
    ])
    reference.set_defaults(default_of=reference.get_default)  # what a control's flags are checked against
    add_command(commands, "figures", run_figures, "regenerate the README's figures that no notebook draws (the SynthAU "
                "grids)", [])
    from aulib.course.book import EXECUTED_DIR
    from aulib.course.release import STUDENT_DIR

    add_command(commands, "book", run_book, "build the course as a static book (Jupyter Book, offline)", [
        arg("--executed", default=str(EXECUTED_DIR / "smoke"), help="the executed notebooks to show"),
        arg("--figures", default=str(ROOT / "figures"), help="the figures the executed notebooks wrote"),
        arg("--student", action="store_true",
            help="the students' book: from an executed student release (--executed), no solution, no instructor "
                 "guide"),
    ])
    add_command(commands, "release", run_release, "write the student notebooks (no solutions) with nbgrader", [
        arg("--out", default=str(STUDENT_DIR), help="the release folder (replaced)"),
    ])
