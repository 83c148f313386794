"""The course as two books: built offline from the executed notebooks, every page loads in a real browser, every
figure is a real image, every internal link resolves; the students' book, built from the student release run end to
end, shows no line of any solution or model answer and no instructor guide.

The book is built from the small course run of the notebook tests (tests/conftest.py), with Jupyter Book 1, and opened
from disk in Debian's headless Chromium through Playwright, as tests/test_browser.py does; screenshots go to
``test-artifacts/book/``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from labtools import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS

from aulib.course.book import TOCS, build, solution_leaks, toc_files

pytestmark = pytest.mark.browser
BOOK_ARTIFACTS = ARTIFACTS.parent / "book"


@pytest.fixture(scope="module")
def book(pipeline_run, tmp_path_factory) -> Path:
    root, _ = pipeline_run
    return build(executed=root / "executed", out=tmp_path_factory.mktemp("book"), figures=root / "figures")


def check_pages(book: Path, toc: Path, label: str) -> int:
    """Open every page of a built book in Chromium; returns how many images the pages hold."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's browser with `apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    BOOK_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # index.html is only a redirect to the root page; open every page itself
    pages = [book / f"{page}.html" for page in toc_files(toc)]
    assert (book / "index.html").is_file()
    assert all(p.is_file() for p in pages), [str(p) for p in pages if not p.is_file()]
    seen_links, images = set(), 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            for path in pages:
                response = page.goto(path.as_uri(), wait_until="load")
                assert response is None or response.ok, f"{path.name} did not load"
                assert page.locator("main, article, .bd-article").count() > 0, f"{path.name} has no content"
                page.screenshot(path=BOOK_ARTIFACTS / f"{label}-{path.stem}.png", full_page=False)
                # every image has decoded pixels (a broken one has naturalWidth 0)
                broken = page.evaluate("""() => [...document.images]
                    .filter(img => !img.complete || img.naturalWidth === 0).map(img => img.src)""")
                assert not broken, f"{path.name}: broken images {broken}"
                images += page.evaluate("() => document.images.length")
                for href in page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)"):
                    parsed = urlparse(href)
                    if parsed.scheme == "file":
                        seen_links.add(Path(unquote(parsed.path)))
            assert not errors, f"JavaScript errors: {errors}"
        finally:
            browser.close()
    missing = sorted(str(p) for p in seen_links if not p.exists())
    assert not missing, f"internal links to missing files: {missing}"
    return images


def test_every_page_loads_with_real_images_and_working_links(book):
    images = check_pages(book, TOCS["instructor"], "instructor")
    # the notebooks' figures (PNG outputs) made it into the pages
    assert images >= 16, f"only {images} images in the book"
    # The instructor's book shows the solutions and the guide: the leak detector the student book relies on finds
    # them (a detector that finds nothing here would prove nothing there).
    leaks = solution_leaks(book)
    assert any(page == "INSTRUCTOR.html" for page, _ in leaks)
    assert any(page.startswith("02_") and "256 / map_size" in line for page, line in leaks)


def test_the_student_book_shows_no_solution_and_no_instructor_guide(student_run, tmp_path):
    root, _ = student_run
    book = build(executed=root / "executed", out=tmp_path / "student-book", figures=root / "figures",
                 edition="student")  # build() itself refuses a book with a leak; check it independently too
    assert solution_leaks(book) == []
    assert not list(book.rglob("INSTRUCTOR*.html"))
    assert (book / "notebooks" / "COURSE.html").is_file()
    images = check_pages(book, TOCS["student"], "student")
    assert images >= 16, f"only {images} images in the student book"
