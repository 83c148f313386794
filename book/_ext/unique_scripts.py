"""Sphinx extension of the course book: each script tag once per page.

sphinx-thebe 0.3 registers its configuration script on every ``env-before-read-docs``, which Jupyter Book 1 fires
twice (the copies differ only in a filename of None or ""), so each page declared ``const THEBE_JS_URL`` twice and
the browser stopped that script with a SyntaxError.
"""

from __future__ import annotations

from typing import Any


def _unique_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts, seen = context.get("script_files"), set()
    if not scripts:
        return
    unique = []
    for script in scripts:
        # the same inline script comes once with filename None and once with "" (Sphinx's and the theme's copies)
        key = (getattr(script, "filename", str(script)) or "", repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app: Any) -> dict:
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
