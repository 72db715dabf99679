#!/usr/bin/env python3
"""Ratio tables from the criterion estimates of the last `cargo bench` run (medians).

    cargo bench --bench verify --bench router && python3 benches/report.py
"""
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"


def median_ns(group: str, bench: str) -> float | None:
    path = root / group / bench / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"]


def fmt(ns: float) -> str:
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def table(title: str, prefix: str, baseline: str, rows: list[str], extra: tuple[str, str] | None = None) -> None:
    groups = sorted(p.name for p in root.glob(f"{prefix}_*")) if root.exists() else []
    if not groups:
        return
    head = ["algorithm", f"{baseline} (baseline)"] + [f"{r} (× baseline)" for r in rows]
    if extra:
        head.append(f"{extra[0]} ÷ {extra[1]}")
    print(f"\n### {title}\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for g in groups:
        base = median_ns(g, baseline)
        if base is None:
            continue
        cells = [g.split("_", 1)[1], fmt(base)]
        for r in rows:
            v = median_ns(g, r)
            cells.append("—" if v is None else f"{fmt(v)} ({v / base:.2f}×)")
        if extra:
            a, b = median_ns(g, extra[0]), median_ns(g, extra[1])
            cells.append("—" if a is None or b is None else f"{a / b:.2f}×")
        print("| " + " | ".join(cells) + " |")


if not root.exists():
    sys.exit("no criterion results: run cargo bench first")
table("Verify, per algorithm", "verify", "jsonwebtoken_decode",
      ["aws_lc_floor", "ours_uncached", "ours_cache_hit"], ("ours_uncached", "aws_lc_floor"))
table("Whole router call (axum, in memory)", "router", "no_auth",
      ["auth_repeated_token", "auth_full_verification"])
