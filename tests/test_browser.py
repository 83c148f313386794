"""A real browser drives notebook 02 in JupyterLab: run all, move the intensity slider, and the explorer re-renders
the SynthAU face with the new intensity, its target, and the reference model's map and readout of that face.

Headless Chromium (Debian's ``/usr/bin/chromium``; ``.ci/run`` installs it with apt) is driven by Playwright for
Python; no browser is ever downloaded. The JupyterLab server runs on 127.0.0.1 with a token, a temporary root
holding only the notebook, and temporary Jupyter/IPython/matplotlib folders, so nothing of the user's setup leaks
in. Screenshots land in ``test-artifacts/browser/`` (git-ignored). A missing or broken browser fails the test
with the reason: it is never skipped.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import matplotlib.image
import numpy as np
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02_heatmap_targets.ipynb"
REFERENCE_MODEL = ROOT / "models" / "reference" / "hourglass" / "seed0"
CHROMIUM = Path(os.environ.get("AULIB_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
EXPLORER_IMAGE = ".jp-OutputArea-output .widget-output img"
# The status bar can read "idle" before the kernel's connection is up; ask the notebook's session itself.
KERNEL_READY = """() => {
    const kernel = window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""
# Start the run without awaiting it: the test watches the page instead.
RUN_ALL = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


class Lab:
    """A running JupyterLab server: ``url``, ``token``, ``root``, ``process`` and its ``log`` file."""

    def __init__(self, url: str, token: str, root: Path, process: subprocess.Popen, log: Path) -> None:
        self.url, self.token, self.root, self.process, self.log = url, token, root, process, log

    def api(self, path: str) -> object:
        return get_json(f"{self.url}{path}?token={self.token}")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    """One server per module, in a temporary root that holds notebooks/02_heatmap_targets.ipynb and the reference
    Hourglass (models/reference/hourglass/seed0), nothing else: no data, so the faces are rendered live."""
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "root"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(NOTEBOOK, root / "notebooks" / NOTEBOOK.name)
    if (REFERENCE_MODEL / "best.pt").is_file():
        shutil.copytree(REFERENCE_MODEL, root / REFERENCE_MODEL.relative_to(ROOT))
    env = dict(os.environ)
    for name, folder in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                         ("JUPYTER_DATA_DIR", "data"), ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "matplotlib")):
        (base / folder).mkdir()
        env[name] = str(base / folder)
    env.pop("JUPYTER_PATH", None)
    token, port = secrets.token_hex(16), free_port()
    log = base / "server.log"
    # The server runs on this interpreter, so the `python3` kernelspec resolves to it (checked below).
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--IdentityProvider.token={token}",
               "--ServerApp.ip=127.0.0.1", f"--port={port}", "--port-retries=0", f"--ServerApp.root_dir={root}",
               "--expose-app-in-browser"]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=root)
    server = Lab(f"http://127.0.0.1:{port}", token, root, process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode}:\n{server.log_tail()}")
            try:
                server.api("/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer /api/status within 60 s:\n{server.log_tail()}")
                time.sleep(0.25)
        yield server
    finally:
        stop_server(process)


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM the server (it shuts its kernels down), then any kernel it left behind, by PID."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    for child in children:
        if child.is_running():
            child.terminate()
    psutil.wait_procs(children, timeout=5)


