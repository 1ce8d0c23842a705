"""Offline message catalog for the events the rules read: insertion strings <-> description text.

Why: a .evt stores only the event ID and the insertion strings; Event Viewer builds the description from
the source's message DLL, which an analyst's machine does not have (KB 165959).  Text exports go the other
way: they hold the rendered description (or the "could not be found" wrapper) and no separate strings.
This module bridges both directions for the handful of events the rules need:

* ``render(source, event_id, strings)`` fills a template and returns a ``Rendered`` that is explicitly
  marked ``reconstructed``: every template below is our own paraphrase of the KB articles named in its
  entry, never Microsoft's message-table text, and must be shown to users as such.
* ``recover_strings(source, event_id, text)`` parses a description rendered by a real viewer back into
  insertion strings.  It keys on short phrases the KBs quote (e.g. "but was unable to log on to" for
  1023) rather than on our paraphrased template, and it follows the order-independent
  approach for the logon events: the ``DOMAIN\\account`` string first, then the ``/o=`` DNs in order.
* ``split_joined(source, event_id, text, sep)`` splits insertion strings that a viewer or DUMPEL joined
  with a separator that may also occur inside a string (", " or " "), using the DN shapes to find the
  real boundaries.

The string order of the Exchange logon events (account, validated-as DN, target DN) is inferred: no public
source gives the Mdbmsg.dll template.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

# ----------------------------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class Template:
    """One catalog entry: our paraphrase of an event's description, with %1 %2 ... placeholders."""

    sources: tuple[str, ...]
    event_id: int  # low 16 bits, as Event Viewer shows it
    text: str
    kb: tuple[str, ...]
    type: str  # contract word: error | warning | information | success_audit | failure_audit
    category: str | None = None  # category name as Event Viewer shows it, when a KB names it
    event_id_full: int | None = None  # full 32-bit message ID when documented
    strings: int | None = None  # expected number of insertion strings when known (inferred)
    note: str = ""
    # the viewer wordings' regexes (``_rx``), compiled by ``_patterns`` when a text export needs them
    recover: tuple[str, ...] = field(default=(), repr=False)


_IS = ("MSExchangeIS Private", "MSExchangeIS Public")
_IMC = ("MSExchangeIMC",)
_SCM = ("Service Control Manager",)
_F = re.IGNORECASE | re.DOTALL

# A DN in event text always starts with /o= ; an NT account is DOMAIN\user.
_DN = r"/o=.*?"
_ANY = r".+?"
_END = r"\s*\.?\s*$"


def _rx(*patterns: str) -> tuple[str, ...]:
    """Each wording as a whole-text regex (compiled with ``_F`` on first use: most runs never parse a
    viewer's text, and compiling every entry's wordings at import cost start-up)."""
    return tuple(r"^\s*" + p + _END for p in patterns)


