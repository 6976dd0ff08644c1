"""
common.py — shared shapes for lanes-lab's scenarios: the two sides (lanes-demo
and its FastAPI twin), running a body against a freshly started server of each
side, the run profiles (full and --quick), and number formatting.

A scenario never prints; it returns a dict (see scenario()) that the text and
HTML reports render and results.json stores as is.
"""
SIDES = ("lanes", "fastapi")
SIDE_LABEL = {"lanes": "lanes-demo", "fastapi": "FastAPI"}

# Sizes per scenario. Full: the whole lab in well under 5 minutes on 2 cores;
# quick (make lab QUICK=1, the tests): under 90 s. Sleeps keep the seeds'
# ratios, only shorter.
PROFILES = {
    "full": {
        "blocking": {"s": 0.3, "n": 6, "c": 3},
        "asyncfib": {"tries": 3},   # sc_asyncfib.py
        "sync-vs-async": {"scale": 0.1, "n": 10, "c": 10},
        "client-models": {"s": 0.05, "hog_ms": 300,
                          "models": [["sequential", 1, 0.8], ["c=100", 100, 1.0],
                                     ["c=1000", 1000, 1.5]]},
        "cpu-bound": {"target_ms": 80, "n": 20, "c": 20},
        # seed 000: artillery quick --count 8 --num 2 (16 calls, 8 at a time), 4 rounds
        # (helpers recycled every few tasks: variant "process-recycle", left out of
        # the full run for time; recycling is measured with workers)
        "memory": {"mb": 20, "n": 16, "c": 8, "rounds": 3, "recycle": 5, "max_requests": 8,
                   "variants": ["thread", "arena", "trim", "mmap", "threadpool", "executor",
                                "process", "worker-recycle"]},
        "workers": {"workers": 2, "spread_n": 40, "s": 0.2, "n": 10, "c": 10,
                    "seed4_s": 0.3, "seed4_workers": 4},
        # full only (10,000 connections do not fit the quick lab's 90 s)
        "streams": {"counts": [1000, 10000], "open_timeout_s": 60, "settle_s": 2.0,
                    "probes": 20, "probe_gap_s": 0.25},
    },
    "quick": {
        "asyncfib": {"tries": 2},   # sc_asyncfib.py
        # s must exceed the probe's 250 ms stall bound: a shorter blocking
        # sleep can only be seen when requests queue behind each other
        "blocking": {"s": 0.3, "n": 3, "c": 3},
        # the FastAPI-only checks of bunched answers (strace, --loop asyncio, the
        # seed's middleware) cost three uvicorn starts: full profile only
        "sync-vs-async": {"scale": 0.04, "n": 10, "c": 10, "fastapi_checks": False},
        "client-models": {"s": 0.05, "hog_ms": 200,
                          "models": [["sequential", 1, 0.4], ["c=100", 100, 0.5]]},
        # 10 x 80 ms keeps a LOOP run (800 ms) well over the probe's 250 ms stall
        # bound even when the probe lands late in the batch (40 ms once gave 180 ms)
        "cpu-bound": {"target_ms": 80, "n": 10, "c": 10},
        "memory": {"mb": 20, "n": 16, "c": 8, "rounds": 2, "recycle": 3, "max_requests": 8,
                   "variants": ["thread", "worker-recycle"]},
        # seed 002 §4 on FastAPI (four spawned uvicorn workers) in the full profile only
        "workers": {"workers": 2, "spread_n": 20, "s": 0.1, "n": 6, "c": 6,
                    "seed4_s": 0.3, "seed4_workers": 4, "seed4_fastapi": False},
    },
}


def scenario(name, title, seeds, question, columns, rows, shows, charts, params,
             notes=()):
    """The one shape every scenario returns.

    columns: per side, [(key, header, format)], format one of ms, s, rps, mb,
    pct, int, text. rows: [{"case": str, "seed": str, "lanes": {key: value,
    "verdict": str}, "fastapi": {...}}]; a side that could not run has only
    {"verdict": "not installed"}."""
    return {"name": name, "title": title, "seeds": seeds, "question": question,
            "columns": [list(c) for c in columns], "rows": rows, "shows": shows,
            "charts": charts, "params": params, "notes": list(notes)}


def with_server(lab, side, body, workers=1, flags=(), env=None, wrap=(), **kw):
    """Starts a fresh server of this side, runs body(srv), always stops it.
    Returns (result, None), or (None, why) when the side cannot run here."""
    why = lab.missing(side, workers)
    if why:
        return None, why
    srv = lab.server(side, workers=workers, flags=flags, env=env, wrap=wrap, **kw)
    try:
        return body(srv), None
    finally:
        srv.stop()


