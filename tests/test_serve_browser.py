"""``analyzer serve`` in a real browser: Debian's headless Chromium driven by Playwright.

The server is the real command (``analyzer serve`` on loopback, a free port).  The tests upload the
sample zip, wait for the report, read the verdict and the DN from the page, download the patch and
compare it with the CLI's, filter the case list, and save the README's screenshots into docs/
(``ANALYZER_UPDATE_SCREENSHOTS=1``, or when they are missing there).
They skip, saying why, only where Playwright or the system Chromium is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serve_support import REPO, WAIT, sample_zip

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (requirements-test.txt)"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)", allow_module_level=True
    )

DN = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"
DOCS = REPO / "docs"


def screenshot(page, name: str, tmp_path: Path) -> Path:
    """Save a README screenshot: into docs/ when it is missing there or ANALYZER_UPDATE_SCREENSHOTS=1,
    else into the test's temp folder (a normal test run must not leave every checkout modified)."""
    target = DOCS / name
    if target.exists() and os.environ.get("ANALYZER_UPDATE_SCREENSHOTS") != "1":
        target = tmp_path / name
    page.screenshot(path=str(target))
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return target


def _load_tool():
    spec = importlib.util.spec_from_file_location("serve_load", REPO / "benchmarks" / "serve_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve_load = _load_tool()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("serve") / "data"
    with serve_load.running_server(data, jobs=1) as base:
        yield base


@contextlib.contextmanager
def address_space_uncapped():
    """Chromium reserves far more address space than it uses; an in-process ``diagnose`` earlier in the
    run may have capped this process (analyzer.memcap), and the browser would inherit the cap and crash."""
    try:
        import resource
    except ImportError:  # Windows: no caps to lift
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.fixture(scope="module")
def browser():
    with address_space_uncapped(), playwright_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Exception as exc:  # pragma: no cover - depends on the machine
            pytest.skip(f"the system chromium does not start under Playwright: {exc}")
        yield b
        b.close()


def test_upload_report_patch_and_list_in_the_browser(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1200, "height": 760}, accept_downloads=True)
    page.set_default_timeout(WAIT * 1000)
    page.goto(server + "/")
    assert page.title().startswith("Upload a case")
    screenshot(page, "serve-upload.png", tmp_path)
    z = sample_zip(tmp_path)
    page.set_input_files("#files", str(z))
    page.click("button[type=submit]")
    page.wait_for_url("**/cases/*")
    page.wait_for_selector("#verdict")  # the page reloads itself until the report is there
    verdict = page.inner_text("#verdict")
    assert verdict.startswith("Add this DN to Logon Only As on EXCH01")
    assert page.inner_text("#dns li code") == DN
    case_url = page.url
    # the patch downloaded through the page equals the CLI's
    with page.expect_download() as info:
        page.click("#patch")
    downloaded = tmp_path / "downloaded.reg"
    info.value.save_as(downloaded)
    cli_patch = tmp_path / "cli.reg"
    subprocess.run(
        [sys.executable, "-m", "analyzer", "diagnose", str(z), "--reg-patch", str(cli_patch)],
        capture_output=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert downloaded.read_bytes() == cli_patch.read_bytes()
    # the full report (the CLI's HTML report) opens and shows the DN
    page.click("#report")
    assert DN in page.inner_text("body")
    screenshot(page, "serve-report.png", tmp_path)
    # a second, clean case; then the list, filtered
    page.goto(server + "/")
    page.set_input_files("#files", str(sample_zip(tmp_path, "harmless-1023")))
    page.click("button[type=submit]")
    page.wait_for_url("**/cases/*")
    page.wait_for_selector("#verdict")
    page.goto(server + "/cases")
    assert page.locator("#cases tbody tr").count() == 2
    screenshot(page, "serve-cases.png", tmp_path)
    page.fill("input[name=q]", "Internet Mail Connector")
    page.click(".filters button")
    page.wait_for_url("**/cases?q=*")
    rows = page.locator("#cases tbody tr")
    assert rows.count() == 1
    assert case_url.rsplit("/", 1)[1] in rows.first.inner_text()
    page.select_option("select[name=status]", "error")
    page.fill("input[name=q]", "")
    page.click(".filters button")
    page.wait_for_url("**status=error*")
    assert "No case matches" in page.inner_text("#cases")
    page.select_option("select[name=status]", "")
    page.select_option("select[name=server]", "EXCH01")  # the server of both cases, though each has one server
    page.click(".filters button")
    page.wait_for_url("**server=EXCH01*")
    assert page.locator("#cases tbody tr").count() == 2
    assert page.locator("#cases td.servers").all_inner_texts() == ["EXCH01", "EXCH01"]
    page.close()


def test_the_pages_work_without_javascript(server, browser, tmp_path):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(WAIT * 1000)
    page.goto(server + "/")
    page.set_input_files("#files", str(sample_zip(tmp_path)))
    page.click("button[type=submit]")  # a plain form post with its CSRF token, answered 303
    page.wait_for_url("**/cases/*")
    page.wait_for_selector("#verdict")  # reached by <meta http-equiv=refresh>, no script
    assert page.inner_text("#dns li code") == DN
    page.click("button.danger")  # delete, with the form's CSRF token
    page.wait_for_url("**/cases")
    context.close()


def test_verify_the_fix_in_the_browser(server, browser, tmp_path):
    """The AFTER upload on a case page is judged as ``analyzer verify`` judges it; the page shows its verdict,
    status and exit code (AFTER: fresh exports made by the project's writers, the IMS logged on after the fix)."""
    from tests.test_verify import FIXED_LIST, IMS_DN, after_case, logon_1009

    page = browser.new_page(viewport={"width": 1200, "height": 760})
    page.set_default_timeout(WAIT * 1000)
    page.goto(server + "/")
    page.set_input_files("#files", str(sample_zip(tmp_path)))
    page.click("button[type=submit]")
    page.wait_for_url("**/cases/*")
    page.wait_for_selector("#verdict")
    case_url = page.url
    after = after_case(tmp_path / "after", [logon_1009(IMS_DN, 60)], FIXED_LIST)
    page.set_input_files("#after-files", [str(p) for p in sorted(after.iterdir())])
    page.click("#verify-submit")
    page.wait_for_url(case_url)
    page.click("#verifications a")
    page.wait_for_selector("#verify-status")  # the verification page reloads itself until the result is there
    assert page.inner_text("#verify-status") == "fixed"
    assert page.inner_text("#verify-exit") == "0"
    assert page.inner_text("#verdict").startswith("Fixed: ")
    assert IMS_DN in page.inner_text("#verify-facts")
    page.close()
