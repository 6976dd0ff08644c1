"""
sc_workers.py — scenario `workers` (seeds 002 and 003): with N worker
processes, how are requests spread across them, and what do workers change
for an endpoint that blocks its event loop (/blockwait): 1 worker vs N, N on
one shared socket, and seed 002 §4's own setup — four workers, four blocking
POST /delay requests at once: does each worker take one?

Every count comes from the pid in each answer and every interval from the
handler's own start/end (labcore.Burst keeps the bodies); the probe (GET /
every 20 ms, a new connection each) runs from a thread of the lab meanwhile.

Only measures; prints nothing.
"""
import collections
import concurrent.futures
import http.client
import json
import threading
import time

from common import SIDES, check_bound, grid_cell, scenario, seed_word, with_server
from labcore import HOST, Burst

PROBE_EVERY_S = 0.02
STALL_MS = 250.0


def pid_of(port, path):
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    return json.loads(body)["pid"]


def spread(srv, n):
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        pids = list(ex.map(lambda _: pid_of(srv.port, "/asyncwait?s=0.02"), range(n)))
    return collections.Counter(pids)


class Probe:
    """GET / every PROBE_EVERY_S on a new connection, until stopped: the
    longest wait says whether a client could still get an answer."""

    def __init__(self, port):
        self.port, self.lat, self.stop_ev = port, [], threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop_ev.is_set():
            a = time.time()
            try:
                pid_of(self.port, "/")
                self.lat.append([a, (time.time() - a) * 1000.0])
            except (OSError, ValueError):
                self.lat.append([a, None])
            self.stop_ev.wait(PROBE_EVERY_S)

    def stop(self):
        self.stop_ev.set()
        self.t.join(15)
        return self.lat


def blocking(lab, srv, path, s, n, nw, method="GET"):
    """n requests at once to a handler that blocks its worker's loop for s."""
    lab.log("  %s %s %s?s=%g x%d at once" % (srv.label, method, path, s, n))
    probe = Probe(srv.port)
    time.sleep(0.05)
    b = Burst(srv.port, "%s?s=%g" % (path, s), n, timeout=n * s + 10, method=method)
    b.fire()
    recs = b.results()
    lat = probe.stop()
    ok = [r for r in recs if r.get("status") == 200 and "pid" in r]
    t0 = min(r["send"] for r in recs if "send" in r)
    per_pid = collections.Counter(r["pid"] for r in ok)
    # per worker: did its handlers run one after another?
    seq = {}
    for pid in per_pid:
        iv = sorted((r["start"], r["end"]) for r in ok if r["pid"] == pid)
        seq[str(pid)] = all(b2[0] >= a2[1] - 0.001 for a2, b2 in zip(iv, iv[1:]))
    batch = max(r["done"] for r in ok) - t0 if ok else None
    during = [x for x in lat if t0 <= x[0] <= t0 + (batch or 0)]
    waits = [x[1] for x in during if x[1] is not None]
    served = sorted(per_pid.values(), reverse=True)
    return {"sleep_s": s, "n": n, "workers": nw, "errors": n - len(ok),
            "batch_s": batch, "rps": len(ok) / batch if batch else None, "limit_rps": nw / s,
            "pids_seen": len(per_pid), "per_worker": "/".join(map(str, served)),
            "busiest": served[0] if served else 0,
            "pids": {str(k): v for k, v in per_pid.items()},
            "each_sequential": seq,
            "probe_max_ms": max(waits) if waits else None,
            "blocks": bool(waits) and max(waits) > STALL_MS,
            "requests": [[round((r["send"] - t0) * 1000, 1), round((r["done"] - t0) * 1000, 1),
                          round((r["start"] - t0) * 1000, 1), round((r["end"] - t0) * 1000, 1),
                          r["pid"]] for r in ok],
            "probe_series": [[round((a - t0) * 1000, 1), round(w, 2)] for a, w in during
                             if w is not None]}


