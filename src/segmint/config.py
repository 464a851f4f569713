"""Settings: one TOML file, then `.env` beside it, then `SEGMINT_*` environment variables (each overrides
the one before; secrets only from .env or the environment)."""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from segmint.errors import ConfigError
from segmint.redact import register_settings

DEFAULT_CONFIG = Path("segmint.toml")
# A shop's name as it appears in its deployments' names and tags.
SHOP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
SourceKind = Literal["orders", "events", "customers", "feedback"]
PRESETS = ("canonical", "online_retail", "cdnow", "rees46", "shopify_orders", "judgeme", "nps_survey")
# How a feedback source's ratings are scored: 1-5 stars (review apps) or 0-10 (Net Promoter surveys).
FeedbackScale = Literal["stars", "nps"]
# The scale a feedback preset's exports use, when the source does not set `scale`.
PRESET_SCALES: dict[str, FeedbackScale] = {"judgeme": "stars", "nps_survey": "nps"}
THOUSANDS_SEPARATORS = (",", ".", " ", "'", "\u00a0", "\u202f", "_")


class _Section(BaseModel):
    # A misspelt key must fail loudly rather than be silently ignored.
    model_config = ConfigDict(extra="forbid")


class WarehouseSettings(_Section):
    """Where the DuckDB warehouse lives."""

    path: Path = Path("data/warehouse.duckdb")
    memory_limit: str | None = None
    threads: int | None = None
    # How long a run waits for another program (a notebook, a BI tool) to close the warehouse file.
    reader_wait_seconds: float = Field(default=60.0, ge=0)


class PrefectSettings(_Section):
    """Where Prefect keeps its database and logs (default: <output dir>/prefect)."""

    home: Path | None = None


class SourceSettings(_Section):
    """One input: a glob of files of one kind, read with a preset or a column mapping."""

    name: str
    kind: SourceKind
    path: str
    preset: str = "canonical"
    columns: dict[str, str] = Field(default_factory=dict)
    delimiter: str | None = None
    timestamp_format: str | None = None
    currency: str | None = None
    # European exports write 1.234,56: decimal_separator = ",", thousands_separator = ".".
    decimal_separator: str = "."
    thousands_separator: str | None = None
    # The text encoding of the source's CSV / JSON lines files, any Python codec name; a file not in
    # UTF-8 is transcoded to UTF-8 as it is copied for loading (Excel in Western Europe writes "cp1252").
    encoding: str = "utf-8"
    # A row whose key was loaded before with other content: update the stored row (the earlier
    # version goes to the history tables) or quarantine the new one.
    on_changed: Literal["update", "quarantine"] = "update"
    # Feedback sources only: "stars" (1-5) or "nps" (0-10); None: the preset's scale, else stars.
    scale: FeedbackScale | None = None

    @property
    def rating_scale(self) -> FeedbackScale:
        """The scale this source's ratings are on: its own setting, else its preset's, else stars."""
        return self.scale or PRESET_SCALES.get(self.preset, "stars")

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        if value not in PRESETS:
            raise ValueError(f"unknown preset {value!r}; use one of {', '.join(PRESETS)}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            # base64, rot13 and the like are codecs too, but not of text.
            if not getattr(codecs.lookup(value), "_is_text_encoding", True):
                raise LookupError(value)
        except LookupError:
            raise ValueError(
                f"encoding {value!r} is not a text encoding Python knows; use a codec name such as "
                '"utf-8" or "cp1252" (the usual encoding of Excel exports in Western Europe)'
            ) from None
        return value

    @field_validator("decimal_separator")
    @classmethod
    def _known_decimal(cls, value: str) -> str:
        if value not in (".", ","):
            raise ValueError(f'decimal_separator {value!r} is not "." or ","; use one of those')
        return value

    @field_validator("thousands_separator")
    @classmethod
    def _known_thousands(cls, value: str | None) -> str | None:
        if value is not None and value not in THOUSANDS_SEPARATORS:
            raise ValueError(
                f"thousands_separator {value!r} is not one of "
                + ", ".join(repr(c) for c in THOUSANDS_SEPARATORS)
                + "; use one of those or leave it out"
            )
        return value

    @model_validator(mode="after")
    def _scale_for_feedback(self) -> SourceSettings:
        if self.scale is not None and self.kind != "feedback":
            raise ValueError(
                f"scale = {self.scale!r} is only read for kind = 'feedback' (this source is {self.kind}); remove it"
            )
        return self

    @model_validator(mode="after")
    def _separators_differ(self) -> SourceSettings:
        if self.thousands_separator == self.decimal_separator:
            raise ValueError(
                f"decimal_separator and thousands_separator are both {self.decimal_separator!r}; "
                "a number cannot use one character for both, so set them to different characters"
            )
        return self


class IngestSettings(_Section):
    """How source files are read: when a file counts as complete, and the longest line taken as a row."""

    # A file loads once its size and modification time have not changed for this long: an export still
    # being written is skipped this run and loaded by the next. A file younger than this is looked at
    # again after the rest of the wait, so a run waits at most this long, and only for young files.
    settle_seconds: float = Field(default=30.0, ge=0, le=3600)
    # A longer CSV line is quarantined as a malformed line (DuckDB's own limit is 2 MB).
    max_line_bytes: int = Field(default=10_000_000, ge=1024, le=1_000_000_000)


class ShopSettings(_Section):
    """The shop itself: its name, its base currency and the exchange rates into it."""

    # Names the shop's deployments on a work pool (`segmint deploy`); None: the config folder's name.
    name: str | None = None
    # The currency every amount is stored in; None: the most common currency of the first orders
    # file loaded (recorded in the warehouse table base_currency).
    currency: str | None = None
    # A CSV of date, currency, rate, where rate = units of the base currency per 1 unit of `currency`.
    exchange_rates: Path | None = None

    @field_validator("name")
    @classmethod
    def _deployment_name(cls, value: str | None) -> str | None:
        # Prefect names a deployment <flow>/<name>: a slash or a space would split or blur it.
        if value is not None and not SHOP_NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a shop name; use letters, digits, '-', '_' or '.', starting with a letter or digit"
            )
        return value

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z]{3}", value):
            raise ValueError(f"{value!r} is not a three-letter currency code such as 'EUR'")
        return value.upper() if value else value


