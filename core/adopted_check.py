"""Whether an adopted batch's results look like its part's requests.

Reconcile adopts a batch whose create's answer was lost on proof (submission id, its own
input file, ids batchtop numbered, or a user's `reconcile --adopt`). Its results are then
paired with the part's inputs by custom_id. As a last check, once its results are indexed,
the input tokens they report are compared with what the part's manifest estimates for the
same requests (characters / 4): a batch of the same custom_ids but other prompts reports a
total far from it. The estimate is rough (a factor of 2 either way for ordinary text; tools,
images and documents stray further), so only a large, systematic gap over several requests
is said, as a warning: it cannot prove a batch ours, only catch one that plainly is not.
"""

from __future__ import annotations

from dataclasses import dataclass

# A total this many times apart (either way) over at least MIN_ROWS succeeded requests and
# MIN_TOKENS estimated tokens; closer than that is within the estimate's own error.
FACTOR = 5.0
MIN_ROWS = 3
MIN_TOKENS = 50


@dataclass(frozen=True, slots=True)
class TokenGap:
    """Input tokens an adopted batch's succeeded results report vs its manifest's estimate."""

    batch_id: str
    rows: int
    estimated: int
    reported: int

    @property
    def mismatched(self) -> bool:
        if self.rows < MIN_ROWS or self.estimated < MIN_TOKENS:
            return False
        reported = max(self.reported, 1)
        return reported * FACTOR < self.estimated or reported > self.estimated * FACTOR

    @property
    def text(self) -> str:
        return (
            f"The results of {self.batch_id} may not be this part's: its {self.rows:,} succeeded"
            f" requests report {self.reported:,} input tokens where the part's own requests"
            f" come to about {self.estimated:,}. It was adopted after its create's answer was"
            " lost; if another client made it, its outputs are paired with your inputs by"
            " custom_id. Check a few rows before using them."
        )
