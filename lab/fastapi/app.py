"""
app.py — lanes-demo's endpoints written the FastAPI way, for lanes-lab's side by
side runs: same paths, same query parameters, same JSON fields (pid, start,
end, ...). Each route is written as the seed experiments wrote it: `def` where
lanes uses the THREAD lane, `async def` where it uses the LOOP lane (with
asyncio.sleep, time.sleep or run_in_threadpool, as the seed did), a
ProcessPoolExecutor for the PROCESS variants, and a small in-memory queue for
the JOB variants (plain FastAPI has no durable queue: a restart loses them).

Run with Debian's interpreter (python3-fastapi 0.92, python3-uvicorn 0.17):
    /usr/bin/python3 -m uvicorn app:app --app-dir lab/fastapi --port 8001
    /usr/bin/python3 -m gunicorn -k uvicorn.workers.UvicornWorker -w 2 \
        --chdir lab/fastapi -b 127.0.0.1:8001 app:app
Environment: LAB_PROCS (helper processes, default CPU count), LAB_PROC_MAX_TASKS
(recycle a helper after N tasks, default never), LAB_JOB_RUNNERS (default 2),
LAB_SEED_MIDDLEWARE=1 (the seed's @app.middleware("http") instead of the plain
ASGI one), LAB_NO_WARM=1 (no helper processes started at start-up).

It must never listen anywhere the lab did not ask for, nor run work that is not
bounded by the request's own parameters.
"""
import asyncio
import concurrent.futures
import multiprocessing
import os
import sys
import threading
import time
import uuid

from fastapi import BackgroundTasks, FastAPI, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import work  # noqa: E402  (after the path fix, so 'spawn' helpers find it too)

app = FastAPI(title="lanes-demo in FastAPI")

S = Query(0.05, ge=0, le=60)
N = Query(10_000_000, ge=0, le=10_000_000_000)


