"""Run the course notebooks in order with papermill: the whole pipeline as one command.

``aulib run-notebooks --profile smoke`` executes ``notebooks/NN_*.ipynb`` in
order. Each notebook gets its parameters from ``params/<profile>.yaml``:

.. code-block:: yaml

    common:            # given to every notebook; every notebook declares these
      PROFILE: smoke
      ...
    notebooks:
      03_training:     # given to this notebook only
        EPOCHS: 8

Notebooks pass results to each other through files (the prepared data, run folders, CSVs), never kernel state,
so any notebook can be rerun alone once its inputs exist. Executed copies go to ``notebooks/executed/`` (git-ignored);
the notebooks themselves save their figures into ``figures/``. The run stops at the first failing cell and says
which notebook and cell failed.

Example:
    >>> params = load_params("smoke")
    >>> sorted(params["common"])[:3]
    ['DATASET', 'DATA_DIR', 'DEVICE']
    >>> [path.stem for path in notebook_paths()][:2]
    ['01_data_preparation', '02_heatmap_targets']
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from aulib.course.variants import DEFAULT_SYNTHAU, synthau_folders, synthau_variant, synthau_variant_name
from aulib.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = ROOT / "notebooks"
PARAMS_DIR = ROOT / "params"
EXECUTED_DIR = NOTEBOOKS_DIR / "executed"
# Where notebooks outside notebooks/ (a student release) write their runs and figures, relative to their folder.
RELEASE_OUTPUTS = {"RUN_DIR": "runs", "FIG_DIR": "figures"}
PROFILES = ("smoke", "full")
# Notebooks whose DETECTOR finds faces in photos: SynthAU's "given" landmarks (DETECTOR=given) name no detector there.
PHOTO_NOTEBOOKS = ("06_real_faces",)
# Generous: the full profile's training notebook runs for hours on a GPU.
DEFAULT_TIMEOUT_S = {"smoke": 1800, "full": 12 * 3600}


class NotebookFailed(RuntimeError):
    """A notebook cell raised; the message names the notebook, the cell and the error."""


def notebook_paths(directory: str | os.PathLike = NOTEBOOKS_DIR) -> list[Path]:
    """The course notebooks (``NN_name.ipynb``) in order."""
    paths = sorted(p for p in Path(directory).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no course notebooks (NN_name.ipynb) in {directory}")
    return paths


def params_path(profile: str) -> Path:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {PROFILES}")
    return PARAMS_DIR / f"{profile}.yaml"


def load_params(profile_or_path: str | os.PathLike) -> dict[str, dict]:
    """Read a params file (a profile name or a path) and check its shape: ``common`` and ``notebooks`` mappings."""
    path = Path(profile_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = params_path(str(profile_or_path))
    data = yaml.safe_load(path.read_text()) or {}
    unknown = set(data) - {"common", "notebooks"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}; expected 'common' and 'notebooks'")
    common, per_notebook = data.get("common") or {}, data.get("notebooks") or {}
    if not isinstance(common, dict) or not isinstance(per_notebook, dict):
        raise ValueError(f"{path}: 'common' and 'notebooks' must be mappings")
    for name, values in per_notebook.items():
        if not isinstance(values, dict):
            raise ValueError(f"{path}: notebooks.{name} must be a mapping of parameter names to values")
    return {"common": common, "notebooks": per_notebook}


def notebook_parameters(params: Mapping[str, Any], notebook: str) -> dict[str, Any]:
    """The parameters one notebook gets from a params file: ``common``, then its own section."""
    return {**params["common"], **params["notebooks"].get(notebook, {})}


def declared_parameters(path: str | os.PathLike) -> set[str]:
    """Names assigned in a notebook's ``parameters`` cell (papermill's view of it)."""
    import papermill

    return set(papermill.inspect_notebook(str(path)))


def check_params(params: Mapping[str, Any], paths: Sequence[Path]) -> dict[str, set[str]]:
    """Every key must be a declared parameter of the notebook that receives it (papermill only warns).

    Returns:
        ``{notebook stem: its declared parameter names}``.
    """
    names = {p.stem: p for p in paths}
    declared = {stem: declared_parameters(path) for stem, path in names.items()}
    problems = []
    for section in params["notebooks"]:
        if section not in names:
            problems.append(f"notebooks.{section}: no notebook {section}.ipynb")
    for stem, path in names.items():
        for key in notebook_parameters(params, stem):
            if key not in declared[stem]:
                problems.append(f"{key!r} is not a parameter of {path.name}")
    if problems:
        raise ValueError("params do not match the notebooks:\n  " + "\n  ".join(problems))
    return declared


# The folders that hold one dataset's course: when DATASET is changed and these are not, they move to folders named
# after the dataset, so that a BP4D course never mixes with the SynthAU one (its runs, its figures).
DATASET_FOLDERS = {"PREPARED_DIR": "../data/{dataset}-prepared", "RUN_DIR": "../runs/{profile}-{dataset}{fold}",
                   "FIG_DIR": "../figures/{dataset}{fold}"}
def dataset_folders(common: Mapping[str, Any], overrides: Mapping[str, Any],
                    defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The folders (and SynthAU's ``DETECTOR``) of a course whose ``DATASET``, or SynthAU's ``RENDERER`` or
    ``DETECTOR``, differs from the params file's, for every key not set in ``overrides``.

    Changing ``DATASET`` and ``DATA_DIR`` is then enough to run the course on BP4D or DISFA; each DISFA fold
    (``FOLD``) gets its own runs and figures, and they share the prepared data (:data:`DATASET_FOLDERS`). The params
    file's ``RENDERER`` and ``DETECTOR`` are SynthAU's: a licensed data set gets its own default detector.
    ``RENDERER=2d`` runs the course on SynthAU v2, ``DETECTOR=given`` on SynthAU-3D with the simulated tracker's
    landmarks, each in its own folders and with its own reference runs (:func:`synthau_folders`).

    Args:
        common: the params file's parameters (``common`` and notebook 01's section, where ``RENDERER`` is).
        overrides: what the user set.
        defaults: folders that replace the params file's without counting as set (a student release's own).

    Raises:
        ValueError: ``RENDERER`` set with a ``DATASET`` other than SynthAU, or ``DETECTOR`` on SynthAU v2.

    Example:
        >>> smoke = {"DATASET": "synthau", "PROFILE": "smoke", "RENDERER": "3d", "DETECTOR": "dlib",
        ...          "RUN_DIR": "../runs/smoke"}
        >>> dataset_folders(smoke, {"DATASET": "bp4d", "FIG_DIR": "figs"})
        {'DETECTOR': None, 'PREPARED_DIR': '../data/bp4d-prepared', 'RUN_DIR': '../runs/smoke-bp4d'}
        >>> dataset_folders(smoke, {"DATASET": "disfa", "FOLD": 2})["RUN_DIR"]
        '../runs/smoke-disfa-fold2'
        >>> dataset_folders(smoke, {"RENDERER": "2d"})["RUN_DIR"]
        '../runs/smoke-synthau2d'
        >>> dataset_folders(smoke, {"SEED": 1, "RENDERER": "3d"})
        {}
        >>> dataset_folders(smoke, {"DETECTOR": "given"})["REFERENCE_DIR"]
        '../models/reference-3d'
    """
    dataset = overrides.get("DATASET", common.get("DATASET"))
    if dataset != "synthau":
        if "RENDERER" in overrides:
            raise ValueError(f"RENDERER={overrides['RENDERER']!r} draws SynthAU, but DATASET is {dataset!r}: set "
                             "DATASET=synthau, or leave RENDERER out for a licensed data set")
        # SynthAU's DETECTOR is not the licensed set's: None lets prepare() take the data set's own default.
        detector = {} if "DETECTOR" in overrides or common.get("DETECTOR") is None else {"DETECTOR": None}
        if dataset == common.get("DATASET"):
            return detector
        profile = overrides.get("PROFILE", common.get("PROFILE", "smoke"))
        fold = overrides.get("FOLD", common.get("FOLD"))
        suffix = "" if fold is None else f"-fold{fold}"
        taken = {**(defaults or {}), **overrides}
        return {**detector, **{key: pattern.format(dataset=dataset, profile=profile, fold=suffix)
                               for key, pattern in DATASET_FOLDERS.items() if key not in taken}}
    variant = synthau_variant(common, overrides)
    if variant == synthau_variant(common, {}):
        return {}
    folders = synthau_folders({**common, **(defaults or {})}, *variant)
    return {key: value for key, value in folders.items() if key not in overrides}


