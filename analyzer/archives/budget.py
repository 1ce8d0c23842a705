"""What the archives of one case have used of its caps (members, bytes extracted).

Why its own module: every case carries a budget, even one without an archive, while the safety layer
that spends it (``safety``) loads only when an archive is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analyzer.limits import CaseLimits


@dataclass
class Budget:
    """The caps of one case, shared by all its archives (nested ones included)."""

    limits: CaseLimits
    members: int = 0
    extracted: int = 0