class ProcessTime:
    """The seeds' X-Process-Time header, as a plain ASGI middleware (Starlette's
    BaseHTTPMiddleware would add its own overhead to every request)."""

    def __init__(self, app):
        self.inner = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.inner(scope, receive, send)
        start = time.time()

        async def timed_send(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-process-time", b"%.6f" % (time.time() - start)))
                message = dict(message, headers=headers)
            await send(message)

        await self.inner(scope, receive, timed_send)


# ---- lab A: the seed's own middleware, on request -------------------------------
# LAB_SEED_MIDDLEWARE=1: X-Process-Time the way seed 003 wrote it,
# @app.middleware("http") (Starlette's BaseHTTPMiddleware: call_next runs the
# rest of the app in a task of its own), so the lab can check whether that
# choice changes a result.
if os.environ.get("LAB_SEED_MIDDLEWARE") == "1":
    from fastapi import Request

    @app.middleware("http")
    async def add_process_time_header(request: Request, call_next):
        start_time = time.time()
        response = await call_next(request)
        response.headers["X-Process-Time"] = str(time.time() - start_time)
        return response
else:
    app.add_middleware(ProcessTime)
# ---- end lab A -------------------------------------------------------------------


def answer(start, **fields):
    return {"pid": os.getpid(), "start": start, "end": time.time(), **fields}


# ---- hello and waits (seeds 000, 002, 003) ------------------------------------

@app.get("/")
async def hello():
    return answer(time.time(), message="hello world")


@app.get("/wait")
def wait(s: float = S):
    start = time.time()
    time.sleep(s)
    return answer(start, duration=s)


@app.get("/asyncwait")
async def asyncwait(s: float = S):
    start = time.time()
    await asyncio.sleep(s)
    return answer(start, duration=s)


@app.get("/blockwait")
async def blockwait(s: float = S):
    start = time.time()
    time.sleep(s)          # blocks the event loop: the seed's mistake, on purpose
    return answer(start, duration=s)


# ---- seed 002: POST /delay in three variants -----------------------------------

@app.post("/delay/block")
async def delay_block(s: float = S):
    start = time.time()
    time.sleep(s)
    return answer(start, duration=s)


@app.post("/delay/async")
async def delay_async(s: float = S):
    start = time.time()
    await asyncio.sleep(s)
    return answer(start, duration=s)


@app.post("/delay/threadpool")
async def delay_threadpool(s: float = S):
    start = time.time()
    await run_in_threadpool(time.sleep, s)
    return answer(start, duration=s)


# ---- seed 001: p1 is `def`, p2 is `async def` calling time.sleep ------------------

@app.get("/e1/p1")
def e1_p1(s: float = Query(10.0, ge=0, le=60)):
    start = time.time()
    time.sleep(s)
    return answer(start, duration=s)


@app.get("/e1/p2")
async def e1_p2(s: float = Query(1.0, ge=0, le=60)):
    start = time.time()
    time.sleep(s)
    return answer(start, duration=s)


@app.get("/e2/p1")
def e2_p1(s: float = Query(1.0, ge=0, le=60)):
    start = time.time()
    time.sleep(s)
    return answer(start, duration=s)


@app.get("/e2/p2")
async def e2_p2(s: float = Query(1.0, ge=0, le=60)):
    start = time.time()
    time.sleep(s)
    return answer(start, duration=s)


# ---- CPU-bound (seeds 003, 004) -------------------------------------------------

def fib_n(n):
    if n < 0 or n > 50:
        raise HTTPException(422, "n must be between 0 and 50")
    return n


@app.get("/fib/{n}")
def fib(n: int):
    start = time.time()
    return answer(start, fib=work.fibo(fib_n(n)))


@app.get("/asyncfib/{n}")
async def asyncfib(n: int, yield_every: int = 100000):
    """The seed's `await afibo(n)`; with yield_every > 0 it really offers the
    loop a turn (asyncio.sleep(0)) every that many calls, as lanes-demo does."""
    start = time.time()
    calls = [0]

    async def afibo(k):
        if yield_every > 0:
            calls[0] += 1
            if calls[0] % yield_every == 0:
                await asyncio.sleep(0)
        if k < 2:
            return 1
        return await afibo(k - 1) + await afibo(k - 2)

    return answer(start, fib=await afibo(fib_n(n)))


@app.get("/generator")
async def generator(n: int = N):
    start = time.time()
    return answer(start, total=work.sum_generator(n))


@app.get("/cycle")
async def cycle(n: int = N):
    start = time.time()
    return answer(start, total=work.sum_cycle(n))


@app.get("/cycle_sleep")
async def cycle_sleep(n: int = N, every: int = 100000):
    start = time.time()
    total = 0
    for i in range(n):
        total += i * i
        if every > 0 and i % every == 0:
            await asyncio.sleep(0)
    return answer(start, total=total)


# Seed 004's `executor`, sized like lanes' pool (and Starlette's limiter).
thread_executor = concurrent.futures.ThreadPoolExecutor(max_workers=40)


@app.get("/thread")
async def thread(n: int = N):
    start = time.time()
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(thread_executor, work.sum_generator, n)
    return answer(start, result=result)


@app.get("/cycle/thread")
def cycle_thread(n: int = N):
    start = time.time()
    return answer(start, total=work.sum_cycle(n))


@app.get("/memory")
def memory(mb: int = Query(100, ge=0, le=4096)):
    start = time.time()
    return answer(start, **work.memory(mb))


# ---- lab A: malloc_trim, and seed 000's two ways of offloading from async def ----

@app.get("/memory/trim")
def memory_trim(mb: int = Query(100, ge=0, le=4096)):
    """/memory, then glibc's malloc_trim(0) (as lanes-demo's /memory/trim)."""
    start = time.time()
    return answer(start, **work.memory(mb, trim=True))


@app.get("/memory/threadpool")
async def memory_threadpool(mb: int = Query(100, ge=0, le=4096)):
    """Seed 000's /run_in_threadpool_memory: Starlette's thread pool."""
    start = time.time()
    return answer(start, **await run_in_threadpool(work.memory, mb))


@app.get("/memory/executor")
async def memory_executor(mb: int = Query(100, ge=0, le=4096)):
    """Seed 000's run_in_executor variant: the loop's default executor."""
    start = time.time()
    loop = asyncio.get_running_loop()
    return answer(start, **await loop.run_in_executor(None, work.memory, mb))
# ---- end lab A -------------------------------------------------------------------


@app.get("/background")
async def background(background_tasks: BackgroundTasks, n: int = N):
    start = time.time()
    background_tasks.add_task(work.sum_generator, n)
    return answer(start, message="long running task queued")


# ---- PROCESS variants: a ProcessPoolExecutor -------------------------------------

_pool = None
_pool_lock = threading.Lock()


def new_pool():
    procs = int(os.environ.get("LAB_PROCS") or os.cpu_count() or 1)
    max_tasks = int(os.environ.get("LAB_PROC_MAX_TASKS") or 0) or None
    # 'spawn': forking a process that already runs threads is unsafe, and
    # max_tasks_per_child refuses 'fork' anyway.
    ctx = multiprocessing.get_context("spawn")
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=procs, mp_context=ctx, max_tasks_per_child=max_tasks)


def pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = new_pool()
        return _pool


def replace_broken_pool(broken):
    """One crashed helper breaks the whole executor: every queued task fails
    and the pool must be rebuilt (lanes loses only the crashing request)."""
    global _pool
    with _pool_lock:
        if _pool is broken:
            _pool = new_pool()
    broken.shutdown(wait=False, cancel_futures=True)


async def in_process(fn, *args):
    p = pool()
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(p, work.in_helper, fn, *args)
    except concurrent.futures.process.BrokenProcessPool:
        replace_broken_pool(p)
        raise HTTPException(500, "a helper process died (the whole pool was rebuilt)")


@app.on_event("startup")
async def warm_pool():
    """Start the helpers now, as lanes does at startup, so the first batch
    does not pay for interpreter start-ups."""
    if os.environ.get("LAB_NO_WARM") == "1":     # lab A: runs that use no helper
        return
    p = pool()
    loop = asyncio.get_running_loop()
    procs = p._max_workers
    await asyncio.gather(*[loop.run_in_executor(p, work.noop) for _ in range(procs)])


def process_answer(r, **fields):
    return {"pid": os.getpid(), "helper_pid": r["helper_pid"], "start": r["start"],
            "end": r["end"], **fields}


@app.get("/cycle/process")
async def cycle_process(n: int = N):
    r = await in_process(work.sum_cycle, n)
    return process_answer(r, total=r["value"])


@app.get("/fib/{n}/process")
async def fib_process(n: int):
    r = await in_process(work.fibo, fib_n(n))
    return process_answer(r, fib=r["value"])


@app.get("/crash/process")
async def crash_process():
    await in_process(work.crash)
    return {"survived": True}


@app.get("/memory/process")
async def memory_process(mb: int = Query(100, ge=0, le=4096)):
    r = await in_process(work.memory, mb)
    return process_answer(r, **r["value"])


# ---- JOB variants: an in-memory queue (no durable queue in plain FastAPI) ----------

_jobs = {}
_jobs_lock = threading.Lock()
_runners = concurrent.futures.ThreadPoolExecutor(
    max_workers=int(os.environ.get("LAB_JOB_RUNNERS") or 2))


def _run_job(job_id, fn, args):
    with _jobs_lock:
        job = _jobs[job_id]
        job["state"], job["started"], job["attempts"] = "running", time.time(), 1
    try:
        value = fn(*args)
        result, state, error = {"status": 200, "value": value}, "done", None
    except Exception as e:  # a failed job is reported, not raised into the pool
        result, state, error = None, "failed", repr(e)
    with _jobs_lock:
        job.update(state=state, finished=time.time(), result=result, error=error)


def submit_job(route, fn, *args):
    job_id = uuid.uuid4().hex
    with _jobs_lock:
        _jobs[job_id] = {"job_id": job_id, "state": "queued", "route": route, "attempts": 0,
                         "created": time.time(), "started": None, "finished": None,
                         "result": None, "error": None}
    _runners.submit(_run_job, job_id, fn, args)
    url = "/jobs/" + job_id
    return JSONResponse({"job_id": job_id, "status_url": url}, status_code=202,
                        headers={"Location": url})


@app.get("/cycle/job", status_code=202)
async def cycle_job(n: int = N):
    return submit_job("GET /cycle/job", work.sum_cycle, n)


@app.get("/fib/{n}/job", status_code=202)
async def fib_job(n: int):
    return submit_job("GET /fib/{n}/job", work.fibo, fib_n(n))


@app.get("/sleep/job", status_code=202)
async def sleep_job(s: float = S):
    return submit_job("GET /sleep/job", time.sleep, s)


def summary(job):
    return {k: job[k] for k in ("job_id", "state", "route", "attempts", "created",
                                "started", "finished", "error")}


@app.get("/jobs")
async def jobs_list(state: str = None, limit: int = Query(100, ge=1, le=1000)):
    with _jobs_lock:
        jobs = [summary(j) for j in _jobs.values() if state in (None, j["state"])]
    jobs.sort(key=lambda j: j["created"], reverse=True)
    return {"count": len(jobs[:limit]), "jobs": jobs[:limit]}


@app.get("/jobs/{job_id}")
async def jobs_get(job_id: str):
    with _jobs_lock:
        job = _jobs.get(job_id)
        if job is None:
            raise HTTPException(404, "no such job")
        return dict(summary(job), status_url="/jobs/" + job_id, result=job["result"])


