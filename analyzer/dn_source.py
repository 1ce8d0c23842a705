r"""Where the DNs of a logon event come from, and whether they may be proposed to the user.

Why a module of its own: the DN the analyzer tells an admin to add to ``Logon Only As`` is pasted into a
customer's registry, so it must be exactly the DN the store refused.  A DN is taken from an event in one
of three ways, and in no other (the invariant the rest of the analyzer relies on):

``strings``
    verbatim from the event's insertion strings (a .evt/.evtx record, DUMPEL, or the insertion strings
    a "description … could not be found" wrapper lists, split only where a string starts with ``/o=``);
``template:<language>``
    from a rendered description through a message template of that language that matches the whole
    message (``analyzer.messages.match_rendered_in``);
``structure``
    from text no template matches, only when the message's own structure confirms it: exactly two DNs
    that are the same text (a component logs on to its own object, DN-A = DN-B), ending where both
    occurrences end at a word boundary, and the result names an Exchange component whose last RDN is
    complete by construction (``cn=Microsoft System Attendant`` …, ``cn=Internet Mail Connector (S)``).

Every DN so taken must also be a well-formed Exchange DN (``analyzer.dn.dn_problem``).  Anything else
is an ``Unreadable`` logon: the refusal was seen, its raw text is shown, and no DN is proposed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from analyzer import messages
from analyzer.dn import CONNECTORS, SERVER_COMPONENTS, classify, dn_problem, parse_dn

#: A DN starts with ``/o=`` at the start of a string or after a blank or separator.
DN_AT = re.compile(r"(?i)(?:^|(?<=[\s,:;(\"']))/o=")
_ACCOUNT = re.compile(r"^[^\\/]+\\[^\\]+$")
#: Characters that end a word after a DN (besides blanks): sentence punctuation.
_BOUNDARY = frozenset(",.;:!?")


# The patterns below are compiled on first use: a case without a refusal to read never needs them, and
# compiling at import is start-up every run pays.
@functools.cache
def _wrappers() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The "description … could not be found" wrappers around insertion strings (NT 4.0, Windows 2000)."""
    return (
        re.compile(r"(?is)could\s+not\s+be\s+found.*?insertion\s+strings?\s*(?:\(s\))?\s*:\s*(?P<rest>.*)$"),
        re.compile(
            r"(?is)cannot\s+be\s+found.*?(?:The\s+following\s+information\s+(?:is\s+part\s+of|was\s+included\s+with)"
            r"\s+the\s+event)\s*:\s*(?P<rest>.*)$"
        ),
    )


def _wrapper_in(text: str) -> re.Match[str] | None:
    """The first wrapper (NT 4.0's, then Windows 2000's) found in ``text``."""
    nt4, w2k = _wrappers()
    return nt4.search(text) or w2k.search(text)


@functools.cache
def _connector_rdn() -> re.Pattern[str]:
    return re.compile(r"^(?P<base>.+?) \((?P<inner>[^()]+)\)$")


