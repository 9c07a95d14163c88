"""The sales manager's report: one self-contained HTML page with charts, built from the marts.

The page puts together the data (report_data.py), the core charts (report_charts.py) and the
sections of the report_* modules, in page order (_SECTIONS), with the values formatted as
report_format.py shows them. Charts are Vega-Lite specs made with altair and drawn in the browser
by the Vega libraries, which are inlined in the page (vl-convert's bundle), so the file opens with
no network. The page never shows e-mail addresses or phone numbers (free text is scrubbed as a last guard).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from functools import cache
from pathlib import Path

import altair as alt
import jinja2
import vl_convert

from ingestion.file_modes import reader_file
from orchestration.serving import report_cold_deals, report_forecast, report_products, report_quality, report_treatment
from orchestration.serving import report_format as fmt
from orchestration.serving.labels import labels_for
from orchestration.serving.report_charts import (
    _attainment_chart,
    _breach_rate_chart,
    _budget_chart,
    _complaints_chart,
    _csat_chart,
    _funnel_chart,
    _lifecycle_sizes_chart,
    _lifecycle_transitions_chart,
    _nps_chart,
    _rep_nps_chart,
    _response_times_chart,
    _revenue_trend_chart,
    no_data_chart,
)
from orchestration.serving.report_data import VIP_NPS_AT_MOST, VIP_RECENCY_DAYS, Headline, ReportData, read_report_data

__all__ = ["CHART_NAMES", "REPORT_FILENAMES", "load_report_data", "render_report", "write_report", "write_reports"]

log = logging.getLogger(__name__)

REPORT_FILENAMES = {"en": "sales_report.html", "zh": "sales_report.zh.html"}
_TEMPLATES = Path(__file__).resolve().parent / "templates"


def _kpi(key: str, label: str, raw, display: str, *details: dict) -> dict:
    return {"key": key, "label": label, "raw": fmt.raw(raw), "display": display, "details": list(details)}


def _detail(key: str, raw, text: str) -> dict:
    return {"key": key, "raw": fmt.raw(raw), "text": text}


def _kpis(h: Headline, L: dict) -> list[dict]:
    month = fmt.month(h.month, L)
    won, closed = fmt.count(h.opportunities_won), fmt.count(h.opportunities_closed)
    return [
        _kpi(
            "net_revenue",
            L["kpi_net_revenue"].format(month=month),
            h.net_revenue,
            fmt.money(h.net_revenue),
            _detail("revenue_target", h.revenue_target, f"{L['kpi_revenue_target']}: {fmt.money(h.revenue_target)}"),
            _detail(
                "revenue_attainment",
                h.revenue_attainment,
                f"{L['kpi_attainment']}: {fmt.percent(h.revenue_attainment)}",
            ),
        ),
        _kpi(
            "win_rate",
            L["kpi_win_rate"].format(month=month),
            h.win_rate,
            fmt.percent(h.win_rate),
            _detail(
                "opportunities_closed", h.opportunities_closed, L["kpi_win_rate_detail"].format(won=won, closed=closed)
            ),
        ),
        _kpi(
            "nps",
            L["kpi_nps"].format(month=month),
            h.nps,
            "—" if h.nps is None else f"{h.nps:.1f}",
            _detail("nps_responses", h.nps_responses, L["kpi_nps_detail"].format(responses=fmt.count(h.nps_responses))),
        ),
        _kpi(
            "open_pipeline",
            L["kpi_open_pipeline"],
            h.open_pipeline_amount,
            fmt.money(h.open_pipeline_amount),
            _detail(
                "open_opportunities",
                h.open_opportunities,
                L["kpi_open_pipeline_detail"].format(count=fmt.count(h.open_opportunities)),
            ),
        ),
    ]


def _at_risk_table(data: ReportData, L: dict) -> dict:
    columns = [
        ("customer", "col_customer", False),
        ("region", "col_region", False),
        ("team", "col_team", False),
        ("owner", "col_owner", False),
        ("stage", "col_stage", False),
        ("reason", "col_reason", False),
        ("recency", "col_recency", True),
        ("revenue_365d", "col_revenue_365d", True),
        ("lifetime", "col_lifetime_revenue", True),
        ("nps", "col_nps", True),
        ("open_cases", "col_open_cases", True),
        ("action", "col_action", False),
    ]
    rows = []
    for r in data.at_risk:
        if r["lifecycle_stage"] == "vip":
            reasons = []
            if r["recency_days"] is not None and r["recency_days"] > VIP_RECENCY_DAYS:
                reasons.append(L["reason_vip_recency"].format(days=r["recency_days"]))
            if r["latest_nps_score"] is not None and r["latest_nps_score"] <= VIP_NPS_AT_MOST:
                reasons.append(L["reason_vip_nps"].format(score=r["latest_nps_score"]))
            reason = "; ".join(reasons)
        else:
            reason = L["reason_inactive"].format(days=fmt.count(r["recency_days"]))
        owner = r["owner_rep_id"]
        rows.append(
            {
                "account_id": r["account_id"],
                "cells": {
                    "customer": fmt.scrub_contact_details(r["account_name"] or r["account_id"]),
                    "region": fmt.scrub_contact_details(r["region"]),
                    "team": r["team_id"] or "",
                    "owner": fmt.scrub_contact_details(data.rep_names.get(owner, owner)),
                    "stage": L.get(f"life_stage.{r['lifecycle_stage']}", r["lifecycle_stage"]),
                    "reason": reason,
                    "recency": fmt.count(r["recency_days"]),
                    "revenue_365d": fmt.money(r["net_revenue_365d"]),
                    "lifetime": fmt.money(r["lifetime_net_revenue"]),
                    "nps": fmt.count(r["latest_nps_score"]),
                    "open_cases": fmt.count(r["open_cases"]),
                    "action": fmt.scrub_contact_details(r["recommended_action"]),
                },
            }
        )
    return {
        "columns": [{"key": k, "title": L[label], "numeric": numeric} for k, label, numeric in columns],
        "rows": rows,
        "total": data.at_risk_total,
        "shown_note": L["at_risk_shown"].format(shown=len(rows), total=data.at_risk_total),
    }


# Sections in page order: (section key, title label, [(chart name, builder)]).
_SECTIONS = [
    ("funnel", "section_funnel", [("funnel", _funnel_chart)]),
    ("kpi", "section_kpi", [("attainment", _attainment_chart), ("revenue_trend", _revenue_trend_chart)]),
    ("budget", "section_budget", [("budget", _budget_chart)]),
    (
        "lifecycle",
        "section_lifecycle",
        [("lifecycle_sizes", _lifecycle_sizes_chart), ("lifecycle_transitions", _lifecycle_transitions_chart)],
    ),
    (
        "service",
        "section_service",
        [
            ("nps", _nps_chart),
            ("csat", _csat_chart),
            ("rep_nps", _rep_nps_chart),
            ("response_times", _response_times_chart),
            ("complaints", _complaints_chart),
            ("breach_rate", _breach_rate_chart),
        ],
    ),
    ("forecast", "section_forecast", report_forecast.CHARTS),
    ("treatment", "section_treatment", report_treatment.CHARTS),
    ("quality", "section_quality", report_quality.CHARTS),
    ("products", "section_products", report_products.CHARTS),
    ("cold_deals", "section_cold_deals", report_cold_deals.CHARTS),
]
_TABLES = {
    "forecast": report_forecast.forecast_table,
    "products": report_products.products_table,
    "cold_deals": report_cold_deals.cold_deals_table,
    "treatment": report_treatment.untreated_table,
}
CHART_NAMES = tuple(name for _, _, charts in _SECTIONS for name, _ in charts)
# The section modules that read their own frames, in the order they are read.
_SECTION_MODULES = (report_forecast, report_quality, report_treatment, report_products, report_cold_deals)


def load_report_data(warehouse: Path) -> ReportData:
    """Everything the page shows, read from the warehouse opened read-only (closed on return)."""
    return read_report_data(warehouse, [section.load_frames for section in _SECTION_MODULES])


def _chart_specs(data: ReportData, L: dict) -> dict[str, dict]:
    specs = {}
    for _, _, charts in _SECTIONS:
        for name, build in charts:
            chart = build(data, L) if data.report_month else no_data_chart(L, "")
            # Validation skipped: it costs a second per page, and the browser test renders every chart.
            specs[name] = chart.configure(font="sans-serif").configure_legend(labelLimit=240).to_dict(validate=False)
    return specs


# ---------------------------------------------------------------- page


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "salesdw"


@cache
def _vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script, in the Vega-Lite version altair writes.

    vl-convert bundles the libraries on every call (seconds of work), always to the same text for
    one vl-convert and Vega-Lite version: kept in a per-user cache file keyed by both.
    """
    vl_version = "_".join(alt.SCHEMA_VERSION.split(".")[:2])  # v6.4.1 -> v6_4
    cached = _cache_dir() / f"vega-bundle-{vl_convert.__version__}-{vl_version}.js"
    try:
        return cached.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle = vl_convert.javascript_bundle(vl_version=vl_version).replace("</script", "<\\/script")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=f".{cached.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(bundle)
        os.replace(tmp, cached)
    except OSError as exc:  # a read-only home only costs the bundling time
        log.debug("could not cache the Vega bundle in %s: %s", cached, exc)
    return bundle


