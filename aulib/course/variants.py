"""SynthAU's variants and their folders: which renderer drew the faces and whose landmarks aligned them.

The course's default is SynthAU-3D aligned with dlib's landmarks; ``RENDERER=2d`` runs it on SynthAU v2's drawn faces
and ``DETECTOR=given`` on SynthAU-3D aligned with the simulated tracker's landmarks (:mod:`aulib.course.pipeline`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# SynthAU's variants, (RENDERER, landmarks the set is aligned with). The course's default, whose folders the params
# files and the notebooks' parameters cells name, is SynthAU-3D aligned with dlib's landmarks, as a course on BP4D
# is aligned with a real tracker's. The others are SynthAU-3D on the simulated tracker's landmarks and SynthAU v2's
# drawn faces (`--set RENDERER=2d`); each keeps its data, runs, figures and committed reference runs apart.
DEFAULT_SYNTHAU = ("3d", "dlib")
SYNTHAU_REFERENCE = {("3d", "dlib"): "../models/reference-3d-dlib", ("3d", "given"): "../models/reference-3d",
                     ("2d", "given"): "../models/reference"}


def synthau_variant(common: Mapping[str, Any], overrides: Mapping[str, Any]) -> tuple[str, str]:
    """SynthAU's ``(renderer, landmarks)`` for a course: ``("3d", "dlib")`` by default, ``("3d", "given")`` with
    ``DETECTOR=given`` (the simulated tracker), ``("2d", "given")`` with ``RENDERER=2d``.

    ``RENDERER=2d`` alone also means the simulated tracker: the params file's ``DETECTOR`` belongs to its own
    renderer, and dlib was never measured on v2's drawn faces.

    Raises:
        ValueError: a detector set beside ``RENDERER=2d``, or an unknown renderer.

    Example:
        >>> synthau_variant({"RENDERER": "3d", "DETECTOR": "dlib"}, {"RENDERER": "2d"})
        ('2d', 'given')
    """
    from aulib.data.frames import GIVEN

    renderer = str(overrides.get("RENDERER", common.get("RENDERER", "2d")))
    if renderer not in ("2d", "3d"):
        raise ValueError(f"RENDERER={renderer!r}: use '3d' (SynthAU-3D, the default) or '2d' (SynthAU v2)")
    if "DETECTOR" in overrides:
        detector = overrides["DETECTOR"]
    else:
        detector = common.get("DETECTOR") if renderer == str(common.get("RENDERER", "2d")) else None
    detector = GIVEN if detector in (None, GIVEN) else str(detector)
    if renderer == "2d" and detector != GIVEN:
        raise ValueError(f"DETECTOR={detector!r} on SynthAU needs RENDERER=3d: the reference runs on a real "
                         "tracker's landmarks are SynthAU-3D's (models/reference-3d-dlib); leave DETECTOR out for "
                         "SynthAU v2, whose prepared set uses the simulated tracker")
    return renderer, detector


def synthau_variant_name(renderer: str, detector: str) -> str:
    """The suffix of a SynthAU variant's runs, figures and executed copies: ``""`` for the course's default.

    Example:
        >>> [synthau_variant_name(*v) for v in (("3d", "dlib"), ("3d", "given"), ("2d", "given"))]
        ['', 'synthau3d', 'synthau2d']
    """
    if (renderer, detector) == DEFAULT_SYNTHAU:
        return ""
    return f"synthau{renderer}" + ("" if detector == "given" else f"-{detector}")


def synthau_folders(folders: Mapping[str, Any], renderer: str, detector: str) -> dict[str, Any]:
    """A SynthAU variant's folders, from the default variant's ``folders`` (a params file's, or a student release's).

    The rendered frames are named by renderer (``synthau3d``, ``synthau``) and shared by both landmarks; the prepared
    set by renderer and landmarks (``-dlib``); runs and figures by :func:`synthau_variant_name`; the reference runs
    by :data:`SYNTHAU_REFERENCE`, their controls and training-set-size regime beside them (a folder that does not
    exist shows nothing). ``DETECTOR`` is the variant's (``None`` for the simulated tracker).

    Example:
        >>> folders = {"DATA_DIR": "../data/synthau3d-full", "PREPARED_DIR": "../data/synthau3d-full-prepared-dlib",
        ...            "RUN_DIR": "../runs/full", "FIG_DIR": "../figures/full"}
        >>> moved = synthau_folders(folders, "2d", "given")
        >>> moved["DATA_DIR"], moved["PREPARED_DIR"], moved["RUN_DIR"], moved["FIG_DIR"]
        ('../data/synthau-full', '../data/synthau-full-prepared', '../runs/full-synthau2d', '../figures/full/synthau2d')
    """
    from aulib.data.frames import GIVEN

    name = synthau_variant_name(renderer, detector)
    drawn = "synthau3d" if renderer == "3d" else "synthau"
    landmarks = "" if detector == GIVEN else f"-{detector}"
    moved: dict[str, Any] = {}
    if "DATA_DIR" in folders:
        moved["DATA_DIR"] = str(folders["DATA_DIR"]).replace("synthau3d", drawn, 1)
    if "PREPARED_DIR" in folders:
        prepared = str(folders["PREPARED_DIR"]).removesuffix(f"-{DEFAULT_SYNTHAU[1]}")
        moved["PREPARED_DIR"] = prepared.replace("synthau3d", drawn, 1) + landmarks
    if "RUN_DIR" in folders:
        moved["RUN_DIR"] = f"{folders['RUN_DIR']}-{name}" if name else str(folders["RUN_DIR"])
    if "FIG_DIR" in folders:
        moved["FIG_DIR"] = f"{folders['FIG_DIR']}/{name}" if name else str(folders["FIG_DIR"])
    reference = SYNTHAU_REFERENCE.get((renderer, detector), f"../models/reference-3d{landmarks}")
    return {**moved, "REFERENCE_DIR": reference, "CONTROLS_DIR": f"{reference}-controls",
            "DATA_SIZE_DIR": f"{reference}-data-size", "DETECTOR": None if detector == GIVEN else detector}
