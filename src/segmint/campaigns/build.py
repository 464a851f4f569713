"""Build campaign audiences from the playbook: eligible customers, a deterministic random holdout, CSV exports
(a send file with the treatment, the holdout apart) and the campaign ledger in the warehouse."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from segmint.campaigns.ads import write_ad_audiences
from segmint.campaigns.bandit import (
    UNASSIGNED,
    Posterior,
    earlier_posteriors,
    p_best,
    segment_seed,
    thompson_assign,
)
from segmint.campaigns.exports import FORMATS, write_audience
from segmint.campaigns.playbook import (
    PREDICTION_COLUMNS,
    Campaign,
    Playbook,
    Variant,
    load_playbook,
    refused_demographics,
    rule_columns,
    rule_sql,
)
from segmint.config import Settings
from segmint.errors import ConfigError
from segmint.features import FEEDBACK_FEATURES, WEB_FEATURES, has_clickstream, require_features
from segmint.predict.runner import clv_unreliable, latest_prediction_run, published_segment_run
from segmint.runs import held_night
from segmint.warehouse import insert_frame, insert_row, query_frame, table_columns, transaction

log = logging.getLogger(__name__)

AUDIENCE_COLUMNS = (
    "customer_id",
    "email",
    "segment",
    "offer",
    "recommended_products",
    "group",
    "channel",
    "message",
)
# The send and holdout files of a campaign with variants carry each member's variant (blank in the holdout).
VARIANT_COLUMNS = (*AUDIENCE_COLUMNS, "variant")


@dataclass(frozen=True)
class CampaignBuild:
    """One campaign's audience as built and exported: the send file (treatment only) and the holdout's file."""

    campaign_id: str
    name: str
    as_of: date
    window_start: date
    window_end: date
    export_path: Path
    n_treatment: int
    n_holdout: int
    n_excluded_consent: int
    n_excluded_anomaly: int
    n_excluded_no_email: int
    holdout_path: Path | None = None
    format: str = "csv"
    # The hashed ad audiences (Google Customer Match, Meta custom audience) of the treatment, consenting only.
    google_audience_path: Path | None = None
    meta_audience_path: Path | None = None
    n_ad_audience: int = 0
    n_ad_no_consent: int = 0
    n_phone_unusable: int = 0
    # Treatment members per variant, for a campaign with variants (empty without).
    variants: dict[str, int] = field(default_factory=dict)


class CampaignBuilds(list[CampaignBuild]):
    """The campaigns built, plus a warning for each campaign that could not be built."""

    def __init__(self, builds: list[CampaignBuild], warnings: list[str]) -> None:
        super().__init__(builds)
        self.warnings = warnings


def campaign_id(name: str, as_of: date) -> str:
    """A campaign's id: its playbook name and the as-of day, so a rebuild of the same day replaces it."""
    return f"{name}-{as_of:%Y%m%d}"


def holdout_draw(campaign: str, customer_id: str) -> float:
    """A uniform number in [0, 1) fixed by campaign id and customer id: below the share means holdout."""
    digest = hashlib.sha256(f"{campaign}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_groups(campaign: str, customer_ids: list[str], holdout_share: float) -> list[str]:
    """treatment or holdout for each customer, the same on every rebuild (sha256 of campaign and customer)."""
    return ["holdout" if holdout_draw(campaign, c) < holdout_share else "treatment" for c in customer_ids]


def _in_list(column: str, values: list[str]) -> str:
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} in ({quoted})"


def campaign_condition(campaign: Campaign) -> str:
    """The SQL condition (over aliases f, p, a) for the customers a campaign targets."""
    columns = rule_columns()
    parts = []
    if campaign.segments:
        parts.append(_in_list(columns["segment_name"], campaign.segments))
    if campaign.rfm_segments:
        parts.append(_in_list("f.rfm_segment", campaign.rfm_segments))
    if campaign.rule:
        parts.append(rule_sql(campaign.rule, columns))
    return "coalesce(" + " and ".join(parts) + ", false)"


def _name_columns(con: duckdb.DuckDBPyConnection) -> str:
    """first_name and last_name from the customers table when it has them, else empty (null) names."""
    present = table_columns(con, "customers")
    return ", ".join(
        f"max({c}) as {c}" if c in present else f"cast(null as varchar) as {c}"
        for c in ("first_name", "last_name")
    )


