"""
sc_workers.py — scenario `workers` (seeds 002 and 003): with N worker
processes, how are requests spread across them (by the pid each answer
carries), and what do workers change for an endpoint that blocks its event
loop (/blockwait): 1 worker vs N.

The spread uses a new connection per request (keep-alive would pin a client
to one worker), sent from a few threads of the lab itself because lanes-load
does not keep response bodies; every timing below is lanes-load's.

Only measures; prints nothing.
"""
import collections
import concurrent.futures
import http.client
import json

from common import SIDES, scenario, with_server
from labcore import HOST


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


def blocking(lab, srv, p, nw):
    s, n, c = p["s"], p["n"], p["c"]
    lab.log("  %s /blockwait?s=%g -n %d -c %d" % (srv.label, s, n, c))
    r = lab.load(srv.url("/blockwait?s=%g" % s), n=n, c=c, probe=srv.url("/"),
                 probe_every="20ms", timeout=n * s + 10)
    lim = nw / s
    return {"batch_s": r["window_s"], "rps": r["rps_window"] or r["rps"], "limit_rps": lim,
            "sleep_s": s,
            "probe_max_ms": r["probe"]["max_ms"], "blocks": bool(r["probe"]["blocks"]),
            "errors": r["errors_total"],
            "requests": [[round(a, 1), round(b, 1)] for a, b, _ in r["timeline"]["req"]],
            "probe_series": [[round(a, 1), round(b - a, 2)]
                             for a, b, _ in r["timeline"].get("probe", [])]}


def run(lab, p):
    nw = p["workers"]
    rows = []
    one, many = {}, {}
    for side in SIDES:
        one[side] = with_server(lab, side, lambda srv: blocking(lab, srv, p, 1))

        def body(srv):
            lab.log("  %s: %d requests, one connection each" % (srv.label, p["spread_n"]))
            counts = spread(srv, p["spread_n"])
            return {"spread": counts, "blocking": blocking(lab, srv, p, nw)}
        many[side] = with_server(lab, side, body, workers=nw)
    # lanes gives each worker its own SO_REUSEPORT socket by default: the
    # kernel hashes each connection to one, busy or not. One shared socket
    # (what gunicorn always does) lets whichever worker is free accept.
    shared = {"lanes": with_server(lab, "lanes",
                                   lambda srv: {"blocking": blocking(lab, srv, p, nw)},
                                   workers=nw, flags=["--no-reuse-port"]),
              "fastapi": (None, lab.missing("fastapi", nw)
                          or "n/a: gunicorn always shares one socket")}

    row = {"case": "spread of %d requests over %d workers" % (p["spread_n"], nw),
           "seed": "each worker takes some"}
    for side in SIDES:
        res, why = many[side]
        if why:
            row[side] = {"verdict": why}
            continue
        counts = sorted(res["spread"].values(), reverse=True)
        share = counts[-1] / float(sum(counts)) if len(counts) == nw else 0.0
        row[side] = {"workers_seen": len(counts), "per_worker": "/".join(map(str, counts)),
                     "pids": {str(k): v for k, v in res["spread"].items()},
                     "verdict": ("all %d workers served (smallest share %.0f%%)"
                                 % (nw, 100 * share)) if len(counts) == nw else
                     "only %d of %d workers served" % (len(counts), nw)}
    rows.append(row)

    for label, data, w in (("/blockwait, 1 worker", one, 1),
                           ("/blockwait, %d workers" % nw, many, nw),
                           ("/blockwait, %d workers, one shared socket" % nw, shared, nw)):
        row = {"case": label, "seed": "1 at a time per worker"}
        for side in SIDES:
            res, why = data[side]
            if why:
                row[side] = {"verdict": why}
                continue
            m = dict(res["blocking"] if w > 1 else res)
            m["workers"] = w
            m["pct_limit"] = 100.0 * m["rps"] / m["limit_rps"]
            m["verdict"] = "%.0f%% of %d/s; probe %s" % (
                m["pct_limit"], m["limit_rps"], "still stalls" if m["blocks"] else "free")
            row[side] = m
        rows.append(row)

    columns = [("per_worker", "per worker", "text"), ("batch_s", "batch", "s"),
               ("rps", "req/s", "rps"), ("probe_max_ms", "probe max", "ms")]
    return scenario(
        "workers", "What do worker processes buy?", ["002", "003"],
        "Spread: %d requests, each on a new connection, to a server with %d workers; which pid "
        "answered. Then /blockwait?s=%g (blocks its worker's loop), %d requests %d at a time, "
        "with 1 and with %d workers; limit = workers / s." % (
            p["spread_n"], nw, p["s"], p["n"], p["c"], nw),
        columns, rows, shows_text(rows, nw), {"kind": "workers"}, dict(p))


def p_s(rows):
    return rows[1]["lanes"].get("sleep_s") or 1.0


def shows_text(rows, nw):
    parts = []
    for side, name in (("lanes", "lanes"), ("fastapi", "FastAPI")):
        a, b = rows[1].get(side, {}), rows[2].get(side, {})
        if "batch_s" not in a or "batch_s" not in b:
            continue
        gain = a["batch_s"] / max(b["batch_s"], 1e-6)
        # A blocked worker serves one request per sleep: batch / s is at least
        # what its busiest worker served.
        busiest = int(b["batch_s"] / p_s(rows) + 0.1)
        parts.append("%s %.2f s -> %.2f s%s" % (
            name, a["batch_s"], b["batch_s"],
            "" if gain >= 1.3 else " (no gain this run: one worker served %d of the %d requests)"
            % (busiest, len(b.get("requests", [])))))
    if not parts:
        return ""
    stall = [r for r in rows[2:] for side in SIDES if r.get(side, {}).get("blocks")]
    text = ("Workers multiply capacity but do not remove blocking: with %d workers the blocking "
            "batch took %s, " % (nw, "; ".join(parts)))
    text += ("yet the probe still stalled, because every worker's loop was blocked in turn — "
             "as seed 002 implies, workers complement non-blocking code, they do not replace it."
             if stall else "and the probe was not stalled.")
    own, shared = rows[2].get("lanes", {}), rows[3].get("lanes", {})
    if "pct_limit" in own and "pct_limit" in shared:
        if shared["pct_limit"] > own["pct_limit"] + 10:
            text += (" With one SO_REUSEPORT socket per worker (lanes' default) the kernel "
                     "assigns each connection to a worker by hash, busy or not (%.0f%% of the "
                     "limit); with one shared socket (--no-reuse-port, gunicorn's way) a free "
                     "worker takes the next connection (%.0f%%)." % (own["pct_limit"],
                                                                     shared["pct_limit"]))
        else:
            text += (" One shared socket (--no-reuse-port) made little difference here "
                     "(%.0f%% vs %.0f%% of the limit)." % (shared["pct_limit"],
                                                           own["pct_limit"]))
    return text