class FeatureSettings(_Section):
    """How customer features are kept (their definitions live in sql/; windows are 30 and 90 days)."""

    # Nights of customer_features kept before the newest one; None keeps every night. Any pruned
    # night can be rebuilt exactly, because features only read data up to the end of their as-of day.
    keep_days: int | None = Field(default=None, ge=0)


class SegmentationSettings(_Section):
    """How customers are clustered into segments."""

    algorithm: Literal["kmeans", "gmm", "ward", "hdbscan"] = "kmeans"
    # Recency, frequency and monetary (total net spend, the M of RFM) plus engagement. Against order
    # value instead of total spend, on real shops the segments explain more of the next quarter's
    # revenue (eta squared, UCI Online Retail 0.20 -> 0.24, CDNOW 0.17 -> 0.22) and recover the
    # generator's personas as well (ARI 0.81 -> 0.82). Adding more columns (tenure, return rate, cart
    # abandonment) blurred the segments (ARI 0.83 -> 0.48-0.69). Features that do not vary on a shop
    # (no clickstream: sessions_90d) are left out per night.
    features: list[str] = Field(
        default_factory=lambda: ["recency_days", "frequency", "monetary", "sessions_90d"]
    )
    # Features taken as log1p (signed) before robust scaling; None: every feature except rates and
    # day counts (recency, tenure, days since a visit), which are kept linear.
    log_features: list[str] | None = None
    # What is clustered: the scaled features, or "autoencoder": the bottleneck of a small neural network
    # (scikit-learn's MLPRegressor) trained to reconstruct the scaled features plus 26 weekly order and
    # visit counts. Profiles and names still describe segments by the features. Measured against the
    # features on personas, bootstrap stability and next-90-day revenue lift (bench/RESULTS.md, README).
    representation: Literal["features", "autoencoder"] = "features"
    autoencoder_bottleneck: int = Field(default=4, ge=2, le=16)
    autoencoder_max_iter: int = Field(default=60, ge=1)
    # The network trains on a seeded sample of this many customers when there are more; all are encoded.
    autoencoder_max_training_rows: int = Field(default=20_000, ge=200)
    k_min: int = Field(default=3, ge=2)
    k_max: int = Field(default=10, ge=2)
    # k: the highest Calinski-Harabasz score among the k whose bootstrap stability (mean ARI of
    # refits on resamples) is >= k_stability_floor (see README).
    k_stability_floor: float = 0.75
    # Keep the last published k unless another stable k scores this much better (see README).
    k_change_margin: float = Field(default=0.25, ge=0, lt=1)
    # k is only chosen among splits whose smallest segment holds at least this share of the customers
    # and this many: smaller ones are outliers split off, not a group to run a campaign for (see README).
    min_segment_share: float = Field(default=0.01, ge=0, lt=0.5)
    min_segment_size: int = Field(default=10, ge=1)
    # Take the smallest k whose Calinski-Harabasz score is within this share of the best one: a split
    # that hardly improves the score is noise, not a segment (see README).
    k_parsimony: float = Field(default=0.10, ge=0, lt=1)
    bootstrap_rounds: int = Field(default=4, ge=2)
    n_init: int = Field(default=4, ge=1)
    pca_components: int | None = None
    minibatch_threshold: int = 200_000
    sample_size: int = Field(default=20_000, ge=100)  # k selection, GMM/Ward/HDBSCAN fits, the forest
    silhouette_sample_size: int = Field(default=5_000, ge=100)
    hdbscan_min_cluster_share: float = 0.02
    seed: int = 42
    # Re-cluster every N nights; in between, the last re-cluster's forest assigns every customer.
    recluster_every_days: int = Field(default=1, ge=1)
    # Centroids further apart than this (scaled units) are a new segment, not the old one moved.
    max_match_distance: float = 2.0
    forest_trees: int = Field(default=100, ge=10)
    # The customer map each run stores draws at most this many customers (each segment keeps its share,
    # and at least 30): enough to see the segments, few enough to draw at once.
    map_sample: int = Field(default=4000, ge=1)
    # Fewer customers than this are not segmented: the night completes without a new segmentation.
    min_customers: int = Field(default=100, ge=10)
    # Publication gate: a run below a floor is kept in history but not published.
    min_silhouette: float = 0.10
    min_stability_ari: float = 0.50
    max_segment_share: float = 0.90

    @model_validator(mode="after")
    def _k_range(self) -> SegmentationSettings:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) is above k_max ({self.k_max}); swap them")
        return self


