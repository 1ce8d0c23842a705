"""The HTML report's aids for the engineer, checked on the parsed page (html.parser), not by string search:
code spans, the Event messages section, KB links to a configurable archive, the copy script and its CSP
hash, and the patch/rollback downloads, whose bytes must be the files ``--reg-patch`` writes."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from analyzer.cli import main
from analyzer.diagnosis import diagnose
from analyzer.report.diagnosis import KbUrlError, render_html, render_text
from analyzer.report.diagnosis.html import COPY_SCRIPT
from analyzer.report.diagnosis.links import DEFAULT_KB_URL, ENV, kb_url_template
from analyzer.report.diagnosis.sections import message_lines
from tests.conftest import REPO
from tests.multiserver_support import two_servers

SAMPLE = REPO / "samples" / "nt4-kb306308"
IMS = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Connector (EXCH01)"


class Node:
    """An element of the parsed page: tag, attributes, children (text as str)."""

    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Node | str] = []

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def find_all(self, tag: str, cls: str | None = None) -> list[Node]:
        out: list[Node] = []
        for c in self.children:
            if isinstance(c, Node):
                if c.tag == tag and (cls is None or cls in (c.attrs.get("class") or "").split()):
                    out.append(c)
                out.extend(c.find_all(tag, cls))
        return out


class Tree(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, (tag, [n.tag for n in self.stack])
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> Node:
    tree = Tree()
    tree.feed(page)
    tree.close()
    assert tree.stack == [tree.root], "unbalanced tags"
    return tree.root


def section_after(root: Node, title: str) -> list[Node]:
    """The elements between the ``<h2>`` titled ``title`` and the next ``<h2>`` (same parent)."""
    body = root.find_all("body")[0]
    nodes = [c for c in body.children if isinstance(c, Node)]
    start = next(i for i, n in enumerate(nodes) if n.tag == "h2" and n.text == title)
    out = []
    for n in nodes[start + 1 :]:
        if n.tag == "h2":
            break
        out.append(n)
    return out


@pytest.fixture(scope="module")
def sample_dict() -> dict[str, Any]:
    return diagnose(str(SAMPLE)).to_dict()


@pytest.fixture(autouse=True)
def _no_kb_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)


# --------------------------------------------------------------------------- code spans


def test_backtick_spans_become_code_elements(sample_dict: dict[str, Any]) -> None:
    root = parse(render_html(sample_dict))
    steps = [
        li for ol in section_after(root, "Remediation (.reg version 4)") if ol.tag == "ol" for li in ol.find_all("li")
    ]
    assert len(steps) == len(sample_dict["remediation"]["steps"])
    codes = [c.text for li in steps for c in li.find_all("code")]
    assert "net stop MSExchangeIS" in codes and "net start MSExchangeIMC" in codes
    assert "regedit /s <patch>.reg" in codes  # escaped in the page, the text is exact
    assert not any("`" in li.text for li in steps)  # no literal backticks left


def test_code_span_content_is_escaped_and_customer_backticks_stay_harmless(sample_dict: dict[str, Any]) -> None:
    d = dict(sample_dict)
    d["verdict"] = "Run `a<b onclick=x>&c` then `unclosed <i>"
    root = parse(render_html(d))
    verdict = root.find_all("p", "verdict")[0]
    assert [c.text for c in verdict.find_all("code")] == ["a<b onclick=x>&c"]
    assert not verdict.find_all("b") and not verdict.find_all("i")  # markup stayed text
    assert verdict.text == "Run a<b onclick=x>&c then `unclosed <i>"


# --------------------------------------------------------------------------- Event messages


def test_event_messages_section_is_the_text_reports(sample_dict: dict[str, Any]) -> None:
    title = "Event messages (as Event Viewer would show them)"
    root = parse(render_html(sample_dict))
    nodes = section_after(root, title)
    items = [li.text for ul in nodes if ul.tag == "ul" for li in ul.find_all("li")]
    lines, more = message_lines(sample_dict)
    assert items == lines and more == 0 and len(items) == 6
    assert any("[reconstructed]" in line and IMS in line for line in items)
    assert any(n.tag == "p" and "Lines marked [reconstructed]" in n.text for n in nodes)  # the legend
    assert title in render_text(sample_dict)  # the same section as the text report


# --------------------------------------------------------------------------- KB links


def _kb_links(root: Node) -> list[Node]:
    return root.find_all("a", "kb")


def test_kb_numbers_link_to_the_default_archive(sample_dict: dict[str, Any]) -> None:
    root = parse(render_html(sample_dict))
    links = _kb_links(root)
    assert links
    for a in links:
        number = re.sub(r"\D", "", a.text)
        assert a.attrs["href"] == DEFAULT_KB_URL.replace("{number}", number)
        assert a.attrs["rel"] == "noopener noreferrer"
    numbers = {re.sub(r"\D", "", a.text) for a in links}
    assert {"306308", "146764", "262225", "163243", "186739", "199954"} <= numbers  # "KB 163243, 186739" too
    verdict = root.find_all("p", "verdict")[0]
    assert [a.text for a in verdict.find_all("a")] == ["KB 306308"]


def test_kb_archive_from_option_and_environment(sample_dict: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    mine = "https://kb.example.org/q/{number}.html"
    hrefs = {a.attrs["href"] for a in _kb_links(parse(render_html(sample_dict, kb_url=mine)))}
    assert "https://kb.example.org/q/306308.html" in hrefs and all(
        h.startswith("https://kb.example.org/") for h in hrefs
    )
    monkeypatch.setenv(ENV, "http://mirror.example/kb?n={number}")
    hrefs = {a.attrs["href"] for a in _kb_links(parse(render_html(sample_dict)))}
    assert "http://mirror.example/kb?n=306308" in hrefs
    assert {a.attrs["href"] for a in _kb_links(parse(render_html(sample_dict, kb_url=mine)))} >= {
        "https://kb.example.org/q/306308.html"
    }  # the option wins over the environment


@pytest.mark.parametrize("off", ["none", "", "off"])
def test_no_links_when_switched_off(sample_dict: dict[str, Any], off: str) -> None:
    root = parse(render_html(sample_dict, kb_url=off))
    assert root.find_all("a", "kb") == []
    assert "(KB 306308)" in root.find_all("p", "verdict")[0].text


@pytest.mark.parametrize("bad", ["ftp://kb/{number}", "https://kb.example/no-placeholder", "javascript:{number}"])
def test_a_bad_template_is_refused(sample_dict: dict[str, Any], bad: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(KbUrlError):
        kb_url_template(bad)
    assert main(["diagnose", str(SAMPLE), "-o", str(tmp_path / "r.html"), "--kb-url", bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--kb-url" in err[0] and not (tmp_path / "r.html").exists()
    # text output does not care about the HTML's links
    assert main(["diagnose", str(SAMPLE), "--kb-url", bad]) == 1


def test_page_fetches_nothing_and_csp_allows_only_the_copy_script(sample_dict: dict[str, Any]) -> None:
    page = render_html(sample_dict)
    root = parse(page)
    meta = [m for m in root.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert len(meta) == 1
    policy = {d.split()[0]: d.split()[1:] for d in (meta[0].attrs["content"] or "").split(";") if d.strip()}
    assert policy["default-src"] == ["'none'"]
    scripts = root.find_all("script")
    assert len(scripts) == 1 and scripts[0].text == COPY_SCRIPT and "src" not in scripts[0].attrs
    digest = base64.b64encode(hashlib.sha256(scripts[0].text.encode("utf-8")).digest()).decode()
    assert policy["script-src"] == [f"'sha256-{digest}'"]  # no 'unsafe-inline', no host
    for tag in ("img", "link", "iframe", "object", "embed"):
        assert root.find_all(tag) == []
    hrefs = [a.attrs.get("href") or "" for a in root.find_all("a")]
    assert all(h.startswith(("https://", "http://", "data:application/octet-stream;base64,")) for h in hrefs)


# --------------------------------------------------------------------------- copy


def test_each_dn_to_add_is_a_selectable_code_block(sample_dict: dict[str, Any]) -> None:
    root = parse(render_html(sample_dict))
    dns = root.find_all("code", "dn")
    assert [c.text for c in dns] == [IMS, IMS]  # the list of DNs to add, and the findings table's DN cell
    assert "code.dn{user-select:all" in root.find_all("style")[0].text  # one click selects it, without script
    assert root.find_all("button") == []  # the buttons come from the script: none where it does not run


def test_notebook_fragment_has_no_script(sample_dict: dict[str, Any]) -> None:
    frag = render_html(sample_dict, fragment=True)
    root = parse(frag)
    assert root.find_all("script") == [] and len(root.find_all("code", "dn")) == 2


# --------------------------------------------------------------------------- downloads


def _downloads(root: Node) -> dict[str, bytes]:
    out = {}
    for a in root.find_all("a", "download"):
        href = a.attrs["href"] or ""
        prefix = "data:application/octet-stream;base64,"
        assert href.startswith(prefix)
        out[a.attrs["download"] or ""] = base64.b64decode(href[len(prefix) :], validate=True)
    return out


@pytest.mark.parametrize("version", ["4", "5"])
def test_downloads_hold_the_bytes_reg_patch_writes(tmp_path: Path, version: str) -> None:
    patch = tmp_path / "fix.reg"
    page = tmp_path / "report.html"
    argv = ["diagnose", str(SAMPLE), "--reg-patch", str(patch), "--reg-version", version, "-o", str(page)]
    assert main(argv) == 1
    got = _downloads(parse(page.read_text(encoding="utf-8")))
    assert set(got) == {"fix.reg", "fix-rollback.reg"}
    assert got["fix.reg"] == patch.read_bytes()
    assert got["fix-rollback.reg"] == (tmp_path / "fix-rollback.reg").read_bytes()
    if version == "5":
        assert got["fix.reg"].startswith(b"\xff\xfe" + "Windows Registry Editor Version 5.00\r\n".encode("utf-16-le"))
    else:
        assert got["fix.reg"].startswith(b"REGEDIT4\r\n") and b"\r\n" in got["fix.reg"]
    assert got["fix.reg"] != got["fix-rollback.reg"]


def test_downloads_without_reg_patch_are_named_after_the_case(tmp_path: Path) -> None:
    patch = tmp_path / "fix.reg"
    assert main(["diagnose", str(SAMPLE), "--reg-patch", str(patch)]) == 1
    page = tmp_path / "report.html"
    assert main(["diagnose", str(SAMPLE), "-o", str(page)]) == 1
    got = _downloads(parse(page.read_text(encoding="utf-8")))
    assert got == {
        "nt4-kb306308-logon-only-as.reg": patch.read_bytes(),
        "nt4-kb306308-logon-only-as-rollback.reg": (tmp_path / "fix-rollback.reg").read_bytes(),
    }


def test_several_servers_each_get_their_own_downloads(tmp_path: Path) -> None:
    case = two_servers(tmp_path / "case")
    out = tmp_path / "out"
    out.mkdir()
    page = out / "report.html"
    assert main(["diagnose", str(case), "--reg-patch", str(out / "fix.reg"), "-o", str(page)]) == 1
    got = _downloads(parse(page.read_text(encoding="utf-8")))
    written = {p.name: p.read_bytes() for p in out.glob("*.reg")}
    assert len(written) >= 4 and got == written  # every server's patch and rollback, byte for byte
    assert page.read_text(encoding="utf-8").count("<script") == 1  # one script for the whole page
