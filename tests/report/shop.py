"""A hand-written shop for report tests: every row is written out here, so expected numbers are exact.

The report covers the week 2026-11-02 .. 2026-11-08 (a Sunday), against 2026-10-26 .. 2026-11-01.
Segment runs: 2026-10-25 and 2026-11-01 (published), 2026-11-07 (published, the current one) and
2026-11-08 (not published: the data failed a check), so the report notes it shows the 2026-11-07 run.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import duckdb

AS_OF = date(2026, 11, 8)
EVIL = "<script>alert(1)</script>"
EVIL_DESCRIPTION = 'Looks at things <img src=x onerror="alert(2)">'

# Columns the real schema requires that these tests do not care about.
DEFAULTS: dict[str, dict[str, Any]] = {
    "segment_runs": {
        "created_at": datetime(2026, 11, 1, 2, 0),
        "algorithm": "kmeans",
        "mode": "recluster",
        "features": "[]",
        "settings": "{}",
        "status_reason": "published",
    },
    "segment_profiles": {
        "description": "",
        "defining_features": "[]",
        "top_features": "[]",
        "lineage": "matched",
    },
    "segment_assignments": {"assigned_by": "cluster"},
    "customer_features": {
        "is_prospect": False,
        "frequency": 0,
        "monetary": 0,
        "distinct_products": 0,
        "distinct_categories": 0,
        "sessions_30d": 0,
        "product_views_30d": 0,
        "add_to_carts_30d": 0,
        "sessions_90d": 0,
        "product_views_90d": 0,
        "add_to_carts_90d": 0,
        "orders_total": 0,
        "cancelled_orders": 0,
        "gross_revenue": 0,
        "returned_value": 0,
        "orders_90d": 0,
        "monetary_90d": 0,
        "computed_at": datetime(2026, 11, 8, 2, 0),
    },
}


def _filler(data_type: str) -> Any:
    kind = data_type.upper()
    if kind.startswith(("VARCHAR", "JSON")):
        return "[]" if kind.startswith("JSON") else ""
    if kind == "BOOLEAN":
        return False
    if kind == "DATE":
        return date(2000, 1, 1)
    if kind.startswith("TIMESTAMP"):
        return datetime(2000, 1, 1)
    return 0


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows given as dicts, filling required columns the test does not set (the schema grows)."""
    columns = con.execute(
        "select column_name, data_type, is_nullable from information_schema.columns where table_name = ?",
        [table],
    ).fetchall()
    existing = {c for c, _, _ in columns}
    required = {c: _filler(t) for c, t, nullable in columns if nullable == "NO"}
    for row in rows:
        defaults = {**required, **{k: v for k, v in DEFAULTS.get(table, {}).items() if k in existing}}
        full = {**defaults, **row}
        cols = list(full)
        names = [f'"{c}"' for c in cols]  # "group" is a keyword
        con.execute(
            f"insert into {table} ({', '.join(names)}) values ({', '.join('?' for _ in cols)})",
            [full[c] for c in cols],
        )


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


ORDERS = [
    # order_id, customer_id, ordered_at, is_cancellation, revenue
    ("o1", "c1", "2026-09-10 10:00:00", False, 100),
    ("o2", "c2", "2026-10-01 12:00:00", False, 50),
    # previous week
    ("o3", "c1", "2026-10-27 09:00:00", False, 80),
    ("o4", "c3", "2026-10-28 15:00:00", False, 40),
    ("o5", None, "2026-10-30 11:00:00", False, 20),
    ("o6", "c3", "2026-11-01 23:59:59", False, 60),
    # this week
    ("o7", "c1", "2026-11-02 00:00:00", False, 120),
    ("o8", "c2", "2026-11-03 08:00:00", False, 30),
    ("o9", "c4", "2026-11-04 10:00:00", False, 200),
    ("o10", "c4", "2026-11-05 10:00:00", True, -200),
    ("o11", None, "2026-11-06 18:00:00", False, 25),
    ("o12", "c5", "2026-11-08 23:00:00", False, 70),
    ("o14", "c5", "2026-11-07 10:00:00", True, 0),  # voided as a whole (Shopify "Cancelled at")
    # after the as-of day: never counted
    ("o13", "c6", "2026-11-09 00:00:00", False, 999),
]

LINES = [
    # order_id, line_no, product_id, product_name, quantity, unit_price
    ("o3", 1, "p1", "Green tea", 4, 20),
    ("o7", 1, "p1", "Green tea", 2, 20),
    ("o7", 2, "p2", EVIL, 1, 80),
    ("o8", 1, "p3", "Teapot", 1, 30),
    ("o9", 1, "p2", EVIL, 2, 100),
    ("o10", 1, "p2", EVIL, -2, 100),
    ("o12", 1, "p1", "Green tea", 1, 70),
    ("o14", 1, "p3", "Teapot", 5, 30),
    ("o13", 1, "p3", "Teapot", 1, 999),
]