CATALOG: tuple[Template, ...] = (
    # --- information store logons (Application log); KB 274317 for 1009/1013/1016/1029 --------------
    Template(
        _IS, 1023, "%1 was validated as %2 but was unable to log on to %3",
        kb=("KB306308", "KB158028", "KB173776", "KB188594", "KB237481", "KB259578"),
        type="failure_audit", category="Logons", strings=3,
        note="skeleton as quoted in KB 306308; string order account, validated-as DN, target DN is inferred",
        recover=_rx(
            rf"(?P<s1>{_ANY})\s+was\s+validated\s+as\s+(?P<s2>{_DN})\s+but\s+was\s+unable\s+to\s+log\s+on\s+to\s+(?P<s3>{_DN})",
            rf"(?P<s1>{_ANY})\s+was\s+validated\s+as\s+(?P<s2>{_ANY})\s+but\s+was\s+unable\s+to\s+log\s+on\s+to\s+(?P<s3>{_ANY})",
        ),
    ),
    Template(
        _IS, 1013, "%1 was validated as %2 and logged on to %3",
        kb=("KB274317",), type="success_audit", category="Logons", strings=3,
        note="shares the 'was validated as' prefix with 1023; logged only with Logons diagnostics raised",
        recover=_rx(
            rf"(?P<s1>{_ANY})\s+was\s+validated\s+as\s+(?P<s2>{_DN})\s+and\s+logged\s+on\s+to\s+(?P<s3>{_DN})",
            rf"(?P<s1>{_ANY})\s+was\s+validated\s+as\s+(?P<s2>{_ANY})\s+and\s+logged\s+on\s+to\s+(?P<s3>{_ANY})",
        ),
    ),
    Template(
        _IS, 1009, "%1 logged on as %2",
        kb=("KB274317",), type="success_audit", category="Logons", strings=2,
        note="logged only with Logons diagnostics raised",
        recover=_rx(rf"(?P<s1>{_ANY})\s+logged\s+on\s+as\s+(?P<s2>{_ANY})"),
    ),
    Template(
        _IS, 1016, "Windows NT user %1 opened the %2 mailbox without being its primary Windows NT account",
        kb=("KB274317", "KB173692"), type="success_audit", category="Logons", strings=2,
        note="logged at any diagnostics level",
        recover=_rx(
            rf"NT\s+User\s+(?P<s1>{_ANY})\s+logged\s+on\s+to\s+(?P<s2>{_ANY})\s+mailbox\b.*?",
            rf"Windows\s+NT\s+user\s+(?P<s1>{_ANY})\s+opened\s+the\s+(?P<s2>{_ANY})\s+mailbox\s+without\s+.*?",
        ),
    ),
    Template(
        _IS, 1029, "%1 could not complete an operation for lack of access rights (%2); the mailbox involved is %3",
        kb=("KB274317",), type="warning", category="Access Control",
        note="which strings carry the rights and the owning mailbox is not documented; folder ID is in the data",
    ),
    # --- Internet Mail Service (Application log) -------------------------------------------------------
    Template(
        _IMC, 4018, "The Internet Mail Service cannot start because MAPI could not be initialised",
        kb=("KB306308", "KB163243", "KB157042", "KB186739", "KB262939", "KB316616"),
        type="error", category="Initialization/Termination", event_id_full=0xC0000FB2,
        note="full message ID 0xC0000FB2 seen on disk; insertion strings not documented",
    ),
    Template(
        _IMC, 4116, "The messaging software reported an error to the Internet Mail Service; the message being "
        "processed may be moved to the BAD folder",
        kb=("KB306308", "KB186739", "KB322829", "KB193639"), type="error", category="Internal Processing",
    ),
    Template(
        _IMC, 4086, "The Internet Mail Service could not load its configuration from the directory or the registry",
        kb=("KB298565",), type="error", category="Initialization/Termination",
    ),
    Template(
        _IMC, 4023, "The Internet Mail Service could not initialise its work threads",
        kb=("KB322829",), type="error", category="Initialization/Termination",
    ),
    Template(
        _IMC, 4182, "The Internet Mail Service hit a serious error while delivering into the information store and "
        "is shutting down",
        kb=("KB322829", "KB232279"), type="error", category="Internal Processing",
    ),
    Template(
        _IMC, 3039, "The Internet Mail Service got an error back from the information store",
        kb=("KB322829",), type="error", category="Internal Processing",
        note="KB 322829 shows error 0x80040115 with it",
    ),
    # --- Service Control Manager (System log) ----------------------------------------------------------
    Template(
        _SCM, 7000, "Service %1 could not start; the error was: %2",
        kb=("KB194028",), type="error", strings=2,
        recover=_rx(rf"(?:The\s+)?(?P<s1>{_ANY})\s+service\s+failed\s+to\s+start\b[^:]*:\s*(?P<s2>.*?)"),
    ),
    Template(
        _SCM, 7001, "Service %1 needs service %2, which could not start; the error was: %3",
        kb=("KB262375",), type="error", strings=3,
        note="a 7001 naming the information store means the IS itself is down",
        recover=_rx(
            rf"(?:The\s+)?(?P<s1>{_ANY})\s+service\s+depends\s+on\s+(?:the\s+)?(?P<s2>{_ANY})\s+service,?\s+which\s+"
            r"failed\s+to\s+start\b[^:]*:\s*(?P<s3>.*?)"
        ),
    ),
    Template(
        _SCM, 7023, "Service %1 stopped with an error: %2",
        kb=("KB194028",), type="error", strings=2, note="the error text may be blank",
        recover=_rx(rf"(?:The\s+)?(?P<s1>{_ANY})\s+service\s+terminated\s+with\s+the\s+following\s+error:\s*(?P<s2>.*?)"),
    ),
    Template(
        _SCM, 7024, "Service %1 stopped with service-specific error %2",
        kb=("KB262375",), type="error", strings=2,
        note="KB 262375: the IS with 4294966781 (JET_errInvalidLogSequence)",
        recover=_rx(
            rf"(?:The\s+)?(?P<s1>{_ANY})\s+service\s+terminated\s+with\s+service[- ]specific\s+error\s+(?P<s2>[^\s.]+)"
            r".*?"
        ),
    ),
    Template(
        _SCM, 7031, "Service %1 ended unexpectedly (%2 time(s) so far)",
        kb=(), type="error",
        note="no Exchange KB sample; strings after the count (recovery actions) vary by Windows version",
        recover=_rx(
            rf"(?:The\s+)?(?P<s1>{_ANY})\s+service\s+terminated\s+unexpectedly\.?\s+It\s+has\s+done\s+this\s+"
            r"(?P<s2>\d+)\s+time.*?"
        ),
    ),
    # --- other Exchange services (Application log) -----------------------------------------------------
    Template(
        ("MSExchangeES",), 5, "The Exchange Event Service could not start",
        kb=("KB285021", "KB190993"), type="error",
        note="KB 285021 / 190993 show 0x80004005 / 0x80040107 with it; string layout not documented",
    ),
    Template(
        ("MSExchangeES",), 11, "An Exchange Event Service script could not run against its folder or mailbox",
        kb=("KB259578",), type="error",
        note="KB 259578 shows 0x8004011d with it (stale script target); string layout not documented",
    ),
    Template(
        ("MSExchangeMTA",), 137, "The Message Transfer Agent could not initialise",
        kb=("KB155027",), type="error",
        note="KB 155027 ties it to an X500 DN in the MTA parameters that does not match the organisation/site",
    ),
    Template(
        ("MSExchangeSA",), 1005, "The System Attendant met an unexpected error",
        kb=("KB267573",), type="error",
        note="KB 267573 shows 0xc00206b7 with it (RPC ClientProtocols key missing)",
    ),
    Template(
        ("MSExchangeSA",), 1028, "The System Attendant could not initialise RPC",
        kb=("KB267573",), type="error",
        note="paraphrase; KB 267573 shows 0xc00206b7 with 1005/1028 (RPC ClientProtocols key missing); layout not "
        "documented",
    ),
    Template(
        ("MSExchangeMTA",), 2152, "A fatal MTA database error occurred; recovery did not succeed and the database "
        "needs manual correction (see MTACHECK.LOG)",
        kb=("KB324026",), type="warning", category="Operating System",
        note="paraphrase of the event KB 324026 prints with MTA start failures (Error 2140)",
    ),
    Template(
        ("MSExchangeMTA",), 2127, "The MTA database server reported an error",
        kb=("KB324026",), type="warning", category="Operating System",
        note="paraphrase; KB 324026 lists it with 2152/2155 when the MTA database path values are wrong",
    ),
    Template(
        ("MSExchangeMTA",), 2155, "The MTA database could not be opened",
        kb=("KB324026",), type="warning",
        note="(inferred) wording: KB 324026 lists the ID in its title only; type and text not checked",
    ),
    Template(
        ("MSExchangeMTA",), 2245, "A directory read by the MTA failed (the object it looked for does not exist)",
        kb=("KB155027",), type="warning", category="Directory Access",
        note="paraphrase; KB 155027: logged at maximum logging, names the MTA DN the MTA looked for",
    ),
    Template(
        ("MSExchangeMTA",), 2241, "A directory search by the MTA failed",
        kb=("KB155027",), type="warning", category="Directory Access",
        note="paraphrase; KB 155027: logged at maximum logging with 137",
    ),
    Template(
        ("MSExchangeIS",), 7024, "The Information Store service stopped with a service-specific error",
        kb=("KB262375",), type="error",
        note="KB 262375 shows 7024 under this source with 4294966781 (JET_errInvalidLogSequence); the System log "
        "form from the Service Control Manager is the usual one",
    ),
    Template(
        ("MSExchangeDS",), 1002, "The directory service could not start because of a database error",
        kb=("KB262371",), type="error", note="KB 262371 shows -1008 with it (database files made read-only)",
    ),
    Template(
        ("IMAP4", "IMAP4Svc"), 13003, "An IMAP4 client logon was refused",
        kb=("KB173776",), type="error",
        note="source spelling 'IMAP4Svc' is an inferred alias; KB 173776 pairs it with a 1023 for a custom recipient",
    ),
)  # fmt: skip

