"""Render the report's data model with the Jinja2 templates in reports/templates/.

Autoescaping is on for every HTML template (select_autoescape), and no template marks data as safe: a
product called `<script>alert(1)</script>` is shown as text in the web report and the email alike.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from typing import Any

import jinja2

from segmint.currency import currency_prefix
from segmint.report.charts import Chart, chart_gaps
from segmint.report.model import Kpi, ReportData, Unavailable
from segmint.resources import resource_dir

WEB_TEMPLATE = "web_report.html"
EMAIL_TEMPLATE = "email_report.html"
TEXT_TEMPLATE = "email_report.txt"
DASH = "—"
# The web report's sections, in order: anchors for the navigation (and what the browser test looks for).
SECTION_IDS = (
    "kpis",
    "segments",
    "migration",
    "charts",
    "segment-details",
    "campaigns",
    "predictions",
    "quality",
    "how-made",
)


def num(value: float | None, digits: int = 0) -> str:
    """A number with thousands separators; a dash for None."""
    if value is None:
        return DASH
    return f"{value:,.{digits}f}"


# Negative amounts carry a true minus sign before the currency (−£4,287.63), wherever they are shown.
MINUS = "\u2212"


def money(value: float | None, currency: str | None = None, *, signed: bool = False) -> str:
    """An amount with two decimals and its currency: £1,234.50, CHF 80.00, −$3.10 (+ with `signed`)."""
    if value is None:
        return DASH
    sign = MINUS if value < 0 else ("+" if signed and value > 0 else "")
    return f"{sign}{currency_prefix(currency)}{abs(value):,.2f}"


def with_prefix(amount: str, currency: str | None = None) -> str:
    """An already formatted amount ("-4,287.63") with its currency, the sign before it: −£4,287.63."""
    negative = amount[:1] in ("-", MINUS)
    return f"{MINUS if negative else ''}{currency_prefix(currency)}{amount[1:] if negative else amount}"


def day(value: date | datetime | None, year: bool = True) -> str:
    """A date as people write it: 2 Dec 2026 (2 Dec without the year)."""
    if value is None:
        return DASH
    return f"{value.day} {value:%b %Y}" if year else f"{value.day} {value:%b}"


def feature_value(value: float | None, unit: str, currency: str | None = None) -> str:
    """A feature's mean in its unit: an amount with the currency, a rate in percent, days and counts rounded."""
    if unit == "money":
        return money(value, currency)
    if unit == "ratio":
        return pct(value)
    return num(value, 0 if unit == "days" else 1)


@jinja2.pass_context
def _money_filter(context: jinja2.runtime.Context, value: float | None) -> str:
    return money(value, _currency(context))


@jinja2.pass_context
def _signed_money_filter(context: jinja2.runtime.Context, value: float | None) -> str:
    return money(value, _currency(context), signed=True)


@jinja2.pass_context
def _kpi_value_filter(context: jinja2.runtime.Context, kpi: Kpi, which: str = "current") -> str:
    return kpi_value(kpi, which, _currency(context))


@jinja2.pass_context
def _feature_value_filter(context: jinja2.runtime.Context, value: float | None, unit: str) -> str:
    return feature_value(value, unit, _currency(context))


# The stored sentences of earlier stages carry bare amounts (segment_profiles.description: "2.5 orders
# of 70 on average"; anomalies.reason: "low avg_order_value 3.20 (median 48.55)"): shown with the currency
# and in plain words, so every amount in the report names its currency.
_AVERAGE_ORDER = re.compile(r"\b(orders of )(-?\d[\d,]*(?:\.\d+)?)( on average)")
_ANOMALY_PART = re.compile(r"^(high|low) (\w+) (\S+) \(median (\S+)\)$")


def with_currency(description: str, currency: str | None = None) -> str:
    """A segment's stored description with its average order value in the shop's currency."""
    return _AVERAGE_ORDER.sub(lambda m: f"{m[1]}{with_prefix(m[2], currency)}{m[3]}", description)