SEGMENTS = {1: "Regulars", 2: "Newcomers", 3: "Window shoppers"}
# customer -> segment, per run
ASSIGN_PREV = {"c1": 1, "c2": 1, "c3": 2, "c4": 3, "c5": 3, "c7": 2}
ASSIGN_CUR = {"c1": 1, "c2": 2, "c3": 2, "c4": 1, "c5": 1, "c6": 3}
# customer -> (recency, frequency, monetary, tenure, r, f, rfm_segment) at 2026-11-07
FEATURES_CUR = {
    "c1": (5, 3, 300, 58, 5, 5, "Champions"),
    "c2": (35, 2, 80, 37, 2, 3, "At Risk"),
    "c3": (6, 2, 100, 10, 5, 3, "Potential Loyalists"),
    "c4": (3, 1, 200, 3, 5, 1, "New Customers"),
    "c5": (9, 1, 0, 9, 4, 1, "Promising"),
    "c6": (None, 0, 0, None, None, None, None),
}


def seed(con: duckdb.DuckDBPyConnection) -> None:
    """Write the whole shop into a migrated warehouse."""
    insert(
        con,
        "orders",
        [
            {
                "order_id": o,
                "customer_id": c,
                "ordered_at": ts(t),
                "is_cancellation": cancel,
                "is_voided": o == "o14",
                "revenue": rev,
                "source_file": "orders.csv",
            }
            for o, c, t, cancel, rev in ORDERS
        ],
    )
    insert(
        con,
        "order_lines",
        [
            {
                "order_id": o,
                "line_no": n,
                "product_id": p,
                "product_name": name,
                "quantity": q,
                "unit_price": price,
                "line_revenue": q * price,
            }
            for o, n, p, name, q, price in LINES
        ],
    )
    runs = [
        ("seg_w0", date(2026, 10, 25), True, {1: 2, 2: 2, 3: 1}),
        ("seg_prev", date(2026, 11, 1), True, None),
        ("seg_cur", date(2026, 11, 7), True, None),
        ("seg_unpub", date(2026, 11, 8), False, {1: 9, 2: 9, 3: 9}),
    ]
    for run_id, as_of, published, sizes in runs:
        if run_id == "seg_prev":
            assign = ASSIGN_PREV
        elif run_id == "seg_cur":
            assign = ASSIGN_CUR
        else:
            assign = {}
            for seg, n in (sizes or {}).items():
                assign.update({f"{run_id}_{seg}_{i}": seg for i in range(n)})
        counts = {seg: sum(1 for s in assign.values() if s == seg) for seg in SEGMENTS}
        insert(
            con,
            "segment_runs",
            [
                {
                    "run_id": run_id,
                    "as_of": as_of,
                    "created_at": datetime.combine(as_of, datetime.min.time()).replace(hour=2),
                    "k": 3,
                    "silhouette": 0.41,
                    "n_customers": len(assign),
                    "stability_ari": 0.9,
                    "published": published,
                }
            ],
        )
        insert(
            con,
            "segment_assignments",
            [
                {"run_id": run_id, "customer_id": c, "segment_id": s, "segment_name": SEGMENTS[s]}
                for c, s in assign.items()
            ],
        )
        insert(
            con,
            "segment_profiles",
            [
                {
                    "run_id": run_id,
                    "segment_id": seg,
                    "segment_name": name,
                    "size": counts[seg],
                    "share": counts[seg] / len(assign),
                    "revenue_share": {1: 0.7, 2: 0.25, 3: 0.05}[seg],
                    "description": EVIL_DESCRIPTION if seg == 3 else f"{name} of the shop",
                }
                for seg, name in SEGMENTS.items()
            ],
        )
    insert(
        con,
        "customer_features",
        [
            {
                "as_of": date(2026, 11, 7),
                "customer_id": c,
                "is_prospect": f == 0,
                "recency_days": r,
                "frequency": f,
                "monetary": m,
                "avg_order_value": (m / f) if f else None,
                "tenure_days": t,
                "r_score": rs,
                "f_score": fs,
                "m_score": rs,
                "rfm_segment": seg,
                "sessions_90d": 3 if c == "c6" else 1,
            }
            for c, (r, f, m, t, rs, fs, seg) in FEATURES_CUR.items()
        ],
    )
    insert(
        con,
        "runs",
        [
            {"run_id": "r_old", "flow": "nightly", "as_of": date(2026, 11, 1),
             "started_at": ts("2026-11-02 02:00:00"), "status": "completed"},
            {"run_id": "r_ingest", "flow": "ingest", "as_of": None,
             "started_at": ts("2026-11-03 12:00:00"), "finished_at": ts("2026-11-03 12:01:00"),
             "status": "completed"},
            {"run_id": "r_mon", "flow": "nightly", "as_of": date(2026, 11, 7),
             "started_at": ts("2026-11-08 02:00:00"), "finished_at": ts("2026-11-08 02:05:00"),
             "status": "completed"},
            {"run_id": "r_sun", "flow": "nightly", "as_of": date(2026, 11, 8),
             "started_at": ts("2026-11-09 02:00:00"), "finished_at": ts("2026-11-09 02:04:00"),
             "status": "held", "message": "orders batch held: duplicated order ids"},
        ],
    )  # fmt: skip
    insert(
        con,
        "loaded_files",
        [
            {"source": "shop", "path": "/in/orders-1.csv", "sha256": "a", "rows_read": 100, "rows_loaded": 95,
             "rows_quarantined": 5, "rows_duplicate": 2, "loaded_at": ts("2026-11-08 02:01:00"), "run_id": "r_mon"},
            {"source": "shop", "path": "/in/orders-2.csv", "sha256": "b", "rows_read": 10, "rows_loaded": 10,
             "rows_quarantined": 0, "rows_duplicate": 0, "loaded_at": ts("2026-11-03 12:00:30"), "run_id": "r_ingest"},
            {"source": "web", "path": "/in/events.csv", "sha256": "c", "rows_read": 50, "rows_loaded": 50,
             "rows_quarantined": 0, "rows_duplicate": 0, "loaded_at": ts("2026-11-08 02:02:00"), "run_id": "r_mon"},
            {"source": "shop", "path": "/in/orders-0.csv", "sha256": "d", "rows_read": 7, "rows_loaded": 1,
             "rows_quarantined": 6, "rows_duplicate": 0, "loaded_at": ts("2026-11-02 02:01:00"), "run_id": "r_old"},
        ],
    )  # fmt: skip
    reasons = ["negative unit_price"] * 3 + ["duplicate order_id"] * 2
    insert(
        con,
        "quarantine",
        [
            {"run_id": "r_mon", "source": "shop", "source_file": "/in/orders-1.csv", "row_number": i + 1,
             "raw_record": "{}", "reason": why, "quarantined_at": ts("2026-11-08 02:01:00")}
            for i, why in enumerate(reasons)
        ]
        + [
            {"run_id": "r_old", "source": "shop", "source_file": "/in/orders-0.csv", "row_number": 1,
             "raw_record": "{}", "reason": "old reason", "quarantined_at": ts("2026-11-02 02:01:00")}
        ],
    )  # fmt: skip
    store_segmentation(con)