_BY_FULL: dict[tuple[str, int], Template] = {}
_BY_LOW: dict[tuple[str, int], Template] = {}
for _t in CATALOG:
    for _s in _t.sources:
        _BY_LOW[(_s.casefold(), _t.event_id)] = _t
        if _t.event_id_full is not None:
            _BY_FULL[(_s.casefold(), _t.event_id_full)] = _t

RECONSTRUCTED_PREFIX = "[reconstructed] "


# ----------------------------------------------------------------------------------------------- API


@dataclass(frozen=True, slots=True)
class Rendered:
    """A description we built ourselves.  ``reconstructed`` is always True: the text is our paraphrase,
    so reports must label it (``shown`` adds the label) and never pass it off as the viewer's text."""

    text: str
    kb: tuple[str, ...]
    reconstructed: bool = True

    @property
    def shown(self) -> str:
        return RECONSTRUCTED_PREFIX + self.text

    def __str__(self) -> str:
        return self.shown


def lookup(source: str, event_id: int, event_id_full: int | None = None) -> Template | None:
    """Catalog entry for an event: full 32-bit ID first (when both sides know it), then the low 16 bits."""
    key = source.strip().casefold()
    if event_id_full is not None:
        found = _BY_FULL.get((key, event_id_full))
        if found is not None:
            return found
    return _BY_LOW.get((key, event_id & 0xFFFF))