def _script_json(value) -> str:
    # Inside <script>, "</" could close the tag early and "<!--" (then "<script") puts the parser in
    # its double-escaped state, blanking every chart: no "<" at all, "\u003c" is the same JSON string.
    return json.dumps(value, ensure_ascii=False, default=str).replace("<", "\\u003c")


def render_report(data: ReportData, *, lang: str = "en", currency: str | None = None) -> str:
    L = labels_for(lang)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    as_of = data.as_of_date.isoformat() if data.as_of_date else fmt.month(data.as_of_month, L)
    return env.get_template("sales_report.html.j2").render(
        L=L,
        subtitle=L["subtitle"].format(as_of=as_of, month=fmt.month(data.report_month, L)),
        currency_note=L["currency_note"].format(currency=currency) if currency else "",
        kpis=_kpis(data.headline, L),
        sections=[
            {
                "key": key,
                "title": L[title],
                "charts": [name for name, _ in charts],
                "table": _TABLES[key](data, L, fmt.money) if key in _TABLES else None,
            }
            for key, title, charts in _SECTIONS
        ],
        at_risk=_at_risk_table(data, L),
        specs_json=_script_json(_chart_specs(data, L)),
        render_error_json=_script_json(L["render_error"]),
        vega_bundle=_vega_bundle(),
    )


