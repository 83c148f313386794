"""A live webcam in the notebook: the student's browser camera streams frames to the kernel, which reads the AUs.

:class:`WebcamWidget` is an `anywidget <https://anywidget.dev>`_ (it works in JupyterLab 4, Notebook 7 and VS
Code). Its browser side (``webcam.js``) reads the camera with ``getUserMedia``, sends JPEG frames to the kernel,
and draws what comes back: the frame with each AU's heatmap in its colour, one bar per AU, the frames per second
and the latency from camera to bars. The kernel side runs :class:`aulib.predict.live.LiveAU` (the fast path by
default) on each frame.

- **Privacy.** Frames are processed in memory, in the browser and in the kernel, and never stored. On a remote
  JupyterHub they travel to the server: a London pair (:func:`aulib.data.london.london_clip`) is offered instead
  of the student's own face.
- **Without a camera** (none attached, permission refused, or a page that is not a secure context: browsers allow
  cameras only on ``localhost`` or over https), the same view plays a video file in the kernel.
- **Without a browser** (papermill, nbconvert), nothing is shown live; notebook 06 runs the same per-frame code on
  a clip with :meth:`LiveAU.run` instead.

Example:
    >>> from aulib.models import create_model
    >>> from aulib.predict.live import LiveAU
    >>> widget = WebcamWidget(LiveAU(create_model("tiny"), precision="fp32"))
    >>> widget.labels
    ['AU06', 'AU10', 'AU12', 'AU14', 'AU17']
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import anywidget
import cv2
import numpy as np
import traitlets

from aulib.predict.live import LiveAU
from aulib.predict.sources import iter_frames

HERE = Path(__file__).resolve().parent
JPEG_QUALITY = 80


def decode_jpeg(data: bytes | memoryview) -> np.ndarray:
    """A JPEG from the browser as ``H×W×3`` uint8 RGB.

    Raises:
        ValueError: when the bytes are not an image.
    """
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"the browser sent {len(data)} bytes that are not a JPEG image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """``H×W×3`` uint8 RGB as JPEG bytes."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"could not encode a {image.shape} frame as JPEG")
    return data.tobytes()


class WebcamWidget(anywidget.AnyWidget):
    """The live view (module docstring).

    Args:
        live: the per-frame reader (:class:`aulib.predict.live.LiveAU`).
        video: a video file the view plays when there is no camera (``None``: the button says so).
        width, height: the size of the camera frames the browser sends.
        autostart: ask for the camera as soon as the view appears (tests; students press the button).
    """

    _esm = HERE / "webcam.js"
    _css = HERE / "webcam.css"
    labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    colours = traitlets.List().tag(sync=True)
    width = traitlets.Int(320).tag(sync=True)
    height = traitlets.Int(240).tag(sync=True)
    autostart = traitlets.Bool(False).tag(sync=True)

    def __init__(self, live: LiveAU, *, video: str | os.PathLike | None = None, width: int = 320, height: int = 240,
                 autostart: bool = False, **kwargs: Any) -> None:
        super().__init__(labels=list(live.labels), colours=live.colours.tolist(), width=width, height=height,
                         autostart=autostart, **kwargs)
        self.live = live
        self.video = Path(video) if video is not None else None
        self._playing = threading.Event()
        self._player: threading.Thread | None = None
        self.on_msg(self._on_message)

    def _on_message(self, _widget: Any, content: dict, buffers: list) -> None:
        kind = content.get("type")
        if kind == "frame":
            self._stop_video()
            try:
                image = decode_jpeg(buffers[0])
            except (ValueError, IndexError) as error:
                self.send({"type": "done", "text": str(error)})
                return
            if content.get("id") == 1:
                self.live.reset()  # a new camera stream: detect in full
            self._answer(image, content.get("id"))
        elif kind == "play":
            self.play()
        elif kind == "stop":
            self._stop_video()

    def _answer(self, image: np.ndarray, frame_id: int | None) -> None:
        reading = self.live.process(image)
        intensities = None if reading.intensities is None else [round(float(v), 3) for v in reading.intensities]
        self.send({"type": "result", "id": frame_id, "intensities": intensities, "seconds": reading.seconds},
                  buffers=[encode_jpeg(reading.overlay)])

    def play(self, video: str | os.PathLike | None = None) -> None:
        """Play a video file through the same view, in a background thread (the kernel stays free)."""
        path = Path(video) if video is not None else self.video
        if path is None or not path.is_file():
            self.send({"type": "done", "text": f"no video to play ({path}): pass video= to WebcamWidget"})
            return
        self._stop_video()
        self._playing.set()
        self.live.reset()

        def run() -> None:
            for frame in iter_frames(path):
                if not self._playing.is_set():
                    return
                if frame.image is not None:
                    self._answer(frame.image, None)
            self._playing.clear()
            self.send({"type": "done", "text": f"played {path.name}"})

        self._player = threading.Thread(target=run, name="aulib-webcam-video", daemon=True)
        self._player.start()

    def _stop_video(self) -> None:
        self._playing.clear()
        if self._player is not None and self._player is not threading.current_thread():
            self._player.join(timeout=5)
        self._player = None
