#!/usr/bin/env python3
"""Draws results/RUST-PEERS.svg from the summary table of results/RUST-PEERS.md.

CPU µs per request (lower is better), one group of bars per workload, one bar
per crate, `none` (the route without auth) as the floor. Standard library only.

Usage: bench/peers_chart.py [RUST-PEERS.md [RUST-PEERS.svg]]
"""
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results" / "RUST-PEERS.md"
dst = Path(sys.argv[2]) if len(sys.argv) > 2 else src.with_suffix(".svg")

COLORS = {"none": "#bbbbbb", "tower-bearer": "#2b6cb0", "oauth-resource-server": "#dd6b20", "huskarl": "#38a169"}
rows = {}  # workload -> {crate: cpu}
order = []
for line in src.read_text().splitlines():
    if line.startswith("## Every run"):
        break
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) < 7 or cells[1] not in COLORS:
        continue
    workload, crate, cpu = cells[0], cells[1], float(re.match(r"[\d.]+", cells[5]).group())
    if workload not in rows:
        rows[workload] = {}
        order.append(workload)
    rows[workload][crate] = cpu
if not rows:
    sys.exit(f"{src}: no summary table")

crates = [c for c in COLORS if any(c in r for r in rows.values())]
top = max(v for r in rows.values() for v in r.values())
bar, gap, label_w, width = 14, 10, 250, 820
scale = (width - label_w - 80) / top
height = 60 + len(order) * (len(crates) * bar + gap * 2)
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
       f'<text x="10" y="20" font-size="14" font-weight="bold">CPU µs per request, lower is better (RS256 JWT, GET /whoami)</text>']
x0 = 10
for i, crate in enumerate(crates):
    out.append(f'<rect x="{x0}" y="30" width="12" height="12" fill="{COLORS[crate]}"/>'
               f'<text x="{x0 + 16}" y="40">{crate}</text>')
    x0 += 30 + 7 * len(crate)
y = 60
for workload in order:
    out.append(f'<text x="10" y="{y + len(crates) * bar / 2 + 4}">{workload}</text>')
    for crate in crates:
        if crate in rows[workload]:
            v = rows[workload][crate]
            w = max(1, v * scale)
            out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar - 2}" fill="{COLORS[crate]}"/>'
                       f'<text x="{label_w + w + 4:.1f}" y="{y + bar - 4}">{v:.1f}</text>')
        y += bar
    y += gap * 2
out.append("</svg>")
dst.write_text("\n".join(out) + "\n")
print(f"wrote {dst}")