# The as-of night's customers (f) with their predictions (p) and segment (a): the aliases of rule_columns.
_PREDICTIONS = """
        left join customer_predictions as p on p.run_id = $prediction_run_id and p.customer_id = f.customer_id
        left join segment_assignments as a on a.run_id = $segment_run_id and a.customer_id = f.customer_id
        where f.as_of = $as_of and f.customer_id is not null
"""


def candidates(
    con: duckdb.DuckDBPyConnection,
    playbook: Playbook,
    as_of: date,
    prediction_run_id: str | None,
    segment_run_id: str | None,
) -> pl.DataFrame:
    """Every customer with features on `as_of`, with contact, consent, anomaly flag and one match column per campaign."""
    matches = ",\n".join(f"{campaign_condition(c)} as match_{i}" for i, c in enumerate(playbook.active()))
    return query_frame(
        con,
        f"""
        with contacts as (
            select customer_id, max(email) as email, bool_or(marketing_consent) as consent,
                count(marketing_consent) > 0 as consent_known, max(country) as country, max(phone) as phone,
                {_name_columns(con)}
            from customers
            group by customer_id
        )
        select
            f.customer_id,
            c.email,
            c.phone,
            c.first_name,
            c.last_name,
            coalesce(c.country, f.country) as country,
            -- without any published segmentation, the RFM segment names the customer's group
            coalesce(p.segment_name, a.segment_name, f.rfm_segment) as segment,
            f.rfm_segment,
            p.clv_12m,
            p.churn_score,
            p.next_order_date,
            coalesce(p.is_anomaly, false) as is_anomaly,
            c.consent,
            -- "when a consent column exists": once any customer has a consent value, a missing one means no
            (select count(*) from customers where marketing_consent is not null) > 0 as consent_required,
            {matches}
        from customer_features as f
        left join contacts as c on c.customer_id = f.customer_id
        {_PREDICTIONS}
        order by f.customer_id
        """,
        {"as_of": as_of, "prediction_run_id": prediction_run_id, "segment_run_id": segment_run_id},
    )


def unevaluable(
    con: duckdb.DuckDBPyConnection,
    playbook: Playbook,
    as_of: date,
    prediction_run_id: str | None,
    segment_run_id: str | None,
) -> dict[str, str]:
    """Campaigns whose targeting reads a column no customer has a value for on `as_of`, with why (one sentence).

    Such a rule is never true, so without this check the campaign would silently get an empty audience.
    """
    columns = rule_columns()
    needed = sorted({n for c in playbook.active() for n in c.needs()})
    if not needed:
        return {}
    counts = con.execute(
        "select "
        + ", ".join(f"count({columns[n]})" for n in needed)
        + " from customer_features as f"
        + _PREDICTIONS,
        {"as_of": as_of, "prediction_run_id": prediction_run_id, "segment_run_id": segment_run_id},
    ).fetchone()
    empty = {n for n, k in zip(needed, counts or [], strict=True) if not k}
    reasons = {}
    for campaign in playbook.active():
        missing = [n for n in campaign.needs() if n in empty]
        if not missing:
            continue
        if prediction_run_id is None and any(
            n in PREDICTION_COLUMNS and n != "segment_name" for n in missing
        ):
            why = "no prediction run yet; `segmint run nightly` makes one when [predict] enabled = true"
        elif missing == ["segment_name"]:
            why = "no published segmentation yet; `segmint run nightly` publishes one"
        elif all(n in FEEDBACK_FEATURES for n in missing):
            why = "the shop has no reviews or survey answers yet; add a [[sources]] entry with kind = 'feedback'"
        else:
            why = f"the prediction run {prediction_run_id} computed none (see the night's messages)"
        reasons[campaign.name] = (
            f"campaign {campaign.name!r} not built for {as_of}: its targeting uses "
            f"{', '.join(missing)}, which no customer has a value for ({why}); "
            "it will be built once they exist, or change its rule in the playbook."
        )
    return reasons


# Rule names that read the clickstream: in a shop without web events they are 0 or empty for everyone.
CLICKSTREAM_COLUMNS = WEB_FEATURES