def anomaly_reason(reason: str, currency: str | None = None) -> str:
    """An anomaly's stored reason in plain words: feature labels, amounts with the currency."""
    from segmint.report.actions import feature_label, feature_unit

    def plain(part: str) -> str:
        found = _ANOMALY_PART.match(part)
        if found is None:
            return part
        direction, feature, value, median = found.groups()
        if feature_unit(feature) == "money":
            value, median = (with_prefix(v, currency) for v in (value, median))
        return f"{direction} {feature_label(feature)}: {value} (most customers: {median})"

    return "; ".join(plain(p) for p in reason.split("; "))


@jinja2.pass_context
def _with_currency_filter(context: jinja2.runtime.Context, description: str) -> str:
    return with_currency(description, _currency(context))


@jinja2.pass_context
def _anomaly_reason_filter(context: jinja2.runtime.Context, reason: str) -> str:
    return anomaly_reason(reason, _currency(context))


def _currency(context: jinja2.runtime.Context) -> str | None:
    data = context.get("data")
    return getattr(data, "currency", None)


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage."""
    if value is None:
        return DASH
    return f"{value * 100:.{digits}f}%"


def signed(value: float | None, digits: int = 0) -> str:
    """A change with its sign: +12, -3."""
    if value is None:
        return DASH
    return f"{value:+,.{digits}f}"


def signed_pct(value: float | None, digits: int = 1) -> str:
    """A relative change with its sign: +12.5%."""
    if value is None:
        return DASH
    return f"{value * 100:+.{digits}f}%"


def kpi_value(kpi: Kpi, which: str = "current", currency: str | None = None) -> str:
    """A KPI's value for this week or the previous one, formatted by its kind."""
    value = kpi.current if which == "current" else kpi.previous
    if kpi.kind == "money":
        return money(value, currency)
    if kpi.kind == "ratio":
        return pct(value)
    return num(value)


def kpi_change(kpi: Kpi) -> str:
    """A KPI's change: points for ratios, percent for the rest."""
    if kpi.kind == "ratio":
        return DASH if kpi.delta is None else f"{kpi.delta * 100:+.1f} pts"
    return signed_pct(kpi.change)


def kpi_tone(kpi: Kpi) -> str:
    """good, bad or flat: whether the change is welcome (fewer guest orders is good)."""
    delta = kpi.delta
    if delta is None or abs(delta) < 1e-12:
        return "flat"
    return "good" if (delta > 0) == kpi.higher_is_better else "bad"


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment over reports/templates/, autoescaping HTML (plain text is not HTML)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(resource_dir("reports") / "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "xml"),
            disabled_extensions=("txt",),
            default_for_string=True,
            default=True,
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        num=num,
        money=_money_filter,
        signed_money=_signed_money_filter,
        pct=pct,
        signed=signed,
        signed_pct=signed_pct,
        kpi_value=_kpi_value_filter,
        kpi_change=kpi_change,
        kpi_tone=kpi_tone,
        day=day,
        feature_value=_feature_value_filter,
        with_currency=_with_currency_filter,
        anomaly_reason=_anomaly_reason_filter,
    )
    env.tests["unavailable"] = lambda value: isinstance(value, Unavailable)
    return env


def _context(data: ReportData, charts: list[Chart], **extra: Any) -> dict[str, Any]:
    return {
        "data": data,
        "charts": charts,
        "chart": {c.key: c for c in charts},
        "gaps": chart_gaps(data),
        **extra,
    }


def render_web(data: ReportData, charts: list[Chart]) -> str:
    """The self-contained web report: CSS and charts inline, no external requests."""
    return environment().get_template(WEB_TEMPLATE).render(_context(data, charts))


def render_email(
    data: ReportData, charts: list[Chart], *, report_url: str | None = None, attached: bool = False
) -> tuple[str, str]:
    """The email's HTML (inline CSS, table layout, charts by Content-ID) and its plain-text alternative.

    The full report is linked at `report_url` ([report] url), or said to be `attached` as report.html.
    """
    env = environment()
    context = _context(data, charts, report_url=report_url, attached=attached)
    return env.get_template(EMAIL_TEMPLATE).render(context), env.get_template(TEXT_TEMPLATE).render(context)
