"""Exchange 4.0-5.5 distinguished names (``/o=Org/ou=Site/cn=…``): parse, compare, classify, near misses.

Why a module of its own: the whole diagnosis turns on one question, "is the DN the IS refused in the
``Logon Only As`` list?", and the answer must be exact.  DNs are never rebuilt from their parts —
the DN to add is always the text copied from the event — so parsing here only serves classification
(what component, which server) and explanation (why an entry is *almost* the refused DN).

Facts: component objects live under ``cn=Configuration`` (``cn=Servers/cn=S/cn=Microsoft
System Attendant | DSA | MTA | Private MDB | Public MDB | DXA``, ``cn=Connections/cn=Internet Mail
Connector (S) | MS Mail Connector (S) | cc:Mail Connector (S) | …``, ``cn=Add-Ins/cn=…``); a mailbox is
anything else under /o/ou.  How the IS compares entries (case) is undocumented: ``same_dn`` compares
case-insensitively and ``differs_only_in_case`` lets callers warn about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# An RDN boundary is a "/" followed by an attribute name and "=".  Values may contain spaces, commas,
# parentheses and colons ("cn=Recipients, Utility", "cn=cc:Mail Connector (S)").
_RDN_SPLIT = re.compile(r"/(?=[A-Za-z][A-Za-z0-9-]*\s*=)")
_DN_START = re.compile(r"^\s*/\s*o\s*=", re.IGNORECASE)

#: Server-level objects under cn=Configuration/cn=Servers/cn=S (KB 218920, 199954, 157323, 155027).
SERVER_COMPONENTS = {
    "microsoft system attendant": "System Attendant",
    "microsoft dsa": "Directory Service",
    "microsoft mta": "Message Transfer Agent",
    "microsoft private mdb": "Private Information Store",
    "microsoft public mdb": "Public Information Store",
    "microsoft dxa": "Directory Synchronization",
}
#: Connector RDN prefixes under cn=Configuration/cn=Connections -> human name (KB 306308, 157323, 294947).
CONNECTORS = {
    "internet mail connector": "Internet Mail Service",
    "ms mail connector": "MS Mail Connector",
    "cc:mail connector": "cc:Mail Connector",
}
#: Names people type instead of the RDN (the display name of the service), mapped to the RDN prefix.
DISPLAY_NAMES = {
    "internet mail service": "internet mail connector",
    "microsoft exchange internet mail service": "internet mail connector",
    "microsoft exchange internet mail connector": "internet mail connector",
    "ms mail connector": "ms mail connector",
    "microsoft mail connector": "ms mail connector",
    "system attendant": "microsoft system attendant",
    "microsoft exchange system attendant": "microsoft system attendant",
    "directory service": "microsoft dsa",
    "microsoft exchange directory": "microsoft dsa",
    "dsa": "microsoft dsa",
}
_PAREN = re.compile(r"^(?P<base>.*?)\s*\((?P<inner>[^()]*)\)\s*$")
#: Parsed DNs kept per process: a case compares each refused DN with every list entry, so each string is
#: parsed once instead of once per pair (bounded: a hostile list cannot grow it without limit).
_CACHE = 8192


@dataclass(frozen=True, slots=True)
class Rdn:
    """One ``attr=value`` step; ``attr`` lower-case, ``value`` as written."""

    attr: str
    value: str

    @property
    def key(self) -> tuple[str, str]:
        return self.attr, self.value.casefold()


@dataclass(frozen=True, slots=True)
class DN:
    """A parsed DN.  ``text`` is the original string, kept verbatim for output."""

    text: str
    rdns: tuple[Rdn, ...]

    @property
    def org(self) -> str | None:
        return self._first("o")

    @property
    def site(self) -> str | None:
        return self._first("ou")

    def _first(self, attr: str) -> str | None:
        for rdn in self.rdns:
            if rdn.attr == attr:
                return rdn.value
        return None

    @property
    def cns(self) -> tuple[str, ...]:
        """The ``cn=`` values below /o/ou, in order."""
        return tuple(r.value for r in self.rdns if r.attr == "cn")

    def __str__(self) -> str:
        return self.text


def parse_dn(text: str) -> DN | None:
    """Parse ``/o=…/ou=…/cn=…``; None when ``text`` is not such a DN.  Never changes ``text``."""
    if not text or not _DN_START.match(text):
        return None
    pieces = _RDN_SPLIT.split(text.strip())
    rdns: list[Rdn] = []
    for piece in pieces:
        if not piece:
            continue
        attr, sep, value = piece.partition("=")
        if not sep:
            return None
        rdns.append(Rdn(attr.strip().lower(), value))
    if not rdns or rdns[0].attr != "o":
        return None
    return DN(text, tuple(rdns))


#: Longest DN accepted as well-formed (real DNs are far shorter; keeps hostile input cheap).
MAX_DN_LENGTH = 1024
#: Longest RDN value accepted (directory names are short; a run-on sentence is not).
MAX_VALUE_LENGTH = 256
_GRAMMAR_RDN = re.compile(r"/(o|ou|cn)=([^/]*)", re.IGNORECASE)
#: C0 controls, DEL and the C1 controls: never part of a directory name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def dn_problem(text: str) -> str | None:
    """Why ``text`` is not a well-formed Exchange DN, or None when it is one.

    The grammar: ``/o=V`` then exactly one ``/ou=V`` then one or more ``/cn=V`` (attribute names in any
    letter case); each value V is 1-256 characters, holds no ``/``, no control character and no blank at
    either end (blanks, commas, parentheses, ``&``, colons and non-ASCII letters inside are allowed:
    ``cn=Recipients, Utility``, ``cn=cc:Mail Connector (S)``).  A DN the analyzer proposes to add must
    pass this check (see ``analyzer.dn_source``); it is deliberately strict: text that fails is shown
    raw to the user instead of being proposed.
    """
    if not text:
        return "empty"
    if len(text) > MAX_DN_LENGTH:
        return f"longer than {MAX_DN_LENGTH} characters"
    if text[:3].casefold() != "/o=":
        return "does not start with /o="
    pos = 0
    attrs: list[str] = []
    for m in _GRAMMAR_RDN.finditer(text):
        if m.start() != pos:
            return f"unexpected text at position {pos}"
        attr, value = m.group(1).lower(), m.group(2)
        if not value:
            return f"empty value of {attr}="
        if value != value.strip():
            return f"blank at the start or end of {attr}={value!r}"
        if len(value) > MAX_VALUE_LENGTH:
            return f"value of {attr}= longer than {MAX_VALUE_LENGTH} characters"
        if _CONTROL.search(value):
            return f"control character in {attr}="
        attrs.append(attr)
        pos = m.end()
    if pos != len(text):
        return f"unexpected text at position {pos}"
    if not attrs or attrs[0] != "o":
        return "does not start with /o="
    if len(attrs) < 3 or attrs[1] != "ou" or "ou" in attrs[2:] or "o" in attrs[1:]:
        return "not of the form /o=…/ou=…/cn=…"
    return None


def is_well_formed(text: str) -> bool:
    """True when ``text`` is a well-formed Exchange DN (``dn_problem`` returns None)."""
    return dn_problem(text) is None


def same_dn(a: str, b: str) -> bool:
    """True when the two DNs are the same text ignoring letter case (the analyzer's comparison rule).

    Whitespace is *not* ignored: the IS compares strings, and an entry with a double space is a
    different string.
    """
    return a.casefold() == b.casefold()


def differs_only_in_case(a: str, b: str) -> bool:
    """Same DN except for letter case (counted as listed, but worth a warning)."""
    return a != b and same_dn(a, b)


# --------------------------------------------------------------------------- classification


@dataclass(frozen=True, slots=True)
class DnInfo:
    """What a DN denotes.

    ``kind``: ``server_component`` | ``connector`` | ``addin`` | ``utility`` | ``configuration`` |
    ``mailbox`` | ``unknown``.  ``component`` is the human name ("Internet Mail Service", "System
    Attendant", "mailbox jdoe"); ``server`` the server it belongs to when the DN says so.
    """

    dn: str
    kind: str
    component: str
    server: str | None = None
    org: str | None = None
    site: str | None = None
    key: str | None = None  # canonical component key ("microsoft system attendant", "internet mail connector")
    inferred: bool = False  # the classification rests on an (inferred) fact

    @property
    def is_component(self) -> bool:
        """An Exchange service, connector or agent rather than a user's mailbox."""
        return self.kind in ("server_component", "connector", "addin", "utility", "configuration")

    @property
    def label(self) -> str:
        """``Internet Mail Service on EXCH01``, ``System Attendant of EXCH02``, ``mailbox jdoe``."""
        if self.server is None:
            return self.component
        if self.kind == "server_component":
            return f"{self.component} of {self.server}"
        return f"{self.component} on {self.server}"


@lru_cache(maxsize=_CACHE)
def classify(text: str) -> DnInfo:
    """Classify a DN string (see ``DnInfo``).  Unparseable text is ``unknown``."""
    dn = parse_dn(text)
    if dn is None:
        return DnInfo(text, "unknown", "unknown object")
    cns = dn.cns
    low = [c.strip().casefold() for c in cns]
    org, site = dn.org, dn.site
    if len(low) >= 4 and low[0] == "configuration" and low[1] == "servers":
        server = cns[2].strip()
        name = SERVER_COMPONENTS.get(low[3])
        if name is not None and len(low) == 4:
            return DnInfo(text, "server_component", name, server, org, site, low[3])
        return DnInfo(text, "configuration", cns[-1].strip(), server, org, site, low[-1])
    if len(low) == 3 and low[0] == "configuration" and low[1] == "connections":
        rdn = cns[2].strip()
        m = _PAREN.match(rdn)
        base, inner = (m.group("base").strip(), m.group("inner").strip()) if m else (rdn, None)
        human = CONNECTORS.get(base.casefold())
        if human is not None:
            return DnInfo(text, "connector", human, inner or None, org, site, base.casefold())
        return DnInfo(text, "connector", f"connector {rdn}", inner or None, org, site, base.casefold())
    if len(low) == 3 and low[0] == "configuration" and low[1] == "add-ins":
        # Mailbox Manager logs on as its add-in object (KB 237481, inferred).
        return DnInfo(text, "addin", f"add-in {cns[2].strip()}", None, org, site, "add-in", inferred=True)
    if low and low[0] == "recipients, utility":
        # MBClean's identity as printed in KB 188594 (inferred).
        return DnInfo(text, "utility", f"utility {cns[-1].strip()}", None, org, site, low[-1], inferred=True)
    if low and low[0] == "configuration":
        return DnInfo(text, "configuration", cns[-1].strip(), None, org, site, low[-1])
    if org is not None and site is not None and cns:
        return DnInfo(text, "mailbox", f"mailbox {cns[-1].strip()}", None, org, site, None)
    return DnInfo(text, "unknown", cns[-1].strip() if cns else "unknown object", None, org, site, None)


# --------------------------------------------------------------------------- near misses
#
# A near miss is a list entry that names the *same object* as the refused DN but is written
# differently (letter case, blanks, the service's display name, ``cn=Connection``), or a typo of it.
# Two well-formed DNs of *different* objects are never near misses of each other, however close the
# strings: "Microsoft MTA" vs "Microsoft DSA", ``cn=Servers/cn=A`` vs ``cn=B`` (another server's SA/DSA
# may be needed for a mailbox move, KB 218920), a mailbox vs a component.  A typo therefore needs the
# same container path and a last RDN that is not itself a known name.  Getting this wrong is not
# cosmetic: an entry taken for a near miss is named as "probably mistyped" and, with
# ``--replace-near-misses``, replaced by the patch.

#: Every canonical object name of the tables above (RDN forms and the display names people type).
KNOWN_NAMES = frozenset(SERVER_COMPONENTS) | frozenset(CONNECTORS) | frozenset(DISPLAY_NAMES)
#: Near-miss reasons that denote the same object written differently (a typo only probably is).
SAME_OBJECT_REASONS = frozenset({"case", "whitespace", "syntax", "display_name", "container"})


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A list entry that is almost the refused DN: the same object written differently, or a typo of it.

    ``reason``: ``case`` (counts as listed) | ``whitespace`` | ``syntax`` | ``display_name`` |
    ``container`` | ``typo``.  ``detail`` is one sentence for the explanation.
    """

    entry: str
    dn: str
    reason: str
    detail: str

    @property
    def counts_as_listed(self) -> bool:
        return self.reason == "case"

    @property
    def same_object(self) -> bool:
        """The entry certainly names the refused object (every reason but ``typo``)."""
        return self.reason in SAME_OBJECT_REASONS


@dataclass(frozen=True, slots=True)
class OtherServerEntry:
    """A list entry naming the same component as the refused DN, but of another server.

    Not a near miss: it is a different object, which a mailbox move between the two servers needs
    (KB 218920).  Rules mention it so that the engineer does not take it for the missing entry."""

    entry: str
    dn: str
    detail: str


def _squash(text: str) -> str:
    """Casefold and drop every blank (including around ``/`` and ``=``) for whitespace comparison."""
    return re.sub(r"\s+", "", text.casefold())


def _norm(value: str) -> str:
    """An RDN value for comparison: casefolded, blanks collapsed, edges stripped."""
    return " ".join(value.casefold().split())


_LOOSE_SPLIT = re.compile(r"/(?=\s*[A-Za-z][A-Za-z0-9-]*\s*=)")


@lru_cache(maxsize=_CACHE)
def _loose_rdns(text: str) -> tuple[tuple[str, str], ...] | None:
    """(attr, normalised value) of a DN-like text, also without the leading ``/`` or ``/o=``.

    Entries are typed by people: ``o=Contoso/…`` is not a well-formed DN, but it still names its
    object, and a near-miss test must see *which* object before calling it a typo of another."""
    body = text.strip()
    if body.startswith("/"):
        body = body[1:]
    out: list[tuple[str, str]] = []
    for piece in _LOOSE_SPLIT.split(body):
        attr, sep, value = piece.partition("=")
        if not sep or not attr.strip():
            return None
        out.append((attr.strip().casefold(), _norm(value)))
    return tuple(out) or None


def _split_name(value: str) -> tuple[str, str | None]:
    """``internet mail connector (exch01)`` -> (``internet mail connector``, ``exch01``)."""
    m = _PAREN.match(value)
    return (m.group("base").strip(), m.group("inner").strip()) if m else (value, None)


def _canonical_name(value: str) -> str:
    """A normalised last RDN with a display name mapped to the object's RDN prefix."""
    base, inner = _split_name(value)
    base = DISPLAY_NAMES.get(base, base)
    return f"{base} ({inner})" if inner is not None else base


def is_known_name(value: str) -> bool:
    """The RDN value (any case/blanks, with or without ``(SERVER)``) is a name of a known object."""
    return _split_name(_norm(value))[0] in KNOWN_NAMES


def _container(rdns: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The container path (every RDN but the last) with ``cn=Connection`` read as ``cn=Connections``."""
    return [(a, "connections" if (a, v) == ("cn", "connection") else v) for a, v in rdns[:-1]]


@lru_cache(maxsize=_CACHE)
def object_key(text: str) -> tuple[tuple[str, str], ...] | None:
    """The identity of the object a DN names: RDNs casefolded with blanks collapsed, the last one's
    display name mapped to its RDN, ``cn=Connection`` read as ``cn=Connections``.  Two entries with
    the same key name the same object; None when ``text`` is not DN-like."""
    rdns = _loose_rdns(text)
    if rdns is None:
        return None
    return (*_container(rdns), (rdns[-1][0], _canonical_name(rdns[-1][1])))


def same_object(a: str, b: str) -> bool:
    """Both texts name the same object (see ``object_key``); non-DN text compares casefolded."""
    ka, kb = object_key(a), object_key(b)
    if ka is None or kb is None:
        return _norm(a) == _norm(b)
    return ka == kb


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Levenshtein distance (insert/delete/substitute).  With ``limit`` only the diagonal band of
    width ``limit`` is computed (O(len * limit)) and any result above it is returned as ``limit + 1``."""
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    if limit is None:
        limit = len(a)
    if len(a) - len(b) > limit:
        return limit + 1
    big = limit + 1
    previous = [j if j <= limit else big for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        lo, hi = max(1, i - limit), min(len(b), i + limit)
        current = [big] * (len(b) + 1)
        current[0] = i if i <= limit else big
        ca = a[i - 1]
        for j in range(lo, hi + 1):
            cost = previous[j - 1] + (ca != b[j - 1])
            current[j] = min(cost, previous[j] + 1, current[j - 1] + 1, big)
        if min(current[max(0, lo - 1) : hi + 1]) > limit:
            return big
        previous = current
    return min(previous[len(b)], big)


#: DNs longer than this are not checked for typos (real DNs are far shorter; keeps hostile input cheap).
MAX_TYPO_LENGTH = 1024


def typo_limit(dn: str) -> int:
    """Edits still called a typo: 3, or 5 % of the DN's length when that is larger (at most 12)."""
    return min(12, max(3, len(dn) // 20))


#: Kinds of refused DN whose last RDN is the name of a component, so that a misspelt name can be a typo.
#: Mailboxes (two aliases a letter apart are two people) and add-ins (named after their server) never are.
_TYPO_KINDS = frozenset({"server_component", "connector", "configuration"})


def near_miss(refused: str, entry: str) -> NearMiss | None:
    """How ``entry`` almost equals the refused DN, or None when it is exact or another object.

    Checked in order: letter case; blanks; a missing ``/`` or other DN syntax slip; the display name
    instead of the RDN, or ``cn=Connection`` for ``cn=Connections`` (each the same object written
    differently); then a typo: a small edit distance with the same container path, a last RDN that
    is not itself a known name (``Microsoft MTA`` is never a typo of ``Microsoft DSA``), the same
    server in ``(…)``, and a refused DN whose kind names components (not a mailbox or an add-in).
    """
    if refused == entry:
        return None
    if same_dn(refused, entry):
        return NearMiss(entry, refused, "case", "the entry differs from the refused DN only in letter case")
    a, b = _loose_rdns(refused), _loose_rdns(entry)
    if a is None or b is None or [x for x, _ in a] != [x for x, _ in b]:
        return None
    if a == b:
        if _squash(refused) == _squash(entry):
            return NearMiss(entry, refused, "whitespace", "the entry differs from the refused DN only in blanks")
        return NearMiss(entry, refused, "syntax", "the entry names the same object but is not written as a DN")
    if object_key(refused) == object_key(entry):
        if a[:-1] != b[:-1]:
            return NearMiss(entry, refused, "container", "the entry says cn=Connection instead of cn=Connections")
        return NearMiss(
            entry, refused, "display_name", "the entry uses the service's display name instead of the object's RDN"
        )
    if a[:-1] != b[:-1] or classify(refused).kind not in _TYPO_KINDS:
        return None  # another container (server, site, org, kind of object), or names that are not typos
    last_a, last_b = a[-1][1], b[-1][1]
    if is_known_name(last_b):
        return None  # a known name is that object, not a typo of another
    inner_a, inner_b = _split_name(last_a)[1], _split_name(last_b)[1]
    if inner_a is not None and inner_b is not None and inner_a != inner_b:
        return None  # the same kind of connector on another server
    if _squash(refused) == _squash(entry):
        return NearMiss(entry, refused, "whitespace", "the entry differs from the refused DN only in blanks")
    limit = typo_limit(refused)
    if (
        len(refused) <= MAX_TYPO_LENGTH
        and len(entry) <= MAX_TYPO_LENGTH
        and edit_distance(refused.casefold(), entry.casefold(), limit) <= limit
    ):
        return NearMiss(entry, refused, "typo", "the entry differs from the refused DN by a few characters (typo)")
    return None


def other_server_entry(refused: str, entry: str) -> OtherServerEntry | None:
    """``entry`` names the same kind of server component or connector as ``refused``, of another server
    in the same site (see ``OtherServerEntry``); None otherwise."""
    ia, ib = classify(refused), classify(entry)
    if (
        ia.is_component
        and ia.kind == ib.kind
        and ia.key is not None
        and ia.key == ib.key
        and ia.server is not None
        and ib.server is not None
        and ia.server.casefold() != ib.server.casefold()
        and (ia.org or "").casefold() == (ib.org or "").casefold()
        and (ia.site or "").casefold() == (ib.site or "").casefold()
    ):
        return OtherServerEntry(
            entry, refused, f"the entry names the {ib.component} of server {ib.server}, not of {ia.server}"
        )
    return None


def find_entry(dn: str, entries: list[str]) -> tuple[str | None, list[NearMiss]]:
    """Return (the entry that holds ``dn`` or None, near misses among the others).

    An exact entry wins; an entry differing only in case also holds the DN (reported as a case near
    miss by the caller).  Empty and blank entries are ignored.
    """
    exact = next((e for e in entries if e == dn), None)
    misses = [m for e in entries if e.strip() and e != dn and (m := near_miss(dn, e)) is not None]
    if exact is not None:
        return exact, []
    case = next((m for m in misses if m.reason == "case"), None)
    if case is not None:
        return case.entry, [case]
    return None, misses


def other_server_entries(dn: str, entries: list[str]) -> list[OtherServerEntry]:
    """The entries naming the same component as ``dn`` on another server (never near misses)."""
    return [o for e in entries if e.strip() and (o := other_server_entry(dn, e)) is not None]