def fmt(value, kind):
    if value is None:
        return "-"
    if kind == "text":
        return str(value)
    if kind == "int":
        return "%d" % value
    if kind == "ms":
        if value >= 1000:
            return "%.2f s" % (value / 1000.0)
        if value >= 10:
            return "%.0f ms" % value
        return "%.1f ms" % value
    if kind == "s":
        return "%.2f s" % value
    if kind == "rps":
        return "%.0f/s" % value if value >= 10 else "%.1f/s" % value
    if kind == "mb":
        return "%.0f MB" % value
    if kind == "pct":
        return "%.0f%%" % value
    if kind == "x":
        return "x%.1f" % value
    return str(value)


def ms(v):
    return "%.0f ms" % v if v < 1000 else "%.1f s" % (v / 1000.0)


# ---- self-checks, seed numbers, the opening grid (shared by every scenario) -------

# A scenario during which other work on the machine took more than this many
# cores (on average) says so on the page: its times are inflated.
OTHER_LOAD_NOTE_CORES = 0.1

AS_SEED, UNLIKE_SEED = "as the seed", "UNLIKE the seed"


def seed_word(same):
    """The one spelling every verdict uses when it compares with a seed."""
    return AS_SEED if same else UNLIKE_SEED


def check_bound(value, bound, what, unit=""):
    """A measured ratio against its physical bound (speed-up vs cores, req/s vs
    connections / sleep). None when value <= bound * 1.05 (clock slack), else
    the flag to put on the row, e.g. "suspect: speed-up 2.07 > 2 cores".
    A row carries it as row[side]["flag"]; both reports show it next to the
    verdict."""
    if value is None or bound is None:
        return None
    if value <= bound * 1.05:
        return None
    return "suspect: %s %s > %s%s" % (what, _num(value), _num(bound),
                                      " " + unit if unit else "")


def _num(v):
    if isinstance(v, int) or float(v).is_integer():
        return "%d" % v
    return "%.2f" % v if abs(v) < 100 else "%.0f" % v


# Row keys the reports know besides the columns:
#   row["seed_value"]      the seed's own number for this case ("9.56 req/s")
#   row[side]["flag"]      a self-check failed ("suspect: ...", "re-measured: ...")
#   row[side]["cause"]     one line: the measured cause where this side differs
#                          from the seed (or does something surprising)
#   row[side]["value"]     short text with this side's number for the closing
#                          "each seed measurement" table (else the verdict is used)
#
# Chart ids on the page (a grid cell's "anchor"; an unknown anchor falls back
# to the scenario's section): blocking-probe-max, blocking-probe-<side>[-k];
# sync-vs-async-setup-<n>-<side>; client-models-<condition>; cpu-bound-done,
# cpu-bound-probe-max, cpu-bound-probe-<side>[-k]; memory-<variant>;
# workers-rps, workers-spread, workers-seed4-<side>. A chart function in
# htmlreport may return (id, svg) to name its own.
#
# The opening grid: sc["grid"] = [grid_cell(...), ...]. One row per way of
# writing a handler, one column per question x server. "way" should be one of
# WAYS when it is one of them (the grid keeps that order; others follow).
QUESTIONS = [("blocks_loop", "blocks the loop?", False),
             ("uses_cores", "uses the cores?", True),
             ("memory_back", "memory comes back?", True)]   # (key, header, good answer)

WAYS = [
    "async def + time.sleep",
    "def + time.sleep",
    "async def + await asyncio.sleep",
    "async def + await run_in_threadpool(time.sleep)",
    "async def + CPU loop",
    "async def + CPU loop + asyncio.sleep(0)",
    "async def + run_in_executor(threads), CPU",
    "def, CPU (thread pool)",
    "process pool",
    "BackgroundTasks",
    "job queue",
    "def, allocating (thread pool)",
    "process pool, allocating",
    "N workers",
]


def grid_cell(way, server, question, answer, evidence, anchor):
    """One cell of the opening grid. answer: True, False or None (not measured
    here); evidence: short text with the number it rests on; anchor: the id
    of the chart (or section) that shows it."""
    assert server in SIDES, server
    assert question in [q for q, _, _ in QUESTIONS], question
    return {"way": way, "server": server, "question": question, "answer": answer,
            "evidence": evidence, "anchor": anchor}


def grid_of(scenarios):
    """{way: {(question, server): cell}} in WAYS order, later cells for the
    same place kept beside earlier ones (a list)."""
    cells = {}
    for sc in scenarios:
        for c in sc.get("grid", []) or []:
            cells.setdefault(c["way"], {}).setdefault((c["question"], c["server"]),
                                                      []).append(c)
    order = [w for w in WAYS if w in cells] + [w for w in cells if w not in WAYS]
    return [(w, cells[w]) for w in order]
