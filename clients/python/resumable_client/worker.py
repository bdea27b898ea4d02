"""Workers: steps that run as Python functions in your own process.

    worker = Worker(concurrency=4)

    @worker.step("search")
    def search(ctx, inputs):
        return {"hits": find(inputs["input"]["topic"])}

    worker.run()   # blocks; SIGTERM/SIGINT drain it

A step with ``plugin: worker`` (and ``config: {task: NAME}``, by default the step's name) is
sent to a connected worker that serves its task. The sidecar keeps the lease, the retries, the
commit and the ledger; the worker runs the function and answers.
"""

import asyncio
import concurrent.futures
import inspect
import json
import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import errors
from .aio import AsyncClient
from .calls import Methods, encode_artifact
from .client import worker_feed
from .state import Usage

logger = logging.getLogger("resumable_client.worker")

#: The first and the largest pause between two tries to reach the sidecar, in seconds.
RECONNECT_BACKOFF = (0.1, 5.0)


class StepFailure(Exception):
    """The base of the exceptions a step raises to fail its attempt on purpose."""

    error_class = "RETRYABLE"

    def __init__(self, message="", usage=None):
        super().__init__(message)
        self.message = str(message)
        self.usage = usage


class Retryable(StepFailure):
    """Fails the attempt; another attempt can succeed (the step's retry policy decides).
    ``usage`` (a ``Usage``) records what the attempt cost: money spent is spent."""


class NonRetryable(StepFailure):
    """Fails the attempt and the run at once: retrying cannot help (a resume still may)."""

    error_class = "NON_RETRYABLE"


class RateLimited(StepFailure):
    """The service the step calls is rate-limited: the next attempt waits ``retry_after_s``."""

    error_class = "RATE_LIMITED"

    def __init__(self, retry_after_s, message="", usage=None):
        super().__init__(message or f"rate limited: retry after {retry_after_s} s", usage)
        self.retry_after_s = retry_after_s


@dataclass
class StepResult:
    """A step's result with more than its artifact: ``artifact`` (a JSON value; ``bytes``
    are sent as they are), ``usage`` (a ``Usage``) and ``history`` (``{"role", "content"}``
    dicts appended to the run's history when the step commits)."""

    artifact: object = None
    usage: "Usage | None" = None
    history: list = field(default_factory=list)