def run(lab, p):
    nw = p["workers"]
    s, n = p["s"], p["n"]
    one, many = {}, {}
    for side in SIDES:
        one[side] = with_server(lab, side, lambda srv: blocking(lab, srv, "/blockwait", s, n, 1))

        def body(srv):
            lab.log("  %s: %d requests, one connection each" % (srv.label, p["spread_n"]))
            counts = spread(srv, p["spread_n"])
            return {"spread": counts, "blocking": blocking(lab, srv, "/blockwait", s, n, nw)}
        many[side] = with_server(lab, side, body, workers=nw)
    # lanes gives each worker its own SO_REUSEPORT socket by default: the
    # kernel hashes each connection to one, busy or not. One shared socket
    # (what gunicorn always does) lets whichever worker is awake accept.
    shared = {"lanes": with_server(lab, "lanes",
                                   lambda srv: {"blocking": blocking(lab, srv, "/blockwait",
                                                                     s, n, nw)},
                                   workers=nw, flags=["--no-reuse-port"]),
              "fastapi": (None, lab.missing("fastapi", nw)
                          or "n/a: gunicorn always shares one socket")}
    # Seed 002 §4: `uvicorn main_worker:app --workers 4`, POST /delay with a
    # blocking sleep; four requests at once. The seed's 3 s is p["seed4_s"].
    s4, w4 = p.get("seed4_s", 0.3), p.get("seed4_workers", 4)
    four = {"lanes": with_server(lab, "lanes", lambda srv: blocking(
        lab, srv, "/delay/block", s4, w4, w4, method="POST"), workers=w4)}
    four["fastapi"] = with_server(lab, "fastapi", lambda srv: blocking(
        lab, srv, "/delay/block", s4, w4, w4, method="POST"), workers=w4,
        env={"LAB_PROCS": "1"}, uvicorn_workers=True) if lab.has("fastapi") and \
        p.get("seed4_fastapi", True) else (None, lab.missing("fastapi") or
                                          "skipped in the quick profile (runs in the full one)")

    rows = build_rows(p, one, many, shared, four)
    sc = scenario(
        "workers", "What do worker processes buy?", ["002", "003"],
        "Spread: %d requests, each on a new connection, to a server with %d workers; which pid "
        "answered. Then /blockwait?s=%g (blocks its worker's loop), %d requests at once, with 1 "
        "and with %d workers, and seed 002 §4: %d workers (uvicorn --workers %d, as the seed), "
        "%d POST /delay/block?s=%g at once (the seed slept 3 s). per worker: requests each pid "
        "answered (from the answers); limit = workers / sleep; probe: GET / every 20 ms on a "
        "new connection." % (p["spread_n"], nw, s, n, nw, w4, w4, w4, s4),
        COLUMNS, rows, shows_text(rows, nw), {"kind": "workers"}, dict(p, seed4_s=s4,
                                                                      seed4_workers=w4))
    sc["grid"] = grid(rows, nw)
    return sc


COLUMNS = [("per_worker", "per worker", "text"), ("batch_s", "batch", "s"),
           ("rps", "req/s", "rps"), ("probe_max_ms", "probe max", "ms")]


