"""The weekly report's data model: plain values built from the warehouse, rendered by the templates.

Every section the warehouse may not have yet (segments before the first segmentation, predictions and
campaigns before they are computed, validation results before quality checks run) is optional: the
templates show "not yet available" with the reason instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class Period:
    """A span of whole days, both ends included."""

    start: date
    end: date

    @property
    def end_exclusive(self) -> date:
        """The day after the last day: timestamps are compared with `< end_exclusive`."""
        return self.end + timedelta(days=1)

    @property
    def iso_week(self) -> str:
        """The ISO week most of the span falls in, e.g. 2026-W45: for seven days, the week of their Thursday
        (ISO's own rule for a week that straddles two years); the last day's week for a shorter span."""
        thursday = self.start + timedelta(days=(3 - self.start.weekday()) % 7)
        year, week, _ = (thursday if thursday <= self.end else self.end).isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def label(self) -> str:
        """Human form, e.g. '3 Nov – 9 Nov 2026'."""
        start = f"{self.start.day} {self.start:%b}"
        if self.start.year != self.end.year:
            start += f" {self.start.year}"
        return f"{start} – {self.end.day} {self.end:%b %Y}"


def week_ending(as_of: date) -> Period:
    """The seven days that end with `as_of`."""
    return Period(as_of - timedelta(days=6), as_of)


@dataclass(frozen=True)
class Unavailable:
    """A section that cannot be shown yet, with the reason in one sentence."""

    reason: str


@dataclass(frozen=True)
class Banner:
    """A sentence shown above everything else: the data is older than expected, or a stage was skipped."""

    kind: str  # stale | skipped
    text: str


@dataclass(frozen=True)
class DataAge:
    """How far the newest order is behind the report day, against [quality] max_data_age_days."""

    newest: date
    days: int
    limit: int

    @property
    def stale(self) -> bool:
        """Older than the freshness check allows."""
        return self.days > self.limit


@dataclass(frozen=True)
class Kpi:
    """One headline number for this week against the week before."""

    key: str
    label: str
    current: float | None
    previous: float | None
    kind: str  # count | money | ratio | number
    higher_is_better: bool = True

    @property
    def change(self) -> float | None:
        """Relative change against the previous week (None when there is nothing to compare)."""
        if self.current is None or self.previous is None or self.previous == 0:
            return None
        return (self.current - self.previous) / abs(self.previous)

    @property
    def delta(self) -> float | None:
        """Absolute change against the previous week."""
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous


@dataclass(frozen=True)
class SegmentRunInfo:
    """The published segmentation a report shows."""

    run_id: str
    as_of: date
    algorithm: str | None
    k: int | None
    n_customers: int | None
    silhouette: float | None
    stability_ari: float | None


@dataclass(frozen=True)
class DefiningFeature:
    """A feature where a segment differs most from the whole customer base (segment_profiles'
    defining_features: the z-score is the clustering's, the means are in the feature's own units)."""

    feature: str
    label: str
    segment_mean: float | None  # None: no member has a value (a never-bought segment's recency)
    base_mean: float | None
    z: float
    unit: str = "number"  # money | ratio | days | number: how the means are shown

    @property
    def direction(self) -> str:
        """'higher' or 'lower' than the base: by the means shown where both differ, else by the z-score
        (logged, a segment's mean can sit below the base's while most of its members sit above)."""
        if (
            self.segment_mean is not None
            and self.base_mean is not None
            and self.segment_mean != self.base_mean
        ):
            return "higher" if self.segment_mean > self.base_mean else "lower"
        return "higher" if self.z > 0 else "lower"


@dataclass(frozen=True)
class ProductRow:
    """A product's sales to one segment's customers."""

    product_id: str
    name: str
    units: int
    revenue: float
    customers: int


@dataclass(frozen=True)
class Action:
    """What to do with a segment this week."""

    segment_type: str
    title: str
    channel: str
    offer: str
    why: str
    source: str = "default"  # default (built-in per segment type) | campaign (built this week)


@dataclass
class SegmentRow:
    """One segment of the published run, with its change against the run a week earlier."""

    segment_id: int
    name: str
    size: int
    share: float
    revenue_share: float | None
    description: str
    # the members' demographic mix in words ("median age 38 · 35-44 40% · ..."); '' without attributes
    demographics: str = ""
    previous_size: int | None = None
    mean_recency: float | None = None
    mean_frequency: float | None = None
    mean_monetary: float | None = None
    mean_clv: float | None = None
    # the members' net revenue to date; below zero (cancellations exceed kept orders) the report shows the
    # amount, since a share of positive revenue would read 0.0%
    net_revenue: float | None = None
    # why mean_clv is not shown (the lifetime-value model not validated or not reliable), in plain words
    clv_withheld: str | None = None
    mean_churn: float | None = None
    # members whose next order is expected within a week (customer_predictions.days_to_next_order <= 7)
    due_within_week: int | None = None
    defining: list[DefiningFeature] = field(default_factory=list)
    top_products: list[ProductRow] = field(default_factory=list)
    action: Action | None = None
    campaigns: list[str] = field(default_factory=list)

    @property
    def change(self) -> int | None:
        """Customers gained (+) or lost (-) since the run a week earlier."""
        return None if self.previous_size is None else self.size - self.previous_size

    @property
    def anchor(self) -> str:
        """HTML id of the segment's detail card."""
        return f"segment-{self.segment_id}"


@dataclass(frozen=True)
class SatisfactionRow:
    """One segment's feedback (read from its stored profile) and its mean rating a week earlier."""

    segment_id: int
    name: str
    feedback_share: float | None  # members with any review or survey answer
    rating_mean: float | None  # over the members with feedback, on the shop's scale
    detractor_share: float | None  # of the members with feedback, by their latest rating
    promoter_share: float | None
    previous_rating_mean: float | None = None
    previous_nps: float | None = None

    @property
    def nps(self) -> float | None:
        """Net Promoter Score: promoters minus detractors, in points (-100..100)."""
        if self.promoter_share is None or self.detractor_share is None:
            return None
        return 100 * (self.promoter_share - self.detractor_share)

    @property
    def rating_change(self) -> float | None:
        """The mean rating's change since the run a week earlier."""
        if self.rating_mean is None or self.previous_rating_mean is None:
            return None
        return self.rating_mean - self.previous_rating_mean

    @property
    def nps_change(self) -> float | None:
        """The score's change in points since the run a week earlier."""
        return None if self.nps is None or self.previous_nps is None else self.nps - self.previous_nps


@dataclass(frozen=True)
class Satisfaction:
    """Satisfaction per segment, for shops with a feedback source: stars (1-5) or NPS (0-10)."""

    scale: str
    rows: list[SatisfactionRow]
    compared: bool  # a published run a week earlier to compare with

    @property
    def scale_words(self) -> str:
        """How the ratings are scored, in plain words."""
        return "0-10 (NPS survey)" if self.scale == "nps" else "1-5 stars"


@dataclass(frozen=True)
class MigrationCell:
    """Customers (and their revenue to date) that went from one segment to another."""

    from_id: int | None  # None: not segmented a week earlier (new)
    to_id: int | None  # None: no longer segmented (gone)
    customers: int
    revenue: float


@dataclass
class Migration:
    """Who moved where between the run a week earlier and this week's run."""

    previous_run_id: str
    previous_as_of: date
    from_labels: dict[int | None, str]
    to_labels: dict[int | None, str]
    cells: list[MigrationCell]

    def cell(self, from_id: int | None, to_id: int | None) -> MigrationCell | None:
        """The cell for one (from, to) pair, if any customer made that move."""
        for c in self.cells:
            if c.from_id == from_id and c.to_id == to_id:
                return c
        return None

    def _between_runs(self, *, changed: bool) -> list[MigrationCell]:
        """Cells of customers segmented in both runs (only those who changed segment if `changed`)."""
        return [
            c
            for c in self.cells
            if c.from_id is not None and c.to_id is not None and (c.from_id != c.to_id or not changed)
        ]

    @property
    def customers_compared(self) -> int:
        """Customers in both runs."""
        return sum(c.customers for c in self._between_runs(changed=False))

    @property
    def moved(self) -> int:
        """Customers in both runs whose segment changed."""
        return sum(c.customers for c in self._between_runs(changed=True))

    @property
    def revenue_moved(self) -> float:
        """Revenue to date of the customers whose segment changed."""
        return sum(c.revenue for c in self._between_runs(changed=True))

    @property
    def top_moves(self) -> list[MigrationCell]:
        """The largest moves between two segments, biggest first."""
        return sorted(self._between_runs(changed=True), key=lambda c: (-c.customers, -c.revenue))[:5]


@dataclass
class SizeHistory:
    """Segment sizes at the end of each of the last weeks (None: no published run that week)."""

    weeks: list[date]
    names: dict[int, str]
    sizes: dict[int, list[int | None]]


@dataclass
class RfmGrid:
    """Customers by recency score (rows, 5 = most recent) and frequency score (columns)."""

    counts: list[list[int]]  # counts[r - 1][f - 1]
    mean_monetary: list[list[float | None]]
    named: list[tuple[str, int, float]]  # (rfm_segment, customers, revenue to date)


@dataclass
class Projection:
    """A 2D principal-component projection of a sample of customers."""

    x: list[float]
    y: list[float]
    segment_ids: list[int]
    names: dict[int, str]
    n_sampled: int
    n_total: int
    explained: tuple[float, float]


@dataclass(frozen=True)
class RunRow:
    """One pipeline run of the week."""

    run_id: str
    flow: str
    as_of: date | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    message: str | None


@dataclass(frozen=True)
class LoadRow:
    """Rows read, loaded, quarantined and skipped as duplicates (a separate count) for one source over the week."""

    source: str
    files: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_duplicate: int


@dataclass(frozen=True)
class FailedCheck:
    """A failed expectation of the week."""

    run_id: str
    suite: str
    expectation: str
    severity: str
    unexpected_count: int | None
    summary: str = ""  # what was measured, for checks without failing rows (a night's volume, freshness)


@dataclass
class Quality:
    """The week's data quality: runs, rows loaded and quarantined, failed checks."""

    runs: list[RunRow]
    loads: list[LoadRow]
    quarantine_reasons: list[tuple[str, str, int]]  # (source, reason, rows)
    failed_checks: list[FailedCheck] | Unavailable
    checks_run: int = 0
    not_published: list[tuple[date, str]] = field(default_factory=list)  # (night, why)
    # What happened on each of those nights, in one sentence: held by a data check (named) or by the
    # segment checks, and whether earlier segments stay in use or there are none to keep.
    held_nights: list[tuple[date, str]] = field(default_factory=list)
    held_batches: list[tuple[str, str, str, int]] = field(default_factory=list)  # (source, file, why, rows)
    # Orders in the warehouse now that were loaded without some of their lines: (orders, lines).
    partial_orders: tuple[int, int] = (0, 0)

    @property
    def status_counts(self) -> dict[str, int]:
        """Runs per status."""
        counts: dict[str, int] = {}
        for r in self.runs:
            counts[r.status] = counts.get(r.status, 0) + 1
        return counts

    @property
    def rows_quarantined(self) -> int:
        """Rows quarantined this week over all sources."""
        return sum(x.rows_quarantined for x in self.loads)

    @property
    def rows_duplicate(self) -> int:
        """Rows skipped this week as identical to rows already loaded (not quarantined: nothing is wrong)."""
        return sum(x.rows_duplicate for x in self.loads)


@dataclass(frozen=True)
class CampaignResult:
    """A measured campaign (or one segment of it): treatment against holdout."""

    campaign_id: str
    name: str
    segment_name: str
    window_start: date
    window_end: date
    n_treatment: int
    n_holdout: int
    conversion_treatment: float | None
    conversion_holdout: float | None
    uplift_abs: float | None
    uplift_ci_low: float | None
    uplift_ci_high: float | None
    p_value: float | None
    revenue_uplift: float | None
    revenue_ci_low: float | None
    revenue_ci_high: float | None

    @property
    def significant(self) -> bool:
        """The 95% interval of the conversion uplift excludes zero."""
        return (
            self.uplift_ci_low is not None
            and self.uplift_ci_high is not None
            and (self.uplift_ci_low > 0 or self.uplift_ci_high < 0)
        )


@dataclass(frozen=True)
class CampaignBuilt:
    """A campaign whose audience was chosen this week."""

    campaign_id: str
    name: str
    channel: str
    offer: str | None
    n_treatment: int
    n_holdout: int
    window_end: date


@dataclass(frozen=True)
class VariantRow:
    """One offer variant in one segment: what its treatment members did so far and its share of the build."""

    segment_name: str
    variant: str
    n_sent: int  # treatment members given the variant in the measured builds
    conversions: int  # of those, who bought in the attribution window
    posterior_mean: float  # the estimated share who buy: Beta(1 + conversions, 1 + n_sent - conversions)
    ci_low: float  # 90% credible interval
    ci_high: float
    p_best: float  # the chance this variant makes the most of the segment buy
    n_assigned: int  # treatment members given it at the latest build
    share: float | None  # of the segment's treatment at the latest build


@dataclass(frozen=True)
class VariantTest:
    """A campaign whose latest build split its treatment across offer variants (Thompson sampling)."""

    name: str
    campaign_id: str  # the latest build
    as_of: date
    measured_as_of: date | None  # the last measurement counted (None: nothing measured yet)
    rows: list[VariantRow]

    @property
    def segments(self) -> list[str]:
        """The segments of the latest build's treatment, in order."""
        return list(dict.fromkeys(r.segment_name for r in self.rows))


@dataclass
class Campaigns:
    """Campaigns built this week, the results measured so far, and the campaigns testing offer variants."""

    built: list[CampaignBuilt]
    results: list[CampaignResult]
    variants: list[VariantTest] = field(default_factory=list)


@dataclass(frozen=True)
class AnomalyRow:
    """A customer flagged as unusual."""

    customer_id: str
    reason: str
    score: float


@dataclass
class ChurnCheck:
    """What the churn scores of one horizon ago said, against what then happened."""

    predicted_as_of: date
    outcome_as_of: date
    customers: int
    predicted_churn_rate: float  # mean score
    actual_churn_rate: float
    precision: float
    recall: float
    f1: float
    roc_auc: float


@dataclass
class ClvCheck:
    """The nightly lifetime-value holdout check (clv_validation): predicted against actual purchases."""

    calibration_end: date
    holdout_days: int
    model: str | None
    customers: int
    actual_purchases: float
    predicted_purchases: float | None
    ratio: float | None
    mae: float | None
    baseline_ratio: float | None
    baseline_mae: float
    message: str | None  # why the calibration fit was not reliable
    next_order: NextOrderCheck | None = None


@dataclass
class NextOrderCheck:
    """The next-order predictions of the CLV holdout check (clv_validation.next_order_*)."""

    customers: int
    predicted_share: float  # mean P(order within 30 days) at the calibration end
    ordered_share: float  # who ordered within 30 days of it
    auc: float | None  # of p_order_30d
    auc_recency: float | None  # days since the last order, the baseline
    mae_days: float  # days to the next order, capped at the holdout
    mae_days_baseline: float  # last order + the customer's mean gap


@dataclass
class RecommenderScore:
    """One recommender's measures on the judged period (a recommendation_evaluations row)."""

    method: str  # rules | neighbours | popularity
    in_use: bool  # the method that filled that night's recommendations
    hit_rate: float
    precision: float
    coverage: float


@dataclass
class RecommendationCheck:
    """The last night's recommendation evaluation: the recommender in use beside popularity, the floor."""

    as_of: date
    train_end: date
    horizon_days: int
    k: int
    customers: int
    scores: list[RecommenderScore]  # the one in use first


@dataclass
class Predictions:
    """Model facts shown next to the segments: churn model quality and flagged customers."""

    run_id: str
    as_of: date
    churn_auc: float | None
    churn_f1: float | None
    churn_baseline_auc: float | None
    n_anomalies: int
    anomalies: list[AnomalyRow]
    churn_precision: float | None = None
    churn_recall: float | None = None
    churn_check: ChurnCheck | None = None  # None until a run is one horizon old
    clv_check: ClvCheck | None = None  # None when history was too short to hold out
    message: str | None = None  # prediction_runs.message: models skipped or degenerate, features left out
    recommendation_check: RecommendationCheck | None = None  # None until a night could judge them
    anomalies_checked: bool = True  # False when the night scored nobody (too few customers to compare)


@dataclass
class ReportData:
    """Everything the weekly report shows, for one week."""

    as_of: date
    period: Period
    previous: Period
    generated_at: datetime
    kpis: list[Kpi]
    segment_run: SegmentRunInfo | Unavailable
    segments: list[SegmentRow] | Unavailable
    migration: Migration | Unavailable
    history: SizeHistory | Unavailable
    rfm: RfmGrid | Unavailable
    projection: Projection | Unavailable
    quality: Quality
    campaigns: Campaigns | Unavailable
    predictions: Predictions | Unavailable
    notes: list[str] = field(default_factory=list)
    currency: str | None = None  # the shop's base currency: every amount is shown in it
    banners: list[Banner] = field(default_factory=list)
    data_age: DataAge | None = None  # None: no orders up to the report day
    satisfaction: Satisfaction | None = None  # None: the shop has no feedback up to the report day

    @property
    def segment_list(self) -> list[SegmentRow]:
        """The segments, or an empty list when there are none yet."""
        return self.segments if isinstance(self.segments, list) else []
