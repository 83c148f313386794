"""The course's tooling, above the library: what the notebooks and the command line use, and nothing below imports.

- :mod:`~aulib.course.figures`, :mod:`~aulib.course.photo_figures`, :mod:`~aulib.course.targets`: static figures;
- :mod:`~aulib.course.faces`, :mod:`~aulib.course.explorer`, :mod:`~aulib.course.widget`: the heatmap explorer
  (face sources, its pure views, the ipywidgets widget); :mod:`~aulib.course.overlay`: drawing on the frame;
- :mod:`~aulib.course.pipeline`: the notebooks run by papermill (``aulib run-notebooks``);
- :mod:`~aulib.course.reference`: the reference runs behind the figures (``make weights``).
"""