class TaskContext:
    """What a step function knows about its attempt.

    Attributes: ``workflow_id``, ``workflow``, ``step``, ``task`` (the task name), ``task_id``,
    ``attempt`` (from 1), ``idempotency_key`` (``workflow_id/step/attempt``, unique per
    attempt), ``step_key`` (``workflow_id/step``, the same for every attempt and resume: key
    side effects that must happen once on it), ``deadline`` (an aware UTC ``datetime``, None
    when the step has no timeout), ``deadline_unix_ms`` (0: none), ``config`` (the step's
    parsed config), ``history`` (``{"role", "content"}`` dicts its history policy let through),
    ``heartbeat_timeout_ms``.

    ``cancelled`` becomes True when the sidecar abandons the attempt (the run was cancelled,
    the lease lost, a heartbeat refused): stop, whatever you return then is refused.
    """

    def __init__(self, task, worker, feed=None):
        self._task = task
        self._worker = worker
        self._feed = feed  # the feed the task came from, which its answer goes back on
        self._cancelled = threading.Event()
        self.cancel_reason = ""
        self.task_id = task.task_id
        self.task = task.task
        self.workflow_id = task.workflow_id
        self.workflow = task.workflow
        self.step = task.step
        self.attempt = task.attempt
        self.idempotency_key = task.idempotency_key
        self.step_key = task.step_key
        self.deadline_unix_ms = task.deadline_unix_ms
        self.deadline = (
            datetime.fromtimestamp(task.deadline_unix_ms / 1000, tz=timezone.utc) if task.deadline_unix_ms else None
        )
        self.config = task.config
        self.history = task.history
        self.heartbeat_timeout_ms = task.heartbeat_timeout_ms

    def __repr__(self):
        return f"<TaskContext {self.idempotency_key} task={self.task!r}{' cancelled' if self.cancelled else ''}>"

    @property
    def cancelled(self):
        """True once the sidecar abandoned this attempt: stop working on it."""
        return self._cancelled.is_set()

    def wait_cancelled(self, timeout=None):
        """Blocks (a plain function's thread) until the attempt is cancelled or ``timeout``
        seconds pass; returns ``cancelled``. A sleep that wakes up on cancellation."""
        return self._cancelled.wait(timeout)

    def heartbeat(self):
        """Tells the sidecar the attempt goes on (from a plain step function; ``async def``
        steps ``await ctx.aheartbeat()``). Returns False, and sets ``cancelled``, when the
        attempt was stopped. Steps with ``heartbeat_timeout_ms`` are heartbeaten for you
        every third of it while they run; call this in long loops to say more."""
        loop = self._worker._loop
        if _running_loop() is loop:
            raise RuntimeError("ctx.heartbeat() blocks: in an async def step, use `await ctx.aheartbeat()`")
        return asyncio.run_coroutine_threadsafe(self.aheartbeat(), loop).result()

    async def aheartbeat(self):
        """``heartbeat()`` for ``async def`` steps."""
        if self.cancelled:
            return False
        try:
            await self._worker._client.heartbeat_task(self.task_id)
        except (errors.FailedPrecondition, errors.NotFound) as error:
            self._cancel(f"heartbeat refused: {error.message}")
            return False
        except errors.Unavailable as error:
            logger.warning("%s: heartbeat not delivered: %s", self.idempotency_key, error.message)
        return not self.cancelled

    def _cancel(self, reason):
        if not self.cancelled:
            self.cancel_reason = reason
            self._cancelled.set()
            logger.info("%s: cancelled by the sidecar: %s", self.idempotency_key, reason)


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def parse_inputs(raw):
    """A task's inputs, name -> parsed JSON (an empty input is None; bytes that are not JSON
    stay bytes)."""
    inputs = {}
    for name, data in raw.items():
        try:
            inputs[name] = json.loads(data) if data else None
        except ValueError:
            inputs[name] = data
    return inputs


@dataclass
class Answer:
    """What a worker sends back for a task: a completion (``error_class`` None) or a failure."""

    artifact: bytes = b""
    usage: "Usage | None" = None
    history: list = field(default_factory=list)
    error_class: "str | None" = None
    message: str = ""
    retry_after_s: float = 0


def answer_for_result(step, value):
    """The answer for what a step function returned."""
    result = value if isinstance(value, StepResult) else StepResult(value)
    try:
        artifact = encode_artifact(result.artifact)
    except (TypeError, ValueError) as error:
        return Answer(error_class="NON_RETRYABLE", usage=result.usage,
                      message=f"step {step!r} returned a value that is not JSON: {error}")
    return Answer(artifact=artifact, usage=result.usage, history=list(result.history))


def answer_for_error(error):
    """The answer for what a step function raised: ``Retryable``, ``NonRetryable`` and
    ``RateLimited`` say their class; anything else is retryable, its message recorded."""
    if isinstance(error, StepFailure):
        return Answer(error_class=error.error_class, message=error.message or type(error).__name__,
                      usage=error.usage, retry_after_s=getattr(error, "retry_after_s", 0))
    return Answer(error_class="RETRYABLE", message=f"{type(error).__name__}: {error}")


