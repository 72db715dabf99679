#!/usr/bin/env python3
"""Ratio tables from criterion estimates (medians), one or more runs.

Each ratio is computed within one run (baseline and candidate measured in that run); with
several runs, the table shows the median of the per-run ratios and their range.

    python3 benches/report.py target/criterion-runs/*     # as benches/run.sh does
    python3 benches/report.py                             # the last plain `cargo bench`
"""
import json
import pathlib
import statistics
import sys

default = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
roots = [pathlib.Path(p) for p in sys.argv[1:]] or [default]


def median_ns(root: pathlib.Path, group: str, bench: str) -> float | None:
    path = root / group / bench / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"]


def fmt(ns: float) -> str:
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def ratio_cell(group: str, num: str, den: str) -> str:
    ratios = []
    for root in roots:
        a, b = median_ns(root, group, num), median_ns(root, group, den)
        if a is not None and b is not None:
            ratios.append(a / b)
    if not ratios:
        return "—"
    med = statistics.median(ratios)
    if len(ratios) == 1:
        return f"{med:.2f}×"
    return f"**{med:.2f}×** ({min(ratios):.2f}–{max(ratios):.2f})"


def time_cell(group: str, bench: str) -> str:
    times = [t for t in (median_ns(r, group, bench) for r in roots) if t is not None]
    return fmt(statistics.median(times)) if times else "—"


def table(title: str, prefix: str, baseline: str, rows: list[str], extra: list[tuple[str, str]] | None = None,
          first: str = "algorithm") -> None:
    groups = sorted({p.name for r in roots for p in r.glob(f"{prefix}_*")})
    if not groups:
        return
    head = [first, f"{baseline}"] + [f"{r} ÷ {baseline}" for r in rows]
    for e in extra or []:
        head.append(f"{e[0]} ÷ {e[1]}")
    print(f"\n### {title} ({len(roots)} run{'s' if len(roots) > 1 else ''})\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for g in groups:
        cells = [g.split("_", 1)[1], time_cell(g, baseline)]
        cells += [f"{time_cell(g, r)}, {ratio_cell(g, r, baseline)}" for r in rows]
        for e in extra or []:
            cells.append(ratio_cell(g, *e))
        print("| " + " | ".join(cells) + " |")


if not any(r.exists() for r in roots):
    sys.exit("no criterion results: run cargo bench (or benches/run.sh) first")
table("Verify, per algorithm", "verify", "jsonwebtoken_decode",
      ["aws_lc_floor", "ours_uncached", "ours_first_sight", "ours_cache_hit"],
      [("ours_uncached", "aws_lc_floor"), ("ours_first_sight", "aws_lc_floor")])
table("First sight, like with like: the same 4,096 distinct tokens in every row", "verify",
      "jsonwebtoken_decode_distinct", ["aws_lc_floor_distinct", "ours_uncached_distinct", "ours_first_sight"],
      [("ours_first_sight", "aws_lc_floor_distinct")])
table("Whole router call (axum, in memory)", "router", "no_auth",
      ["auth_repeated_token", "auth_full_verification"])
table("Credentials by kind, repeated (verify: the authenticator; router: the whole call)", "credentials",
      "jwt_cache_hit", ["api_key_hit", "introspection_cache_hit"], first="level")


def rows_of(group: str, rows: list[str]) -> None:
    """One group's rows, each a ratio to the first."""
    if not any((r / group).exists() for r in roots):
        return
    print(f"\n### {group} ({len(roots)} run{'s' if len(roots) > 1 else ''})\n")
    print("| row | time | ÷ " + rows[0] + " |")
    print("|---|---|---|")
    for row in rows:
        print(f"| {row} | {time_cell(group, row)} | {ratio_cell(group, row, rows[0])} |")


rows_of("scaling_keys", ["keys_1", "keys_10", "keys_100"])
rows_of("scaling_token_size", ["0.5KiB", "2KiB", "8KiB"])
rows_of("scaling_cache_entries", ["hit_10000", "hit_100000", "hit_1000000"])
rows_of("peers_router", ["no_auth", "tower_jwt_auth", "tower_jwt_auth_uncached",
                         "tower_oauth2_resource_server", "huskarl_axum"])
rows_of("peers_router", ["no_auth_axum07", "jwt_authorizer"])
