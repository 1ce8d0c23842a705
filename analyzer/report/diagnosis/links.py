"""Where the HTML report links a KB number, and how it writes prose: code spans and KB links.

Microsoft retired the KB articles of the Exchange 4.0-5.5 era from its site, so a link to
support.microsoft.com leads nowhere today.  The report links each "KB 306308" to an archive instead: a
URL template with ``{number}`` in it, given by ``--kb-url`` (diagnose) or the ``ANALYZER_KB_URL``
environment variable, by default the Internet Archive's copy of the old support.microsoft.com address.
``none`` (or an empty value) writes no links: the KB numbers stay plain text.  A link is only an
``<a href>``: the page still loads nothing, so it stays valid off line and under its strict CSP.
"""

from __future__ import annotations

import os
import re

from analyzer.report.diagnosis.untrusted import visible

ENV = "ANALYZER_KB_URL"
DEFAULT_KB_URL = "https://web.archive.org/web/2005/http://support.microsoft.com/kb/{number}"
OFF = ("", "none", "off")

#: "KB 306308", "KB306308", and lists such as "KB 163243, 186739" or "KB 146764 and KB 199954"
_KB_LIST = re.compile(r"\bKB ?\d{5,7}(?:(?:, ?| and | or )(?:KB ?)?\d{5,7}\b)*")
_ONE = re.compile(r"(?:KB ?)?(\d{5,7})")
_CODE = re.compile(r"`([^`\n]+)`")


class KbUrlError(ValueError):
    """A KB URL template that cannot be used (one line: what is wrong)."""


def kb_url_template(given: str | None = None) -> str | None:
    """The template to use: ``given``, else ``ANALYZER_KB_URL``, else the default; None means no links.

    Raises ``KbUrlError`` when the template is not an http(s) URL with ``{number}`` in it."""
    value = given if given is not None else os.environ.get(ENV)
    if value is None:
        return DEFAULT_KB_URL
    value = value.strip()
    if value.lower() in OFF:
        return None
    if not re.match(r"^https?://[^\s\"'<>]+$", value) or "{number}" not in value:
        where = "--kb-url" if given is not None else ENV
        raise KbUrlError(f"{where}: not an http(s) URL template with {{number}} in it: {value!r}")
    return value


def kb_href(template: str, number: str) -> str:
    """The link of one KB number (digits only, so nothing in it needs quoting)."""
    return template.replace("{number}", number)


def _linked(escaped: str, template: str | None) -> str:
    """KB numbers of already-escaped text as links to the archive (each number of a list its own link)."""
    if template is None:
        return escaped
    import html  # HTML reports only: a text report asks this module for the link template alone

    def one_list(m: re.Match[str]) -> str:
        return _ONE.sub(
            lambda n: (
                f'<a class="kb" href="{html.escape(kb_href(template, n.group(1)), quote=True)}" '
                f'rel="noopener noreferrer">{n.group(0)}</a>'
            ),
            m.group(0),
        )

    return _KB_LIST.sub(one_list, escaped)


def prose(text: object, template: str | None) -> str:
    """HTML of a report paragraph: untrusted text made visible and escaped, `code spans` as ``<code>``,
    KB numbers (outside code spans) linked.

    Only the escaped text is ever wrapped in markup, so a backtick or "KB" inside a customer string can at
    most make a harmless code span or link of text that is already escaped."""
    import html  # HTML reports only: a text report asks this module for the link template alone

    shown = visible(text)
    out: list[str] = []
    pos = 0
    for m in _CODE.finditer(shown):
        out.append(_linked(html.escape(shown[pos : m.start()], quote=True), template))
        out.append(f"<code>{html.escape(m.group(1), quote=True)}</code>")
        pos = m.end()
    out.append(_linked(html.escape(shown[pos:], quote=True), template))
    return "".join(out)