def synthau_renderer(prepared_dir: str | os.PathLike) -> str | None:
    """The renderer (``"2d"`` or ``"3d"``) of the SynthAU set a prepared folder came from; ``None`` when the folder
    is not SynthAU's or its source folder (with its ``synthau.json``) is gone."""
    from aulib.data.dataset import load_meta
    from aulib.data.synthau import load_config

    try:
        meta = load_meta(prepared_dir)
        return load_config(meta.get("source", "")).renderer if meta.get("dataset") == "synthau" else None
    except (FileNotFoundError, RuntimeError, ValueError):
        return None


def prepared_landmarks(prepared_dir: str | os.PathLike) -> str | None:
    """The landmarks a prepared folder was aligned with (``"given"``: the data set's own, e.g. SynthAU's simulated
    tracker; ``"dlib"``; ``"face-alignment"``), from its ``meta.json``; ``None`` when it cannot be read."""
    from aulib.data.dataset import load_meta

    try:
        return load_meta(prepared_dir).get("detector")
    except (FileNotFoundError, RuntimeError, ValueError):
        return None


def course_data_note(prepared_dir: str | os.PathLike) -> str | None:
    """What a notebook prints when it runs on a SynthAU variant other than the course's default (SynthAU-3D on
    dlib's landmarks), whose numbers the notebooks' text quotes; ``None`` on the default or on a licensed set."""
    renderer = synthau_renderer(prepared_dir)
    if renderer is None:
        return None
    variant = (renderer, prepared_landmarks(prepared_dir) or "given")
    if variant == DEFAULT_SYNTHAU:
        return None
    name = "SynthAU v2's drawn faces (RENDERER=2d)" if renderer == "2d" else (
        "SynthAU-3D aligned with the simulated tracker's landmarks (DETECTOR=given)")
    return (f"This run of the course is on {name}: every table and figure below is computed from it and from its own "
            "reference runs, but numbers quoted in the text are those of the course's default data, SynthAU-3D "
            "aligned with dlib's landmarks (RESULTS.md has every variant).")


