"""Executing eval runs: many case calls in flight, few database connections.

`run_execute(run_id)` (the Celery task `execute_run`) runs on one event loop per worker process,
shared by every run the process executes:
1. The run goes queued -> running (compare-and-set; a redelivery finds it running and joins).
2. Results are claimed in batches under a lease (evaluations/claims.py), never many more than
   the provider's free slots, so claimed results do not queue up with their leases ticking.
3. Each claimed result: one provider call (traffic.providers.acall, pooled) within
   EVAL_CALL_DEADLINE_SECONDS, holding one of EVAL_PROVIDER_CONCURRENCY slots of that provider
   (per process: two runs on one provider share its slots), then scoring (case_scoring.py),
   the judge in a slot of the judge's provider.
4. Results are written in batches (every FLUSH_SECONDS or FLUSH_ROWS), each row by compare-and-
   set; leases of everything in flight are renewed every EVAL_LEASE_SECONDS / 3.
5. A cancelled run claims nothing more and drops what is in flight.
6. When nothing is open the run is completed and its gate told (gate_run_ended).

All database work of the loop goes through ONE thread, so a worker process holds one database
connection for the loop (plus the task thread's own) however many calls are in flight.
"""

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from django.conf import settings
from django.db import close_old_connections

from evaluations import claims
from evaluations.case_scoring import CaseSpec, case_spec, score
from evaluations.cases import case_messages
from evaluations.judge import Grade, agrade
from evaluations.models import Case, CaseResult, Run
from evaluations.services.runs import run_start
from evaluations.sweeping import finish_and_tell
from registry.dbfaults import DB_FAULTS, describe
from registry.models import ModelVersion
from traffic.assignment import ConfigView
from traffic.prompting import provider_call
from traffic.providers import CallResult, ErrorKind, acall, pool
from traffic.routing import config_view

log = logging.getLogger("evaluations.executor")
T = TypeVar("T")

FLUSH_SECONDS = 0.25
FLUSH_ROWS = 100
# How often an idle claim loop looks again (results held by another worker, a full window).
POLL_SECONDS = 0.25
# Claimed ahead of the provider's free slots: limit / PREFETCH_DIVISOR.
PREFETCH_DIVISOR = 4
# How long the loop waits for an unreachable database before its message gives up (then the
# leases lapse and the sweep sends the run again).
DB_OUTAGE_WAIT_SECONDS = 60


def _budget_seconds() -> float:
    """How long one message claims new work: then it drains what is in flight and sends the
    next message, so no message runs near the task time limit (CELERY_TASK_SOFT_TIME_LIMIT)."""
    drain = 2 * settings.EVAL_CALL_DEADLINE_SECONDS + 30  # a call and a judge call, and slack
    return float(max(settings.CELERY_TASK_SOFT_TIME_LIMIT - drain, 30))


# --- the per-process engine: one loop thread, one database thread, provider slots -------------


class _Engine:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eval-db")
        self._slots: dict[int, tuple[int, asyncio.Semaphore]] = {}
        self.thread = threading.Thread(target=self.loop.run_forever, name="eval-loop", daemon=True)
        self.thread.start()

    def slot(self, provider_id: int) -> asyncio.Semaphore:
        """The provider's in-flight limit (loop thread only; a changed setting takes effect
        for calls that start after it)."""
        limit = settings.EVAL_PROVIDER_CONCURRENCY
        entry = self._slots.get(provider_id)
        if entry is None or entry[0] != limit:
            entry = self._slots[provider_id] = (limit, asyncio.Semaphore(limit))
        return entry[1]

    async def db(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the database thread; an outage is waited out for DB_OUTAGE_WAIT_SECONDS.

        Waiting beats giving up: the results held in memory are the provider's answers (a
        message that ended on the outage threw them away and left the run to the sweep, a
        minute or more after the database was back). Every call here is safe to repeat: claims
        and writes are compare-and-set on the claim's attempt count, so a commit whose answer
        was lost is not applied twice."""
        job = functools.partial(_db_job, fn, *args, **kwargs)
        waited, pause = 0.0, 0.25
        while True:
            try:
                result = await self.loop.run_in_executor(self.db_thread, job)
            except DB_FAULTS as exc:
                if waited >= DB_OUTAGE_WAIT_SECONDS:
                    raise
                if not waited:
                    log.warning(
                        "database unreachable (%s); eval runs wait up to %d s for it",
                        describe(exc),
                        DB_OUTAGE_WAIT_SECONDS,
                    )
                await asyncio.sleep(pause)
                waited, pause = waited + pause, min(pause * 2, 2.0)
                continue
            if waited:
                log.warning("database reachable again after %.0f s; eval runs go on", waited)
            return result


def _db_job(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    # The thread lives as long as the process: drop a connection that broke or outlived
    # CONN_MAX_AGE, as Django does at the edges of a request.
    close_old_connections()
    return fn(*args, **kwargs)


_engine_lock = threading.Lock()
_engine: _Engine | None = None


def engine() -> _Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Engine()
        return _engine


def shutdown() -> None:
    """Close the loop's pooled provider connections and stop it (worker shutdown, scripts)."""
    global _engine
    with _engine_lock:
        eng, _engine = _engine, None
    if eng is None:
        return
    closing = asyncio.run_coroutine_threadsafe(pool.aclose_async_clients(), eng.loop)
    with contextlib.suppress(Exception):
        closing.result(timeout=5)
    eng.loop.call_soon_threadsafe(eng.loop.stop)
    eng.thread.join(timeout=5)
    eng.db_thread.shutdown(wait=True)


