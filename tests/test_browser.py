"""The HTML report in a real browser: headless Chromium renders it, the verdict and the timeline are visible.

The screenshot is kept in docs/ for the README (``report-timeline.png``).  Skipped with a reason where
Chromium is not installed (``.ci/run`` installs Debian's package).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from analyzer.cli import main
from tests.conftest import REPO

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)
SAMPLE = REPO / "samples" / "w2k-two-controlsets"  # refusals after the list was last written: LOA-TIMING
SHOT = REPO / "docs" / "report-timeline.png"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


def _uncapped() -> None:
    """In the child: lift the address-space cap an in-process ``diagnose`` (memcap) may have set on this
    test process -- Chromium reserves far more address space than it uses and would not start under it."""
    try:
        import resource
    except ImportError:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp / 'profile'}"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=240, check=False, preexec_fn=_uncapped
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    page = tmp_path_factory.mktemp("browser") / "report.html"
    assert main(["diagnose", str(SAMPLE), "-o", str(page)]) == 1
    return page


def test_chromium_renders_the_verdict_and_the_timeline(report: Path, tmp_path: Path) -> None:
    done = _chromium("--dump-dom", report.as_uri(), tmp=tmp_path)
    dom = done.stdout
    assert dom, done.stderr[-800:]
    assert '<p class="verdict action">Add this DN to Logon Only As on EXCH01' in dom
    assert '<svg class="timeline"' in dom and 'class="loa-write"' in dom and dom.count("<circle") >= 3


def test_copy_buttons_come_from_the_script_the_csp_allows(report: Path, tmp_path: Path) -> None:
    """Chromium runs the page's script (its hash is in the CSP): one Copy button after each DN; the same
    page with one character of the script changed gets none (the CSP is enforced, not decorative)."""
    dom = _chromium("--dump-dom", report.as_uri(), tmp=tmp_path).stdout
    dns = re.findall(r'<code class="dn">[^<]*</code><button type="button" class="copy"[^>]*>Copy</button>', dom)
    assert len(dns) == 2 == dom.count('<code class="dn">'), dom[-2000:]
    page = report.read_text(encoding="utf-8")
    tampered = tmp_path / "tampered.html"
    tampered.write_text(page.replace('b.textContent="Copy"', 'b.textContent="Kopie"', 1), encoding="utf-8")
    assert tampered.read_text(encoding="utf-8") != page
    dom = _chromium("--dump-dom", tampered.as_uri(), tmp=tmp_path).stdout
    assert '<code class="dn">' in dom and "<button" not in dom


def test_screenshot_shows_the_timeline(report: Path, tmp_path: Path) -> None:
    image = pytest.importorskip("matplotlib.image")
    shot = tmp_path / "shot.png"
    done = _chromium(
        f"--screenshot={shot}", "--window-size=1000,1100", "--hide-scrollbars", report.as_uri(), tmp=tmp_path
    )
    assert shot.exists(), done.stderr[-500:]
    pixels = image.imread(str(shot))[:, :, :3]
    # the refusal dots (#b00020) and the dashed line of the last write (#6a1b9a) are painted
    for rgb in ((0xB0, 0x00, 0x20), (0x6A, 0x1B, 0x9A)):
        target = [c / 255 for c in rgb]
        near = (abs(pixels - target) < 0.06).all(axis=2)
        assert near.sum() > 20, f"colour {rgb} not on the screenshot"
    SHOT.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, SHOT)  # the README's picture, made by this test