class QualitySettings(_Section):
    """Validation thresholds for write-audit-publish."""

    # Tonight's rows per source may differ from the median of the last `volume_nights` nights by this
    # share (never less than 3 Poisson standard deviations, so tiny shops are not alerted on noise).
    volume_band: float = Field(default=0.5, gt=0)
    volume_nights: int = Field(default=7, ge=1)
    volume_min_nights: int = Field(default=3, ge=1)
    # Below the band, tonight's rows hold the night (critical) only when they are under this share of the
    # median: a missing or cut-off export. An ordinary quiet day (a weekend dip to a quarter of the
    # median) is a warning, so it never holds the segments.
    volume_hold_share: float = Field(default=0.1, ge=0, le=1)
    max_quarantine_share: float = Field(default=0.05, ge=0, le=1)
    max_guest_share: float = Field(default=0.5, ge=0, le=1)
    # Row-level critical expectations tolerate this share of failing rows in a batch (those rows are
    # quarantined); above it the export itself is broken and the batch is held.
    max_bad_row_share: float = Field(default=0.01, ge=0, le=1)
    # ...and only when at least this many rows fail: a few odd rows are quarantined, never hold a file.
    min_failing_rows: int = Field(default=5, ge=1)
    max_duplicate_share: float = Field(default=0.01, ge=0, le=1)
    # A nightly batch may reach back this many days before the newest time already loaded.
    late_arrival_days: int = Field(default=7, ge=0)
    # The newest order (and event) may be at most this many days before the night being computed.
    max_data_age_days: int = Field(default=3, ge=0)
    # The batch's median price may differ from recent nights' by this factor (100 = prices in cents).
    price_scale_factor: float = Field(default=10.0, gt=1)
    price_scale_min_rows: int = Field(default=30, ge=1)
    price_history_days: int = Field(default=30, ge=1)
    future_tolerance_hours: int = 24
    sample_rows: int = Field(default=10, ge=1, le=100)
    # Great Expectations validates pandas frames: a batch or table of more rows is checked this many rows
    # at a time and the results combined (a 10-million-row table peaked at 6.8 GB whole; bench/RESULTS.md).
    chunk_rows: int = Field(default=1_000_000, ge=1)
    # Data docs keep this many days of validation results (the warehouse keeps all of them).
    docs_keep_days: int = Field(default=30, ge=1)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_address(value: str) -> str:
    """One RFC 5322 address ("shop@example.com" or "Shop <shop@example.com>"), else a ValueError saying why.

    A line break in an address would end the mail header it goes into (header injection), so none is allowed.
    """
    from email.errors import HeaderParseError
    from email.headerregistry import Address
    from email.utils import getaddresses

    example = "write one address such as 'shop@example.com' or 'Shop <shop@example.com>'"
    if _CONTROL.search(value):
        raise ValueError(f"{value!r} contains a line break or control character; {example}")
    pairs = getaddresses([value])
    if len(pairs) != 1 or not pairs[0][1]:
        raise ValueError(
            f"{value!r} is not one e-mail address; {example} (a list takes one address per item)"
        )
    try:
        address = Address(addr_spec=pairs[0][1])
    except (HeaderParseError, ValueError, IndexError):
        address = None
    if address is None or not address.username or not address.domain or ".." in address.domain:
        raise ValueError(f"{value!r} is not an e-mail address; {example}")
    return value.strip()