@pytest.fixture
def page(lab) -> Iterator[object]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's browser with `apt-get install -y chromium` "
                    "(.ci/run does this); never `playwright install`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # the dev extra installs it
        pytest.fail(f"Playwright for Python is not installed ({error}): pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        except Exception as error:
            pytest.fail(f"headless Chromium ({CHROMIUM}) did not start: {error}")
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            yield context.new_page()
        finally:
            browser.close()


def kernel_interpreters(lab: Lab) -> list[str]:
    """argv[0] of each kernel process the server started."""
    kernels = psutil.Process(lab.process.pid).children(recursive=True)
    return [p.cmdline()[0] for p in kernels if "ipykernel_launcher" in " ".join(p.cmdline())]


def decode_png(source: str) -> np.ndarray:
    """A ``data:image/png;base64,…`` image source as an RGB float array in [0, 1]."""
    return matplotlib.image.imread(io.BytesIO(base64.b64decode(source.split(",", 1)[1])), format="png")[..., :3]


def face_panel_change(before: str, after: str) -> float:
    """Share of the explorer figure's leftmost panel (the face) whose grey level moved by more than 10 of 255.

    The face is re-rendered deterministically, so pixels away from the moving features do not change at all;
    a mean over the whole panel would dilute a real smile below any sensible threshold.
    """
    first, second = decode_png(before), decode_png(after)
    assert first.shape == second.shape
    width = first.shape[1] // 4  # face | target | model map | readouts
    change = np.abs(first[:, :width] - second[:, :width]).max(axis=-1) * 255
    print(f"face panel: mean change {change.mean():.2f} grey levels, {np.mean(change > 10):.2%} of pixels > 10")
    return float(np.mean(change > 10))


def model_readout(status: str) -> float:
    """The reference model's readout in the explorer's status line."""
    match = re.search(r"model readout <b>([0-9.]+)</b>", status)
    assert match, f"no model readout in the status line: {status!r}"
    return float(match.group(1))


def test_moving_the_intensity_slider_redraws_the_heatmap(lab, page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    try:
        page.goto(f"{lab.url}/lab/tree/notebooks/{NOTEBOOK.name}?token={lab.token}")
        page.wait_for_selector(".jp-Notebook", timeout=60_000)
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=30_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
        page.wait_for_function(KERNEL_READY, timeout=60_000)
        page.evaluate(RUN_ALL)

        explorer = page.locator(".jp-Cell-outputArea").filter(has=page.locator(".widget-slider"))
        image = explorer.locator(".widget-output img")
        image.wait_for(state="visible", timeout=90_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        tracebacks = [t for t in errors.all_inner_texts() if "Error" in t]
        assert not tracebacks, f"the notebook raised: {tracebacks}"
        # The kernel is this venv's interpreter (the kernelspec's "python" resolves to the server's).
        assert kernel_interpreters(lab) == [sys.executable]
        explorer.scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "02_before.png", full_page=False)

        slider = explorer.locator(".widget-slider").filter(has_text="intensity")
        readout = slider.locator(".widget-readout")
        assert readout.inner_text().strip() == "3.00"
        before = image.get_attribute("src")
        assert before.startswith("data:image/png;base64,")

        status_before = explorer.locator(".widget-html").inner_html()
        slider.locator(".noUi-handle").focus()
        page.keyboard.press("ArrowRight")  # one step of 0.5
        page.wait_for_function("([selector, old]) => document.querySelector(selector)?.src !== old",
                               arg=[EXPLORER_IMAGE, before], timeout=30_000)
        after = image.get_attribute("src")
        assert readout.inner_text().strip() == "3.50"
        assert after != before and after.startswith("data:image/png;base64,")
        status_after = explorer.locator(".widget-html").inner_html()
        assert "target maximum <b>3.50</b>" in status_after
        # The face itself was re-rendered with the stronger smile: its panel (the figure's leftmost) changed, and
        # the reference model, which sees only the face, gives another readout.
        assert face_panel_change(before, after) > 0.002  # hundreds of pixels around the mouth and cheeks
        assert (REFERENCE_MODEL / "best.pt").is_file(), "models/reference holds no reference Hourglass"
        assert model_readout(status_before) != model_readout(status_after)

        # Typing into the value box works too: 5 is the top of the range.
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("5")
        page.keyboard.press("Enter")
        page.wait_for_function("([selector, old]) => document.querySelector(selector)?.src !== old",
                               arg=[EXPLORER_IMAGE, after], timeout=30_000)
        assert "target maximum <b>5.00</b>" in explorer.locator(".widget-html").inner_html()
        page.screenshot(path=ARTIFACTS / "02_after.png", full_page=False)
        explorer.screenshot(path=ARTIFACTS / "02_explorer.png")
    except BaseException:
        page.screenshot(path=ARTIFACTS / "02_failure.png", full_page=True)
        print(f"server log:\n{lab.log_tail()}")
        raise
    finally:
        print(f"browser test took {time.monotonic() - start:.1f} s; screenshots in {ARTIFACTS}")
    # The notebook saved its static figures in the temporary root's figures/ (it runs from notebooks/).
    assert (lab.root / "figures" / "02_explorer.png").is_file()
