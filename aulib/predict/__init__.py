"""AU intensities and locations on real faces: images, folders of images and videos (``aulib predict``).

For every frame: find the faces and their 68 landmarks (:func:`aulib.detect.create_detector`), align
each face exactly as the training data was aligned (:func:`aulib.method.align.alignment_matrix` with the run's
method, warped into the prepared crop size by :func:`aulib.method.align.warp_face`, then resized to the network's
input), run the network on batches of faces (:meth:`aulib.inference.model.AUModel.predict_crops`), read each AU's
intensity and its peak, and map the peak back into the original image through the inverse alignment.

The result has one row per frame and face:

- ``source``, ``frame`` (0-based index in the video; 0 for an image), ``timestamp`` (seconds; NaN for images),
  ``face`` (0 = largest; empty when there is none), ``status`` (``ok``, ``no_face`` or ``unreadable``);
- the detector's box ``x0, y0, x1, y1`` and ``score``;
- per AU: the intensity (``AU06``) and its peak in original image pixels (``AU06_x``, ``AU06_y``; pixel
  ``(i, j)`` has its centre at ``x = j, y = i``).

A frame without a face, or a file that cannot be decoded, gets one row with that status and NaNs: a
prediction never stops on bad input.

Tracking follows faces from frame to frame through videos (:mod:`aulib.predict.tracking`).

The package: :mod:`~aulib.predict.sources` (frames), :mod:`~aulib.predict.tracking` (faces),
:mod:`~aulib.predict.loop` (the batches through :class:`aulib.inference.model.AUModel`),
:mod:`~aulib.predict.outputs` (overlays, videos) and :mod:`~aulib.predict.explain` (one face, step by step).

Example:
    >>> from skimage import data
    >>> from aulib.models import create_model
    >>> table = predict(data.astronaut(), create_model("tiny"), progress=False)
    >>> table[["status", "face"]].values.tolist()
    [['ok', 0]]
    >>> x0, y0, x1, y1 = table.loc[0, ["x0", "y0", "x1", "y1"]]  # dlib's box of the astronaut's face
    >>> bool(x0 < 207 and 246 < x1 and y0 < 102 and 155 < y1)  # her pupils and lips, read off the photo by hand
    True
"""

from aulib.predict.loop import CPU_BATCH_SIZE, GPU_BATCH_SIZE, NO_FACE, OK, STATUSES, UNREADABLE, predict
from aulib.predict.outputs import overlay_heatmap
from aulib.predict.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, Frame, expand_inputs, iter_frames, read_image
from aulib.predict.tracking import FaceTracker

__all__ = [
    "CPU_BATCH_SIZE",
    "GPU_BATCH_SIZE",
    "IMAGE_EXTENSIONS",
    "NO_FACE",
    "OK",
    "STATUSES",
    "UNREADABLE",
    "VIDEO_EXTENSIONS",
    "FaceTracker",
    "Frame",
    "expand_inputs",
    "iter_frames",
    "overlay_heatmap",
    "predict",
    "read_image",
]
