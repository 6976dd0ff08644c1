"""lanes-load sends exactly what it is asked to, parses every framing of a
response (Content-Length, chunked, HTTP/1.0 close-delimited, HEAD), counts
status codes, and writes the JSON report and the timeline."""
import csv
import os
import tempfile

from helpers import TinyServer, run, run_json, main


def test_exact_count_and_keepalive():
    with TinyServer() as s:
        rc, d, err, _ = run_json("-n", 300, "-c", 10, s.url("/"))
        assert rc == 0, err
        assert d["responses"] == 300 and d["status"] == {"200": 300}, d
        assert d["errors"] == {} and d["errors_total"] == 0
        # keep-alive: one connection per concurrent worker, not one per request
        assert d["connects"] == 10, d["connects"]
        assert s.stats().get("/") == 300
        lat = d["latency_ms"]
        assert 0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"], lat
        assert sum(b["count"] for b in d["histogram"]) == 300


def test_first_request_is_sent_at_once():
    # regression: sends queued before the loop ran waited for the 100 ms sweep
    with TinyServer() as s:
        for _ in range(3):
            rc, d, err, _ = run_json("-n", 1, "-c", 1, s.url("/"))
            assert rc == 0, err
            if d["elapsed_s"] < 0.05:
                break
        assert d["elapsed_s"] < 0.05, d["elapsed_s"]


def test_disable_keepalive_reconnects():
    with TinyServer() as s:
        rc, d, err, _ = run_json("-n", 50, "-c", 5, "--disable-keepalive", s.url("/"))
        assert rc == 0, err
        assert d["responses"] == 50 and d["connects"] == 50, d


def test_framings():
    with TinyServer() as s:
        for path in ("/chunked", "/http10"):
            rc, d, err, _ = run_json("-n", 40, "-c", 4, s.url(path))
            assert rc == 0, (path, err)
            assert d["status"] == {"200": 40} and d["errors"] == {}, (path, d)
        rc, d, err, _ = run_json("-n", 20, "-c", 2, "-m", "HEAD", s.url("/"))
        assert rc == 0 and d["status"] == {"200": 20}, d


def test_5xx_counted_exit_zero():
    with TinyServer() as s:
        rc, d, err, _ = run_json("-n", 30, "-c", 3, s.url("/status?code=503"))
        assert rc == 0, err
        assert d["status"] == {"503": 30}, d


def test_text_report_like_hey():
    with TinyServer() as s:
        rc, out, err, _ = run("-n", 100, "-c", 4, s.url("/"))
        assert rc == 0, err
        for part in ("Summary:", "Requests/sec:", "Response time histogram:", "Latency distribution:",
                     "99.9% in", "Status code distribution:", "[200]\t100 responses"):
            assert part in out, (part, out)


def test_post_body_and_headers():
    with TinyServer() as s:
        rc, d, err, _ = run_json("-n", 10, "-c", 1, "-m", "POST", "-d", "x" * 5000, "-T", "application/json",
                                 "-H", "X-Test: 1", s.url("/"))
        assert rc == 0 and d["status"] == {"200": 10}, (d, err)


def test_timeline_rows_and_cap():
    with TinyServer() as s, tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.csv")
        rc, d, err, _ = run_json("-n", 120, "-c", 3, "--timeline", path, s.url("/"))
        assert rc == 0, err
        rows = list(csv.DictReader(open(path)))
        reqs = [r for r in rows if r["kind"] == "req"]
        assert len(reqs) == 120
        for r in reqs:
            assert float(r["end_ms"]) >= float(r["start_ms"]) >= 0
            assert r["status"] == "200" and 0 <= int(r["conn"]) < 3
        starts = [float(r["start_ms"]) for r in reqs]
        assert starts == sorted(starts)
        rc, d, err, _ = run_json("-n", 100, "-c", 2, "--timeline", path, "--timeline-max", 10, s.url("/"))
        assert rc == 0
        reqs = [r for r in csv.DictReader(open(path)) if r["kind"] == "req"]
        assert len(reqs) == 10 and d["timeline_dropped"] == 90, (len(reqs), d["timeline_dropped"])
        assert "--timeline-max" in err


def test_duration_bound():
    with TinyServer() as s:
        rc, d, err, secs = run_json("-z", "1s", "-c", 4, s.url("/delay?ms=10"))
        assert rc == 0, err
        assert 0.95 <= d["elapsed_s"] <= 1.1, d["elapsed_s"]
        assert secs < 5
        # 4 connections, ~10 ms each: a few hundred, certainly not zero or thousands
        assert 40 <= d["responses"] <= 400, d["responses"]


if __name__ == "__main__":
    main([test_exact_count_and_keepalive, test_first_request_is_sent_at_once, test_disable_keepalive_reconnects, test_framings,
          test_5xx_counted_exit_zero, test_text_report_like_hey, test_post_body_and_headers,
          test_timeline_rows_and_cap, test_duration_bound])