def check_webhook_url(url: str) -> str:
    """An http(s) URL with a host and no user info, else a ValueError that never repeats the URL (it is secret)."""
    from urllib.parse import urlsplit

    hidden = "(the value is not repeated here: it holds the webhook's secret)"
    if _CONTROL.search(url) or " " in url:
        raise ValueError(f"the URL contains a space, line break or control character; remove it {hidden}")
    try:
        split = urlsplit(url)
        host, has_user = split.hostname, split.username is not None or split.password is not None
    except ValueError:
        raise ValueError(f"not a valid URL; write it as https://host/path {hidden}") from None
    if split.scheme not in ("http", "https"):
        what = f"its scheme is {split.scheme!r}" if split.scheme and "://" in url else "it has no scheme"
        raise ValueError(
            f"not an http(s) URL: {what}; write it as https://host/path (e.g. the URL your chat tool gives) {hidden}"
        )
    if not host:
        raise ValueError(f"the URL has no host; write it as https://host/path {hidden}")
    if has_user:
        raise ValueError(
            f"the URL carries a user name or password before the host; put the token in the path or query "
            f"as the webhook's provider documents {hidden}"
        )
    return url


def _is_address(value: str) -> bool:
    try:
        check_address(value)
    except ValueError:
        return False
    return True


def _bare(value: str) -> str:
    from email.utils import parseaddr

    return parseaddr(value)[1] or value


# A setting holding one e-mail address, checked when the settings load.
EmailAddress = Annotated[str, AfterValidator(check_address)]