@dataclass(frozen=True, slots=True)
class LogonDns:
    """The account and DNs of a logon event, and where the DNs came from (``strings``,
    ``template:<language>`` or ``structure``)."""

    account: str | None
    dns: tuple[str, ...]
    origin: str


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A logon event whose DNs could not be taken safely: ``text`` is what the input holds (the
    description, or the insertion strings joined by `` | ``), ``reason`` says why it was not used."""

    text: str
    reason: str


def logon_dns(
    source: str, event_id: int, strings: Sequence[str], text: str, *, expect: int = 2
) -> LogonDns | Unreadable:
    """The DNs of an IS logon event (1023/1013: DN-A then DN-B; 1009: one DN) under the invariant above.

    ``text`` is the rendered description (newlines folded), empty when the input has none; ``expect``
    the number of DNs the event carries.  Tried in order: a template matching the description, the
    insertion strings, a wrapper's list of strings, a DUMPEL line joined by blanks, then the structure
    of the text.
    """
    kept = tuple(s for s in strings if s is not None)
    if len(text) + sum(map(len, kept)) <= _MEMO_CHARS:
        return _logon_dns_memo(source, event_id, kept, text, expect)
    return _logon_dns(source, event_id, kept, text, expect)


#: Logon events whose texts total at most this many characters are answered from a bounded memo: a restart
#: loop logs the same refusal thousands of times, and the answer depends on the texts alone (the message
#: templates are fixed per process).  Longer texts are never kept, so the memo stays small.
_MEMO_CHARS = 2048
_MEMO_SIZE = 256


def _logon_dns(source: str, event_id: int, strings: tuple[str, ...], text: str, expect: int) -> LogonDns | Unreadable:
    tried: list[str] = []
    for origin, candidate in _candidates(source, event_id, strings, text):
        found = _checked(candidate, origin, expect)
        if isinstance(found, LogonDns):
            return found
        tried.append(found)
    raw = text or " | ".join(s for s in strings if s)
    confirmed = confirm_by_structure(raw) if raw else None
    if confirmed is not None:
        return LogonDns(_account_in(raw), (confirmed, confirmed), "structure")
    if not tried:
        tried.append("no message template matches the text and it does not name one component twice")
    return Unreadable(raw, tried[0])


_logon_dns_memo = functools.lru_cache(maxsize=_MEMO_SIZE)(_logon_dns)


def _candidates(source: str, event_id: int, strings: tuple[str, ...], text: str) -> list[tuple[str, tuple[str, ...]]]:
    out: list[tuple[str, tuple[str, ...]]] = []
    wrapper = _wrapper_in(text) if text else None
    if text and wrapper is None:
        matched = messages.match_rendered_in(text, source, event_id)
        if matched is not None:
            out.append((f"template:{matched[0]}", matched[1]))
    if any(_is_dn_shaped(s) for s in strings):
        out.append(("strings", tuple(strings)))
    if wrapper is not None:
        payload = wrapper.group("rest").strip()
        if payload.endswith("."):
            payload = payload[:-1]  # the viewer's sentence period after the list
        split = messages.split_joined(source, event_id, payload, ", ")
        if split is not None:
            out.append(("strings", split))
    if len(strings) == 1 and not _is_dn_shaped(strings[0]):
        split = messages.split_joined(source, event_id, strings[0], " ")
        if split is not None:
            out.append(("strings", split))
    return out


def _is_dn_shaped(text: str) -> bool:
    return text.strip()[:3].casefold() == "/o="


def _checked(strings: tuple[str, ...], origin: str, expect: int) -> LogonDns | str:
    """The LogonDns when ``strings`` have the shape of a logon event's strings, else why not."""
    dns = [s.strip() for s in strings if _is_dn_shaped(s)]
    if not dns:
        return "no insertion string is a DN"
    if len(dns) > expect:
        return f"{len(dns)} DN-shaped strings where the event has {expect}"
    if len(dns) == 2 and dns[1] + "." == dns[0]:
        # The description's final period was taken for the sentence's; DN-A, followed by more text,
        # shows the DN keeps it.
        dns[1] = dns[0]
    for dn in dns:
        problem = dn_problem(dn)
        if problem is not None:
            return f"{dn!r} is not a well-formed DN ({problem})"
    others = [s for s in strings if not _is_dn_shaped(s) and s.strip()]
    if any(part in s.casefold() for s in others for part in ("/o=", "/ou=", "/cn=")):
        return "an insertion string holds part of a DN (the strings were cut apart)"
    account = next((s.strip() for s in others if _ACCOUNT.match(s.strip())), None)
    return LogonDns(account, tuple(dns), origin)


def _account_in(text: str) -> str | None:
    head = DN_AT.split(text, maxsplit=1)[0]
    wrapper = _wrapper_in(head)
    if wrapper is not None:
        head = wrapper.group("rest")
    found = re.findall(r"[^\s\\/,:;()\"']+\\[^\s\\/,:;()\"']+", head)
    return found[-1] if found else None


def confirm_by_structure(text: str) -> str | None:
    """The DN a text names twice (DN-A = DN-B of a component's own logon), or None.

    Confirmed only when the text holds exactly two DN starts, the two runs of text from them agree up to
    a point where both end a word (a blank, punctuation or the end of the text follows), and the common
    DN is well-formed and names an Exchange component whose last RDN cannot run on into other words: a
    server object (``…/cn=Servers/cn=S/cn=Microsoft System Attendant``) or a connector written
    ``…/cn=Connections/cn=<Connector> (<name>)``.
    """
    starts = [m.start() for m in DN_AT.finditer(text)]
    if len(starts) != 2:
        return None
    a, b = text[starts[0] : starts[1]], text[starts[1] :]
    limit = min(len(a), len(b))
    k = 0
    while k < limit and a[k] == b[k]:
        k += 1
    while k > 0 and not (_ends_word(a, k) and _ends_word(b, k)):
        k -= 1
    candidate = a[:k]
    if not candidate or candidate != candidate.rstrip() or dn_problem(candidate) is not None:
        return None
    return candidate if _complete_component(candidate) else None


def _ends_word(text: str, k: int) -> bool:
    if text[k - 1].isspace():
        return False
    return k == len(text) or text[k].isspace() or text[k] in _BOUNDARY


def _complete_component(dn: str) -> bool:
    """A component DN whose last RDN is a fixed name or ends with ``(name)``: it cannot silently include
    words of the surrounding sentence."""
    info = classify(dn)
    parsed = parse_dn(dn)
    if parsed is None or not parsed.cns:
        return False
    last = parsed.cns[-1]
    if info.kind == "server_component":
        return last.casefold() in SERVER_COMPONENTS
    if info.kind == "connector":
        m = _connector_rdn().match(last)
        return m is not None and m.group("base").casefold() in CONNECTORS
    return False