def store_segmentation(
    con: duckdb.DuckDBPyConnection, run_id: str = "seg_cur", as_of: date = date(2026, 11, 7)
) -> None:
    """What segmentation stores of a run beyond the rows above, computed from its members' features as
    segmentation computes it (again, when a test changed them): the profiles' means and defining features,
    the base's means, each clustered feature's means and z-score, the model's transform and the customer map."""
    import json

    import polars as pl

    from segmint.config import SegmentationSettings
    from segmint.segment.customer_map import draw_stored_run
    from segmint.segment.profile import (
        MEAN_COLUMNS,
        base_means,
        defining_features,
        defining_json,
        profile_table,
        zscores,
    )
    from segmint.segment.run import load_frame
    from segmint.segment.scaling import fit_transform
    from segmint.warehouse import query_frame

    features = SegmentationSettings().features
    members = query_frame(
        con, "select customer_id, segment_id from segment_assignments where run_id = ?", [run_id]
    )
    frame = load_frame(con, as_of, features).join(members, on="customer_id")
    labels = frame["segment_id"].to_numpy()
    _, transform = fit_transform(frame, features)
    table = profile_table(frame)
    ids = [int(s) for s in table["segment_id"]]
    z = zscores(transform.transformed(frame), labels, ids)
    con.execute("delete from segment_features where run_id = ?", [run_id])
    con.execute("delete from segment_models where run_id = ?", [run_id])
    for i, profile in enumerate(table.iter_rows(named=True)):
        seg = ids[i]
        means = [profile[f"mean_{c}"] for c in MEAN_COLUMNS]
        con.execute(
            f"update segment_profiles set defining_features = ?, {', '.join(f'mean_{c} = ?' for c in MEAN_COLUMNS)} "
            "where run_id = ? and segment_id = ?",
            [defining_json(defining_features(z[i], features)), *means, run_id, seg],
        )
        own = frame.filter(pl.col("segment_id") == seg)
        for j, feature in enumerate(features):
            insert(
                con,
                "segment_features",
                [{"run_id": run_id, "segment_id": seg, "feature": feature, "z_score": float(z[i, j]),
                  "raw_segment_mean": own[feature].cast(pl.Float64).mean(),
                  "raw_base_mean": frame[feature].cast(pl.Float64).mean()}],
            )  # fmt: skip
    con.execute(
        "update segment_runs set base_means = ?, model_run_id = run_id where run_id = ?",
        [json.dumps(base_means(frame)), run_id],
    )
    insert(
        con,
        "segment_models",
        [
            {
                "run_id": run_id,
                "features": json.dumps(features),
                "transform": transform.to_json(),
                "centroids": "{}",
            }
        ],
    )
    draw_stored_run(con, run_id)
