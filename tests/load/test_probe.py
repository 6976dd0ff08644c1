"""The probe verdict: loading an endpoint that blocks the whole server makes the
probe wait (verdict: blocks); loading one that only waits for itself does not
(verdict: responsive). Each case gets a fresh server, since a blocked server
still owes the previous run's requests."""
from helpers import TinyServer, run, run_json, main


def probe_run(path, *extra):
    # A wide margin both ways (800 ms blocks against a 400 ms threshold) so a
    # busy test machine cannot flip the verdict.
    with TinyServer() as s:
        rc, d, err, secs = run_json("-z", "2s", "-c", 4, "--probe", s.url("/"), "--probe-stall", "400ms", *extra,
                                    s.url(path), limit=30)
        assert rc == 0 or d["unfinished"], (rc, err)
        assert secs < 6, secs
        return d["probe"]


def test_blocking_endpoint_is_blocking():
    p = probe_run("/block?ms=800")
    assert p["blocks"] is True, p
    assert p["max_ms"] > 400, p
    assert "blocks the server" in p["verdict"], p["verdict"]


def test_async_endpoint_is_not_blocking():
    p = probe_run("/delay?ms=800")
    assert p["blocks"] is False, p
    assert p["max_ms"] < 400 and p["answered"] >= 10, p
    assert "responsive" in p["verdict"], p["verdict"]


def test_threshold_flag_and_text_line():
    with TinyServer() as s:
        # 60 ms blocks: over a 30 ms threshold, under the default 250 ms
        rc, out, err, _ = run("-z", "1500ms", "-c", 2, "--probe", s.url("/"), "--probe-stall", "30ms",
                              "--probe-every", "20ms", s.url("/block?ms=60"), limit=30)
        assert rc == 0, err
        line = [l for l in out.splitlines() if l.startswith("probe: max")]
        assert line and "blocks the server" in line[0], out
    with TinyServer() as s:
        # 20 ms blocks, two at a time: the probe waits ~40 ms, far under the
        # default 250 ms even when the machine is busy (60 ms blocks once
        # gave a 302 ms probe under a loaded ctest -j2)
        rc, d, err, _ = run_json("-z", "1500ms", "-c", 2, "--probe", s.url("/"), s.url("/block?ms=20"))
        assert d["probe"]["blocks"] is False, d["probe"]


def test_probe_sees_a_stall_that_outlasts_the_run():
    with TinyServer() as s:
        rc, d, err, _ = run_json("-z", "1s", "-c", 1, "--probe", s.url("/"), s.url("/block?ms=3000"), limit=30)
        p = d["probe"]
        # the probe never got its answer, yet its wait is the verdict's evidence
        assert p["blocks"] is True and p["max_ms"] >= 700, p


if __name__ == "__main__":
    main([test_blocking_endpoint_is_blocking, test_async_endpoint_is_not_blocking, test_threshold_flag_and_text_line,
          test_probe_sees_a_stall_that_outlasts_the_run])