# Rule names the lifetime-value model predicts: the night's holdout check decides whether they can be used.
LIFETIME_COLUMNS = ("clv_12m", "expected_purchases_90d", "p_alive", "days_to_next_order", "p_order_30d")


def untrusted(
    con: duckdb.DuckDBPyConnection,
    playbook: Playbook,
    as_of: date,
    prediction_run_id: str | None,
    skipped: dict[str, str],
) -> list[str]:
    """A warning for each campaign that is built on numbers that cannot carry it (one sentence each).

    Lifetime value the night's holdout check did not back (clv_12m in the rule or the message), and
    browsing in a shop without a clickstream, would otherwise pick or word an audience silently.
    """
    active = [c for c in playbook.active() if c.name not in skipped]
    # p_alive, expected purchases and the next order come from clv_12m's purchase model: one check covers them.
    uses_clv = {
        c.name: used
        for c in active
        if (used := [n for n in LIFETIME_COLUMNS if n in c.needs() or n in c.message])
    }
    withheld = clv_unreliable(con, prediction_run_id) if uses_clv else None
    warnings = [
        f"campaign {name!r} uses {', '.join(used)}, but {withheld}: its audience and message rest on lifetime "
        "values that cannot be trusted yet; check who it picks, or target by orders and recency instead."
        for name, used in uses_clv.items()
        if withheld
    ]
    browsing = [c for c in active if CLICKSTREAM_COLUMNS & set(c.needs())]
    if browsing and not has_clickstream(con, as_of):
        for c in browsing:
            browsed = ", ".join(n for n in c.needs() if n in CLICKSTREAM_COLUMNS)
            warnings.append(
                f"campaign {c.name!r} targets by browsing ({browsed}), but the shop has no web events: "
                "nobody has visits to match; add an events source or change its rule."
            )
    return warnings


def _recommendations(con: duckdb.DuckDBPyConnection, prediction_run_id: str | None) -> dict[str, list[str]]:
    rows = query_frame(
        con,
        "select customer_id, list(product_id order by rank) as products from basket_recommendations "
        "where run_id = ? group by customer_id",
        [prediction_run_id],
    )
    return dict(zip(rows["customer_id"].to_list(), rows["products"].to_list(), strict=True))


def _product_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = query_frame(
        con,
        "select product_id, arg_max(product_name, line_no) as product_name from order_lines "
        "where product_id is not null and product_name is not null group by product_id",
    )
    return dict(zip(rows["product_id"].to_list(), rows["product_name"].to_list(), strict=True))


def _segments(chosen: pl.DataFrame) -> list[str]:
    # The segment a member is measured under (measure's 'unassigned' for none): its posterior's key.
    return [s if s is not None else UNASSIGNED for s in chosen["segment"].to_list()]


def assign_variants(
    campaign: Campaign,
    cid: str,
    chosen: pl.DataFrame,
    groups: list[str],
    posteriors: dict[tuple[str, str], Posterior],
) -> list[str | None]:
    """Each member's variant: Thompson sampling for the treatment, none for the holdout (or without variants)."""
    if not campaign.variants:
        return [None] * chosen.height
    ids = chosen["customer_id"].to_list()
    treated = [i for i, g in enumerate(groups) if g == "treatment"]
    segments = _segments(chosen)
    picked = thompson_assign(
        cid,
        [ids[i] for i in treated],
        [segments[i] for i in treated],
        [v.name for v in campaign.variants],
        posteriors,
    )
    variants: list[str | None] = [None] * chosen.height
    for i, name in zip(treated, picked, strict=True):
        variants[i] = name
    return variants