_PLACEHOLDER = re.compile(r"%(\d+)")


def render(
    source: str, event_id: int, strings: tuple[str, ...] | list[str], event_id_full: int | None = None
) -> Rendered | None:
    """Fill the catalog template; None for events not in the catalog.

    Placeholders without a string stay as ``%n`` (what a viewer shows for a missing insertion string);
    strings the template does not place are appended so that nothing read from the log is hidden.
    """
    strings = tuple(strings)
    if sum(map(len, strings)) <= _MEMO_CHARS:
        return _render_memo(source, event_id, strings, event_id_full)
    return _render(source, event_id, strings, event_id_full)


#: Events whose strings total at most this many characters are rendered once per process (a restart loop
#: repeats the same event thousands of times; the catalog is fixed); longer ones are never kept.
_MEMO_CHARS = 2048


def _render(source: str, event_id: int, strings: tuple[str, ...], event_id_full: int | None) -> Rendered | None:
    template = lookup(source, event_id, event_id_full)
    if template is None:
        return None
    used: set[int] = set()

    def fill(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if 1 <= index <= len(strings):
            used.add(index)
            return strings[index - 1]
        return match.group(0)

    text = _PLACEHOLDER.sub(fill, template.text)
    extra = [s for i, s in enumerate(strings, 1) if i not in used]
    if extra:
        text += " [insertion strings: " + " | ".join(extra) + "]"
    return Rendered(text=text, kb=template.kb)


_render_memo = functools.lru_cache(maxsize=256)(_render)


# ------------------------------------------------------------------------- templates per language


def match_rendered_in(text: str, source: str, event_id: int) -> tuple[str, tuple[str, ...]] | None:
    """(language, insertion strings) of a rendered description through a template known to match it:
    the English catalog above first, then every localised template of ``analyzer.languages`` (which
    answers only when exactly one reading exists); None when no template matches the whole text.

    A template matches only from the first character to the last (an optional final period and blanks
    aside), so a string never runs on into text the template does not account for.
    """
    if not text:
        return None
    english = recover_strings(source, event_id, text)
    if english is not None:
        return "en", english
    from analyzer import languages  # a description to parse back: a case of binary logs never has one

    found = languages.match_rendered(text, source=source, event_id=event_id & 0xFFFF)
    return (found.language, found.strings) if found is not None else None


def match_rendered(text: str, source: str, event_id: int) -> tuple[str, ...] | None:
    """Insertion strings of a rendered description through any known template (see ``match_rendered_in``)."""
    found = match_rendered_in(text, source, event_id)
    return found[1] if found is not None else None


def recover_strings(source: str, event_id: int, text: str) -> tuple[str, ...] | None:
    """Insertion strings parsed back out of a description a real viewer rendered; None when the event is
    not in the catalog or the text does not have the expected shape.

    For the logon events the ``DOMAIN\\account`` part is put first and the DNs follow in their order of
    appearance, whatever the true template order.  One period at the very end is taken
    for the sentence's, not the last string's (ambiguous: whether the real messages end with one is not
    documented; a last string that itself ends in "." loses it).
    """
    template = lookup(source, event_id)
    if template is None or not text:
        return None
    if text.startswith(RECONSTRUCTED_PREFIX):
        text = text[len(RECONSTRUCTED_PREFIX) :]
    for pattern in _patterns(template):
        match = pattern.match(text)
        if match is not None:
            groups = sorted((int(k[1:]), v) for k, v in match.groupdict().items() if v is not None)
            return tuple(_clean(v) for _, v in groups)
    return None


def split_joined(source: str, event_id: int, text: str, sep: str) -> tuple[str, ...] | None:
    """Split insertion strings joined by ``sep`` (", " in the "could not be found" wrapper, " " in DUMPEL
    without -t) where a plain split would also cut inside a string (DNs hold spaces).

    Only the events whose strings have a known shape (an account, then /o= DNs) are split; None otherwise,
    so the caller falls back to a plain split or keeps the text whole.
    """
    template = lookup(source, event_id)
    if template is None or template.strings is None or template.sources != _IS or template.event_id == 1029:
        return None
    parts = re.split(re.escape(sep) + r"(?=/o=)", text.strip(), flags=re.IGNORECASE)
    if len(parts) != template.strings or parts[0][:3].casefold() == "/o=":
        return None
    return tuple(parts)


@functools.cache
def _patterns(template: Template) -> tuple[re.Pattern[str], ...]:
    """The viewer-wording patterns of the entry, then one built from our own template so that text we
    rendered ourselves (e.g. by the test writers) parses back too."""
    wordings = template.recover
    if _PLACEHOLDER.search(template.text):
        pieces = _PLACEHOLDER.split(template.text)  # literal, index, literal, index, ...
        regex = "".join(
            re.escape(piece).replace(r"\ ", r"\s+") if i % 2 == 0 else rf"(?P<s{piece}>.+?)"
            for i, piece in enumerate(pieces)
        )
        wordings = (*wordings, *_rx(regex))
    return tuple(re.compile(w, _F) for w in wordings)


ACCOUNT_RE = re.compile(r"^[^\\/]+\\[^\\]+$")


def looks_like_account(text: str) -> bool:
    r"""True for ``DOMAIN\user``; used to tell the account from the DNs."""
    return bool(ACCOUNT_RE.match(text.strip()))


def _clean(value: str) -> str:
    return value.strip()