class AlertSettings(_Section):
    """Where alerts and reports are sent; the SMTP password and webhook URL come from the environment."""

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    # None: the SMTP login when it is an address, else the first recipient (see `from_address`).
    sender: EmailAddress | None = None
    recipients: list[EmailAddress] = Field(default_factory=list)
    webhook_url: SecretStr | None = None
    retries: int = 3
    retry_backoff_seconds: float = 2.0
    webhook_timeout_seconds: float = 10.0
    # The weekly report goes to these addresses; empty means the alert recipients.
    report_recipients: list[EmailAddress] = Field(default_factory=list)
    smtp_timeout_seconds: float = 30.0

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_webhook_url(value.get_secret_value())
        return value

    @property
    def from_address(self) -> str | None:
        """Who alerts and reports come from: `sender`; else the SMTP login when it is an address (most
        providers relay mail only from the account that logged in); else the first recipient, named
        segmint (an address the owner reads, in a domain their mail server sends for). None: nothing set."""
        from email.utils import formataddr

        if self.sender:
            return self.sender
        if self.smtp_user and _is_address(self.smtp_user):
            return formataddr(("segmint", self.smtp_user))
        first = (self.recipients or self.report_recipients)[:1]
        return formataddr(("segmint", _bare(first[0]))) if first else None

    @property
    def sender_address(self) -> str:
        """The sender's bare address (user@domain), for the SMTP envelope ("" when none is configured)."""
        return _bare(self.from_address or "")

    @property
    def weekly_report_recipients(self) -> list[str]:
        """Who receives the weekly report: report_recipients, else the alert recipients."""
        return self.report_recipients or self.recipients


class ReportSettings(_Section):
    """Where the owner reads the web report."""

    # The base URL the reports folder (<output dir>/reports) is served at, e.g. https://shop.example/segmint:
    # the email links to <url>/<as_of>/report.html. None: the email carries report.html as an attachment.
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if value is None:
            return None
        split = urlsplit(value.strip())
        if split.scheme not in ("http", "https") or not split.netloc or _CONTROL.search(value):
            raise ValueError(
                f"{value!r} is not an http(s) URL; write the address the reports folder is served at, "
                "such as 'https://shop.example/segmint'"
            )
        return value.strip().rstrip("/")

    def night_url(self, as_of: date) -> str | None:
        """The full report of one night: <url>/<as_of>/report.html (None without a url)."""
        return None if self.url is None else f"{self.url}/{as_of.isoformat()}/report.html"