class Worker:
    """Serves step tasks from a sidecar with Python functions.

    ``socket_path``: as ``Client``'s (``$RESUMABLE_SOCKET``, else the default socket).
    ``concurrency``: the worker's slots, the most tasks it runs at once (plain functions run
    on the step thread that read them from the feed, one of ``concurrency`` + 1; ``async def``
    ones on the event loop; every answer goes back on the feed's connection). ``name``: a label
    ``resumable workers`` shows (default ``host:pid``). ``on_ready(worker_id)`` is called,
    and ``ready`` (a ``threading.Event``) set, each time the worker is registered.
    """

    def __init__(self, socket_path=None, concurrency=4, name=None, trust_server_uid=None, on_ready=None,
                 reconnect_backoff=RECONNECT_BACKOFF):
        self.socket_path = socket_path
        self.concurrency = concurrency
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.trust_server_uid = trust_server_uid
        self.on_ready = on_ready
        self.reconnect_backoff = reconnect_backoff
        self.ready = threading.Event()
        self.worker_id = None
        self._steps = {}
        self._loop = None
        self._client = None
        self._stop_requested = False
        self._changed = None
        self._running = {}  # task_id -> (job, TaskContext): an asyncio.Task, or a step thread's Future

    def step(self, task):
        """Decorator: the function serves ``task``. It is called ``fn(ctx, inputs)`` (a plain
        or an ``async def`` function) with a ``TaskContext`` and the step's declared inputs
        (name -> parsed JSON), and returns a JSON value or a ``StepResult``."""
        if not task or len(task.encode()) > 128:
            raise ValueError(f"a task name has 1 to 128 bytes: {task!r}")

        def register(function):
            if task in self._steps:
                raise ValueError(f"task {task!r} is served by {self._steps[task].__name__} already")
            self._steps[task] = function
            return function

        return register

    @property
    def tasks(self):
        """The task names this worker serves."""
        return list(self._steps)

    def run(self):
        """Serves tasks until SIGTERM or SIGINT (or ``stop()``), then returns once the tasks in
        flight have finished and been answered. Reconnects, with backoff, whenever the sidecar
        cannot be reached. Raises ``ResumableError`` when the sidecar refuses the worker
        (``InvalidArgument``: no task, too many, 0 slots)."""
        asyncio.run(self.run_async(handle_signals=threading.current_thread() is threading.main_thread()))

    def stop(self):
        """Asks the worker to stop, from any thread: it takes no new task, finishes those in
        flight, answers them, disconnects, and ``run()`` returns."""
        self._stop_requested = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._notify)

    async def run_async(self, handle_signals=False):
        """``run()`` on the running event loop; ``handle_signals`` installs the SIGTERM and
        SIGINT handlers (main thread only)."""
        if not self._steps:
            raise ValueError("the worker serves no task: decorate a function with @worker.step(NAME)")
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._client = AsyncClient(self.socket_path, trust_server_uid=self.trust_server_uid)
        self._socket_path = self._client.socket_path
        signals = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
        if signals:
            # A process started by one whose threads block signals (Foundation's Process,
            # from `resumable bench` or the exec plugin, does) inherits the blocked mask:
            # the handlers below would never run, and SIGTERM would not stop the worker.
            signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
        for number in signals:
            self._loop.add_signal_handler(number, self._on_signal, number)
        try:
            await self._serve()
        finally:
            for number in signals:
                self._loop.remove_signal_handler(number)
            while self._running:  # a plain function's thread may hand an awaitable on meanwhile
                await asyncio.gather(*(asyncio.wrap_future(job) if isinstance(job, concurrent.futures.Future) else job
                                       for job, _ctx in list(self._running.values())), return_exceptions=True)
            await self._client.close()
            self.ready.clear()
            logger.info("worker %s stopped", self.worker_id or self.name)

    def _on_signal(self, number):
        logger.info("%s: stopping (no new tasks; %d in flight finish first)", signal.Signals(number).name,
                    len(self._running))
        for other in (signal.SIGTERM, signal.SIGINT):
            self._loop.remove_signal_handler(other)  # a second signal stops the process at once
        self.stop()

    def _notify(self):
        self._changed.set()

    # -- the feed ---------------------------------------------------------------------

    async def _serve(self):
        first, largest = self.reconnect_backoff
        pause = first
        while not self._stop_requested:
            registered = False
            try:
                registered = await self._follow_feed()
            except errors.Unavailable as error:
                logger.warning("the sidecar is unreachable: %s", error.message)
            self.ready.clear()
            if self._stop_requested:
                return
            pause = first if registered else min(pause * 2, largest)
            logger.info("reconnecting in %.1f s", pause)
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), pause)  # stop() cuts the pause short
            except asyncio.TimeoutError:
                pass

    async def _follow_feed(self):
        """Follows one ConnectWorker stream until it ends or the worker has drained. Returns
        whether it registered.

        The feed is read by step threads (``concurrency`` + 1 of them), one at a time: the
        thread that reads a task hands the reading over and runs the task itself, a plain
        function at once, on that thread, with no hand-off between threads or to the event
        loop (about 250 µs less a step than reading on the event loop and handing the task to
        a pool, measured side by side with `resumable bench workers`). The one thread more
        than the slots keeps the feed read while every slot is busy: cancellations arrive.
        Answers go back on the feed's connection, and the thread reading the feed reads their
        replies (``WorkerFeed``). This loop wakes only for a stop, a task or a reply ending
        while draining, the registration or the feed's end."""
        feed = worker_feed(self._socket_path, self.tasks, self.concurrency, self.name, self.trust_server_uid)
        state = _Feed(feed)
        for number in range(self.concurrency + 1):
            threading.Thread(target=self._serve_feed, args=(state,), name=f"resumable-step-{number}", daemon=True).start()
        drained = False
        try:
            while True:
                self._changed.clear()
                if self._stop_requested and state.registered and not drained:
                    # Given no new task from now on (a task already on its way is handed back).
                    drained = True
                    try:
                        await self._client.drain_worker(self.worker_id)
                    except errors.ResumableError as error:
                        logger.warning("could not drain worker %s: %s", self.worker_id, error.message)
                if self._stop_requested and not self._running and not feed.awaiting_replies:
                    return state.registered  # drained and answered: closing the stream now abandons nothing
                if state.ended:
                    if state.error is not None:
                        raise state.error  # the feed's error (a refused registration, a lost sidecar)
                    logger.warning("the sidecar ended the task feed")
                    return state.registered
                await self._changed.wait()
        finally:
            state.close()

    def _serve_feed(self, state):
        """A step thread: reads the feed while no other thread does, and serves what it read."""
        while True:
            with state.reading:
                if state.ended:
                    return
                try:
                    frame = next(state.feed)
                except StopIteration:
                    frame = None
                    state.end(None)
                except Exception as error:  # noqa: BLE001 - the feed's end, told to the event loop
                    frame = None
                    state.end(error)
                if frame is None:
                    self._loop.call_soon_threadsafe(self._changed.set)
                    return
            if frame.worker_id:
                self._loop.call_soon_threadsafe(self._registered, frame.worker_id, state)
            elif frame.task is not None:
                self._take(frame.task, state.feed)
            elif frame.cancelled_task_id:
                running = self._running.get(frame.cancelled_task_id)
                if running is not None:
                    running[1]._cancel(frame.cancelled_reason or "cancelled")

    def _registered(self, worker_id, state):
        state.registered = True
        self._changed.set()
        self.worker_id = worker_id
        logger.info("worker %s registered: tasks %s, %d slots, on %s", worker_id, ", ".join(self.tasks),
                    self.concurrency, self._socket_path)
        self.ready.set()
        if self.on_ready is not None:
            self.on_ready(worker_id)

    def _take(self, task, feed):
        """Serves a task read from ``feed``, on the step thread that read it: a plain function
        runs here; an ``async def`` one (or a task not served) on the event loop. The task is
        in flight (``_running``: the drain waits for it, a cancellation finds it) from here on."""
        ctx = TaskContext(task, self, feed)
        function = self._steps.get(ctx.task)
        if not self._stop_requested and (function is None or inspect.iscoroutinefunction(function)):
            handed = concurrent.futures.Future()  # until the event loop tracks the task itself
            self._running[task.task_id] = (handed, ctx)
            self._loop.call_soon_threadsafe(
                self._track, task.task_id, ctx, self._run(ctx, function, task.inputs), handed)
            return
        done = concurrent.futures.Future()
        self._running[task.task_id] = (done, ctx)
        value = _ANSWERED
        try:
            if self._stop_requested:
                # Draining: the feed stays open until the tasks in flight are answered (closing
                # it would abandon them), so a task may still come; hand it back at once.
                self._answer(ctx, Answer(error_class="RETRYABLE", message=f"worker {self.name} is shutting down"))
            else:
                value = self._run_heartbeaten(function, ctx, task.inputs)
        finally:
            if value is not _ANSWERED:
                # An awaitable: the event loop awaits it and answers (its task replaces this entry).
                self._loop.call_soon_threadsafe(self._track, task.task_id, ctx, self._answer_awaited(ctx, value))
            else:
                self._running.pop(task.task_id, None)
                if self._stop_requested:
                    self._loop.call_soon_threadsafe(self._changed.set)  # the feed's loop waits for the tasks in flight
            done.set_result(None)

    def _run_heartbeaten(self, function, ctx, raw_inputs):
        """``_run_plain``, heartbeating the task meanwhile when its step has ``heartbeat_timeout_ms``."""
        if ctx.heartbeat_timeout_ms <= 0:
            return self._run_plain(function, ctx, raw_inputs)
        heartbeats = asyncio.run_coroutine_threadsafe(
            self._heartbeat_every(ctx, ctx.heartbeat_timeout_ms / 3000), self._loop)
        try:
            return self._run_plain(function, ctx, raw_inputs)
        finally:
            heartbeats.cancel()

    def _track(self, task_id, ctx, job, handed=None):
        """Runs ``job`` (a coroutine that answers the task) as a task of the event loop;
        ``handed``, the placeholder a step thread left in ``_running``, is resolved."""
        running = self._loop.create_task(job)
        self._running[task_id] = (running, ctx)
        if handed is not None:
            handed.set_result(None)

        def finished(_future):
            self._running.pop(task_id, None)
            if self._stop_requested:
                self._changed.set()  # the feed's loop waits for the tasks in flight

        running.add_done_callback(finished)

    async def _answer_awaited(self, ctx, awaitable):
        """Awaits what a plain function returned, then answers."""
        self._answer(ctx, await _settled(ctx, awaitable))

    async def _run(self, ctx, function, raw_inputs):
        """Runs an ``async def`` step function (or answers that the task is not served), and answers."""
        logger.info("%s: task %s started", ctx.idempotency_key, ctx.task)
        heartbeats = None
        if ctx.heartbeat_timeout_ms > 0:
            heartbeats = self._loop.create_task(self._heartbeat_every(ctx, ctx.heartbeat_timeout_ms / 3000))
        try:
            answer = await _settled(ctx, self._called(ctx, function, raw_inputs))
        finally:
            if heartbeats is not None:
                heartbeats.cancel()
        self._answer(ctx, answer)

    async def _called(self, ctx, function, raw_inputs):
        """What an ``async def`` step function returns (``Retryable`` when the task is not served)."""
        if function is None:
            raise Retryable(f"worker {self.name} does not serve task {ctx.task!r}")
        return await function(ctx, parse_inputs(raw_inputs))

    def _run_plain(self, function, ctx, raw_inputs):
        """Runs a plain step function on its step thread, and answers from that thread.
        Returns ``_ANSWERED``, or what the function returned when that is awaitable (it is
        awaited, and answered, on the event loop)."""
        logger.info("%s: task %s started", ctx.idempotency_key, ctx.task)
        try:
            value = function(ctx, parse_inputs(raw_inputs))
            if inspect.isawaitable(value):
                return value
            answer = answer_for_result(ctx.step, value)
        except Exception as error:  # the step's failure, reported to the sidecar
            answer = _failure(ctx, error)
        self._answer(ctx, answer)
        return _ANSWERED

    async def _heartbeat_every(self, ctx, interval):
        while True:
            await asyncio.sleep(interval)
            if not await ctx.aheartbeat():
                return

    def _answer(self, ctx, answer):
        """Sends ``answer`` on the feed its task came from (from a step thread or the event
        loop), without waiting: the feed's reader logs the reply. A feed already closed
        (the sidecar went away) has had its tasks abandoned: the answer is logged as not
        delivered."""

        def replied(error):
            _log_answer(ctx, answer, error)
            if self._stop_requested:
                self._loop.call_soon_threadsafe(self._changed.set)  # the drain waits for the replies

        try:
            _send_answer(_FeedAnswer(ctx._feed, replied), ctx, answer)
        except errors.ResumableError as error:
            _log_answer(ctx, answer, error)


