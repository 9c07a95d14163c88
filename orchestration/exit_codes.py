"""The exit codes of `salesdw run` and `salesdw demo`: their one home (README "The command line").

    0  everything loaded and published (DuckDB, and PostgreSQL when configured)
    1  the build or the audit failed: nothing was published (the previous warehouse is untouched)
    3  published, but some files were rejected (named on screen and in quality.ingestion_ledger)
    4  another run holds the warehouse lock: this run wrote nothing
    5  published, no file rejected, but some rows were quarantined (so a scheduler notices)
    6  the DuckDB warehouse was published, but the PostgreSQL copy failed (PostgreSQL keeps the
       previous publish)

When several hold, the first in 1 > 4 > 6 > 3 > 5 > 0 wins.
"""

from __future__ import annotations

OK, FAILED, REJECTED_FILES, LOCKED, QUARANTINED_ROWS, POSTGRES_FAILED = 0, 1, 3, 4, 5, 6


def exit_code(outcome) -> int:
    """The code of a finished run (runner.RunOutcome); LOCKED is the CLI's, before any run."""
    if not outcome.published or outcome.other_failed_steps:
        return FAILED
    if outcome.postgres_failure:
        return POSTGRES_FAILED
    if outcome.rejected_files:
        return REJECTED_FILES
    if outcome.rows_quarantined:
        return QUARANTINED_ROWS
    return OK
