"""Exchange 4.0-5.5 distinguished names (``/o=Org/ou=Site/cn=…``): parse, compare, classify, near misses.

Why a module of its own: the whole diagnosis turns on one question, "is the DN the IS refused in the
``Logon Only As`` list?", and the answer must be exact.  DNs are never rebuilt from their parts —
the DN to add is always the text copied from the event — so parsing here only serves classification
(what component, which server) and explanation (why an entry is *almost* the refused DN).

Facts (DOMAIN.md §3): component objects live under ``cn=Configuration`` (``cn=Servers/cn=S/cn=Microsoft
System Attendant | DSA | MTA | Private MDB | Public MDB | DXA``, ``cn=Connections/cn=Internet Mail
Connector (S) | MS Mail Connector (S) | cc:Mail Connector (S) | …``, ``cn=Add-Ins/cn=…``); a mailbox is
anything else under /o/ou.  How the IS compares entries (case) is undocumented: ``same_dn`` compares
case-insensitively and ``differs_only_in_case`` lets callers warn about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


def same_dn(a: str, b: str) -> bool:
    """True when the two DNs are the same text ignoring letter case (the analyzer's comparison rule).

    Whitespace is *not* ignored: the IS compares strings, and an entry with a double space is a
    different string (DOMAIN.md §1.7).
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


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A list entry that is almost the refused DN.

    ``reason``: ``case`` (counts as listed) | ``whitespace`` | ``display_name`` | ``container`` |
    ``other_server`` | ``typo``.  ``detail`` is one sentence for the explanation.
    """

    entry: str
    dn: str
    reason: str
    detail: str

    @property
    def counts_as_listed(self) -> bool:
        return self.reason == "case"


def _squash(text: str) -> str:
    """Casefold and drop every blank (including around ``/`` and ``=``) for whitespace comparison."""
    return re.sub(r"\s+", "", text.casefold())


def _canonical_rdns(text: str) -> list[tuple[str, str]] | None:
    """(attr, value) with display names mapped to RDN prefixes and cn=Connection -> Connections."""
    dn = parse_dn(text)
    if dn is None:
        return None
    out: list[tuple[str, str]] = []
    for rdn in dn.rdns:
        value = " ".join(rdn.value.casefold().split())
        m = _PAREN.match(value)
        base, inner = (m.group("base").strip(), m.group("inner").strip()) if m else (value, None)
        base = DISPLAY_NAMES.get(base, base)
        if base == "connection":
            base = "connections"
        out.append((rdn.attr, f"{base} ({inner})" if inner is not None else base))
    return out


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


def near_miss(refused: str, entry: str) -> NearMiss | None:
    """How ``entry`` almost equals the refused DN, or None when it is exact or unrelated.

    Checked in order: letter case, whitespace, display name instead of the RDN, ``cn=Connection``
    for ``cn=Connections``, the same component of another server, then a small edit distance.
    """
    if refused == entry:
        return None
    if same_dn(refused, entry):
        return NearMiss(entry, refused, "case", "the entry differs from the refused DN only in letter case")
    if _squash(refused) == _squash(entry):
        return NearMiss(entry, refused, "whitespace", "the entry differs from the refused DN only in blanks")
    a, b = _canonical_rdns(refused), _canonical_rdns(entry)
    if a is not None and b is not None and a == b:
        if any(r.value.strip().casefold() == "connection" for r in (parse_dn(entry) or DN("", ())).rdns):
            return NearMiss(entry, refused, "container", "the entry says cn=Connection instead of cn=Connections")
        return NearMiss(
            entry, refused, "display_name", "the entry uses the service's display name instead of the object's RDN"
        )
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
        return NearMiss(
            entry,
            refused,
            "other_server",
            f"the entry names the {ib.component} of server {ib.server}, not of {ia.server}",
        )
    limit = typo_limit(refused)
    if (
        len(refused) <= MAX_TYPO_LENGTH
        and len(entry) <= MAX_TYPO_LENGTH
        and edit_distance(refused.casefold(), entry.casefold(), limit) <= limit
    ):
        return NearMiss(entry, refused, "typo", "the entry differs from the refused DN by a few characters (typo)")
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