#: What ``Worker._run_plain`` returns once it has answered.
_ANSWERED = object()


class _Feed:
    """One ConnectWorker stream, read by the step threads one at a time (``reading``)."""

    def __init__(self, feed):
        self.feed = feed
        self.reading = threading.Lock()
        self.registered = False
        self.ended = False
        self.error = None  # why the feed ended, unless the worker closed it
        self._closing = False

    def end(self, error):
        """The reading thread saw the feed end (``error``: None when the sidecar ended it)."""
        self.ended = True
        if not self._closing:
            self.error = error

    def close(self):
        """Closes the feed (from the event loop): the thread reading it wakes, and every
        step thread stops once it has answered its task."""
        self._closing = True
        self.ended = True
        self.feed.close()


async def _settled(ctx, awaitable):
    """The answer for what ``awaitable`` gives, or for the step's failure it raises."""
    try:
        return answer_for_result(ctx.step, await awaitable)
    except Exception as error:  # the step's failure, reported to the sidecar
        return _failure(ctx, error)


def _failure(ctx, error):
    """The answer for what a step raised, logged with its traceback unless it is a ``StepFailure``
    (call it in the ``except`` block)."""
    if not isinstance(error, StepFailure):
        logger.warning("%s: step raised", ctx.idempotency_key, exc_info=True)
    return answer_for_error(error)


