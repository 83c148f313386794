"""The live webcam: the per-frame reader, the notebook widget's messages, ``aulib webcam`` in a real X window, and
notebook 06's live view in JupyterLab with Chromium's fake camera playing a real person's video.

The clip is a London person (the notebook's ``LIVE_FACE_ID``, from the benchmark's dev split): neutral frames, then
smiling frames. Nothing here is timed: the tests check what is shown, not how fast.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import av
import nbformat
import numpy as np
import pandas as pd
import pytest
from labtools import ARTIFACTS, ROOT, chromium_page, open_and_run_all, running_lab

from aulib.course.webcam import WebcamWidget, decode_jpeg, encode_jpeg
from aulib.data.london import london_clip
from aulib.predict import predict
from aulib.predict.live import LiveAU
from aulib.predict.outputs import au_colours, write_video

NOTEBOOK = ROOT / "notebooks" / "06_real_faces.ipynb"
REFERENCE_MODEL = ROOT / "models" / "reference" / "hourglass" / "seed0"
# the course's reference Hourglass, where notebook 06's parameters cell looks for it (REFERENCE_DIR)
COURSE_MODEL = ROOT / "models" / "reference-3d-dlib" / "hourglass" / "seed0"
FACE = "091"  # notebook 06's LIVE_FACE_ID
AU12 = 2  # AU12's channel among BP4D's five


@pytest.fixture(scope="module")
def live() -> LiveAU:
    return LiveAU(REFERENCE_MODEL)  # the fast path: int8 and tracking


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return london_clip(FACE, frames_each=12)


def test_live_reading_follows_the_smile_and_agrees_with_predict(live, clip):
    table = live.run(clip, fps=30)
    assert (table.status == "ok").all() and len(table) == len(clip)
    neutral, smiling = table.AU12.iloc[:12], table.AU12.iloc[12:]
    assert smiling.min() > neutral.max() + 1.0, (neutral.tolist(), smiling.tolist())
    # the fast path against the exact one (fp32, full detection in every frame) on the first frame of each half
    exact = predict([clip[0], clip[12]], REFERENCE_MODEL, precision="fp32", progress=False)
    np.testing.assert_allclose(table.loc[[0, 12], ["AU06", "AU10", "AU12", "AU14", "AU17"]].to_numpy(float),
                               exact[["AU06", "AU10", "AU12", "AU14", "AU17"]].to_numpy(float), atol=0.15)


def test_overlay_tints_only_where_the_maps_are(live, clip):
    reading = live.process(clip[-1])
    changed = np.abs(reading.overlay.astype(int) - clip[-1].astype(int)).max(axis=-1) > 0
    x0, y0, x1, y1 = reading.box
    assert changed.any()
    ys, xs = np.nonzero(changed)
    # every tinted pixel lies near the face: within a face width of its box (the aligned crop's extent)
    side = x1 - x0
    assert xs.min() >= x0 - side and xs.max() <= x1 + side and ys.min() >= y0 - side and ys.max() <= y1 + side


def test_video_writer_makes_a_y4m_chromium_can_play(tmp_path, clip):
    path = write_video(tmp_path / "clip.y4m", clip[:4], fps=30)
    raw = path.read_bytes()
    header = raw[: raw.index(b"\n")].decode()
    # the YUV4MPEG2 format Chromium's fake camera reads: 4:2:0, frames introduced by "FRAME\n"
    assert header.startswith("YUV4MPEG2 W320 H240 F30:1") and " C420" in header
    assert raw.count(b"FRAME\n") == 4
    assert len(raw) == len(header) + 1 + 4 * (len(b"FRAME\n") + 320 * 240 * 3 // 2)
    with av.open(str(path)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(first.astype(int) - clip[0].astype(int)).mean() < 3  # 4:2:0 chroma subsampling only
    with pytest.raises(ValueError, match="even sides"):
        write_video(tmp_path / "odd.y4m", [np.zeros((3, 4, 3), np.uint8)])


def test_widget_answers_a_browser_frame_with_readings_and_the_overlay(live, clip, monkeypatch):
    widget = WebcamWidget(live)
    assert widget.labels == ["AU06", "AU10", "AU12", "AU14", "AU17"]
    assert widget.colours == au_colours(5).tolist()
    sent = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append((content, buffers)))
    frame = encode_jpeg(clip[-1], quality=90)
    widget._on_message(widget, {"type": "frame", "id": 1, "width": 320, "height": 240}, [frame])
    content, buffers = sent[-1]
    assert content["type"] == "result" and content["id"] == 1 and len(content["intensities"]) == 5
    assert content["intensities"][AU12] > 2.0  # the smiling frame
    overlay = decode_jpeg(buffers[0])
    assert overlay.shape == clip[-1].shape
    # a bad frame is answered with its id (the browser keeps streaming) and the error, not with silence
    widget._on_message(widget, {"type": "frame", "id": 2}, [b"not a jpeg"])
    assert sent[-1][0] == {"type": "result", "id": 2, "intensities": None, "seconds": 0.0,
                           "error": "the browser sent 10 bytes that are not a JPEG image"}


def test_widget_plays_a_video_when_there_is_no_camera(live, clip, tmp_path, monkeypatch):
    video = write_video(tmp_path / "clip.mp4", clip, fps=30)
    widget = WebcamWidget(live, video=video)
    sent = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append(content))
    widget._on_message(widget, {"type": "play"}, [])
    widget._player.join(timeout=60)
    results = [c for c in sent if c["type"] == "result"]
    assert len(results) == len(clip) and sent[-1] == {"type": "done", "text": "played clip.mp4"}
    assert all(c["id"] is None and "error" not in c for c in results)  # the kernel's own frames, all read
    assert results[-1]["intensities"][AU12] > results[0]["intensities"][AU12] + 1.0


def watch_aulib_webcam(video: Path, record: Path) -> tuple[subprocess.CompletedProcess, list[int], bool]:
    """Run ``aulib webcam`` on ``video`` in a fresh Xvfb and grab the screen every 0.2 s while it runs.

    Returns the finished program (its exit code and output), the AU12 bar's length in pixels on every grab that
    showed the bar, and whether any grab showed anything at all (the X server's root window is black).
    """
    from PIL import ImageGrab

    # Xvfb picks a free display itself and writes its number to the pipe once it accepts clients
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write_end,))
    os.close(write_end)
    green = au_colours(5)[AU12].astype(int)  # the AU12 bar's colour in the side panel
    bar_lengths, drawn = [], False
    try:
        with os.fdopen(read_end) as pipe:
            display = f":{pipe.readline().strip()}"
        assert display != ":", "Xvfb did not start"
        ImageGrab.grab(xdisplay=display)  # a client connects before the program is started
        command = [sys.executable, "-m", "aulib", "webcam", "--model", str(REFERENCE_MODEL), "--source", str(video),
                   "--record", str(record)]
        program = subprocess.Popen(command, env={**os.environ, "DISPLAY": display}, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        while program.poll() is None:
            screen = np.asarray(ImageGrab.grab(xdisplay=display)).astype(int)
            drawn |= bool(screen.any())
            bar = np.all(np.abs(screen - green) < 10, axis=-1)
            if bar.any():
                bar_lengths.append(int(bar.sum(axis=1).max()))  # the bar's longest row: its length in pixels
            time.sleep(0.2)
        finished = subprocess.CompletedProcess(command, program.returncode, program.stdout.read())
    finally:
        server.terminate()
        server.wait(timeout=10)
    return finished, bar_lengths, drawn


def test_aulib_webcam_shows_the_maps_and_bars_in_an_x_window(tmp_path):
    """``aulib webcam`` on a video, in a real X server (Xvfb): the window shows the frame and the bars, and the AU12
    bar grows when the face smiles; the recorded readings say the same."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is missing: install Debian's xvfb (`apt-get install -y xvfb`; .ci/run does this)")
    video = write_video(tmp_path / "clip.mp4", london_clip(FACE, frames_each=60), fps=30)
    record = tmp_path / "readings.csv"
    for _attempt in range(3):
        program, bar_lengths, drawn = watch_aulib_webcam(video, record)
        # OpenCV's bundled Qt sometimes never paints a new window (opencv/opencv-python#362: a window that stays
        # black). Here that showed as a screen black from start to end while every frame was read: in 3 of the
        # first 12 runs of one session, when each run took about 1.5 times as long, and in none of the next 50 (some
        # beside a training job). Only that case runs the program again, up to three times in all (at a rate of 3
        # in 12, all three black about 1.6% of the time): a window that never shows, a failing program, or a screen
        # that shows anything without the bars, still fails.
        if drawn or program.returncode != 0:
            break
    assert program.returncode == 0, program.stdout
    assert len(bar_lengths) >= 2, f"the window was never seen with its bars (screen drawn: {drawn}): {program.stdout}"
    assert max(bar_lengths) > min(bar_lengths) + 20, bar_lengths  # AU12's bar grew by 20 pixels or more
    readings = pd.read_csv(record)
    assert len(readings) == 120 and readings.face.all()
    assert readings.AU12.iloc[60:].mean() > readings.AU12.iloc[:60].mean() + 1.0


