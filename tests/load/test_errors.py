"""Bad input ends cleanly: malformed URLs and flags exit 2 with a message; a
refusing host exits 1 fast; a server that closes early, closes mid-response,
sends garbage or never answers is counted by kind; every run ends on time."""
from helpers import TinyServer, run, run_json, free_port, main


def test_bad_urls_and_flags_exit_2():
    cases = [
        ["ftp://127.0.0.1/"], ["https://127.0.0.1/"], ["http://"], ["http://127.0.0.1:99999/"],
        ["http://127.0.0.1:80x/"], ["http://[::1/"], ["not a url"], [],
        ["-n", "0", "http://127.0.0.1/"], ["-c", "-3", "http://127.0.0.1/"], ["-z", "5 parsecs", "http://127.0.0.1/"],
        ["--rate", "10", "-q", "5", "http://127.0.0.1/"], ["-H", "NoColon", "http://127.0.0.1/"],
        ["--bogus", "http://127.0.0.1/"], ["-t", "0", "http://127.0.0.1/"], ["-n"],
        ["http://127.0.0.1/", "http://127.0.0.1/"],
    ]
    for args in cases:
        rc, out, err, secs = run(*args, limit=10)
        assert rc == 2, (args, rc, err)
        assert err.startswith("lanes-load: ") and len(err) > 15, (args, err)
        assert secs < 2


def test_help_exit_0():
    rc, out, err, _ = run("--help")
    assert rc == 0 and "Exit status" in out and "--probe" in out


def test_refused_exits_1_fast():
    port = free_port()
    rc, out, err, secs = run("-z", "10s", "-c", 8, "http://127.0.0.1:%d/" % port, limit=20)
    assert rc == 1, (rc, err)
    assert "connection refused" in err and "127.0.0.1:%d" % port in err, err
    assert secs < 3, secs   # gives up once every connection was refused, not after 10 s
    rc, d, err, _ = run_json("-n", 5, "-c", 1, "http://127.0.0.1:%d/" % port)
    assert rc == 1 and d["responses"] == 0 and d["errors"].get("connection refused", 0) >= 1, d


def test_broken_servers_counted_by_kind():
    want = {"/close-early": "closed mid-response", "/close-before": "closed before response",
            "/garbage": "bad response"}
    with TinyServer() as s:
        for path, kind in want.items():
            rc, d, err, secs = run_json("-n", 20, "-c", 4, s.url(path), limit=20)
            assert rc == 1, (path, rc, err)
            assert d["errors"] == {kind: 20}, (path, d["errors"])
            assert secs < 5


def test_timeouts_counted_and_on_time():
    with TinyServer() as s:
        rc, d, err, secs = run_json("-n", 4, "-c", 2, "-t", "300ms", s.url("/hang"), limit=20)
        assert rc == 1 and d["errors"] == {"timeout": 4}, d
        assert secs < 3, secs
        # -z ends the run even though no request ever completes
        rc, d, err, secs = run_json("-z", "1s", "-c", 3, "-t", "30s", s.url("/hang"), limit=20)
        assert rc == 1 and d["unfinished"] == 3, d
        assert secs < 3, secs
        # a mix: the good ones still count and the run succeeds
        rc, d, err, _ = run_json("-n", 10, "-c", 2, "-t", "200ms", s.url("/delay?ms=1"))
        assert rc == 0 and d["responses"] == 10


def test_server_dies_mid_run():
    s = TinyServer()
    try:
        import threading
        threading.Timer(0.5, s.stop).start()
        rc, d, err, secs = run_json("-z", "2s", "-c", 4, s.url("/delay?ms=5"), limit=20)
        assert rc == 0, (rc, err)   # it answered before dying
        assert d["responses"] > 0 and d["errors_total"] > 0, d
        assert secs < 4, secs
    finally:
        s.stop()


if __name__ == "__main__":
    main([test_bad_urls_and_flags_exit_2, test_help_exit_0, test_refused_exits_1_fast,
          test_broken_servers_counted_by_kind, test_timeouts_counted_and_on_time, test_server_dies_mid_run])