def variant_draws(
    campaign: Campaign,
    chosen: pl.DataFrame,
    variants: list[str | None],
    posteriors: dict[tuple[str, str], Posterior],
) -> pl.DataFrame:
    """Per segment and variant: the posterior the build sampled from, its P(best) and the share assigned."""
    names = [v.name for v in campaign.variants]
    segments = _segments(chosen)
    rows = []
    for segment in sorted({s for s, v in zip(segments, variants, strict=True) if v is not None}):
        given = [v for s, v in zip(segments, variants, strict=True) if s == segment and v is not None]
        post = [posteriors.get((segment, n), Posterior()) for n in names]
        best = p_best(post, seed=segment_seed(campaign.name, segment))
        for name, p, chance in zip(names, post, best, strict=True):
            low, high = p.interval()
            rows.append(
                {
                    "segment_name": segment,
                    "variant": name,
                    "alpha": p.alpha,
                    "beta": p.beta,
                    "n_builds": p.n_builds,
                    "posterior_mean": p.mean,
                    "ci_low": low,
                    "ci_high": high,
                    "p_best": chance,
                    "n_assigned": given.count(name),
                    "share": given.count(name) / len(given),
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "segment_name": pl.String,
            "variant": pl.String,
            "alpha": pl.Float64,
            "beta": pl.Float64,
            "n_builds": pl.Int64,
            "posterior_mean": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "p_best": pl.Float64,
            "n_assigned": pl.Int64,
            "share": pl.Float64,
        },
    )


def _audience(
    campaign: Campaign,
    chosen: pl.DataFrame,
    groups: list[str],
    variants: list[str | None],
    channel: str,
    recommended: dict[str, list[str]],
    names: dict[str, str],
) -> pl.DataFrame:
    ids = chosen["customer_id"].to_list()
    products = [campaign.products or recommended.get(c, []) for c in ids]
    by_name: dict[str, Variant] = {v.name: v for v in campaign.variants}
    given = [None if v is None else by_name[v] for v in variants]
    offers = [campaign.variant_offer(v) for v in given]
    messages = [
        campaign.render(
            {
                "customer_id": row["customer_id"],
                "email": row["email"],
                "segment": row["segment"],
                "rfm_segment": row["rfm_segment"],
                "offer": offer,
                "products": items,
                "product_names": [names.get(p, p) for p in items],
                "clv_12m": row["clv_12m"],
                "churn_score": row["churn_score"],
                "next_order_date": row["next_order_date"],
            },
            variant,
        )
        for row, items, offer, variant in zip(
            chosen.iter_rows(named=True), products, offers, given, strict=True
        )
    ]
    return pl.DataFrame(
        {
            "customer_id": ids,
            "email": chosen["email"],
            "segment": chosen["segment"],
            "offer": offers,
            "recommended_products": ["|".join(p) for p in products],
            "group": groups,
            "channel": [channel] * len(ids),
            "message": messages,
            "variant": variants,
        },
        schema={c: pl.String for c in VARIANT_COLUMNS},
    )


def export_dir(settings: Settings) -> Path:
    """Where audience CSVs go: [campaigns] export_dir, else <data folder>/campaigns."""
    return settings.campaigns.export_dir or settings.output_dir / "campaigns"


def _record(
    con: duckdb.DuckDBPyConnection,
    build: CampaignBuild,
    campaign: Campaign,
    channel: str,
    holdout_share: float,
    attribution_days: int,
    prediction_run_id: str | None,
    segment_run_id: str | None,
    audience: pl.DataFrame,
    built_at: datetime,
    draws: pl.DataFrame,
) -> None:
    # A rebuild replaces the day's campaign: its earlier measurement described another audience.
    for table in (
        "campaign_results",
        "campaign_audiences",
        "campaign_variant_draws",
        "campaign_variant_results",
        "campaigns",
    ):
        con.execute(f"delete from {table} where campaign_id = ?", [build.campaign_id])
    insert_row(
        con,
        "campaigns",
        {
            "campaign_id": build.campaign_id,
            "name": build.name,
            "as_of": build.as_of,
            "built_at": built_at,
            "prediction_run_id": prediction_run_id,
            "segment_run_id": segment_run_id,
            "channel": channel,
            "offer": campaign.offer,
            "message_template": campaign.message,
            "featured_products": "|".join(campaign.products),
            "targeting": campaign.targeting(),
            "holdout_share": holdout_share,
            "attribution_days": attribution_days,
            "window_start": build.window_start,
            "window_end": build.window_end,
            "export_path": str(build.export_path),
            "n_treatment": build.n_treatment,
            "n_holdout": build.n_holdout,
            "n_excluded_consent": build.n_excluded_consent,
            "n_excluded_anomaly": build.n_excluded_anomaly,
            "n_excluded_no_email": build.n_excluded_no_email,
        },
    )
    con.register("audience_rows", audience)
    try:
        con.execute(
            'insert into campaign_audiences (campaign_id, customer_id, segment_name, "group", email, offer, '
            'recommended_products, targeted_at, variant) select ?, customer_id, segment, "group", email, offer, '
            "recommended_products, ?, variant from audience_rows",
            [build.campaign_id, built_at],
        )
    finally:
        con.unregister("audience_rows")
    if draws.height:
        insert_frame(
            con,
            "campaign_variant_draws",
            draws.with_columns(
                campaign_id=pl.lit(build.campaign_id), name=pl.lit(build.name), as_of=pl.lit(build.as_of)
            ),
        )