def reference_applies(dataset: str, reference_dir: str | os.PathLike, prepared_dir: str | os.PathLike) -> bool:
    """Whether the committed reference runs in ``reference_dir`` belong beside a course on ``prepared_dir``: SynthAU
    runs beside SynthAU data drawn by the renderer they were trained on (``provenance.json``'s ``renderer``, and
    :func:`synthau_renderer`) and aligned with the same landmarks (its ``landmarks``: ``"dlib"``, or the sets'
    simulated tracker; :func:`prepared_landmarks`), so that a SynthAU-3D course is never compared with SynthAU v2's
    runs, nor a course on dlib's landmarks with runs trained on the simulated tracker's.

    Where the prepared set's renderer or landmarks cannot be read (its source folder is gone), the folders are trusted.
    """
    from aulib.data.frames import DETECTORS, GIVEN

    if dataset != "synthau":
        return False
    provenance = Path(reference_dir) / "provenance.json"
    recorded = json.loads(provenance.read_text()) if provenance.is_file() else {}
    trained_on = recorded.get("renderer", "2d")
    trained_landmarks = recorded.get("landmarks") if recorded.get("landmarks") in DETECTORS else GIVEN
    return (synthau_renderer(prepared_dir) in (None, trained_on)
            and prepared_landmarks(prepared_dir) in (None, trained_landmarks))


def course_settings(params: Mapping[str, Any], profile: str, overrides: Mapping[str, Any] | None,
                    notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
                    output_dir: str | os.PathLike | None = None) -> tuple[dict[str, Any], Path]:
    """What :func:`run_notebooks` passes to every notebook on top of the params file, and where the executed copies
    go: the user's ``overrides``, the folders a data set or renderer moves (:func:`dataset_folders`), and a student
    release's own outputs.

    Returns:
        ``(overrides, executed-copies folder)``: ``notebooks/executed/<profile>``, or ``<profile>-synthau2d`` on
        SynthAU v2 (``<profile>-synthau3d`` on SynthAU-3D with the simulated tracker's landmarks), unless
        ``output_dir`` is given.
    """
    # A copy elsewhere (a student release) keeps its runs and figures beside it, not over the course's.
    release = RELEASE_OUTPUTS if Path(notebooks_dir).resolve() != NOTEBOOKS_DIR.resolve() else {}
    settings = notebook_parameters(params, "01_data_preparation")  # common, and RENDERER and DETECTOR
    moved = dataset_folders(settings, overrides or {}, defaults=release)
    resolved = {**release, **moved, **(overrides or {})}
    # A SynthAU variant's executed copies go beside the default's, not over them (smoke-synthau2d).
    on_synthau = resolved.get("DATASET", settings.get("DATASET")) == "synthau"
    name = synthau_variant_name(*synthau_variant(settings, overrides or {})) if on_synthau else ""
    out_dir = Path(output_dir) if output_dir else Path(notebooks_dir) / "executed" / (
        f"{profile}-{name}" if name else profile)
    return resolved, out_dir