def _forget_engine_in_child() -> None:
    # A forked worker (Celery prefork) has none of its parent's threads.
    global _engine, _engine_lock
    _engine, _engine_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_engine_in_child)


# --- one run -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What the loop needs of the run, read once by the task thread."""

    run_id: int
    config: ConfigView
    provider_id: int
    version: ModelVersion  # for its prices (cost); no database access from the loop
    judge: ConfigView | None
    judge_provider_id: int | None


def _plan(run: Run) -> _Plan:
    run = Run.objects.select_related(
        "config__model_version__provider", "suite__judge_config__model_version__provider"
    ).get(pk=run.pk)
    judge = run.suite.judge_config
    return _Plan(
        run_id=run.pk,
        config=config_view(run.config),
        provider_id=run.config.model_version.provider_id,
        version=run.config.model_version,
        judge=config_view(judge) if judge else None,
        judge_provider_id=judge.model_version.provider_id if judge else None,
    )


def _claim_with_cases(
    *, run_id: int, limit: int, known: set[int]
) -> tuple[list[claims.Claim] | None, dict[int, CaseSpec | str]]:
    got = claims.claim_batch(run_id=run_id, limit=limit)
    wanted = {c.case_id for c in got or []} - known
    specs: dict[int, CaseSpec | str] = {}
    for case in Case.objects.filter(pk__in=wanted).select_related("suite"):
        try:
            specs[case.pk] = case_spec(
                messages=case_messages(
                    messages=case.messages,
                    variables=case.variables,
                    prompt=case.prompt,
                    suite_prompt=case.suite.prompt,
                ),
                variables=case.variables,
                reference=case.reference,
                assertions=case.assertions,
                threshold=case.threshold,
            )
        except Exception as exc:
            # A case stored malformed (the admin's raw JSON, a row older than a rule) is that
            # case's error: raised here it ended the whole message with the batch leased.
            log.warning("run %s: case %s cannot be sent: %r", run_id, case.pk, exc)
            specs[case.pk] = (
                f"the case cannot be sent ({type(exc).__name__}); fix its messages, "
                "variables or assertions on the case page"
            )
    return got, specs