def build_campaigns(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    as_of: date,
    *,
    playbook: Playbook | None = None,
    format: str = "csv",
) -> CampaignBuilds:
    """Choose each campaign's audience on `as_of`, export it (send file and holdout file) and record it.

    `format` is the send file's layout: csv (segmint's columns), klaviyo, mailchimp or shopify. A campaign
    whose targeting cannot be evaluated yet (e.g. no churn scores) is not built; the result's `warnings` say why.
    """
    if format not in FORMATS:
        raise ConfigError(f"Unknown audience format {format!r}; use one of {', '.join(FORMATS)}.")
    playbook = playbook or load_playbook(settings.campaigns.playbook)
    refused_demographics(playbook, settings.campaigns.use_demographics)
    require_features(con, as_of)
    prediction_run_id = latest_prediction_run(con, as_of)
    segment_run_id = published_segment_run(con, as_of)
    skipped = unevaluable(con, playbook, as_of, prediction_run_id, segment_run_id)
    cautions = untrusted(con, playbook, as_of, prediction_run_id, skipped)
    # The reasons are the result's warnings, printed once by the caller: logging them too printed each twice.
    held = held_warning(con, settings, as_of)
    warnings = [*([held] if held else []), *skipped.values(), *cautions]
    for reason in warnings:
        log.debug(reason)
    pool = candidates(con, playbook, as_of, prediction_run_id, segment_run_id)
    recommended = _recommendations(con, prediction_run_id)
    names = _product_names(con)
    out_dir = export_dir(settings) / as_of.isoformat()
    out_dir.mkdir(parents=True, exist_ok=True)
    built_at = datetime.now().replace(microsecond=0)
    taken = pl.lit(False)
    builds = []
    with transaction(con):
        for i, campaign in enumerate(playbook.active()):
            if campaign.name in skipped:
                continue
            channel = campaign.channel or playbook.defaults.channel
            share = (
                campaign.holdout_share or playbook.defaults.holdout_share or settings.campaigns.holdout_share
            )
            days = (
                campaign.attribution_days
                or playbook.defaults.attribution_days
                or settings.campaigns.attribution_days
            )
            # A customer belongs to the first campaign in playbook order that matches them.
            matched = pool.filter(pl.col(f"match_{i}") & ~taken)
            taken = taken | pl.col(f"match_{i}")
            no_consent = pl.col("consent_required") & ~pl.col("consent").fill_null(False)
            anomaly = pl.col("is_anomaly") if settings.campaigns.exclude_anomalies else pl.lit(False)
            no_email = pl.col("email").is_null() if channel == "email" else pl.lit(False)
            chosen = matched.filter(~no_consent & ~anomaly & ~no_email)
            cid = campaign_id(campaign.name, as_of)
            # The holdout is drawn first, exactly as without variants; only the treatment is split.
            groups = assign_groups(cid, chosen["customer_id"].to_list(), share)
            posteriors = earlier_posteriors(con, campaign.name, as_of) if campaign.variants else {}
            variants = assign_variants(campaign, cid, chosen, groups, posteriors)
            draws = variant_draws(campaign, chosen, variants, posteriors)
            audience = _audience(campaign, chosen, groups, variants, channel, recommended, names)
            contacts = chosen.select("customer_id", "first_name", "last_name", "consent", "country")
            columns = VARIANT_COLUMNS if campaign.variants else AUDIENCE_COLUMNS
            path, holdout = write_audience(audience, contacts, columns, out_dir, cid, campaign.name, format)
            n_holdout = int((audience["group"] == "holdout").sum())
            treated = audience.filter(pl.col("group") == "treatment").select("customer_id", "email")
            ads = write_ad_audiences(
                treated.join(
                    chosen.select("customer_id", "phone", "country", "consent"), on="customer_id", how="left"
                ),
                out_dir,
                cid,
                settings.campaigns.phone_calling_code,
            )
            build = CampaignBuild(
                campaign_id=cid,
                name=campaign.name,
                as_of=as_of,
                window_start=as_of + timedelta(days=1),
                window_end=as_of + timedelta(days=days),
                export_path=path,
                n_treatment=audience.height - n_holdout,
                n_holdout=n_holdout,
                n_excluded_consent=int(matched.select(no_consent.sum()).item()),
                n_excluded_anomaly=int(matched.filter(~no_consent).select(anomaly.sum()).item()),
                n_excluded_no_email=int(matched.filter(~no_consent & ~anomaly).select(no_email.sum()).item()),
                holdout_path=holdout,
                format=format,
                google_audience_path=ads.google_path,
                meta_audience_path=ads.meta_path,
                n_ad_audience=ads.customers,
                n_ad_no_consent=ads.no_consent,
                n_phone_unusable=ads.phone_unusable,
                variants={v.name: variants.count(v.name) for v in campaign.variants},
            )
            manifest = {k: str(v) if isinstance(v, date | Path) else v for k, v in asdict(build).items()}
            manifest |= {"channel": channel, "offer": campaign.offer, "holdout_share": share}
            (out_dir / f"{cid}.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            _record(
                con,
                build,
                campaign,
                channel,
                share,
                days,
                prediction_run_id,
                segment_run_id,
                audience,
                built_at,
                draws,
            )
            builds.append(build)
            if build.n_treatment and not build.n_holdout:
                warnings.append(no_holdout_warning(build, share))
            eligible = build.n_excluded_no_email + chosen.height
            if channel == "email" and eligible and not chosen.height:
                warnings.append(no_email_warning(settings, campaign.name, eligible))
            if ads.phone_unusable:
                warnings.append(phone_warning(campaign.name, ads.phone_unusable))
    return CampaignBuilds(builds, warnings)