def run_notebooks(
    profile: str = "smoke",
    *,
    only: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    params_file: str | os.PathLike | None = None,
    notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
    output_dir: str | os.PathLike | None = None,
    timeout_s: int | None = None,
    progress: bool = True,
    allow_unsolved: bool = False,
) -> list[dict]:
    """Execute the notebooks in order with papermill.

    Args:
        profile: ``"smoke"`` (CPU, minutes) or ``"full"`` (the paper's network on a GPU).
        only: notebook names or number prefixes to run (e.g. ``["03", "04"]``); default: all.
        overrides: parameters that replace the params file's for every notebook that declares them. When they
            change ``DATASET`` but not ``PREPARED_DIR``, ``RUN_DIR`` or ``FIG_DIR``, those move to folders named
            after the dataset; ``RENDERER=3d`` moves SynthAU's to SynthAU-3D's (:func:`dataset_folders`).
        params_file: another params file (default ``params/<profile>.yaml``).
        notebooks_dir: where the notebooks are; they run with it as the working directory.
        output_dir: where executed copies go (default ``notebooks/executed/<profile>``, and
            ``notebooks/executed/<profile>-synthau3d`` on SynthAU-3D).
        timeout_s: per-cell execution timeout.
        progress: papermill's progress bar per notebook.
        allow_unsolved: run a student release: an exercise's check that fails (tagged ``raises-exception``, so
            that *Run all* goes on past it) is reported in the record, not raised. By default every failing cell
            fails the run, checks included: the instructor's notebooks must pass their own checks.

    Returns:
        One record per notebook: ``notebook``, ``seconds``, ``output`` and ``unsolved`` (the failed checks' cell
        numbers).

    Raises:
        NotebookFailed: naming the notebook, the cell number and the error, with the executed copy's path.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    params = load_params(params_file or profile)
    paths = notebook_paths(notebooks_dir)
    declared = check_params(params, paths)
    if only:
        paths = [p for p in paths if any(p.stem == o or p.stem.startswith(f"{o}_") for o in only)]
        if not paths:
            raise ValueError(f"no notebook matches {list(only)}")
    os.environ.setdefault("MPLBACKEND", "agg")  # headless kernels inherit it
    overrides, out_dir = course_settings(params, profile, overrides, notebooks_dir, output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for path in paths:
        values = notebook_parameters(params, path.stem)
        values.update({k: v for k, v in overrides.items() if k in declared[path.stem]
                       and not (k == "DETECTOR" and path.stem in PHOTO_NOTEBOOKS and v in (None, "given"))})
        output = out_dir / path.name
        started = time.perf_counter()
        print(f"[aulib] {path.name} ...", flush=True)
        try:
            papermill.execute_notebook(
                str(path), str(output), parameters=values, kernel_name="python3", cwd=str(path.parent),
                progress_bar=progress, execution_timeout=timeout_s or DEFAULT_TIMEOUT_S.get(profile, 3600),
            )
        except PapermillExecutionError as error:
            # Papermill runs a notebook to its end past cells tagged raises-exception, then raises for the last
            # error and marks it in the copy. A student release's failed checks are expected: unmark and go on.
            unmarked = _without_papermill_error_cells(output) if allow_unsolved else []
            if not unmarked or any(ename != "ExerciseFeedback" for _, ename, _ in unmarked):
                raise NotebookFailed(
                    f"{path.name} failed in cell {error.cell_index} (execution count {error.exec_count}): "
                    f"{error.ename}: {error.evalue}\nexecuted copy: {output}"
                ) from error
        seconds = time.perf_counter() - started
        errors = failed_cells(output)
        unsolved = [cell for cell, ename, _ in errors if ename == "ExerciseFeedback"]
        for cell, ename, evalue in errors:
            if not (allow_unsolved and ename == "ExerciseFeedback"):
                raise NotebookFailed(f"{path.name} failed in cell {cell}: {ename}: {evalue}\nexecuted copy: {output}")
        note = f", {len(unsolved)} exercise(s) not solved yet (cells {unsolved})" if unsolved else ""
        print(f"[aulib] {path.name} done in {seconds:.0f} s{note}", flush=True)
        records.append({"notebook": path.stem, "seconds": round(seconds, 1), "output": str(output),
                        "unsolved": unsolved})
    return records


def _without_papermill_error_cells(executed: Path) -> list[tuple[int, str, str]]:
    """Remove papermill's error banner and anchor cells from an executed copy (atomically); returns its failed
    cells, numbered as in the source notebook."""
    import nbformat
    from papermill.execute import ERROR_MARKER_TAG

    notebook = nbformat.read(str(executed), as_version=4)
    notebook.cells = [cell for cell in notebook.cells if ERROR_MARKER_TAG not in cell.metadata.get("tags", [])]
    atomic_write_text(executed, nbformat.writes(notebook))
    return failed_cells(executed)


def failed_cells(executed: str | os.PathLike) -> list[tuple[int, str, str]]:
    """``(cell index, error name, error value)`` of every cell of an executed notebook that shows an error.

    Cells tagged ``raises-exception`` (the exercises' checks) let papermill and *Run all* go on after an error;
    this finds what they left behind.
    """
    import nbformat

    notebook = nbformat.read(str(executed), as_version=4)
    return [(index, output.get("ename", ""), output.get("evalue", ""))
            for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
            for output in cell.get("outputs", []) if output.get("output_type") == "error"]
