"""
htmlreport.py — lab-report/index.html: one self-contained page (inline CSS and
SVG, no script, nothing fetched from the network) with, per scenario, the
question, the lanes/FastAPI table with verdicts, the "what this shows"
sentence and its charts: probe latency over time, per-request timelines, req/s
against the limit, RSS over time. Readable on screen and printed.

Renders results.json's data; measures nothing.
"""
import html
import re

import svg
from common import QUESTIONS, SIDE_LABEL, SIDES, fmt, grid_of

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
.flag{display:inline-block;background:#c92a2a;color:#fff;font-weight:700;padding:0 5px;
 border-radius:3px;margin-left:4px} .cause{display:block;color:#5f3dc4;font-size:11.5px;margin-top:2px}
.busy{background:#fff3bf;border-left:4px solid #f08c00;padding:4px 10px;color:#5c3c00}
table.grid td{text-align:center;min-width:92px} table.grid td.way{text-align:left;font-weight:600}
table.grid a{color:inherit;text-decoration:none;display:block} table.grid small{display:block;
 font-size:10.5px;color:#343a40;font-weight:normal} td.good{background:#d3f9d8} td.badc{background:#ffe3e3}
td.na{background:#f8f9fa;color:#868e96} .ans{font-weight:700;font-size:13px}
.seedv{font-weight:600;color:#1864ab;white-space:nowrap}
.seednum{font-weight:600;color:#1864ab;max-width:220px} figure{margin:0}
.choices li{font-size:12.5px}
@media print{body{max-width:none;padding:0;font-size:11px} nav{display:none}
 table{font-size:9.5px} td.v{font-size:9.5px} th,td{padding:2px 3px;overflow-wrap:anywhere}
 .cause{font-size:9px}
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
    sections = [section(sc, sc.get("index", i)) for i, sc in enumerate(scs, 1)]
    ids = set(re.findall(r'id="([^"]+)"', "".join(sections)))
    out.append(grid_html(scs, ids))
    out.append("<h2 id=\"verdicts\">Verdicts</h2>")
    out.append(summary_table(scs))
    choices = twin_choices(results)
    if choices:
        out.append(choices)
    out.extend(sections)
    out.append(seed_index(scs))
    out.append("<p class=\"note\">Every number is in results.json next to this page. "
               "Client for both servers: lanes-load on the same machine (and the lab's own "
               "Python client where the answers' bodies are needed: sync-vs-async, workers).</p>")
    out.append("</body></html>")
    return "\n".join(out)


def meta_line(lab, results):
    fa = lab.get("fastapi", {})
    v = fa.get("versions", {})
    if fa.get("installed"):
        fa_text = "FastAPI %s, uvicorn %s%s, gunicorn %s, Python %s" % (
            v.get("fastapi"), v.get("uvicorn"),
            " with uvloop %s and httptools %s" % (v.get("uvloop"), v.get("httptools"))
            if v.get("uvloop") else " on asyncio + h11 (no uvloop/httptools)",
            v.get("gunicorn") or "missing", v.get("python"))
    else:
        fa_text = "FastAPI: %s" % fa.get("why", "not installed")
    m = lab.get("machine", {})
    return "Run %s, profile %s, %s s, %s CPUs (%s). %s. %s" % (
        lab.get("started"), lab.get("profile"), lab.get("duration_s"), m.get("cpus"),
        m.get("kernel"), fa_text,
        "" if lab.get("complete", True) else "INCOMPLETE run (a scenario failed or was stopped).")


def grid_html(scs, ids):
    """The page's opening picture: per way of writing a handler, per question,
    lanes-demo and FastAPI side by side; each cell links to the chart its
    evidence comes from."""
    g = grid_of(scs)
    if not g:
        return ""
    home = {}
    for sc in scs:
        for c in sc.get("grid", []) or []:
            home[id(c)] = sc["name"]
    out = ["<h2 id=\"grid\">At a glance</h2><p class=\"q\">Each cell is a measurement of this "
           "run (click it for the chart). Green: what you want (does not block, uses the cores, "
           "memory comes back); red: what you do not; grey: not measured here.</p>",
           "<table class=\"grid\"><tr><th rowspan=2>way of writing the handler</th>"]
    for _, head, _ in QUESTIONS:
        out.append("<th colspan=2>%s</th>" % esc(head))
    out.append("</tr><tr>")
    for _ in QUESTIONS:
        out.append("<th class=\"lanes\">lanes-demo</th><th class=\"fastapi\">FastAPI</th>")
    out.append("</tr>")
    for way, cells in g:
        out.append("<tr><td class=\"way\">%s</td>" % esc(way))
        for q, _, good in QUESTIONS:
            for side in SIDES:
                cs = cells.get((q, side), [])
                if not cs:
                    out.append("<td class=\"na\">–</td>")
                    continue
                answers = {c["answer"] for c in cs}
                cls = "na" if answers == {None} else (
                    "good" if answers == {good} else "badc")
                inner = []
                for c in cs:
                    word = {True: "yes", False: "no", None: "n/a"}[c["answer"]]
                    anchor = c.get("anchor") if c.get("anchor") in ids else home.get(id(c), "")
                    inner.append("<a href=\"#%s\"><span class=\"ans\">%s</span><small>%s</small>"
                                 "</a>" % (esc(anchor), word, esc(c.get("evidence", ""))))
                out.append("<td class=\"%s\">%s</td>" % (cls, "".join(inner)))
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def twin_choices(results):
    """What the FastAPI twin chose where the seeds left it open, and where it
    differs from their code: the reader must not have to guess."""
    fa = results["lab"].get("fastapi", {})
    if not fa.get("installed"):
        return ""
    v = fa.get("versions", {})
    items = [
        "Servers: uvicorn %s%s; FastAPI %s, Starlette %s, Python %s; N workers with gunicorn "
        "%s (-k uvicorn.workers.UvicornWorker)." % (
            v.get("uvicorn"), " with uvloop %s and httptools %s (what `pip install "
            "uvicorn[standard]` gives)" % (v.get("uvloop"), v.get("httptools"))
            if v.get("uvloop") else " on plain asyncio + h11 (no uvloop/httptools)",
            v.get("fastapi"), v.get("starlette"), v.get("python"), v.get("gunicorn")),
        "Seed 004's executor is ThreadPoolExecutor(max_workers=40), sized like Starlette's "
        "thread limiter and lanes' pool.",
        "X-Process-Time is a plain ASGI middleware, not the seed's @app.middleware(\"http\") "
        "(Starlette's BaseHTTPMiddleware runs each request through an extra task); where it can "
        "matter (sync-vs-async setup 2) the seed's variant is run too.",
        "Sleeps are shorter than the seeds' (seed 001: x%s; seed 002's 3 s and 5 s: 0.3 s), "
        "ratios kept, so the whole lab fits in minutes." % (
            results["scenarios"].get("sync-vs-async", {}).get("params", {}).get("scale", "0.1")),
        "/asyncfib offers the loop a turn (asyncio.sleep(0)) every 100,000 calls, as "
        "lanes-demo's LOOP version does; the seed's afibo never yields.",
        "The PROCESS variants use a ProcessPoolExecutor (spawn, warmed at start-up, "
        "max_tasks_per_child for recycling); the JOB variants an in-memory queue with two "
        "runner threads — plain FastAPI has no durable queue.",
    ]
    return ("<h2 id=\"twin\">The FastAPI twin: its choices</h2><ul class=\"choices\">%s</ul>"
            % "".join("<li>%s</li>" % esc(i) for i in items))


def seed_index(scs):
    """The closing note: each seed measurement -> its case -> the seed's number
    -> both stacks' numbers (labdoc.SEED_MEASUREMENTS, the list LAB.md uses)."""
    import labdoc
    rows = []
    for seed, what, num, name, found in labdoc.seed_cases({sc["name"]: sc for sc in scs}):
        if name is None:
            rows.append("<tr><td>%s</td><td>%s</td><td class=seednum>%s</td><td colspan=3>%s"
                        "</td></tr>" % (esc(seed), esc(what), esc(num), esc(found)))
            continue
        if not found:
            rows.append("<tr><td>%s</td><td>%s</td><td class=seednum>%s</td><td colspan=3>"
                        "<i>not in this run (scenario %s)</i></td></tr>" % (
                            esc(seed), esc(what), esc(num), esc(name)))
            continue
        for k, r in enumerate(found):
            rows.append("<tr><td>%s</td><td>%s</td><td class=seednum>%s</td>"
                        "<td><a href=\"#%s\">%s</a>: %s</td><td class=v>%s</td>"
                        "<td class=v>%s</td></tr>" % (
                            esc(seed) if k == 0 else "", esc(what) if k == 0 else "",
                            esc(r.get("seed_value") or (num if k == 0 else "")),
                            esc(name), esc(name), esc(r["case"]),
                            side_value(r.get("lanes", {})), side_value(r.get("fastapi", {}))))
    return ("<h2 id=\"seeds\">Each seed measurement, and what this run got</h2>"
            "<table><tr><th>seed</th><th>measurement</th><th>seed's number</th><th>case</th>"
            "<th class=\"lanes\">lanes-demo</th><th class=\"fastapi\">FastAPI</th></tr>%s"
            "</table>" % "".join(rows))


def side_value(m):
    v = m.get("value") or m.get("verdict", "")
    return esc(v) + ("<span class=\"flag\">%s</span>" % esc(m["flag"]) if m.get("flag") else "")


def seed_cell(r):
    out = esc(r.get("seed", ""))
    if r.get("seed_value"):
        out += "<br><span class=seedv>seed: %s</span>" % esc(r["seed_value"])
    return out


def summary_table(scs):
    rows = ["<table><tr><th>scenario</th><th>case</th><th>seed</th>"
            "<th class=\"lanes\">lanes-demo</th><th class=\"fastapi\">FastAPI</th></tr>"]
    for sc in scs:
        if sc.get("error"):
            rows.append("<tr><td>%s</td><td colspan=4 class=\"bad\">failed</td></tr>"
                        % esc(sc["name"]))
            continue
        for r in sc["rows"]:
            rows.append("<tr><td><a href=\"#%s\">%s</a></td><td>%s</td><td>%s</td>"
                        "<td class=v>%s</td><td class=v>%s</td></tr>" % (
                            esc(sc["name"]), esc(sc["name"]), esc(r["case"]), seed_cell(r),
                            verdict_html(r.get("lanes", {})),
                            verdict_html(r.get("fastapi", {}))))
    rows.append("</table>")
    return "".join(rows)


def verdict_html(m):
    """The verdict, a failed self-check as a red badge beside it, and the
    measured cause on a line of its own under it."""
    v = m.get("verdict", "")
    cls = " class=\"bad\"" if "UNLIKE" in v else ""
    out = "<span%s>%s</span>" % (cls, esc(v))
    if m.get("flag"):
        out += "<span class=\"flag\">%s</span>" % esc(m["flag"])
    if m.get("cause"):
        out += "<span class=\"cause\">cause: %s</span>" % esc(m["cause"])
    return out


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
        busy = note.startswith("other work on the machine")
        out.append("<p class=\"%s\">%s</p>" % ("busy" if busy else "note", esc(note)))
    kind = sc.get("charts", {}).get("kind")
    charts = CHARTS.get(kind)
    if charts:
        figs = []
        for k, c in enumerate(charts(sc), 1):
            cid, body = c if isinstance(c, tuple) else ("%s-chart-%d" % (sc["name"], k), c)
            figs.append("<figure id=\"%s\">%s</figure>" % (esc(cid), body))
        out.append("<div class=\"charts\">%s</div>" % "".join(figs))
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
                    esc(r["case"]), seed_cell(r)))
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


def _chunks(items, k=4):
    """At most k series per chart: a longer list becomes several charts."""
    return [items[i:i + k] for i in range(0, len(items), k)] or [[]]


def _probe_over_time(sc, side, width, height, anchor):
    out = []
    series = []
    for i, r in enumerate(sc["rows"]):
        pts = [(a / 1000.0, max(lat, 0.01)) for a, lat in r[side].get("probe_series", [])]
        series.append((r["case"].split()[-1], svg.PALETTE[i % len(svg.PALETTE)], pts))
    parts = _chunks(series)
    for k, part in enumerate(parts, 1):
        out.append(("%s-%s%s" % (anchor, side, "" if len(parts) == 1 else "-%d" % k),
                    svg.lines("GET / latency over time — %s%s" % (
                        SIDE_LABEL[side], "" if len(parts) == 1 else " (%d/%d)" % (k, len(parts))),
                        part, y_unit="ms", log_y=True, width=width, height=height, hline=250,
                        hline_label="stall bound 250 ms", dots=True,
                        x_title="time since the load started (s)",
                        y_title="GET / latency (ms)")))
    return out


def charts_probe(sc):
    out = []
    groups = [(r["case"], {s: r.get(s, {}).get("probe_max_ms") for s in SIDES}, None)
              for r in sc["rows"]]
    out.append(("%s-probe-max" % sc["name"],
                svg.hbars("Longest wait of GET / while loading each endpoint", groups,
                          [("lanes", "lanes-demo", svg.LANES),
                           ("fastapi", "FastAPI", svg.FASTAPI)],
                          unit="ms", log=True, vline=sc["params"]["stall_ms"],
                          vline_label="stall (250 ms)",
                          x_title="longest GET / latency (ms, log scale)")))
    for side in SIDES:
        if _side_ok(sc, side):
            out += _probe_over_time(sc, side, 560, 230, "%s-probe" % sc["name"])
    return out


GANTT_COLORS = {"/e1/p1": svg.PALETTE[2], "/e1/p2": svg.PALETTE[3], "/e2/p1": svg.PALETTE[0],
                "/e2/p2": svg.PALETTE[1]}


def gantt_bars(rows, side):
    """Per request: the client's wait (pale, send to answer) and the server's
    handler (solid, its own start to end), on one line; requests sorted by
    when their handler started. Old results without handler times: the wait
    only."""
    bars = []
    for r in rows:
        m = r.get(side, {})
        color = GANTT_COLORS.get(r["endpoint"], svg.PALETTE[4])
        reqs = m.get("requests", [])
        for k, q in enumerate(sorted(reqs, key=lambda q: q[2] if len(q) > 3 else q[0])):
            key = "%s-%d" % (r["endpoint"], k)
            bars.append((q[0] / 1000.0, q[1] / 1000.0, color, True, key))
            if len(q) > 3:
                bars.append((q[2] / 1000.0, q[3] / 1000.0, color, False, key))
    return bars


def charts_gantt(sc):
    out = []
    setups = []
    for r in sc["rows"]:
        if r["setup"] not in setups:
            setups.append(r["setup"])
    for setup in setups:
        rows = [r for r in sc["rows"] if r["setup"] == setup]
        x_max = max([q[1] / 1000.0 for r in rows for s in SIDES
                     for q in r.get(s, {}).get("requests", [])] + [0.1])
        items = [("%s handler" % r["endpoint"], GANTT_COLORS.get(r["endpoint"], svg.PALETTE[4]))
                 for r in rows] + [("pale: waiting for the answer", svg.MUTED)]
        refs = []
        for r in rows:
            s = next((r[x]["sleep_s"] for x in SIDES if "sleep_s" in r.get(x, {})), None)
            if s and ("%gs" % s) not in [lab for _, lab in refs]:
                refs.append((s, "%s sleep %gs" % (r["endpoint"], s)))
        n = sc["params"].get("n", 10)
        p2 = [r for r in rows if r["endpoint"].endswith("p2")]
        if p2:
            s = next((p2[0][x]["sleep_s"] for x in SIDES if "sleep_s" in p2[0].get(x, {})), None)
            if s and all(abs(x - n * len(p2) * s) > 1e-9 for x, _ in refs):
                refs.append((n * len(p2) * s, "%d x sleep" % (n * len(p2))))
        for side in SIDES:
            bars = gantt_bars(rows, side)
            if not bars and any("n/a" in r.get(side, {}).get("verdict", "") for r in rows):
                continue     # a FastAPI-only variant: no lanes chart
            title = "setup %s — %s" % (setup, SIDE_LABEL[side])
            if setup in ("2a", "2m"):
                title = "setup 2 — FastAPI, %s" % ("uvicorn --loop asyncio" if setup == "2a"
                                                   else "the seed's @app.middleware")
            out.append(("sync-vs-async-setup-%s-%s" % (setup, side),
                        svg.gantt(title, bars, x_max,
                                  items, width=470, row_h=7 if len(bars) <= 20 else 5,
                                  refs=refs)))
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
        out.append(("client-models-%s" % cond,
                    svg.hbars("req/s — %s (black tick: the physical limit)" % label, groups,
                              [("lanes", "lanes-demo", svg.LANES),
                               ("fastapi", "FastAPI", svg.FASTAPI)],
                              unit="/s", log=True, marker_label="limit", width=580,
                              x_title="responses per second (log scale)")))
    return out


def charts_cpu(sc):
    cores = sc.get("params", {}).get("cores") or 2
    groups = []
    for r in sc["rows"]:
        # the black tick: all cores busy, the fastest the work can be done
        serial = [r[s]["serial_s"] for s in SIDES if r.get(s, {}).get("serial_s")]
        groups.append((r["case"], {s: r.get(s, {}).get("done_s") for s in SIDES},
                       min(serial) / cores if serial else None))
    one = svg.hbars("Time until the work of %d requests was done (s)" % sc["params"]["n_requests"],
                    groups, [("lanes", "lanes-demo", svg.LANES), ("fastapi", "FastAPI",
                                                                  svg.FASTAPI)], unit="s",
                    width=580, x_title="seconds until the work ended",
                    marker_label="all %d cores busy" % cores)
    groups = [(r["case"], {s: r.get(s, {}).get("probe_max_ms") for s in SIDES}, None)
              for r in sc["rows"]]
    two = svg.hbars("Longest wait of GET / meanwhile", groups,
                    [("lanes", "lanes-demo", svg.LANES), ("fastapi", "FastAPI", svg.FASTAPI)],
                    unit="ms", log=True, width=580, vline=250, vline_label="stall bound 250 ms",
                    x_title="longest GET / latency (ms, log scale)")
    out = [("cpu-bound-done", one), ("cpu-bound-probe-max", two)]
    for side in SIDES:
        if _side_ok(sc, side):
            out += _probe_over_time(sc, side, 580, 250, "cpu-bound-probe")
    return out


def charts_rss(sc):
    out = []
    for r in sc["rows"]:
        series = []
        for side, color in (("lanes", svg.LANES), ("fastapi", svg.FASTAPI)):
            pts = [(t / 1000.0, rss) for t, rss in r.get(side, {}).get("rss_series", [])]
            if pts:
                series.append((SIDE_LABEL[side], color, pts))
        idle = [r[s]["idle_mb"] for s in SIDES if "idle_mb" in r.get(s, {})]
        out.append(("memory-%s" % r.get("variant", len(out)),
                    svg.lines("RSS — %s" % r["case"], series, y_unit=" MB", width=560,
                              height=210, x_title="time since the load started (s)",
                              y_title="RSS of all its processes (MB)",
                              hrefs=[(v, "idle %s" % SIDE_LABEL[s])
                                     for v, s in zip(idle, SIDES)])))
    return out


def charts_workers(sc):
    rows = sc["rows"]
    groups = []
    for r in rows[1:]:
        lim = next((r[s]["limit_rps"] for s in SIDES if "limit_rps" in r.get(s, {})), None)
        groups.append((r["case"], {s: r.get(s, {}).get("rps") for s in SIDES}, lim))
    out = [("workers-rps",
            svg.hbars("req/s of a blocking endpoint, 1 vs N workers (tick: limit)", groups,
                      [("lanes", "lanes-demo", svg.LANES), ("fastapi", "FastAPI", svg.FASTAPI)],
                      unit="/s", marker_label="limit = workers / sleep", width=580,
                      x_title="responses per second"))]
    groups = []
    for r in rows:
        for side in SIDES:
            pids = r.get(side, {}).get("pids", {})
            if not pids:
                continue
            counts = sorted(pids.values(), reverse=True)
            groups.append(("%s — %s" % (r["case"][:34], SIDE_LABEL[side]),
                           {side: counts[0]}, None))
    if groups:
        out.append(("workers-spread",
                    svg.hbars("Most requests one worker answered (from the pids)", groups,
                              [("lanes", "lanes-demo", svg.LANES),
                               ("fastapi", "FastAPI", svg.FASTAPI)], width=580,
                              x_title="requests answered by the busiest worker (count)")))
    for r in rows:
        if r.get("kind") != "four":
            continue
        for side in SIDES:
            reqs = r.get(side, {}).get("requests", [])
            if not reqs:
                continue
            pids = sorted({q[4] for q in reqs})
            colors = {pid: svg.PALETTE[i % 4] for i, pid in enumerate(pids)}
            bars = []
            for k, q in enumerate(sorted(reqs, key=lambda q: q[2])):
                bars.append((q[0] / 1000.0, q[1] / 1000.0, colors[q[4]], True, k))
                bars.append((q[2] / 1000.0, q[3] / 1000.0, colors[q[4]], False, k))
            s = r[side]["sleep_s"]
            out.append(("workers-seed4-%s" % side,
                        svg.gantt("seed 002 §4 — %s: one colour per worker pid" % SIDE_LABEL[side],
                                  bars, max(q[1] for q in reqs) / 1000.0,
                                  [("pid %d" % pid, colors[pid]) for pid in pids[:4]],
                                  width=470, row_h=9, refs=[(s, "sleep %gs" % s)])))
    return out


CHARTS = {"probe": charts_probe, "gantt": charts_gantt, "rps": charts_rps, "cpu": charts_cpu,
          "rss": charts_rss, "workers": charts_workers}