def build_rows(p, one, many, shared, four):
    nw = p["workers"]
    rows = []
    row = {"case": "spread of %d requests over %d workers" % (p["spread_n"], nw),
           "seed": "each worker takes some", "kind": "spread"}
    for side in SIDES:
        res, why = many[side]
        if why:
            row[side] = {"verdict": why}
            continue
        counts = sorted(res["spread"].values(), reverse=True)
        share = counts[-1] / float(sum(counts)) if len(counts) == nw else 0.0
        row[side] = {"workers_seen": len(counts), "per_worker": "/".join(map(str, counts)),
                     "pids": {str(k): v for k, v in res["spread"].items()},
                     "verdict": ("all %d workers served (smallest share %.0f%%) (%s)"
                                 % (nw, 100 * share, seed_word(True))) if len(counts) == nw else
                     "only %d of %d workers served (%s)" % (len(counts), nw, seed_word(False))}
        if len(counts) < nw:
            row[side]["cause"] = "the pids in the answers: %s" % row[side]["per_worker"]
    rows.append(row)

    for label, data, w, kind in (("/blockwait, 1 worker", one, 1, "one"),
                                 ("/blockwait, %d workers" % nw, many, nw, "many"),
                                 ("/blockwait, %d workers, one shared socket" % nw, shared, nw,
                                  "shared")):
        row = {"case": label, "seed": "1 at a time per worker", "kind": kind}
        for side in SIDES:
            res, why = data[side]
            if why:
                row[side] = {"verdict": why}
                continue
            m = dict(res["blocking"] if w > 1 else res)
            m["pct_limit"] = 100.0 * m["rps"] / m["limit_rps"] if m["rps"] else 0.0
            one_at_a_time = all(m["each_sequential"].values())
            m["verdict"] = "%.0f%% of %g/s; %d pids answered (busiest served %d of %d); " \
                           "probe %s (%s)" % (m["pct_limit"], m["limit_rps"], m["pids_seen"],
                                              m["busiest"], m["n"], "stalled" if m["blocks"]
                                              else "free", seed_word(one_at_a_time))
            if w > 1 and m["pids_seen"] == w and m["busiest"] > -(-m["n"] // w) + 1:
                m["cause"] = ("uneven: one worker served %d of the %d (per worker %s)%s" % (
                    m["busiest"], m["n"], m["per_worker"],
                    "; each worker has its own SO_REUSEPORT socket and the kernel picks one per "
                    "connection by a hash, busy or not" if side == "lanes" and kind == "many"
                    else ""))
            if w > 1 and m["pids_seen"] < w:
                m["cause"] = ("one worker took %d of the %d connections%s; the other sat idle "
                              "while they waited" % (
                                  m["busiest"], m["n"],
                                  " (one shared socket: the worker that was awake accepted "
                                  "every waiting connection before blocking)"
                                  if kind == "shared" else ""))
            m["value"] = "%.2f s for %d, per worker %s" % (m["batch_s"] or 0, m["n"],
                                                           m["per_worker"])
            flag = check_bound(m["rps"], m["limit_rps"], "req/s", "req/s limit")
            if flag:
                m["flag"] = flag
            row[side] = m
        rows.append(row)

    w4 = p.get("seed4_workers", 4)
    row = {"case": "seed 002 §4: %d workers, %d blocking POST /delay" % (w4, w4),
           "seed": "each worker serves one (pids differ)", "kind": "four",
           "seed_value": "%d different worker_id, all at once" % w4}
    for side in SIDES:
        res, why = four[side]
        if why:
            row[side] = {"verdict": why}
            continue
        m = dict(res)
        m["pct_limit"] = 100.0 * m["rps"] / m["limit_rps"] if m["rps"] else 0.0
        same = m["pids_seen"] == w4
        m["verdict"] = "%d of %d pids answered, per worker %s, %.2f s (%s)" % (
            m["pids_seen"], w4, m["per_worker"], m["batch_s"] or 0, seed_word(same))
        m["value"] = "%d pid(s), %.2f s for %d x %g s" % (m["pids_seen"], m["batch_s"] or 0, w4,
                                                         m["sleep_s"])
        flag = check_bound(m["rps"], m["limit_rps"], "req/s", "req/s limit")
        if flag:
            m["flag"] = flag
        if not same:
            m["cause"] = ("the pids say the %d connections landed on %d worker%s (%s): %s; a "
                          "request on a busy worker waits for its sleep" % (
                              w4, m["pids_seen"], "" if m["pids_seen"] == 1 else "s",
                              m["per_worker"],
                              "each worker has its own SO_REUSEPORT socket and the kernel picks "
                              "one per connection by a hash, busy or not" if side == "lanes" else
                              "uvicorn's workers share one listening socket, and the worker "
                              "that was awake accepted the waiting connections"))
        row[side] = m
    rows.append(row)
    return rows


def grid(rows, nw):
    out = []
    by = {r["kind"]: r for r in rows}
    for side in SIDES:
        a, b = by["one"].get(side, {}), by["many"].get(side, {})
        if "batch_s" not in a or "batch_s" not in b or not b["batch_s"]:
            continue
        gain = a["batch_s"] / b["batch_s"]
        out.append(grid_cell("N workers", side, "uses_cores", gain >= 1.3,
                             "/blockwait x%d: %.2f s with 1 worker, %.2f s with %d (x%.1f)" % (
                                 b["n"], a["batch_s"], b["batch_s"], nw, gain), "workers-rps"))
        out.append(grid_cell("N workers", side, "blocks_loop", bool(b["blocks"]),
                             "GET / waited up to %.0f ms with %d workers on /blockwait" % (
                                 b["probe_max_ms"] or 0, nw), "workers-rps"))
    return out


def shows_text(rows, nw):
    by = {r["kind"]: r for r in rows}
    parts = []
    for side, name in (("lanes", "lanes"), ("fastapi", "FastAPI")):
        a, b = by["one"].get(side, {}), by["many"].get(side, {})
        if not a.get("batch_s") or not b.get("batch_s"):
            continue
        gain = a["batch_s"] / b["batch_s"]
        parts.append("%s %.2f s -> %.2f s (x%.1f; per worker %s)" % (
            name, a["batch_s"], b["batch_s"], gain, b["per_worker"]))
    if not parts:
        return ""
    text = "With %d workers the blocking batch took %s. " % (nw, "; ".join(parts))
    for side, name in (("lanes", "lanes"), ("fastapi", "FastAPI")):
        b = by["many"].get(side, {})
        if "each_sequential" not in b:
            continue
        if b["pids_seen"] >= 2 and all(b["each_sequential"].values()) and b["blocks"]:
            text += ("%s: each of the %d workers that answered ran its requests one after "
                     "another (its loop blocked), and GET / still waited %.0f ms. " % (
                         name, b["pids_seen"], b["probe_max_ms"] or 0))
        elif b["pids_seen"] < 2:
            text += ("%s: one worker answered all %d (the pids say so); the other was idle. "
                     % (name, b["n"]))
    sh = by["shared"].get("lanes", {})
    own = by["many"].get("lanes", {})
    if "pids_seen" in sh and "pids_seen" in own:
        text += ("lanes with one SO_REUSEPORT socket per worker (the default): per worker %s, "
                 "%.2f s; with one shared socket (--no-reuse-port): per worker %s, %.2f s%s. " % (
                     own["per_worker"], own["batch_s"] or 0, sh["per_worker"],
                     sh["batch_s"] or 0,
                     " — one worker took them all: it was awake and accepted every waiting "
                     "connection before its first handler blocked" if sh["pids_seen"] == 1
                     else ""))
    f = by["four"]
    bits = []
    for side, name in (("lanes", "lanes"), ("fastapi", "FastAPI")):
        m = f.get(side, {})
        if "pids_seen" in m:
            bits.append("%s: %d worker pid(s) answered (per worker %s, %.2f s)" % (name, m["pids_seen"], m["per_worker"],
                                                     m["batch_s"] or 0))
    if bits:
        text += ("Seed 002 §4 (four workers, four blocking requests): %s — workers complement "
                 "non-blocking code, they do not replace it." % "; ".join(bits))
    return text
