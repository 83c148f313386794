"""aulib: Action Unit localisation and intensity estimation by heatmap regression, for teaching.

A reimplementation of Sanchez-Lozano, Tzimiropoulos and Valstar, "Joint Action Unit localisation and
intensity estimation through heatmap regression", BMVC 2018 (arXiv:1805.03487).

The packages, in the order of the course (each imports only those above it in the layers of
``tests/test_layers.py``):

    data: SynthAU, the BP4D and DISFA readers, the prepared format they all end in, and the London set of real faces.
    method: the AU catalogue, landmarks, alignment, heatmap targets and readout, metrics (pure functions).
    models: the Hourglass network, its baselines and presets.
    detect: face and landmark detectors (dlib, face-alignment, landmarks given with a data set).
    training: augmentation, the trainer and the paper's named runs.
    evaluation: ICC on held-out subjects, localisation, and the landmark-noise study.
    inference: AUModel, the one object that runs a trained network; checkpoint conversion.
    predict: ``aulib predict`` on images, folders and videos, one face step by step, the real-face benchmark and the
        live per-frame reader.
    course: the notebooks' figures, the explorer widget, the papermill pipeline, the reference runs.
    cli: the ``aulib`` command line.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("aulib")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
