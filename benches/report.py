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


def table(title: str, prefix: str, baseline: str, rows: list[str], extra: tuple[str, str] | None = None,
          first: str = "algorithm") -> None:
    groups = sorted({p.name for r in roots for p in r.glob(f"{prefix}_*")})
    if not groups:
        return
    head = [first, f"{baseline}"] + [f"{r} ÷ {baseline}" for r in rows]
    if extra:
        head.append(f"{extra[0]} ÷ {extra[1]}")
    print(f"\n### {title} ({len(roots)} run{'s' if len(roots) > 1 else ''})\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for g in groups:
        cells = [g.split("_", 1)[1], time_cell(g, baseline)]
        cells += [f"{time_cell(g, r)}, {ratio_cell(g, r, baseline)}" for r in rows]
        if extra:
            cells.append(ratio_cell(g, *extra))
        print("| " + " | ".join(cells) + " |")


if not any(r.exists() for r in roots):
    sys.exit("no criterion results: run cargo bench (or benches/run.sh) first")
table("Verify, per algorithm", "verify", "jsonwebtoken_decode",
      ["aws_lc_floor", "ours_uncached", "ours_cache_hit"], ("ours_uncached", "aws_lc_floor"))
table("Whole router call (axum, in memory)", "router", "no_auth",
      ["auth_repeated_token", "auth_full_verification"])
table("Credentials by kind, repeated (verify: the authenticator; router: the whole call)", "credentials",
      "jwt_cache_hit", ["api_key_hit", "introspection_cache_hit"], first="level")