def write_report(warehouse: Path, out_dir: Path, *, lang: str = "en", currency: str | None = None) -> Path:
    """Write the self-contained report page for `lang` ("en" or "zh") into out_dir; returns its path.

    Reads the marts of `warehouse` read-only (the connection is closed before the page is written);
    amounts are labelled with `currency` when given.
    """
    return write_reports(warehouse, out_dir, langs=(lang,), currency=currency)[0]


def write_reports(
    warehouse: Path, out_dir: Path, *, langs: tuple[str, ...] = ("en", "zh"), currency: str | None = None
) -> list[Path]:
    """write_report for each of `langs`, from one read of the warehouse; returns the pages' paths."""
    for lang in langs:
        labels_for(lang)  # unknown language: fail before touching anything
    data = load_report_data(Path(warehouse))
    return [_write_page(render_report(data, lang=lang, currency=currency), Path(out_dir), lang) for lang in langs]


def _write_page(html: str, out_dir: Path, lang: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / REPORT_FILENAMES[lang]
    # Write beside the target and rename: a reader never opens a half-written page.
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(html)
    reader_file(tmp)  # readers' pages: no personal data (ingestion/file_modes.py)
    os.replace(tmp, path)
    log.info("wrote %s (%d KiB)", path, len(html.encode()) // 1024)
    return path
