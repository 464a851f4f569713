"""Settings: one TOML file plus `SEGMINT_*` environment overrides (secrets only from the environment)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from segmint.errors import ConfigError

DEFAULT_CONFIG = Path("segmint.toml")
SourceKind = Literal["orders", "events", "customers"]
PRESETS = ("canonical", "online_retail", "cdnow", "rees46", "shopify_orders")


class _Section(BaseModel):
    # A misspelt key must fail loudly rather than be silently ignored.
    model_config = ConfigDict(extra="forbid")


class WarehouseSettings(_Section):
    """Where the DuckDB warehouse lives."""

    path: Path = Path("data/warehouse.duckdb")
    memory_limit: str | None = None
    threads: int | None = None


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

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        if value not in PRESETS:
            raise ValueError(f"unknown preset {value!r}; use one of {', '.join(PRESETS)}")
        return value


class FeatureSettings(_Section):
    """Feature windows."""

    event_windows_days: list[int] = Field(default_factory=lambda: [30, 90])


class SegmentationSettings(_Section):
    """How customers are clustered into segments."""

    algorithm: Literal["kmeans", "gmm", "ward", "hdbscan"] = "kmeans"
    features: list[str] = Field(
        default_factory=lambda: [
            "recency_days",
            "frequency",
            "monetary",
            "avg_order_value",
            "tenure_days",
            "return_rate",
            "sessions_90d",
            "product_views_90d",
            "add_to_carts_90d",
            "cart_abandonment_rate_90d",
            "days_since_last_visit",
        ]
    )
    k_min: int = 3
    k_max: int = 10
    pca_components: int | None = None
    minibatch_threshold: int = 200_000
    sample_size: int = 20_000
    seed: int = 42
    min_silhouette: float = 0.10
    min_stability_ari: float = 0.50
    max_segment_share: float = 0.90


class QualitySettings(_Section):
    """Validation thresholds for write-audit-publish."""

    volume_band: float = 0.5
    max_quarantine_share: float = 0.05
    max_guest_share: float = 0.5
    future_tolerance_hours: int = 24


class AlertSettings(_Section):
    """Where alerts and reports are sent; the SMTP password and webhook URL come from the environment."""

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    sender: str = "segmint@localhost"
    recipients: list[str] = Field(default_factory=list)
    webhook_url: SecretStr | None = None
    retries: int = 3
    retry_backoff_seconds: float = 2.0


class ScheduleSettings(_Section):
    """When the flows run when served."""

    timezone: str = "UTC"
    nightly_cron: str = "0 2 * * *"
    weekly_report_cron: str = "0 7 * * 1"


class PredictSettings(_Section):
    """Prediction and mining thresholds."""

    churn_horizon_days: int = 90
    clv_months: int = 12
    basket_min_support: float = 0.001
    basket_min_confidence: float = 0.05
    basket_min_lift: float = 1.0
    recommendations: int = 5
    anomaly_contamination: float = 0.01


class CampaignSettings(_Section):
    """Campaign playbook and measurement."""

    playbook: Path = Path("campaigns.toml")
    holdout_share: float = 0.10
    attribution_days: int = 14


class Settings(BaseSettings):
    """All settings of one segmint installation."""

    model_config = SettingsConfigDict(
        env_prefix="SEGMINT_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    config_path: Path = Path("segmint.toml")
    data_dir: Path | None = None
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    sources: list[SourceSettings] = Field(default_factory=list)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    segmentation: SegmentationSettings = Field(default_factory=SegmentationSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    predict: PredictSettings = Field(default_factory=PredictSettings)
    campaigns: CampaignSettings = Field(default_factory=CampaignSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the TOML file, which is passed in as init values.
        return (env_settings, init_settings)

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are resolved against: the config file's folder."""
        return self.config_path.parent

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


def _describe(error: ValidationError, config_path: Path) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        return (
            f"{config_path}: unknown key '{where}'; remove it or fix its spelling (see segmint.example.toml)."
        )
    if first["type"] == "missing":
        return f"{config_path}: required key '{where}' is missing; add it (see segmint.example.toml)."
    message = first["msg"].removeprefix("Value error, ")
    return f"{config_path}: key '{where}': {message}."


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
            f"Config file {config_path} not found; copy segmint.example.toml to segmint.toml "
            "or pass --config PATH."
        )
    try:
        settings = Settings(**data, config_path=config_path)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, config_path)) from None
    base = settings.base_dir
    settings.warehouse.path = _resolve(base, settings.warehouse.path)
    settings.campaigns.playbook = _resolve(base, settings.campaigns.playbook)
    if settings.data_dir is not None:
        settings.data_dir = _resolve(base, settings.data_dir)
    return settings
