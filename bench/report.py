"""Turn bench/run.sh's records into bench/results/{results.json,RESULTS.md,chart.svg}.

usage: report.py RESULTS.jsonl OUT_DIR --command ... --start ... (see run.sh)
       report.py OUT_DIR/results.json OUT_DIR   (regenerate from an earlier run)
Standard library only: the SVG bar chart is written by hand.
"""

import argparse
import json
import math
from html import escape
from pathlib import Path

TARGETS = {"ours": "tower-bearer (ours)", "python": "Python mcp SDK", "ts": "TypeScript MCP SDK"}
COLORS = {"ours": "#d9480f", "python": "#1c7ed6", "ts": "#37b24d"}
WORKLOADS = {
    "tools-list": "MCP tools/list (valid token)",
    "whoami": "GET /whoami (valid token)",
    "whoami-no-token": "GET /whoami, no token (401)",
    "whoami-garbage": "GET /whoami, forged token (401)",
}
MODES = {"jwt": "JWT (JWKS)", "introspection": "introspection", "off": "auth off"}
PEER_NOTES = """\
- **ours**: `examples/mcp_server` (release build), `TokenVerifierLayer` with `JwtVerifier` or the
  caching `IntrospectionVerifier` (crate defaults); `off` is the same server with `--no-auth`.
- **Python**: `mcp` 2.x `MCPServer` + uvicorn (one process), the SDK's `TokenVerifier` protocol and
  bearer middleware; JWT verifier = PyJWT + `PyJWKClient` (keys cached; `iss`, `aud`, `exp`
  checked); introspection verifier = the SDK's simple-auth example (no cache) with one pooled
  httpx client. `validate_token_resource=False` because the verifiers check the audience.
- **TypeScript**: `@modelcontextprotocol/sdk` 1.x on express, `requireBearerAuth` with
  `expectedResource` and required scopes; JWT verifier = jose `createRemoteJWKSet` + `jwtVerify`
  (issuer + audience); introspection verifier = RFC 7662 `fetch` (no cache).
- Forged token: a fresh one on every request, so no cache can answer it: for JWT targets a real
  token whose signature is replaced by random bytes (the verifier must check a signature); for
  introspection targets 43 random base64url characters (the verifier must ask the AS). The no-token and forged workloads expect
  401; every 401 counts as a non-2xx response in wrk, so there "non-2xx" equals the request count.
"""


def by_run(records):
    return {(r["target"], r["mode"], r["workload"]): r for r in records}


def ms(us):
    return f"{us / 1000:.2f}"


def mib(kib):
    return f"{kib / 1024:.1f}"


def check(r):
    expected_errors = r["expected_status"] != 200
    socket_errors = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
    problems = []
    if r["probe_status"] != r["expected_status"]:
        problems.append(f"answered {r['probe_status']}, expected {r['expected_status']}")
    if not expected_errors and r["non2xx"]:
        problems.append(f"{r['non2xx']} non-2xx")
    if expected_errors and r["non2xx"] != r["requests"]:
        problems.append(f"{r['requests'] - r['non2xx']} unexpected 2xx")
    if socket_errors:
        problems.append(f"{socket_errors} socket errors")
    return "; ".join(problems) or "ok"