# ---- streamed answers (lanes-demo's /stream, /stream/bytes and /sse) ----------
# StreamingResponse over async generators. SSE is written by hand as
# text/event-stream: sse-starlette is not packaged in Debian 12.

from fastapi import Request  # noqa: E402
from fastapi.responses import StreamingResponse  # noqa: E402


@app.get("/stream")
async def stream(n: int = Query(10, ge=0), ms: int = Query(100, ge=0), size: int = Query(0, ge=0, le=16 << 20)):
    async def chunks():
        for i in range(n):
            if i > 0 and ms > 0:
                await asyncio.sleep(ms / 1000.0)
            line = ("chunk %d of %d\n" % (i, n)).encode()
            if size:
                line = (line[:-1] + b"." * max(0, size - len(line)) + b"\n")[:size]
            yield line
    return StreamingResponse(chunks(), media_type="text/plain; charset=utf-8")


@app.get("/stream/bytes")
async def stream_bytes(mb: int = Query(1, ge=0, le=65536), chunk: int = Query(65536, ge=1, le=16 << 20)):
    block = b"x" * chunk

    async def pieces():
        left = mb << 20
        while left > 0:
            n = min(left, chunk)
            yield block if n == chunk else block[:n]
            left -= n
    return StreamingResponse(pieces(), media_type="application/octet-stream")


def sse_event(event, data, id_=None):
    out = []
    if id_ is not None:
        out.append("id: %s\n" % id_)
    if event:
        out.append("event: %s\n" % event)
    for line in data.splitlines() or [""]:
        out.append("data: %s\n" % line)
    return "".join(out) + "\n"


@app.get("/sse")
async def sse(request: Request, n: int = Query(10, ge=0), ms: int = Query(1000, ge=0),
              ka: float = 15.0, retry: int = 1000, hold: int = 0, upto: int = 0):
    last = request.headers.get("last-event-id")
    first = int(last) + 1 if last and last.lstrip("-").isdigit() else 0
    end = min(n, first + upto) if upto > 0 else n

    async def events():
        yield "retry: %d\n\n" % retry
        for i in range(first, end):
            if i > first and ms > 0:
                await asyncio.sleep(ms / 1000.0)
            yield sse_event("tick", "tick %d\nlast-event-id %s" % (i, last or "-"), i)
        waited = 0.0
        while waited < hold:    # idle: keep-alive comments only
            step = min(ka, hold - waited)
            await asyncio.sleep(step)
            waited += step
            if waited < hold:
                yield ": keep-alive\n\n"
    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# ---- WebSockets: lanes-demo's /ws/echo and /ws/room ------------------------------
from fastapi import WebSocket, WebSocketDisconnect  # noqa: E402

_room = set()


@app.websocket("/ws/echo")
async def ws_echo(ws: WebSocket):
    """Each message back as it came, text as text and binary as binary."""
    await ws.accept()
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("text") is not None:
                await ws.send_text(msg["text"])
            else:
                await ws.send_bytes(msg["bytes"])
    except WebSocketDisconnect:
        pass


@app.websocket("/ws/room")
async def ws_room(ws: WebSocket):
    """A broadcast room, the usual FastAPI way: a set of sockets, a loop of sends."""
    await ws.accept()
    _room.add(ws)
    try:
        while True:
            text = await ws.receive_text()
            for m in list(_room):
                try:
                    await m.send_text(text)
                except Exception:
                    _room.discard(m)
    except WebSocketDisconnect:
        pass
    finally:
        _room.discard(ws)


# ---- a typed JSON body (bench/body_bench.py) -----------------------------------
# The 10-field note lanes-bench-body declares (bench/body_app.c), as a pydantic
# model: FastAPI parses, validates (422 on a bad field) and answers it back.
from typing import List, Literal, Optional  # noqa: E402

from pydantic import BaseModel, Field  # noqa: E402


class NoteOwner(BaseModel):
    name: str = Field(..., min_length=1, max_length=64)
    email: Optional[str] = None


class Note(BaseModel):
    title: str = Field(..., min_length=1, max_length=200)
    body: str = Field("", max_length=10000)
    priority: int = Field(3, ge=1, le=5)
    score: float = Field(0, ge=0, le=1)
    done: bool = False
    tags: List[str] = Field(default_factory=list, max_items=10)
    owner: Optional[NoteOwner] = None
    due: str = ""
    level: Literal["low", "normal", "high"] = "normal"
    views: int = Field(0, ge=0)


@app.post("/bodies")
async def bodies(note: Note):
    return note
