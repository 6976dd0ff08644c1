"""Open loop (--rate) keeps its schedule, and its latency is counted from the
intended send time: against a server slower than the rate, the queueing shows
up in the latencies (coordinated omission corrected), where a closed loop on the
same server hides it. -q paces each connection."""
from helpers import TinyServer, run_json, main


def test_rate_is_kept():
    with TinyServer() as s:
        rc, d, err, _ = run_json("-z", "2s", "-c", 10, "--rate", 200, s.url("/"))
        assert rc == 0, err
        assert 340 <= d["responses"] <= 420, d["responses"]
        assert d["mode"] == "open"


def test_coordinated_omission_corrected():
    with TinyServer() as s:
        # the server does at most ~40 req/s on one connection; we ask for 100/s
        rc, closed, err, _ = run_json("-z", "2s", "-c", 1, s.url("/delay?ms=25"))
        assert rc == 0, err
        rc, opened, err, _ = run_json("-z", "2s", "-c", 1, "--rate", 100, s.url("/delay?ms=25"))
        assert rc == 0, err
    assert closed["latency_ms"]["p99"] < 250, closed["latency_ms"]
    # by the end, requests due 1 s ago are still waiting their turn
    assert opened["latency_ms"]["p99"] > 600, opened["latency_ms"]
    assert opened["latency_ms"]["p50"] > 3 * closed["latency_ms"]["p50"]


def test_q_paces_each_connection():
    with TinyServer() as s:
        rc, d, err, _ = run_json("-z", "2s", "-c", 2, "-q", 20, s.url("/"))
        assert rc == 0, err
        assert 60 <= d["responses"] <= 84, d["responses"]   # 2 x 20/s x 2 s


if __name__ == "__main__":
    main([test_rate_is_kept, test_coordinated_omission_corrected, test_q_paces_each_connection])
