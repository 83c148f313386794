"""aulib: Action Unit localisation and intensity estimation by heatmap regression, for teaching.

A reimplementation of Sanchez-Lozano, Tzimiropoulos and Valstar, "Joint Action Unit localisation and
intensity estimation through heatmap regression", BMVC 2018 (arXiv:1805.03487).

Modules:
    aus: the AU catalogue and where each AU shows on the face.
    align: landmark-based face alignment to 256×256 and back.
    heatmaps: heatmap targets from landmarks and intensities, and their readout.
    models: the Hourglass network and its presets.
    metrics: ICC(3,1), PCC and MAE per AU.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("aulib")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
