"""The methods, shared by ``Client`` and ``AsyncClient``.

Each public method builds a ``Call`` (the method name, the request, the response type and how
to turn the response into plain Python) and hands it to ``self._unary``: the sync client
returns the result, the async client returns an awaitable of it. So a method's request, its
defaults and its conversion are written once, and both clients document it the same way.
"""

import json
from dataclasses import dataclass
from typing import Any, Callable

from .state import RunState, RunSummary, Usage, WorkerInfo
from .wire import pb2

#: The error classes ``fail_task`` takes, by name.
ERROR_CLASSES = ("RETRYABLE", "NON_RETRYABLE", "RATE_LIMITED")


@dataclass(frozen=True)
class Call:
    """One unary call: what to send and how to read the answer."""

    method: str
    request: Any
    response_type: Any
    convert: Callable[[Any], Any]


def _state(response):
    return RunState.from_proto(pb2, response.state)


def _nothing(_response):
    return None


def encode_input(value):
    """A workflow input as ``input_json``: ``bytes`` are JSON already, anything else is
    serialized; ``None`` is JSON null (empty)."""
    if isinstance(value, bytes):
        return value.decode()
    return "" if value is None else json.dumps(value)


def encode_artifact(value):
    """An artifact as it travels: ``bytes`` as they are, anything else as JSON (UTF-8)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return json.dumps(value, ensure_ascii=False, allow_nan=False).encode()


def history_messages(history):
    """``[{"role", "content"}]`` (or ``(role, content)`` pairs) as ``HistoryMessage``s."""
    messages = []
    for item in history or ():
        role, content = (item["role"], item["content"]) if isinstance(item, dict) else item
        messages.append(pb2.HistoryMessage(role=str(role), content=str(content)))
    return messages


class Methods:
    """The calls both clients have. Subclasses provide ``_unary(call, timeout)`` and
    ``_chain(call, then, timeout)`` (run ``call``, then the call ``then(result)`` builds)."""

    timeout = None

    def start(self, workflow, input=None, workflow_id="", wait=True, use_existing=False, budget_usd=None, timeout=None):
        """Starts a run of ``workflow`` and returns its ``RunState``.

        ``input`` is any JSON-serializable value (or a JSON document when it is ``bytes``).
        With ``wait`` (the default) the call returns when the run is COMPLETED, FAILED,
        CANCELLED or AWAITING_APPROVAL; else at once, RUNNING. A caller-chosen ``workflow_id``
        makes the start idempotent: ``use_existing=True`` returns the existing run instead of
        raising ``AlreadyExists``. ``budget_usd`` caps what the run may spend (over the
        workflow's ``budget_usd``); the run pauses AWAITING_BUDGET (or fails) before an attempt
        that would pass it.
        """
        request = pb2.StartWorkflowRequest(
            workflow=workflow,
            workflow_id=workflow_id,
            input_json=encode_input(input),
            no_wait=not wait,
            on_conflict=pb2.CONFLICT_POLICY_USE_EXISTING if use_existing else pb2.CONFLICT_POLICY_FAIL,
            budget_usd=budget_usd or 0,
        )
        return self._unary(Call("StartWorkflow", request, pb2.StartWorkflowResponse, _state), timeout)

    def resume(self, workflow_id, wait=True, from_step="", timeout=None):
        """Resumes a run at its failed (or interrupted) step; committed steps never run again.

        ``from_step`` runs a completed or failed run again from that step instead."""
        request = pb2.ResumeWorkflowRequest(workflow_id=workflow_id, no_wait=not wait, from_step=from_step)
        return self._unary(Call("ResumeWorkflow", request, pb2.ResumeWorkflowResponse, _state), timeout)

    def get_state(self, workflow_id, include_artifacts=False, include_history=False, include_items=False, timeout=None):
        """Reads a run's state (with its artifacts, its history and its map steps' items' records when asked)."""
        request = pb2.GetStateRequest(
            workflow_id=workflow_id, include_artifacts=include_artifacts, include_history=include_history,
            include_items=include_items,
        )
        return self._unary(Call("GetState", request, pb2.GetStateResponse, _state), timeout)

    def list(self, status=None, workflow="", limit=50, cursor="", timeout=None):
        """A page of runs, newest first: ``(summaries, next_cursor)``; ``next_cursor`` is
        ``""`` on the last page. ``status`` is a name such as ``"FAILED"``."""
        request = pb2.ListWorkflowsRequest(
            status=pb2.RunStatus.Value("RUN_STATUS_" + status) if status else pb2.RUN_STATUS_UNSPECIFIED,
            workflow=workflow,
            page_size=limit,
            cursor=cursor,
        )

        def convert(response):
            return [RunSummary.from_proto(pb2, run) for run in response.runs], response.next_cursor

        return self._unary(Call("ListWorkflows", request, pb2.ListWorkflowsResponse, convert), timeout)

    def cancel(self, workflow_id, reason="", timeout=None):
        """Cancels a run for good; its step in flight is stopped. Returns its ``RunState``."""
        request = pb2.CancelWorkflowRequest(workflow_id=workflow_id, reason=reason)
        return self._unary(Call("CancelWorkflow", request, pb2.CancelWorkflowResponse, _state), timeout)

    def approve(self, workflow_id, token=None, reject=False, note="", wait=True, timeout=None):
        """Answers the approval a run awaits (the token is read from its state unless given)."""

        def answer(token):
            request = pb2.ApproveStepRequest(
                workflow_id=workflow_id, token=token or "", reject=reject, note=note, no_wait=not wait
            )
            return Call("ApproveStep", request, pb2.ApproveStepResponse, _state)

        if token is not None:
            return self._unary(answer(token), timeout)
        lookup = Call("GetState", pb2.GetStateRequest(workflow_id=workflow_id), pb2.GetStateResponse, _state)
        return self._chain(lookup, lambda state: answer(state.approval_token), timeout)

    def answer_budget(self, workflow_id, raise_to=None, reject=False, token=None, note="", wait=True, timeout=None):
        """Answers a run AWAITING_BUDGET: ``raise_to`` (dollars, at least what it spent) lets it go
        on, ``reject=True`` fails it. The token is read from its state unless given."""
        if (raise_to is None) == (not reject):
            raise ValueError("give exactly one of raise_to and reject=True")

        def answer(token):
            request = pb2.AnswerBudgetRequest(
                workflow_id=workflow_id, token=token or "", raise_to_usd=raise_to or 0, reject=reject, note=note,
                no_wait=not wait,
            )
            return Call("AnswerBudget", request, pb2.AnswerBudgetResponse, _state)

        if token is not None:
            return self._unary(answer(token), timeout)
        lookup = Call("GetState", pb2.GetStateRequest(workflow_id=workflow_id), pb2.GetStateResponse, _state)
        return self._chain(lookup, lambda state: answer(state.approval_token), timeout)

    def register_workflows(self, definitions, timeout=None):
        """Registers workflows defined in code, shared by every server on the sidecar's Redis.

        ``definitions`` is a list of workflow dicts in the definitions file's schema
        (``{"name": ..., "steps": [{"name": ..., "plugin": ..., "config": {...}}, ...]}``).
        Returns a list of dicts ``{"name", "version", "changed"}``, in the order given.
        An invalid definition raises ``InvalidArgument`` naming the workflow and the step; a
        name the server's file defines otherwise, ``AlreadyExists``.
        """
        return self._unary(_register_call(definitions, lambda answers: answers), timeout)

    def register_workflow(self, name, steps, timeout=None, **settings):
        """Registers one workflow: ``steps`` is a list of step dicts (``{"name", "plugin",
        "config", "inputs", "retry", …}``); ``settings`` are the workflow's other keys
        (``max_input_bytes``, ``history_max_messages``, ...). Returns ``{"name", "version",
        "changed"}``."""
        definition = dict(settings, name=name, steps=list(steps))
        return self._unary(_register_call([definition], lambda answers: answers[0]), timeout)

    def health(self, timeout=None):
        """The server's health as a dict: status, version, redis_reachable, redis_latency_us, …"""

        def convert(response):
            return {
                "status": response.status,
                "version": response.version,
                "redis_reachable": response.redis_reachable,
                "redis_latency_us": response.redis_latency_us,
                "redis_error": response.redis_error,
                "runs_in_flight": response.runs_in_flight,
                "uptime_ms": response.uptime_ms,
            }

        return self._unary(Call("Health", pb2.HealthRequest(), pb2.HealthResponse, convert), timeout)

    def list_workers(self, timeout=None):
        """The workers connected to this server, oldest connection first: a list of
        ``WorkerInfo`` (id, name, tasks, slots, in_flight, dispatched, pid, …)."""

        def convert(response):
            return [WorkerInfo.from_proto(pb2, worker) for worker in response.workers]

        return self._unary(Call("ListWorkers", pb2.ListWorkersRequest(), pb2.ListWorkersResponse, convert), timeout)

    # -- the worker calls, low level (``Worker`` uses them) -------------------------------

    def complete_task(self, task_id, artifact, usage=None, history=(), timeout=None):
        """Completes a task: ``artifact`` is sent as it is when ``bytes``, else as JSON;
        ``usage`` a ``Usage``; ``history`` ``{"role", "content"}`` dicts to append to the
        run's history. Raises ``FailedPrecondition`` when the attempt was abandoned (nothing
        is committed) and ``NotFound`` for a task the server does not know."""
        request = pb2.CompleteTaskRequest(
            task_id=task_id,
            artifact=encode_artifact(artifact),
            usage=(usage or Usage()).to_proto(pb2),
            history=history_messages(history),
        )
        return self._unary(Call("CompleteTask", request, pb2.CompleteTaskResponse, _nothing), timeout)

    def fail_task(self, task_id, message, error_class="RETRYABLE", retry_after_s=0, usage=None, timeout=None):
        """Fails a task's attempt: ``error_class`` is ``"RETRYABLE"``, ``"NON_RETRYABLE"`` or
        ``"RATE_LIMITED"`` (then the next attempt waits ``retry_after_s`` at least); the
        step's retry policy decides what follows. Raises as ``complete_task`` does."""
        if error_class not in ERROR_CLASSES:
            raise ValueError(f"error_class must be one of {', '.join(ERROR_CLASSES)}, not {error_class!r}")
        request = pb2.FailTaskRequest(
            task_id=task_id,
            message=message,
            error_class=pb2.ErrorClass.Value("ERROR_CLASS_" + error_class),
            retry_after_ms=max(0, round(retry_after_s * 1000)),
            usage=(usage or Usage()).to_proto(pb2),
        )
        return self._unary(Call("FailTask", request, pb2.FailTaskResponse, _nothing), timeout)

    def drain_worker(self, worker_id, timeout=None):
        """Tells the server the worker ``worker_id`` is shutting down: it is given no new task,
        and its tasks in flight go on. Returns how many it still holds. Raises ``NotFound`` for
        a worker this server does not have."""
        request = pb2.DrainWorkerRequest(worker_id=worker_id)
        return self._unary(Call("DrainWorker", request, pb2.DrainWorkerResponse, lambda r: r.in_flight), timeout)

    def heartbeat_task(self, task_id, timeout=None):
        """Tells the server a task is still being worked on. Raises ``FailedPrecondition``
        when the attempt was stopped (abandoned or cancelled): stop working on it."""
        request = pb2.HeartbeatTaskRequest(task_id=task_id)
        return self._unary(Call("HeartbeatTask", request, pb2.HeartbeatTaskResponse, _nothing), timeout)


def _register_call(definitions, pick):
    request = pb2.RegisterWorkflowsRequest(definitions_json=json.dumps({"workflows": list(definitions)}))

    def convert(response):
        return pick([{"name": w.name, "version": w.version, "changed": w.changed} for w in response.workflows])

    return Call("RegisterWorkflows", request, pb2.RegisterWorkflowsResponse, convert)


def watch_request(workflow_id):
    """The request ``watch()`` streams."""
    return pb2.WatchWorkflowRequest(workflow_id=workflow_id)


def connect_worker_request(tasks, slots, name=""):
    """The request ``connect_worker()`` streams."""
    return pb2.ConnectWorkerRequest(tasks=list(tasks), slots=slots, name=name or "")
