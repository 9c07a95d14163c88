"""Serving: what leaves the warehouse for people and BI tools.

- `orchestration.serving.report.write_report` (`write_reports`: several languages from one read): the
  sales manager's self-contained HTML page.
- `orchestration.serving.postgres.publish_to_postgres`: the marts copied into PostgreSQL.

Import from the submodules (kept apart so the PostgreSQL publish never loads the charting stack).
"""