class ScheduleSettings(_Section):
    """When the flows run when served."""

    timezone: str = "UTC"
    nightly_cron: str = "0 2 * * *"
    weekly_report_cron: str = "0 7 * * 1"
    # The weekly report waits this long for a running nightly refresh to release the warehouse.
    report_lock_wait_seconds: float = 3600.0

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'"
            ) from None
        return value

    @field_validator("nightly_cron", "weekly_report_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        # A light check here (Prefect validates fully when it registers the schedule).
        fields = value.split()
        if len(fields) != 5 or not all(re.fullmatch(r"[0-9A-Za-z*,/\-]+", f) for f in fields):
            raise ValueError(
                f"{value!r} is not a cron expression of five fields (minute hour day month weekday)"
            )
        return value


class PredictSettings(_Section):
    """Prediction and mining thresholds."""

    enabled: bool = True
    churn_horizon_days: int = Field(default=90, ge=7)
    churn_model: Literal["gradient_boosting", "random_forest"] = "gradient_boosting"
    clv_months: int = Field(default=12, ge=1)  # horizon of customer_predictions.clv_12m
    clv_monthly_discount_rate: float = Field(default=0.01, ge=0.0)
    basket_min_support: float = Field(default=0.001, ge=0.0, le=1.0)
    basket_min_confidence: float = Field(default=0.05, ge=0.0, le=1.0)
    basket_min_lift: float = Field(default=1.0, ge=0.0)
    basket_min_pair_count: int = Field(default=2, ge=1)
    basket_lookback_days: int = Field(default=365, ge=1)
    recommendations: int = Field(default=5, ge=1)
    # Recommendations weigh what a customer bought N days ago by exp(-N / basket_recency_days): lately
    # bought products say most about what comes next (hit rate at 5 on Online Retail: bench/RESULTS.md).
    basket_recency_days: float = Field(default=30.0, gt=0)
    # Which method fills basket_recommendations. Item-item neighbours won on both real datasets with products
    # (hit rate at 5 on Online Retail split 2011-09-09: 0.346 against rules 0.227 and popularity 0.206;
    # Online Retail II: 0.335 / 0.256 / 0.248; bench/recommend.py, bench/RESULTS.md). "auto" takes the
    # night's best in recommendation_evaluations (neighbours without one).
    recommender: Literal["auto", "neighbours", "rules", "popularity"] = "neighbours"
    recommendation_neighbours: int = Field(default=20, ge=1)  # similar products kept per product
    recommendation_max_products: int = Field(default=5000, ge=2)  # the most-bought products the model sees
    # The nightly time-split check (recommendation_evaluations) of the recommender and popularity, the floor
    # ("auto": all three). About 1 s a night on Online Retail with neighbours; the rules' check mines them a
    # second time (about 25 s), so it is the recommender or "auto" that makes it dear, not the check.
    recommendation_evaluation: bool = True
    anomaly_contamination: float = Field(default=0.01, gt=0.0, le=0.5)
    # Churn and CLV learn from a seeded sample of this many customers when a period has more (stratified by
    # the churn label, and by repeat buyer for CLV); every customer is still scored (bench/RESULTS.md).
    max_training_rows: int = Field(default=200_000, ge=1000)
    seed: int = 42


class CampaignSettings(_Section):
    """Campaign playbook and measurement."""

    playbook: Path = Path("campaigns.toml")
    holdout_share: float = Field(default=0.10, gt=0.0, lt=1.0)
    attribution_days: int = Field(default=14, ge=1)
    export_dir: Path | None = None
    exclude_anomalies: bool = True
    bootstrap_samples: int = Field(default=2000, ge=100)
    seed: int = 42
    # Campaign rules may target by age, age_band, gender, city or region only when this is true: such
    # targeting is profiling on personal attributes (README, "Demographics"), a choice the shop makes.
    use_demographics: bool = False
    # The country calling code for national phone numbers ("030 1234567") of customers without a known
    # country, in the ad audiences' E.164 numbers; e.g. "49" or "+49". None: such numbers are left out.
    phone_calling_code: str | None = None

    @field_validator("phone_calling_code")
    @classmethod
    def _calling_code(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\+?[1-9][0-9]{0,2}", value.strip()):
            raise ValueError(f"{value!r} is not a country calling code such as '49' or '+1'")
        return value.strip().lstrip("+") if value else value


class Settings(BaseSettings):
    """All settings of one segmint installation."""

    model_config = SettingsConfigDict(
        env_prefix="SEGMINT_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
        # .env in the config's folder: its SEGMINT_* lines are settings (a misspelt one fails like a
        # misspelt TOML key); other lines are not segmint's (PREFECT_* is passed on to Prefect).
        env_file_encoding="utf-8",
        dotenv_filtering="match_prefix",
        # SEGMINT_ALERTS__WEBHOOK_URL= (empty, as .env.example leaves it) means unset, not "".
        env_ignore_empty=True,
    )

    config_path: Path = Path("segmint.toml")
    data_dir: Path | None = None
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    sources: list[SourceSettings] = Field(default_factory=list)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    shop: ShopSettings = Field(default_factory=ShopSettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    segmentation: SegmentationSettings = Field(default_factory=SegmentationSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    predict: PredictSettings = Field(default_factory=PredictSettings)
    campaigns: CampaignSettings = Field(default_factory=CampaignSettings)
    prefect: PrefectSettings = Field(default_factory=PrefectSettings)

    @model_validator(mode="after")
    def _one_feedback_scale(self) -> Settings:
        # rating_mean and rating_last average ratings as given: stars and NPS scores do not mix.
        scales = {s.name: s.rating_scale for s in self.sources if s.kind == "feedback"}
        if len(set(scales.values())) > 1:
            listed = ", ".join(f"{name} ({scale})" for name, scale in scales.items())
            raise ValueError(
                f"feedback sources use different scales: {listed}; a shop's ratings are averaged on one "
                "scale, so give them one `scale` (or keep one of them)"
            )
        return self

    @property
    def feedback_scale(self) -> FeedbackScale | None:
        """The scale of the shop's feedback sources (None without any)."""
        return next((s.rating_scale for s in self.sources if s.kind == "feedback"), None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides .env in the config's folder, which overrides the TOML file (passed in
        # as init values).
        return (env_settings, dotenv_settings, init_settings)

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are resolved against: the config file's folder."""
        return self.config_path.parent

    @property
    def shop_name(self) -> str:
        """The shop's name: [shop] name, else the config folder's name made fit for a deployment name."""
        if self.shop.name:
            return self.shop.name
        folder = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.config_path.parent.name).strip("-.")
        return folder or "shop"

    @property
    def prefect_home(self) -> Path:
        """Prefect's home ([prefect] home, default <output dir>/prefect): its database can live elsewhere."""
        return self.prefect.home or self.output_dir / "prefect"

    @property
    def output_dir(self) -> Path:
        """Where reports, data docs and Prefect's home go (default: next to the warehouse)."""
        return self.data_dir or self.warehouse.path.parent

    def source_files(self, source: SourceSettings) -> list[Path]:
        """The files a source's glob matches, sorted so that loads happen in a stable order."""
        pattern = Path(source.path)
        if pattern.is_absolute():
            return sorted(Path(pattern.anchor).glob(str(pattern.relative_to(pattern.anchor))))
        return sorted(self.base_dir.glob(source.path))


def _resolve(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else (base / path).resolve()


def _describe(error: ValidationError, config_path: Path, env_file: Path | None = None) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        variable = "SEGMINT_" + where.upper().replace(".", "__")
        if env_file is not None and _mentions(env_file, variable):
            return (
                f"{env_file}: unknown setting {variable}; remove it or fix its spelling (see .env.example)."
            )
        return (
            f"{config_path}: unknown key '{where}'; remove it or fix its spelling (see segmint.example.toml)."
        )
    if first["type"] == "missing":
        return f"{config_path}: required key '{where}' is missing; add it (see segmint.example.toml)."
    message = first["msg"].removeprefix("Value error, ")
    return f"{config_path}: key '{where}': {message}."


def _mentions(env_file: Path, variable: str) -> bool:
    from dotenv import dotenv_values

    return variable.lower() in {k.lower() for k in dotenv_values(env_file)}


def pass_on_prefect_settings(env_file: Path) -> None:
    """Put the PREFECT_* lines of .env into the environment for Prefect; a variable already set wins."""
    from dotenv import dotenv_values

    for key, value in dotenv_values(env_file).items():
        if key.upper().startswith("PREFECT_") and value:
            os.environ.setdefault(key, value)


def load_settings(path: Path | None = None, *, must_exist: bool = True) -> Settings:
    """Read settings from the TOML file at `path` (default ./segmint.toml) and the environment."""
    config_path = (path or DEFAULT_CONFIG).resolve()
    data: dict[str, Any] = {}
    if config_path.is_file():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: not valid TOML ({exc}); fix the syntax.") from exc
    elif must_exist:
        raise ConfigError(
            f"Config file {config_path} not found; run `segmint init` in {config_path.parent} to write it "
            'from your exports (README, "Using it on your shop"), or pass --config PATH.'
        )
    env_file = config_path.parent / ".env"
    if env_file.is_file():
        pass_on_prefect_settings(env_file)
    try:
        # _env_file is pydantic-settings' per-instance .env path (mypy sees only the declared fields).
        settings = Settings(
            **data,
            config_path=config_path,
            _env_file=env_file if env_file.is_file() else None,  # type: ignore[call-arg]
        )
    except ValidationError as exc:
        raise ConfigError(_describe(exc, config_path, env_file)) from None
    # From here on the SMTP password and the webhook URL's token are masked in every log line.
    register_settings(settings)
    base = settings.base_dir
    settings.warehouse.path = _resolve(base, settings.warehouse.path)
    settings.campaigns.playbook = _resolve(base, settings.campaigns.playbook)
    if settings.shop.exchange_rates is not None:
        settings.shop.exchange_rates = _resolve(base, settings.shop.exchange_rates)
    if settings.campaigns.export_dir is not None:
        settings.campaigns.export_dir = _resolve(base, settings.campaigns.export_dir)
    if settings.data_dir is not None:
        settings.data_dir = _resolve(base, settings.data_dir)
    if settings.prefect.home is not None:
        settings.prefect.home = _resolve(base, settings.prefect.home)
    return settings