def main_table(records):
    rows = [
        "| target | auth | workload | req/s | p50 ms | p99 ms | CPU µs/req | RSS MiB | check |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in records:
        rows.append(
            f"| {TARGETS[r['target']]} | {MODES[r['mode']]} | {WORKLOADS[r['workload']]} | "
            f"{r['rps']:,.0f} | {ms(r['p50_us'])} | {ms(r['p99_us'])} | {r['cpu_us_per_req']:.0f} | "
            f"{mib(r['rss_kib'])} | {check(r)} |"
        )
    return "\n".join(rows)


def ratio_table(records):
    by = by_run(records)
    rows = [
        "| auth | workload | req/s ours · Python · TS | ours / Python | ours / TS "
        "| CPU µs/req ours · Python · TS | CPU: Python / ours | CPU: TS / ours |",
        "|---|---|---|---:|---:|---|---:|---:|",
    ]
    failed = False
    for mode in ("jwt", "introspection"):
        for workload in WORKLOADS:
            runs = [by.get((t, mode, workload)) for t in ("ours", "python", "ts")]
            if not any(runs):
                continue
            ours = runs[0] if runs[0] and check(runs[0]) == "ok" else None
            rps = " · ".join(f"{r['rps']:,.0f}" + ("" if check(r) == "ok" else " ✗") if r else "–" for r in runs)
            cpu = " · ".join(f"{r['cpu_us_per_req']:.0f}" if r else "–" for r in runs)
            cells = [MODES[mode], WORKLOADS[workload], rps]
            for r in runs[1:]:
                cells.append(f"{ours['rps'] / r['rps']:.2f}×" if ours and r and r["rps"] else "–")
            cells.append(cpu)
            for r in runs[1:]:
                ok = ours and r and ours["cpu_us_per_req"] > 0
                cells.append(f"{r['cpu_us_per_req'] / ours['cpu_us_per_req']:.1f}×" if ok else "–")
            rows.append("| " + " | ".join(cells) + " |")
            failed = failed or any(r and check(r) != "ok" for r in runs)
    if failed:
        rows.append("\n✗ = the run did not answer as expected (see the check column below); no ratio.")
    return "\n".join(rows)


def auth_off_table(records):
    by = by_run(records)
    rows = [
        "| workload | auth | req/s off → with auth | with auth / off | CPU µs/req off → with auth "
        "| auth cost µs/req | p99 ms off → with auth |",
        "|---|---|---|---:|---|---:|---|",
    ]
    for workload in ("tools-list", "whoami"):
        off = by.get(("ours", "off", workload))
        for mode in ("introspection", "jwt"):
            on = by.get(("ours", mode, workload))
            if not (off and on and off["rps"]) or check(on) != "ok" or check(off) != "ok":
                continue
            label = "introspection (cached token)" if mode == "introspection" else "JWT"
            rows.append(
                f"| {WORKLOADS[workload]} | {label} | {off['rps']:,.0f} → {on['rps']:,.0f} | "
                f"{on['rps'] / off['rps']:.3f} | {off['cpu_us_per_req']:.1f} → {on['cpu_us_per_req']:.1f} | "
                f"{on['cpu_us_per_req'] - off['cpu_us_per_req']:.1f} | {ms(off['p99_us'])} → {ms(on['p99_us'])} |"
            )
    return "\n".join(rows) if len(rows) > 2 else ""


def scaling_table(records):
    rows = [
        "| workload | connections | req/s | p50 ms | p99 ms | CPU µs/req | non-2xx | socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        errors = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
        rows.append(
            f"| {WORKLOADS[r['workload']]} | {r['connections']} | {r['rps']:,.0f} | {ms(r['p50_us'])} | "
            f"{ms(r['p99_us'])} | {r['cpu_us_per_req']:.0f} | {r['non2xx']} | {errors} |"
        )
    return "\n".join(rows)


def flood_table(records, flood_tokens):
    names = {
        "flood-invalid": "distinct forged tokens (one per request)",
        "flood-valid": f"{flood_tokens} distinct valid opaque tokens, in turn",
        "flood-valid-1": f"valid opaque tokens 1–{int(flood_tokens):,}, in turn",
        "flood-valid-2": f"then valid opaque tokens {int(flood_tokens) + 1:,}–{2 * int(flood_tokens):,}",
    }
    rows = [
        "| auth | flood | requests | req/s | non-2xx | RSS before MiB | RSS after MiB | peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        rows.append(
            f"| {MODES[r['mode']]} | {names[r['workload']]} | {r['requests']:,} | {r['rps']:,.0f} | "
            f"{r['non2xx']:,} | {mib(r['rss_before_kib'])} | {mib(r['rss_kib'])} | {mib(r['hwm_kib'])} |"
        )
    return "\n".join(rows)


def chart(records):
    """Grouped horizontal bars, log scale: one group per (auth, workload), one bar per target."""
    groups = [
        (mode, workload)
        for mode in ("jwt", "introspection")
        for workload in WORKLOADS
        if any(r["mode"] == mode and r["workload"] == workload for r in records)
    ]
    by = {(r["target"], r["mode"], r["workload"]): r["rps"] for r in records if check(r) == "ok"}
    low, high = 1, max(2, math.ceil(math.log10(max([by[k] for k in by] + [10.0]))))
    label_w, bar_w, bar_h, gap, pad = 330, 520, 14, 14, 20
    group_h = 3 * bar_h + gap
    top_y = pad + 62
    height = top_y + len(groups) * group_h + 30
    width = label_w + bar_w + 90

    def x_of(rps):
        return label_w + bar_w * (math.log10(max(rps, 10**low)) - low) / (high - low)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{pad}" y="{pad + 12}" font-size="15" font-weight="bold">'
        "Requests per second (log scale), higher is better: one run, same machine and wrk settings</text>",
    ]
    x_legend = pad
    for target, name in TARGETS.items():
        out.append(f'<rect x="{x_legend}" y="{pad + 22}" width="12" height="12" fill="{COLORS[target]}"/>')
        out.append(f'<text x="{x_legend + 16}" y="{pad + 32}">{escape(name)}</text>')
        x_legend += 190
    for power in range(low, high + 1):
        x = x_of(10**power)
        out.append(f'<line x1="{x:.1f}" y1="{top_y - 6}" x2="{x:.1f}" y2="{height - 24}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" fill="#666">{10**power:,}</text>')
    y = top_y
    for mode, workload in groups:
        out.append(
            f'<text x="{label_w - 8}" y="{y + 1.5 * bar_h + 4}" text-anchor="end">'
            f"{escape(MODES[mode])}: {escape(WORKLOADS[workload])}</text>"
        )
        for i, target in enumerate(TARGETS):
            rps = by.get((target, mode, workload))
            if rps is None:
                continue
            w = max(1.0, x_of(rps) - label_w)
            yy = y + i * bar_h
            out.append(
                f'<rect x="{label_w}" y="{yy}" width="{w:.1f}" height="{bar_h - 2}" fill="{COLORS[target]}"/>'
            )
            out.append(f'<text x="{label_w + w + 4:.1f}" y="{yy + bar_h - 4}">{rps:,.0f}</text>')
        y += group_h
    out.append("</svg>")
    return "\n".join(out) + "\n"


def sessions_line(sessions):
    kinds = sorted({s for _, _, s in sessions})
    if len(kinds) == 1:
        return f"every target: {kinds[0]}."
    return "; ".join(f"{TARGETS[t]} ({MODES[m]}): {s}" for t, m, s in sessions) + "."


FLAGS = ("command", "start", "pinning", "load", "cpus", "cpu-model", "flood-tokens", "wrk", "node", "python")


def main():
    p = argparse.ArgumentParser(
        description="Write RESULTS.md, chart.svg and results.json into OUT_DIR from run.sh's records "
        "(JSON lines plus the flags below), or regenerate them from an earlier results.json alone."
    )
    p.add_argument("records", help="results.jsonl from run.sh, or an earlier results.json")
    p.add_argument("out_dir")
    p.add_argument("--note", default="")
    for flag in FLAGS:
        p.add_argument(f"--{flag}")
    a = p.parse_args()
    text = Path(a.records).read_text()
    try:
        saved = json.loads(text)
    except json.JSONDecodeError:
        saved = None  # JSON lines from run.sh
    if isinstance(saved, dict):
        records = saved["runs"]
        for key, value in saved["meta"].items():
            if getattr(a, key) in (None, ""):
                setattr(a, key, value)
    else:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    missing = [f for f in FLAGS if getattr(a, f.replace("-", "_")) is None]
    if missing:
        p.error("missing " + ", ".join("--" + f for f in missing))
    meta = {f.replace("-", "_"): getattr(a, f.replace("-", "_")) for f in FLAGS} | {"note": a.note}
    out = Path(a.out_dir)
    matrix = [r for r in records if r["label"] == "matrix"]
    scaling = [r for r in records if r["label"] == "scaling"]
    flood = [r for r in records if r["label"] == "flood"]
    sessions = sorted({(r["target"], r["mode"], r["session"]) for r in matrix if r["session"]})
    first = matrix[0] if matrix else records[0]

    md = [
        "# End-to-end HTTP benchmark: tower-bearer vs the official MCP SDKs",
        "",
        *([f"- **Note:** {a.note}"] if a.note else []),
        f"- Date (UTC): {a.start}",
        f"- Machine: {a.cpus} CPUs ({a.cpu_model}); {a.pinning}. Load average before -> after: {a.load}"
        " (the machine is shared: other work may run during the benchmark).",
        f"- Load: {a.wrk}, `-t{first['threads']} -c{first['connections']} -d{first['duration_s']}s` per"
        " target and workload, after a warm-up run; keep-alive connections; loopback only.",
        f"- Tools: {a.node}, {a.python}; peers pinned in `bench/peers/`.",
        "- MCP: protocol version 2025-11-25, the newest version all three speak. For a target that"
        " keeps sessions, one session per wrk connection is initialized once before the run and the"
        " `tools/list` POSTs carry those `Mcp-Session-Id`s in turn; every POST carries `Accept:"
        " application/json, text/event-stream` and `MCP-Protocol-Version`. All three answer"
        " `tools/list` as a one-event SSE stream (each SDK's default).",
        "- Sessions: " + sessions_line(sessions),
        "- RSS: the server process's VmRSS from /proc right after the run. CPU µs/req: the server"
        " process's user + system time (/proc/PID/stat, all threads) during the run divided by the"
        " requests served; unlike req/s it does not depend on how much of its CPU other work on a"
        " shared machine took, so it is the steadier comparison here.",
        "",
        "Reproduce:",
        "",
        "```sh",
        a.command,
        "```",
        "",
        "![Requests per second](chart.svg)",
        "",
        "## Ours vs the peers (requests per second, same workload and token kind)",
        "",
        ratio_table(matrix),
        "",
        "## All runs",
        "",
        main_table(matrix),
        "",
        "## Configuration of each target",
        "",
        PEER_NOTES,
    ]
    off = auth_off_table(matrix)
    if off:
        md += [
            "## Auth cost: the same server with auth off",
            "",
            "Target: with a cached token, within 5 % of auth off (ratio ≥ 0.95). Auth off still"
            " receives the Authorization header and ignores it. These are runs minutes apart, so"
            " on a shared machine the ratio moves by tens of percent from run to run; for this"
            " question see `bench/auth-cost.sh` ([AUTH-COST.md](AUTH-COST.md): the servers loaded"
            " at the same time) and `bench/instructions.sh` ([INSTRUCTIONS.md](INSTRUCTIONS.md)).",
            "",
            off,
            "",
        ]
    if scaling:
        md += ["## Our server: throughput vs connections (JWT)", "", scaling_table(scaling), ""]
    if flood:
        md += [
            "## Our server: memory under floods",
            "",
            "Cache sizes are the quickstart's: verified JWTs are cached (at most 10,000, SHA-256 of"
            " the token as key; refused ones never are); the introspection cache holds at most 10,000"
            " entries (same key), valid tokens for up to 60 s, invalid ones for 10 s. RSS before = right before"
            " the flood, after = right after it; a bounded cache shows as a plateau, not growth per"
            " token.",
            "",
            flood_table(flood, a.flood_tokens),
            "",
        ]
    (out / "RESULTS.md").write_text("\n".join(md))
    (out / "chart.svg").write_text(chart(matrix))
    (out / "results.json").write_text(json.dumps({"meta": meta, "runs": records}, indent=1) + "\n")


if __name__ == "__main__":
    main()