def live_notebook(path: Path) -> nbformat.NotebookNode:
    """Notebook 06's parameters and its cells tagged ``live`` (imports, the webcam): the live view alone."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells = [c for c in notebook.cells if {"parameters", "live"} & set(c.metadata.get("tags", []))]
    nbformat.write(notebook, path)
    return notebook


@pytest.mark.browser
def test_notebook_live_view_reads_a_fake_camera_in_jupyterlab(tmp_path):
    """JupyterLab serves notebook 06's live view; Chromium's fake camera plays a London person (two seconds neutral,
    two seconds smiling, looping); the page shows the face overlay and AU12's bar rises when the face smiles."""
    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    notebook = live_notebook(root / "notebooks" / NOTEBOOK.name)
    assert any("WebcamWidget" in c.source for c in notebook.cells)
    shutil.copytree(COURSE_MODEL, root / COURSE_MODEL.relative_to(ROOT), ignore=shutil.ignore_patterns("*.onnx"))
    camera = write_video(tmp_path / "camera.y4m", london_clip(FACE, frames_each=60), fps=30)
    flags = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             f"--use-file-for-fake-video-capture={camera}"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_lab(tmp_path, root) as lab, chromium_page(flags) as page:
        try:
            open_and_run_all(lab, page, f"notebooks/{NOTEBOOK.name}")
            view = page.locator(".aulib-webcam")
            view.wait_for(state="visible", timeout=180_000)
            view.locator(".aulib-webcam-start").click()
            readings, deadline = [], time.monotonic() + 120
            while time.monotonic() < deadline:  # a deadline against a hang, not a timing assertion
                value = page.evaluate("() => document.querySelector('.aulib-webcam-bar[data-au=\"AU12\"]')"
                                      "?.dataset.value ?? ''")
                if value:
                    readings.append(float(value))
                if readings and min(readings) < 1.0 and readings.index(min(readings)) < len(readings) - 1 \
                        and max(readings[readings.index(min(readings)):]) > 2.0:
                    break
                time.sleep(0.1)
            view.screenshot(path=ARTIFACTS / "06_webcam.png")
            assert view.get_attribute("data-face") == "yes", "the view found no face"
            source = view.locator(".aulib-webcam-overlay").get_attribute("src")
            assert source and source.startswith("blob:"), "no overlay image was shown"
            assert readings, "the AU12 bar never showed a value"
            low = readings.index(min(readings))
            assert min(readings) < 1.0 and max(readings[low:]) > 2.0, f"AU12 did not rise: {readings}"
        except BaseException:
            page.screenshot(path=ARTIFACTS / "06_webcam_failure.png", full_page=True)
            print(f"server log:\n{lab.log_tail()}")
            raise


