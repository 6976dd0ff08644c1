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
        "memory": {"mb": 20, "n": 24, "c": 3, "recycle": 5, "max_requests": 8},
        "workers": {"workers": 2, "spread_n": 40, "s": 0.2, "n": 10, "c": 10},
    },
    "quick": {
        "asyncfib": {"tries": 2},   # sc_asyncfib.py
        # s must exceed the probe's 250 ms stall bound: a shorter blocking
        # sleep can only be seen when requests queue behind each other
        "blocking": {"s": 0.3, "n": 3, "c": 3},
        "sync-vs-async": {"scale": 0.04, "n": 10, "c": 10},
        "client-models": {"s": 0.05, "hog_ms": 200,
                          "models": [["sequential", 1, 0.4], ["c=100", 100, 0.5]]},
        # 10 x 80 ms keeps a LOOP run (800 ms) well over the probe's 250 ms stall
        # bound even when the probe lands late in the batch (40 ms once gave 180 ms)
        "cpu-bound": {"target_ms": 80, "n": 10, "c": 10},
        "memory": {"mb": 20, "n": 9, "c": 3, "recycle": 3, "max_requests": 4},
        "workers": {"workers": 2, "spread_n": 20, "s": 0.1, "n": 6, "c": 6},
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


def with_server(lab, side, body, workers=1, flags=(), env=None):
    """Starts a fresh server of this side, runs body(srv), always stops it.
    Returns (result, None), or (None, why) when the side cannot run here."""
    why = lab.missing(side, workers)
    if why:
        return None, why
    srv = lab.server(side, workers=workers, flags=flags, env=env)
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
