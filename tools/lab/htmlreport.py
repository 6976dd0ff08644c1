"""
htmlreport.py — lab-report/index.html: one self-contained page (inline CSS and
SVG, no script, nothing fetched from the network) with, per scenario, the
question, the lanes/FastAPI table with verdicts, the "what this shows"
sentence and its charts: probe latency over time, per-request timelines, req/s
against the limit, RSS over time. Readable on screen and printed.

Renders results.json's data; measures nothing.
"""
import html

import svg
from common import SIDE_LABEL, SIDES, fmt

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#212529;
 max-width:1180px;margin:0 auto;padding:20px 28px;line-height:1.4;background:#fff}
h1{font-size:26px;margin:0 0 4px} h2{font-size:20px;margin:34px 0 6px;border-bottom:2px solid #dee2e6;
 padding-bottom:4px} .meta{color:#495057;font-size:13px}
table{border-collapse:collapse;font-size:12.5px;margin:8px 0 10px;width:100%}
th,td{border:1px solid #dee2e6;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#f1f3f5} td.num{text-align:right;white-space:nowrap}
th.lanes{background:#d0ebff} th.fastapi{background:#ffe8cc}
td.v{font-size:12px} .bad{color:#c92a2a;font-weight:600}
.shows{background:#f8f9fa;border-left:4px solid #1864ab;padding:8px 12px;margin:10px 0}
.q{color:#343a40} .charts{display:flex;flex-wrap:wrap;gap:10px 18px;margin-top:8px}
.charts svg{max-width:100%;height:auto} .note{color:#495057;font-size:12.5px}
nav a{margin-right:12px} .err{white-space:pre-wrap;color:#c92a2a;font-size:12px}
@media print{body{max-width:none;padding:0;font-size:11px} nav{display:none}
 section{break-inside:auto} table,.charts svg,.shows{break-inside:avoid}
 h2{break-after:avoid} th.lanes,th.fastapi,th{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""


def esc(s):
    return html.escape(str(s), quote=True)


def render(results):
    lab = results["lab"]
    scs = list(results["scenarios"].values())
    out = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
           "<title>lanes-lab report</title><style>%s</style></head><body>" % CSS]
    out.append("<h1>lanes-lab: the seed experiments, lanes-demo vs FastAPI</h1>")
    out.append("<p class=\"meta\">%s</p>" % esc(meta_line(lab, results)))
    out.append("<nav>" + "".join("<a href=\"#%s\">%s</a>" % (esc(s["name"]), esc(s["name"]))
                                 for s in scs) + "</nav>")
    out.append(summary_table(scs))
    for i, sc in enumerate(scs, 1):
        out.append(section(sc, sc.get("index", i)))
    out.append("<p class=\"note\">Every number is in results.json next to this page. "
               "Client for both servers: lanes-load on the same machine.</p>")
    out.append("</body></html>")
    return "\n".join(out)


def meta_line(lab, results):
    fa = lab.get("fastapi", {})
    v = fa.get("versions", {})
    if fa.get("installed"):
        fa_text = "FastAPI %s, uvicorn %s, gunicorn %s, Python %s%s" % (
            v.get("fastapi"), v.get("uvicorn"), v.get("gunicorn") or "missing", v.get("python"),
            "" if v.get("uvloop") else " (asyncio + h11: no uvloop/httptools)")
    else:
        fa_text = "FastAPI: %s" % fa.get("why", "not installed")
    m = lab.get("machine", {})
    return "Run %s, profile %s, %s s, %s CPUs (%s). %s. %s" % (
        lab.get("started"), lab.get("profile"), lab.get("duration_s"), m.get("cpus"),
        m.get("kernel"), fa_text,
        "" if lab.get("complete", True) else "INCOMPLETE run (a scenario failed or was stopped).")


def summary_table(scs):
    rows = ["<table><tr><th>scenario</th><th>case</th><th class=\"lanes\">lanes-demo</th>"
            "<th class=\"fastapi\">FastAPI</th></tr>"]
    for sc in scs:
        if sc.get("error"):
            rows.append("<tr><td>%s</td><td colspan=3 class=\"bad\">failed</td></tr>"
                        % esc(sc["name"]))
            continue
        for r in sc["rows"]:
            rows.append("<tr><td>%s</td><td>%s</td><td class=v>%s</td><td class=v>%s</td></tr>" % (
                esc(sc["name"]), esc(r["case"]), verdict_html(r.get("lanes", {})),
                verdict_html(r.get("fastapi", {}))))
    rows.append("</table>")
    return "".join(rows)


def verdict_html(m):
    v = m.get("verdict", "")
    cls = " class=\"bad\"" if "UNLIKE" in v else ""
    return "<span%s>%s</span>" % (cls, esc(v))


def section(sc, index):
    out = ["<section id=\"%s\"><h2>%d. %s — %s</h2>" % (
        esc(sc["name"]), index, esc(sc["name"]), esc(sc["title"]))]
    if sc.get("seeds"):
        out.append("<p class=\"meta\">seeds %s; %s s</p>" % (
            esc(", ".join(sc["seeds"])), esc(sc.get("duration_s", "?"))))
    if sc.get("error"):
        out.append("<p class=\"err\">%s</p></section>" % esc(sc["error"]))
        return "".join(out)
    out.append("<p class=\"q\">%s</p>" % esc(sc["question"]))
    out.append(table(sc))
    out.append("<div class=\"shows\"><b>What this shows.</b> %s</div>" % esc(sc["shows"]))
    for note in sc.get("notes", []):
        out.append("<p class=\"note\">%s</p>" % esc(note))
    kind = sc.get("charts", {}).get("kind")
    charts = CHARTS.get(kind)
    if charts:
        out.append("<div class=\"charts\">%s</div>" % "".join(charts(sc)))
    out.append("</section>")
    return "".join(out)


def table(sc):
    """One row per server under each case (lanes-demo, then FastAPI): the two
    sit next to each other and the page still fits a printed A4 width."""
    cols = sc["columns"]
    out = ["<table><tr><th>case</th><th>seed</th><th>server</th>"]
    for key, head, kind in cols:
        out.append("<th>%s</th>" % esc(head))
    out.append("<th>verdict</th></tr>")
    for r in sc["rows"]:
        for i, side in enumerate(SIDES):
            out.append("<tr>")
            if i == 0:
                out.append("<td rowspan=2>%s</td><td rowspan=2>%s</td>" % (
                    esc(r["case"]), esc(r.get("seed", ""))))
            out.append("<th class=\"%s\">%s</th>" % (side, esc(SIDE_LABEL[side])))
            m = r.get(side, {})
            for key, head, kind in cols:
                cls = "" if kind == "text" else " class=num"
                out.append("<td%s>%s</td>" % (cls, esc(fmt(m.get(key), kind) if key in m
                                                        else "")))
            out.append("<td class=v>%s</td></tr>" % verdict_html(m))
    out.append("</table>")
    return "".join(out)


# ---- charts per scenario kind --------------------------------------------------------

def _side_ok(sc, side):
    return any("verdict" in r.get(side, {}) and len(r.get(side, {})) > 1 for r in sc["rows"])


def charts_probe(sc):
    out = []
    groups = [(r["case"], {s: r.get(s, {}).get("probe_max_ms") for s in SIDES}, None)
              for r in sc["rows"]]
    out.append(svg.hbars("Longest wait of GET / while loading each endpoint", groups,
                         [("lanes", "lanes-demo", svg.LANES),
                          ("fastapi", "FastAPI", svg.FASTAPI)],
                         unit="ms", log=True, vline=sc["params"]["stall_ms"],
                         vline_label="stall (250 ms)"))
    for side in SIDES:
        if not _side_ok(sc, side):
            continue
        series = []
        for i, r in enumerate(sc["rows"]):
            pts = [(a / 1000.0, max(lat, 0.01)) for a, lat in r[side].get("probe_series", [])]
            series.append((r["case"].split()[-1], svg.PALETTE[i % len(svg.PALETTE)], pts))
        out.append(svg.lines("GET / latency over time — %s" % SIDE_LABEL[side], series,
                             y_unit="ms", log_y=True, width=560, height=230, hline=250,
                             hline_label="stall", dots=True))
    return out


def charts_gantt(sc):
    out = []
    colors = {"/e1/p1": svg.PALETTE[2], "/e1/p2": svg.PALETTE[3], "/e2/p1": svg.PALETTE[0],
              "/e2/p2": svg.PALETTE[1]}
    setups = []
    for r in sc["rows"]:
        if r["setup"] not in setups:
            setups.append(r["setup"])
    for setup in setups:
        rows = [r for r in sc["rows"] if r["setup"] == setup]
        x_max = max([b / 1000.0 for r in rows for s in SIDES
                     for a, b in r.get(s, {}).get("requests", [])] + [0.1])
        items = [(r["endpoint"], colors[r["endpoint"]]) for r in rows]
        for side in SIDES:
            bars = []
            for r in rows:
                for a, b in r.get(side, {}).get("requests", []):
                    bars.append((a / 1000.0, b / 1000.0, colors[r["endpoint"]]))
            out.append(svg.gantt("setup %s — %s" % (setup, SIDE_LABEL[side]), bars, x_max,
                                 items, width=470, row_h=6 if len(bars) <= 10 else 4))
    return out


def charts_rps(sc):
    out = []
    conds = []
    for r in sc["rows"]:
        if r["condition"] not in conds:
            conds.append(r["condition"])
    for cond in conds:
        rows = [r for r in sc["rows"] if r["condition"] == cond]
        label = rows[0]["case"].split(" | ")[0]
        groups = []
        for r in rows:
            lim = next((r[s]["limit_rps"] for s in SIDES if "limit_rps" in r.get(s, {})), None)
            groups.append(("%s %s" % (r["endpoint"], r["model"]),
                           {s: r.get(s, {}).get("rps") for s in SIDES}, lim))
        out.append(svg.hbars("req/s — %s (black tick: the physical limit)" % label, groups,
                             [("lanes", "lanes-demo", svg.LANES),
                              ("fastapi", "FastAPI", svg.FASTAPI)],
                             unit="/s", log=True, marker_label="limit", width=580))
    return out


def charts_cpu(sc):
    groups = [(r["case"], {s: r.get(s, {}).get("done_s") for s in SIDES},
               None) for r in sc["rows"]]
    one = svg.hbars("Time until the work of %d requests was done (s)" % sc["params"]["n_requests"],
                    groups, [("lanes", "lanes-demo", svg.LANES), ("fastapi", "FastAPI",
                                                                  svg.FASTAPI)], unit="s",
                    width=580)
    groups = [(r["case"], {s: r.get(s, {}).get("probe_max_ms") for s in SIDES}, None)
              for r in sc["rows"]]
    two = svg.hbars("Longest wait of GET / meanwhile", groups,
                    [("lanes", "lanes-demo", svg.LANES), ("fastapi", "FastAPI", svg.FASTAPI)],
                    unit="ms", log=True, width=580, vline=250, vline_label="stall")
    out = [one, two]
    for side in SIDES:
        if not _side_ok(sc, side):
            continue
        series = []
        for i, r in enumerate(sc["rows"]):
            pts = [(a / 1000.0, max(lat, 0.01)) for a, lat in r[side].get("probe_series", [])]
            series.append((r["case"].split()[-1], svg.PALETTE[i % len(svg.PALETTE)], pts))
        out.append(svg.lines("GET / latency over time — %s" % SIDE_LABEL[side], series,
                             y_unit="ms", log_y=True, width=580, height=250, hline=250,
                             hline_label="stall", dots=True))
    return out


def charts_rss(sc):
    out = []
    for r in sc["rows"]:
        series = []
        for side, color in (("lanes", svg.LANES), ("fastapi", svg.FASTAPI)):
            pts = [(t / 1000.0, rss) for t, rss in r.get(side, {}).get("rss_series", [])]
            if pts:
                series.append((SIDE_LABEL[side], color, pts))
        out.append(svg.lines("RSS — %s" % r["case"], series, y_unit=" MB", width=560,
                             height=210))
    return out


def charts_workers(sc):
    rows = sc["rows"]
    groups = []
    for r in rows[1:]:
        lim = next((r[s]["limit_rps"] for s in SIDES if "limit_rps" in r.get(s, {})), None)
        groups.append((r["case"], {s: r.get(s, {}).get("rps") for s in SIDES}, lim))
    out = [svg.hbars("req/s of a blocking endpoint, 1 vs N workers (tick: limit)", groups,
                     [("lanes", "lanes-demo", svg.LANES), ("fastapi", "FastAPI", svg.FASTAPI)],
                     unit="/s", marker_label="limit", width=580)]
    groups = []
    for side in SIDES:
        pids = rows[0].get(side, {}).get("pids", {})
        for i, (pid, count) in enumerate(sorted(pids.items(), key=lambda kv: -kv[1])):
            groups.append(("%s worker %d" % (SIDE_LABEL[side], i + 1), {side: count}, None))
    if groups:
        out.append(svg.hbars("Requests answered per worker pid", groups,
                             [("lanes", "lanes-demo", svg.LANES),
                              ("fastapi", "FastAPI", svg.FASTAPI)], width=580))
    return out


CHARTS = {"probe": charts_probe, "gantt": charts_gantt, "rps": charts_rps, "cpu": charts_cpu,
          "rss": charts_rss, "workers": charts_workers}