def test_jpeg_helpers_round_trip_colour():
    image = np.zeros((16, 16, 3), np.uint8)
    image[..., 0] = 200  # red in RGB
    decoded = decode_jpeg(encode_jpeg(image, quality=95))
    assert np.abs(decoded.astype(int) - image).max() <= 2  # RGB stays RGB (OpenCV works in BGR)
    with pytest.raises(ValueError, match="not a JPEG"):
        decode_jpeg(b"abc")


def test_read_ahead_raises_the_decoders_error_and_retries_a_warming_camera():
    from aulib.cli.live import read_ahead

    class Capture:
        def __init__(self, answers):
            self.answers = list(answers)

        def read(self):
            answer = self.answers.pop(0) if self.answers else (False, None)
            if isinstance(answer, Exception):
                raise answer
            return answer

    frame = np.zeros((4, 4, 3), np.uint8)
    frame[..., 0] = 9  # blue in OpenCV's BGR order
    # a camera whose first two reads are empty still gives its frame (in RGB)
    frames = list(read_ahead(Capture([(False, None), (False, None), (True, frame)]), latest_only=True))
    assert len(frames) == 1 and frames[0][0, 0].tolist() == [0, 0, 9]
    # a file ends at its first empty read; a failing decoder is raised to the reader, not swallowed
    assert list(read_ahead(Capture([(True, frame), (False, None), (True, frame)]), latest_only=False)) != []
    with pytest.raises(RuntimeError, match="broken decoder"):
        list(read_ahead(Capture([(True, frame), RuntimeError("broken decoder")]), latest_only=False))
