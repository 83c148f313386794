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
import time
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
PLAY_FPS = 15.0  # the most frames per second a played video sends (JupyterLab's message rate allows ~18)


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
        # the reader keeps a tracker and a frame clock: one frame at a time, whether from the browser or the player
        self._reading = threading.Lock()
        self.on_msg(self._on_message)

    def _on_message(self, _widget: Any, content: dict, buffers: list) -> None:
        kind = content.get("type")
        if kind == "start":  # a new camera stream: detect in full, restart the frame clock
            self._stop_video()
            with self._reading:
                self.live.reset()
        elif kind == "frame":
            self._stop_video()
            try:
                image = decode_jpeg(buffers[0])
            except (ValueError, IndexError) as error:
                self._fail(content.get("id"), str(error))  # answered with its id: the browser keeps sending
                return
            self._answer(image, content.get("id"))
        elif kind == "play":
            self.play()
        elif kind == "stop":
            self._stop_video()

    def _fail(self, frame_id: int | None, text: str) -> None:
        self.send({"type": "result", "id": frame_id, "intensities": None, "seconds": 0.0, "error": text})

    def _answer(self, image: np.ndarray, frame_id: int | None) -> None:
        try:
            with self._reading:
                reading = self.live.process(image)
            overlay = encode_jpeg(reading.overlay)
        except Exception as error:  # one bad frame must not stop the stream
            self._fail(frame_id, f"{type(error).__name__}: {error}")
            return
        intensities = None if reading.intensities is None else [round(float(v), 3) for v in reading.intensities]
        self.send({"type": "result", "id": frame_id, "intensities": intensities, "seconds": reading.seconds},
                  buffers=[overlay])

    def play(self, video: str | os.PathLike | None = None) -> None:
        """Play a video file through the same view, in a background thread (the kernel stays free), at the video's
        frame rate and never faster than :data:`PLAY_FPS` (JupyterLab delivers about 18 messages a second)."""
        path = Path(video) if video is not None else self.video
        if path is None or not path.is_file():
            self.send({"type": "done", "text": f"no video to play ({path}): pass video= to WebcamWidget"})
            return
        self._stop_video()
        self._playing.set()
        with self._reading:
            self.live.reset()

        def run() -> None:
            started, shown = time.perf_counter(), 0
            try:
                for frame in iter_frames(path):
                    if not self._playing.is_set():
                        return
                    if frame.image is None:
                        continue
                    fps = min(frame.fps, PLAY_FPS) if frame.fps > 0 else PLAY_FPS
                    time.sleep(max(0.0, started + shown / fps - time.perf_counter()))
                    self._answer(frame.image, None)
                    shown += 1
                self.send({"type": "done", "text": f"played {path.name}"})
            except Exception as error:
                self.send({"type": "done", "text": f"the video stopped: {type(error).__name__}: {error}"})
            finally:
                self._playing.clear()

        self._player = threading.Thread(target=run, name="aulib-webcam-video", daemon=True)
        self._player.start()

    def _stop_video(self) -> None:
        self._playing.clear()
        if self._player is not None and self._player is not threading.current_thread():
            self._player.join(timeout=5)
        self._player = None
