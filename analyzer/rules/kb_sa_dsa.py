"""Shared logic of KB218920 (move mailbox between servers) and KB199954 (Admin program, forklift).

Both articles say which System Attendant / DSA DNs Logon Only As must hold: the SA of the server for
the Administrator program to reach the store (KB 199954), and the SA and DSA of *both* servers while
moving mailboxes inside a site (KB 218920).  Which one applies is told by comparing the server in the
refused DN with the computer that logged the 1023.
"""

from __future__ import annotations

from analyzer.dn import classify
from analyzer.evidence import CaseFacts
from analyzer.model import Finding
from analyzer.rules.logic import (
    RefusalGroup,
    by_dn_a,
    missing_entry,
    near_miss_sentence,
    refusal_groups,
    unlisted,
)

SA, DSA = "microsoft system attendant", "microsoft dsa"


def other_server(group: RefusalGroup) -> bool:
    """True when the DN's server is not the computer that logged the refusals (a peer server)."""
    computers = {c.casefold() for c in group.computers}
    return bool(computers) and (group.info.server or "").casefold() not in computers


def sa_dsa_findings(facts: CaseFacts, *, peer: bool, rule: str) -> list[Finding]:
    """Findings for refused SA/DSA DNs of a peer server (``peer``) or of the logging server."""
    out: list[Finding] = []
    groups_by_dn = by_dn_a(refusal_groups(facts))

    def wanted(group: RefusalGroup) -> bool:
        info = group.info
        return info.kind == "server_component" and info.key in (SA, DSA) and other_server(group) == peer

    for dn in unlisted(facts, wanted):
        first, info, match, groups = dn.first, dn.first.info, dn.match, dn.groups
        events = dn.events
        logged_on = ", ".join(first.computers) or "this server"
        targets = sorted({g.dn_b for g in groups if g.dn_b and g.dn_b.casefold() != first.dn_a.casefold()})
        head = (
            f"The IS on {logged_on} refused {len(events)} logon(s) (1023) validated as {info.label}: {first.dn_a}"
            + (f", opening {', '.join(targets)}" if targets else "")
            + "."
        )
        if peer:
            sibling_key = DSA if info.key == SA else SA
            sibling = "DSA" if sibling_key == DSA else "System Attendant"
            server = (info.server or "").casefold()
            seen_sibling = any(
                g[0].info.key == sibling_key and (g[0].info.server or "").casefold() == server
                for g in groups_by_dn.values()
            ) or any(
                (c := classify(e)).key == sibling_key and (c.server or "").casefold() == server
                for e in facts.logon_only_as.entries
            )
            body = (
                "Moving mailboxes between servers of one site while logons are limited needs the System Attendant "
                "and DSA DNs of both the source and the target server on each server (KB 218920). "
                "Add this DN exactly as the event writes it, then restart the Information Store."
            )
            if not seen_sibling:
                body += (
                    f" KB 218920 also needs the {sibling} DN of {info.server}; it was not refused in these logs, so "
                    "its exact DN is not known here: read it in the Exchange Administrator in raw mode "
                    "(admin.exe /r, File > Raw Properties, Obj-Dist-Name) — do not type it by analogy."
                )
            title = f"{info.label} (another server) is refused: needed to move mailboxes (KB 218920)"
            refs = ("KB218920", "KB146764")
            assumptions = (
                "(inferred) a missing peer-server SA/DSA entry surfaces as a 1023 with the peer's DN as the "
                "validated-as identity; KB 218920 gives no event",
            )
        else:
            body = (
                "With Logon Only As set the System Attendant must be listed, or the Exchange Administrator program "
                "cannot reach the store (Mailbox Resources, public folders) and services logging on as the SA "
                "are refused (KB 199954)."
                if info.key == SA
                else "The directory service of this server logs on to the store while mailboxes are moved; "
                "KB 218920 lists its DSA DN."
            ) + " Add this DN exactly as the event writes it, then restart the Information Store."
            title = f"{info.label} is refused by the IS: its DN is not in Logon Only As"
            refs = ("KB199954", "KB218920", "KB146764") if info.key == SA else ("KB218920", "KB199954", "KB146764")
            assumptions = ()
        miss = near_miss_sentence(match)
        if match.others:
            miss += (
                " The list holds the same component of another server: keep that entry if you move mailboxes "
                "between the two servers (KB 218920); listing only the source server's SA on the destination is "
                "the classic mistake KB 199954 warns about."
            )
        out.append(missing_entry(rule, dn, title, " ".join(p for p in (head, body, miss) if p), refs, assumptions))
    return out
