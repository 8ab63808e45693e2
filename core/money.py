"""The one way an amount of money is written, by both front ends and core's own messages.

Two decimals everywhere (a column of costs lines up, and one figure never reads `$0.0000`
in one place and `$0.00` in another): a positive amount below a cent is `<$0.01`, exactly
zero (a batch that billed nothing) is `$0.00`, an estimate is marked `~` (`~<$0.01`), an
estimate that counts input only (no output budget bounds the rest) is a floor marked `+`
(`~$0.03+`, `~<$0.01+`), and an unknown amount is `—`.
"""

from __future__ import annotations

UNKNOWN = "—"
BELOW_A_CENT = "<$0.01"


def usd_text(usd: float | None, *, approx: bool = False, floor: bool = False) -> str:
    """`$1,234.50`, `~$0.12`, `~$0.12+`, `<$0.01`, `$0.00`, `—` (see the module docstring)."""
    if usd is None:
        return UNKNOWN
    if floor:
        return usd_text(usd, approx=True) + "+"
    prefix = "~" if approx else ""
    if 0 < usd < 0.01:
        return prefix + BELOW_A_CENT
    if usd < 0:  # a negative amount (a saving shown as a difference) keeps its sign
        if usd > -0.01:
            return f"{prefix}-{BELOW_A_CENT}"
        return f"{prefix}-${-usd:,.2f}"
    return f"{prefix}${usd:,.2f}"
