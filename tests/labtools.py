"""A real JupyterLab in headless Chromium, for the browser tests (imported as ``from labtools import ...``).

The server runs on 127.0.0.1 with a token, a temporary root holding only what a test copies there, and temporary
Jupyter/IPython/matplotlib folders, so nothing of the user's setup leaks in. Chromium is Debian's
``/usr/bin/chromium`` (``.ci/run`` installs it with apt), driven by Playwright for Python; no browser is ever
downloaded. A missing or broken browser fails the test with the reason: it is never skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("AULIB_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
# The notebook at `path`, found among the open panels: JupyterLab's saved workspace reopens the panels of earlier tests
# on the same server, and one of them can become the current widget after the page has opened this notebook.
FIND_NOTEBOOK = """(path) => {
    const app = window.jupyterapp;
    for (const widget of app.shell.widgets('main')) {
        if (widget.context?.path === path && widget.sessionContext) return widget;
    }
    return undefined;
}"""
# The status bar can read "idle" before the kernel's connection is up; ask the notebook's session itself.
KERNEL_READY = f"""(path) => {{
    const widget = ({FIND_NOTEBOOK})(path);
    const kernel = widget?.sessionContext?.session?.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}}"""
# Bring that notebook to the front, then start the run without awaiting it: the test watches the page instead.
RUN_ALL = f"""(path) => {{
    const app = window.jupyterapp;
    const widget = ({FIND_NOTEBOOK})(path);
    app.shell.activateById(widget.id);
    if (app.shell.currentWidget !== widget) throw new Error(`could not bring ${{path}} to the front`);
    app.commands.execute('notebook:run-all-cells');
}}"""


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

    def notebook_url(self, relative: str) -> str:
        return f"{self.url}/lab/tree/{relative}?token={self.token}"

    def kernel_interpreters(self) -> list[str]:
        """argv[0] of each kernel process the server started."""
        kernels = psutil.Process(self.process.pid).children(recursive=True)
        return [p.cmdline()[0] for p in kernels if "ipykernel_launcher" in " ".join(p.cmdline())]


@contextlib.contextmanager
def running_lab(base: Path, root: Path) -> Iterator[Lab]:
    """A JupyterLab server on ``root`` (the folder a test filled), its private folders under ``base``."""
    env = dict(os.environ)
    for name, folder in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                         ("JUPYTER_DATA_DIR", "data"), ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "matplotlib")):
        (base / folder).mkdir(exist_ok=True)
        env[name] = str(base / folder)
    env.pop("JUPYTER_PATH", None)
    token, port = secrets.token_hex(16), free_port()
    log = base / "server.log"
    # The server runs on this interpreter, so the `python3` kernelspec resolves to it.
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


@contextlib.contextmanager
def chromium_page(extra_flags: Sequence[str] = (), viewport: dict | None = None) -> Iterator[object]:
    """A page of a fresh headless Chromium (Debian's), closed afterwards."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's browser with `apt-get install -y chromium` "
                    "(.ci/run does this); never `playwright install`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # the dev extra installs it
        pytest.fail(f"Playwright for Python is not installed ({error}): pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                 args=[*CHROMIUM_FLAGS, *extra_flags])
        except Exception as error:
            pytest.fail(f"headless Chromium ({CHROMIUM}) did not start: {error}")
        try:
            context = browser.new_context(viewport=viewport or {"width": 1400, "height": 1000})
            yield context.new_page()
        finally:
            browser.close()


def open_and_run_all(lab: Lab, page: object, relative: str) -> None:
    """Open a notebook in JupyterLab, wait for its kernel, and start "run all" (without waiting for it)."""
    page.goto(lab.notebook_url(relative))
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=30_000)
    # the open notebook's indicator: another notebook's panel, restored by the workspace, may hold a hidden one first
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'] >> visible=true", timeout=60_000)
    page.wait_for_function(KERNEL_READY, arg=relative, timeout=60_000)
    page.evaluate(RUN_ALL, relative)
