"""The campaign playbook (campaigns.toml): which customers get which action, validated before anything runs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from segmint.errors import ConfigError
from segmint.features import BEHAVIOUR_FEATURES, DEMOGRAPHIC_FEATURES, FEEDBACK_FEATURES

#: Columns a targeting rule may use: customer features (customer_features) and predictions
#: (customer_predictions) of the as-of date. Anything else in a rule is rejected.
FEATURE_COLUMNS = (
    *BEHAVIOUR_FEATURES,
    *FEEDBACK_FEATURES,
    "r_score",
    "f_score",
    "m_score",
    "fm_score",
    "rfm_segment",
    "country",
    # only with [campaigns] use_demographics = true (refused_demographics)
    *DEMOGRAPHIC_FEATURES,
)
PREDICTION_COLUMNS = (
    "expected_purchases_90d",
    "p_alive",
    "clv_12m",
    "churn_score",
    "days_to_next_order",
    "p_order_30d",
    "segment_name",
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_TOKEN = re.compile(
    r"\s*(?:(?P<number>-?\d+(?:\.\d+)?)|(?P<string>'(?:[^']|'')*')|(?P<op><=|>=|<>|!=|=|<|>)"
    r"|(?P<paren>[()])|(?P<comma>,)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<bad>\S))"
)
_KEYWORDS = {"and", "or", "not", "is", "null", "in", "true", "false"}
# Text messages go into CSV cells as written; an HTML message escapes every value it interpolates
# (product names and e-mail addresses come from the shop's exports and may hold markup).
_ENV = SandboxedEnvironment(autoescape=False)
_HTML_ENV = SandboxedEnvironment(autoescape=True)


def rule_sql(rule: str, columns: dict[str, str]) -> str:
    """Translate a targeting rule ("churn_score >= 0.7 and clv_12m > 50") into a SQL condition.

    Only known column names, numbers, 'quoted strings', comparison operators, and/or/not, in, is null and
    parentheses are allowed, so the rule can be put into SQL safely; `columns` maps a name to its SQL.
    """
    parts: list[str] = []
    depth = 0
    for match in _TOKEN.finditer(rule):
        kind = match.lastgroup
        text = match.group(kind) if kind else ""
        if kind == "bad":
            raise ValueError(f"unexpected character {text!r}")
        if kind == "word":
            lowered = text.lower()
            if lowered in _KEYWORDS:
                parts.append(lowered)
            elif lowered in columns:
                parts.append(columns[lowered])
            else:
                raise ValueError(f"unknown column {text!r}; use one of {', '.join(sorted(columns))}")
        elif kind == "paren":
            depth += 1 if text == "(" else -1
            if depth < 0:
                raise ValueError("unbalanced parentheses")
            parts.append(text)
        elif kind == "op":
            parts.append("<>" if text == "!=" else text)
        elif kind is not None:
            parts.append(text)
    if depth != 0:
        raise ValueError("unbalanced parentheses")
    if not parts:
        raise ValueError("the rule is empty")
    return "(" + " ".join(parts) + ")"


def rule_names(rule: str) -> list[str]:
    """The column names a (valid) rule uses, in order of first use."""
    names: list[str] = []
    for match in _TOKEN.finditer(rule):
        if match.lastgroup == "word":
            word = match.group("word").lower()
            if word not in _KEYWORDS and word not in names:
                names.append(word)
    return names


def rule_columns() -> dict[str, str]:
    """The rule vocabulary: features from `f`, predictions from `p`, segment assignments from `a`."""
    columns = {c: f"f.{c}" for c in FEATURE_COLUMNS} | {c: f"p.{c}" for c in PREDICTION_COLUMNS}
    # The segment comes from the predictions when they exist, else straight from the published segment run.
    columns["segment_name"] = "coalesce(p.segment_name, a.segment_name)"
    return columns


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Defaults(_Strict):
    """Values every campaign inherits unless it sets its own."""

    channel: str = "email"
    holdout_share: float | None = Field(default=None, gt=0.0, lt=1.0)
    attribution_days: int | None = Field(default=None, ge=1)


class Variant(_Strict):
    """One version of a campaign's action: its offer (default: the variant's name) and, optionally, its message."""

    name: str
    offer: str | None = None
    message: str | None = None

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a variant needs a name")
        return value.strip()

    @field_validator("message")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else _parse_template(value)


def _parse_template(value: str) -> str:
    try:
        _ENV.parse(value)
    except TemplateSyntaxError as exc:
        raise ValueError(f"message template: {exc.message} (line {exc.lineno})") from None
    return value


class Campaign(_Strict):
    """One play: who (segments, RFM segments and/or a rule, all of which must hold) gets which action."""

    name: str
    segments: list[str] = Field(default_factory=list)
    rfm_segments: list[str] = Field(default_factory=list)
    rule: str | None = None
    channel: str | None = None
    offer: str = ""
    message: str = ""
    # "html": the message is an HTML fragment, rendered with autoescaping; "text" (default): plain text.
    message_format: Literal["text", "html"] = "text"
    products: list[str] = Field(default_factory=list)
    holdout_share: float | None = Field(default=None, gt=0.0, lt=1.0)
    attribution_days: int | None = Field(default=None, ge=1)
    enabled: bool = True
    # Offer variants: the treatment is split across them by Thompson sampling (see campaigns/bandit.py).
    variants: list[Variant] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"name {value!r} must be lower-case letters, digits, '-' or '_' (it names the export file)"
            )
        return value

    @field_validator("rule")
    @classmethod
    def _rule(cls, value: str | None) -> str | None:
        if value is not None:
            rule_sql(value, rule_columns())
        return value

    @field_validator("message")
    @classmethod
    def _template(cls, value: str) -> str:
        return _parse_template(value)

    @field_validator("variants", mode="before")
    @classmethod
    def _variant_names(cls, value: Any) -> Any:
        # A plain name is a variant whose offer is its name: variants = ["10% off", "free shipping"].
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("variants")
    @classmethod
    def _distinct_variants(cls, value: list[Variant]) -> list[Variant]:
        if len(value) == 1:
            raise ValueError("list at least two variants to choose between, or none")
        names = [v.name for v in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"variant name {twice[0]!r} is used twice")
        return value

    @model_validator(mode="after")
    def _targets_someone(self) -> Campaign:
        if not (self.segments or self.rfm_segments or self.rule):
            raise ValueError("say who it targets: segments, rfm_segments and/or rule")
        return self

    def targeting(self) -> str:
        """The targeting as written, for the ledger."""
        parts = []
        if self.segments:
            parts.append("segments: " + ", ".join(self.segments))
        if self.rfm_segments:
            parts.append("rfm_segments: " + ", ".join(self.rfm_segments))
        if self.rule:
            parts.append("rule: " + self.rule)
        return "; ".join(parts)

    def render(self, values: dict[str, Any], variant: Variant | None = None) -> str:
        """The message for one customer (a sandboxed Jinja2 template, autoescaped when it is HTML)."""
        message = self.message if variant is None or variant.message is None else variant.message
        if not message:
            return ""
        env = _HTML_ENV if self.message_format == "html" else _ENV
        return env.from_string(message).render(**values)

    def variant_offer(self, variant: Variant | None) -> str:
        """The offer a customer given `variant` gets (the campaign's offer without variants)."""
        if variant is None:
            return self.offer
        return variant.offer if variant.offer is not None else variant.name

    def needs(self) -> list[str]:
        """The rule vocabulary names this campaign's targeting reads (segments read segment_name)."""
        names = ["segment_name"] if self.segments else []
        return names + [n for n in rule_names(self.rule or "") if n not in names]


class Playbook(_Strict):
    """The whole file: defaults and campaigns in priority order (a customer gets the first that matches)."""

    defaults: Defaults = Field(default_factory=Defaults)
    campaigns: list[Campaign] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> Playbook:
        seen: set[str] = set()
        for campaign in self.campaigns:
            if campaign.name in seen:
                raise ValueError(f"campaign name {campaign.name!r} is used twice")
            seen.add(campaign.name)
        return self

    def active(self) -> list[Campaign]:
        """Enabled campaigns, in playbook order."""
        return [c for c in self.campaigns if c.enabled]


def refused_demographics(playbook: Playbook, use_demographics: bool) -> None:
    """Refuse, in one sentence, an enabled campaign whose targeting uses a demographic feature while the
    shop has not set [campaigns] use_demographics = true."""
    if use_demographics:
        return
    for campaign in playbook.active():
        used = [n for n in campaign.needs() if n in DEMOGRAPHIC_FEATURES]
        if used:
            raise ConfigError(
                f"Campaign {campaign.name!r} targets by {', '.join(used)}, a demographic attribute that "
                "campaigns do not use unless the shop chooses to: set use_demographics = true under "
                "[campaigns] in segmint.toml (see README, Demographics), or remove it from the rule."
            )


def _where(error: ValidationError, data: dict[str, Any]) -> tuple[str, str]:
    first = error.errors()[0]
    loc = list(first["loc"])
    where = ".".join(str(p) for p in loc)
    if len(loc) >= 2 and loc[0] == "campaigns" and isinstance(loc[1], int):
        campaigns = data.get("campaigns", [])
        name = campaigns[loc[1]].get("name") if loc[1] < len(campaigns) else None
        rest = ".".join(str(p) for p in loc[2:])
        where = f"campaign {name or loc[1] + 1!r}" + (f" key '{rest}'" if rest else "")
    else:
        where = f"key '{where}'"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key; remove it or fix its spelling (see campaigns.example.toml)"
    return where, message


def load_playbook(path: Path) -> Playbook:
    """Read and validate a playbook; a mistake ends in one sentence naming the file and the campaign."""
    if not path.is_file():
        raise ConfigError(
            f"Campaign playbook {path} not found; copy campaigns.example.toml there "
            "or set [campaigns] playbook in segmint.toml."
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax.") from exc
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        where, message = _where(exc, data)
        raise ConfigError(f"{path}: {where}: {message}.") from None
    if not playbook.active():
        raise ConfigError(f"{path}: no enabled [[campaigns]]; add one (see campaigns.example.toml).")
    return playbook