class _FeedAnswer(Methods):
    """One answer's call, posted on a ``WorkerFeed`` (its reply goes to ``on_reply``)."""

    def __init__(self, feed, on_reply):
        self._feed = feed
        self._on_reply = on_reply

    def _unary(self, call, timeout):
        self._feed.post(call, self._on_reply)


def _send_answer(client, ctx, answer):
    """Sends ``answer`` through ``client``'s ``complete_task`` or ``fail_task``."""
    if answer.error_class is None:
        return client.complete_task(ctx.task_id, answer.artifact, answer.usage, answer.history)
    return client.fail_task(ctx.task_id, answer.message, answer.error_class, answer.retry_after_s, answer.usage)


def _log_answer(ctx, answer, error=None):
    """Logs what came of sending ``answer``: ``error`` is the ``ResumableError`` it raised, if any."""
    if isinstance(error, (errors.FailedPrecondition, errors.NotFound)):
        # The attempt was abandoned (heartbeat timeout, stream gone, run cancelled, lease
        # lost): nothing of it is committed, and the step has moved on without it.
        logger.warning("%s: answer refused (%s): %s", ctx.idempotency_key, error.code, error.message)
    elif error is not None:
        logger.error("%s: answer not delivered (%s): %s", ctx.idempotency_key, error.code, error.message)
    elif answer.error_class is None:
        logger.info("%s: completed", ctx.idempotency_key)
    else:
        logger.info("%s: failed (%s): %s", ctx.idempotency_key, answer.error_class, answer.message)