class _Execution:
    def __init__(
        self, engine: _Engine, plan: _Plan, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        self.engine, self.plan, self.transport = engine, plan, transport
        self.cases: dict[int, CaseSpec | str] = {}  # str: why the case cannot be sent
        self.inflight: dict[asyncio.Task[None], claims.Claim] = {}
        self.buffer: list[claims.Written] = []
        self.released: list[claims.Claim] = []  # given back unworked: the circuit stayed open
        self.until = time.monotonic() + _budget_seconds()
        self.flush_now = asyncio.Event()
        self.stopped = False  # the run was cancelled (or ended): drop what is in flight
        self.done = False
        self.flusher: asyncio.Task[None] | None = None

    async def main(self) -> bool:
        """True when the time budget ran out with results still to claim."""
        flusher = self.flusher = asyncio.create_task(self._flush_loop())
        try:
            return await self._claim_loop()
        finally:
            if self.stopped:
                for task in self.inflight:
                    task.cancel()
            await asyncio.gather(*self.inflight, return_exceptions=True)
            self.done = True
            self.flush_now.set()
            await flusher

    async def _claim_loop(self) -> bool:
        # A few claimed ahead of the free slots, so a slot that frees up starts its next call
        # at once instead of after a claim's round trip; their leases are renewed meanwhile.
        limit = settings.EVAL_PROVIDER_CONCURRENCY
        window = limit + max(limit // PREFETCH_DIVISOR, 1)
        until = self.until
        while not self.stopped:
            if self.flusher is not None and self.flusher.done():
                self.flusher.result()  # its database error ends this message; leases lapse
                raise RuntimeError("the result writer stopped")
            free = window - len(self.inflight)
            if time.monotonic() >= until:
                return await self._drain_then_more()
            if free > 0:
                claimed, specs = await self.engine.db(
                    _claim_with_cases, run_id=self.plan.run_id, limit=free, known=set(self.cases)
                )
                if claimed is None:
                    self.stopped = True
                    break
                self.cases.update(specs)
                for claim in claimed:
                    task = asyncio.create_task(self._one(claim))
                    self.inflight[task] = claim
                    task.add_done_callback(self._forget)
            if not self.inflight:
                # Nothing left to claim here: done, or the rest is leased by another worker
                # (it finishes the run; if it dies, the sweep sends a new message).
                return False
            await asyncio.wait(
                self.inflight, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            # Let answers that arrive together be claimed for together.
            await asyncio.sleep(0.005)
        return False

    async def _drain_then_more(self) -> bool:
        await asyncio.gather(*self.inflight, return_exceptions=True)
        return True

    def _forget(self, task: asyncio.Task[None]) -> None:
        self.inflight.pop(task, None)

    async def _one(self, claim: claims.Claim) -> None:
        case = self.cases[claim.case_id]
        if isinstance(case, str):
            fields = {"status": CaseResult.Status.ERROR, "error_kind": "bad_case", "error": case}
            self.buffer.append(claims.Written(claim=claim, fields=fields))
            return
        try:
            req = provider_call(
                self.plan.config,
                messages=case.messages,
                variables=case.variables,
                request_params={},
            )
            req = dataclasses.replace(req, timeout=float(settings.EVAL_CALL_DEADLINE_SECONDS))
            result = await self._call(req)
            if result is None:
                self.released.append(claim)
                return
            fields = await score(
                case=case, result=result, cost=self._cost(result), judge=self._judge()
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # One case's surprise (an assertion stored before a rule existed, a bug) is that
            # case's error; the rest of the run goes on.
            log.exception("run %s: case result %s failed", self.plan.run_id, claim.result_id)
            fields = {
                "status": CaseResult.Status.ERROR,
                "error_kind": "internal",
                "error": f"the case could not be scored ({type(exc).__name__}: {exc})"[:500],
            }
        self.buffer.append(claims.Written(claim=claim, fields=fields))
        if len(self.buffer) >= FLUSH_ROWS:
            self.flush_now.set()

    async def _call(self, req: Any) -> CallResult | None:
        """The case's call; while the provider's circuit is open, wait for it (holding the
        claim, so nothing more is claimed for a provider that is down) rather than record an
        error the config did not make. None: still open when this message's budget ends."""
        while True:
            async with self.engine.slot(self.plan.provider_id):
                result = await acall(req, transport=self.transport)
            if result.error_kind != ErrorKind.CIRCUIT_OPEN:
                return result
            wait = result.retry_after or 1.0
            if time.monotonic() + wait >= self.until:
                return None
            await asyncio.sleep(wait)

    def _cost(self, result: Any) -> Decimal | None:
        return self.plan.version.cost(
            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens
        )

    def _judge(self) -> Callable[[str, str, str], Any] | None:
        plan = self.plan
        if plan.judge is None or plan.judge_provider_id is None:
            return None
        judge, provider_id = plan.judge, plan.judge_provider_id

        async def grade(rubric: str, output: str, question: str) -> Grade:
            async with self.engine.slot(provider_id):
                return await agrade(
                    judge=judge,
                    rubric=rubric,
                    output=output,
                    question=question,
                    transport=self.transport,
                )

        return grade

    async def _flush_loop(self) -> None:
        renew_every = settings.EVAL_LEASE_SECONDS / 3
        renewed = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush_now.wait(), timeout=FLUSH_SECONDS)
            self.flush_now.clear()
            batch, self.buffer = self.buffer, []
            if batch:
                await self.engine.db(claims.write_results, batch)
            released, self.released = self.released, []
            if released:
                await self.engine.db(claims.release, released)
            if self.done:
                if self.buffer:  # written by tasks that ended during the last write
                    await self.engine.db(claims.write_results, self.buffer)
                if self.released:
                    await self.engine.db(claims.release, self.released)
                return
            status = await self.engine.db(claims.run_status, self.plan.run_id)
            if status != Run.Status.RUNNING and not self.stopped:
                self.stopped = True
                for task in self.inflight:
                    task.cancel()
            if time.monotonic() - renewed >= renew_every and self.inflight:
                renewed = time.monotonic()
                await self.engine.db(claims.renew_leases, list(self.inflight.values()))


def run_execute(run_id: int, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
    """Run (or go on running) a run to its end. Safe to call twice at once or again later:
    results are claimed and written by compare-and-set. `transport` is for tests."""
    run = run_start(run_id=run_id)
    if run is None:
        return  # ended (completed or cancelled) or gone: a late redelivery
    plan = _plan(run)
    eng = engine()
    future = asyncio.run_coroutine_threadsafe(_Execution(eng, plan, transport).main(), eng.loop)
    try:
        more = future.result()
    except BaseException:
        # The task itself was stopped (soft time limit, worker shutdown): stop its calls; the
        # leases lapse and the sweep sends the run again.
        future.cancel()
        raise
    # On the loop's database thread, not this one: this thread's connection sat idle through
    # the run, and a database outage meanwhile broke it unnoticed (the finish failed after
    # every result was written, leaving the run to the sweep); there, an outage is waited out.
    finished = asyncio.run_coroutine_threadsafe(eng.db(finish_and_tell, run_id), eng.loop)
    if not finished.result() and more:
        from evaluations.tasks import execute_run  # the task module imports this one

        execute_run.apply_async((run_id,))