def held_warning(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> str | None:
    """One sentence when the night the audiences come from was held by a failed critical check."""
    night = held_night(con, as_of)
    if night is None:
        return None
    # Before any night is published the build's default is the last night refreshed, held or not: it
    # still builds, but a broken export must never reach a send file without the owner being told.
    return (
        f"the night of {as_of} was held by a failed critical check (run {night.run_id}: "
        f"{'; '.join(night.checks) or 'see `segmint status`'}): these audiences come from data that failed "
        f"its checks, so do not upload them yet; fix the night as `segmint status --config "
        f"{settings.config_path}` says, then build again"
    )


def no_holdout_warning(build: CampaignBuild, share: float) -> str:
    """One sentence: a campaign whose holdout is empty cannot be measured, whatever its window says."""
    return (
        f"campaign {build.name}: its holdout has 0 customers ({build.n_treatment:,} to send to, holdout share "
        f"{share:.0%}), so its effect cannot be measured after {build.window_end} without a holdout; raise "
        "holdout_share in the playbook or widen its audience, then build it again"
    )


def phone_warning(campaign: str, unusable: int) -> str:
    """One sentence: phone numbers left out of a campaign's ad audiences, and how to get them in."""
    return (
        f"campaign {campaign}: {unusable:,} phone number{'s' if unusable != 1 else ''} could not be written "
        "in E.164 and were left out of its ad audiences: give them with their country code (+49 ...), a "
        "customer country, or set phone_calling_code under [campaigns] for national numbers"
    )


def no_email_warning(settings: Settings, campaign: str, eligible: int) -> str:
    """One sentence: an e-mail campaign whose audience has no address at all, and where addresses come from."""
    sources = [s.name for s in settings.sources if s.kind == "customers"]
    where = (
        f"add an e-mail column to the customers export of source '{sources[0]}' (or map it under its "
        "[sources.columns] as email = 'YOUR_COLUMN')"
        if sources
        else "add a customers source with an e-mail column ([[sources]] kind = 'customers')"
    )
    return (
        f"campaign {campaign}: 0 of {eligible:,} audience members have an e-mail address; its send file is "
        f"empty: {where}, then run `segmint run nightly` and `segmint campaigns build` again"
    )
