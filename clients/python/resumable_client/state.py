"""Plain Python views of the run state (no protobuf types leak out)."""

import json
from typing import Optional
from dataclasses import dataclass, field


def _enum_name(enum_type, value, prefix):
    name = enum_type.Name(value) if value in enum_type.values() else f"{prefix}UNKNOWN_{value}"
    return name[len(prefix):]


@dataclass
class StepRecord:
    name: str
    plugin: str
    status: str
    attempts: int
    last_error: str
    last_error_retryable: bool
    input_tokens: int
    output_tokens: int
    cost_usd: float
    artifact_bytes: int
    wait_reason: str = ""
    # Input tokens read from / written to a provider's prompt cache (apart from ``input_tokens``).
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    last_error_class: str = "UNSPECIFIED"
    next_attempt_at_ms: int = 0
    started_at_ms: int = 0
    finished_at_ms: int = 0
    # A map step's items (0 for other steps): total, committed, failed, running.
    items_total: int = 0
    items_committed: int = 0
    items_failed: int = 0
    items_running: int = 0

    @classmethod
    def from_proto(cls, pb2, s):
        return cls(
            name=s.name,
            plugin=s.plugin,
            status=_enum_name(pb2.StepStatus, s.status, "STEP_STATUS_"),
            attempts=s.attempts,
            last_error=s.last_error,
            last_error_retryable=s.last_error_retryable,
            input_tokens=s.usage.input_tokens,
            output_tokens=s.usage.output_tokens,
            cached_input_tokens=s.usage.cached_input_tokens,
            cache_write_tokens=s.usage.cache_write_tokens,
            cost_usd=s.usage.cost_micros / 1_000_000,
            artifact_bytes=s.artifact_bytes,
            wait_reason=s.wait_reason,
            last_error_class=_enum_name(pb2.ErrorClass, s.last_error_class, "ERROR_CLASS_"),
            next_attempt_at_ms=s.next_attempt_at_ms,
            started_at_ms=s.started_at_ms,
            finished_at_ms=s.finished_at_ms,
            items_total=s.items_total,
            items_committed=s.items_committed,
            items_failed=s.items_failed,
            items_running=s.items_running,
        )


@dataclass
class RunState:
    workflow_id: str
    workflow: str
    status: str
    current_step: str
    current_step_index: int
    steps: list
    resumes: int
    error: str
    spent_usd: float
    saved_by_resume_usd: float
    artifacts: dict = field(default_factory=dict)
    approval_token: str = ""
    approval_step: str = ""
    history: list = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    # Every step at work now (several in a parallel workflow).
    running_steps: list = field(default_factory=list)
    # Map steps' items' records, named STEP[INDEX] (requested with ``include_items=True``).
    items: list = field(default_factory=list)
    # The run's budget in dollars (None: no budget) and, while AWAITING_BUDGET, the projection
    # that stopped it (spent + running + the attempt's estimate).
    budget_usd: Optional[float] = None
    budget_projected_usd: Optional[float] = None

    def step(self, name):
        """The ``StepRecord`` of the step called ``name`` (``KeyError`` when there is none)."""
        for record in self.steps:
            if record.name == name:
                return record
        raise KeyError(name)

    def artifact(self, step):
        """The step's artifact parsed as JSON (requested with ``include_artifacts=True``)."""
        return json.loads(self.artifacts[step])

    @classmethod
    def from_proto(cls, pb2, message):
        steps = [StepRecord.from_proto(pb2, s) for s in message.steps]
        return cls(
            workflow_id=message.workflow_id,
            workflow=message.workflow,
            status=_enum_name(pb2.RunStatus, message.status, "RUN_STATUS_"),
            current_step=message.current_step,
            current_step_index=message.current_step_index,
            steps=steps,
            resumes=message.resumes,
            error=message.error,
            spent_usd=message.cost.spent_micros / 1_000_000,
            saved_by_resume_usd=message.cost.saved_by_resume_micros / 1_000_000,
            artifacts={a.step: bytes(a.data) for a in message.artifacts},
            approval_token=message.approval.token,
            approval_step=message.approval.step,
            history=[{"role": m.role, "content": m.content} for m in message.history],
            input_tokens=message.cost.input_tokens,
            output_tokens=message.cost.output_tokens,
            cached_input_tokens=message.cost.cached_input_tokens,
            cache_write_tokens=message.cost.cache_write_tokens,
            running_steps=list(message.running_steps),
            items=[StepRecord.from_proto(pb2, s) for s in message.items],
            budget_usd=message.budget.limit_micros / 1_000_000 if message.budget.has_budget else None,
            budget_projected_usd=(
                message.budget.projected_micros / 1_000_000 if message.status == pb2.RUN_STATUS_AWAITING_BUDGET else None
            ),
        )


@dataclass
class RunSummary:
    workflow_id: str
    workflow: str
    status: str
    current_step: str
    step_count: int
    created_at_ms: int
    spent_usd: float
    error: str

    @classmethod
    def from_proto(cls, pb2, message):
        return cls(
            workflow_id=message.workflow_id,
            workflow=message.workflow,
            status=_enum_name(pb2.RunStatus, message.status, "RUN_STATUS_"),
            current_step=message.current_step,
            step_count=message.step_count,
            created_at_ms=message.created_at_ms,
            spent_usd=message.cost.spent_micros / 1_000_000,
            error=message.error,
        )


@dataclass
class RunEvent:
    """Something that happened to a run (``WatchWorkflow``): ``type`` is ``attempt_started``,
    ``attempt_failed``, ``step_waiting``, ``step_committed``, ``run_completed``, … (new types
    may appear); ``status`` is the run's status after it."""

    type: str
    step: str
    attempt: int
    at_ms: int
    message: str
    next_attempt_at_ms: int
    status: str

    @classmethod
    def from_proto(cls, pb2, message):
        return cls(
            type=message.type,
            step=message.step,
            attempt=message.attempt,
            at_ms=message.at_ms,
            message=message.message,
            next_attempt_at_ms=message.next_attempt_at_ms,
            status=_enum_name(pb2.RunStatus, message.status, "RUN_STATUS_"),
        )


@dataclass
class WatchUpdate:
    """One item of ``watch()``: the first carries the run's ``state`` (``event`` None), each
    later one an ``event``; the last one carries the final ``state`` too."""

    state: "RunState | None"
    event: "RunEvent | None"

    @classmethod
    def from_proto(cls, pb2, message):
        return cls(
            state=RunState.from_proto(pb2, message.state) if message.HasField("state") else None,
            event=RunEvent.from_proto(pb2, message.event) if message.HasField("event") else None,
        )


@dataclass
class WorkerInfo:
    """A worker connected to the server (``list_workers()``)."""

    worker_id: str
    name: str
    tasks: list
    slots: int
    in_flight: int
    connected_at_ms: int
    dispatched: int
    pid: int
    draining: bool = False

    @classmethod
    def from_proto(cls, pb2, message):
        return cls(
            draining=message.draining,
            worker_id=message.worker_id,
            name=message.name,
            tasks=list(message.tasks),
            slots=message.slots,
            in_flight=message.in_flight,
            connected_at_ms=message.connected_at_ms,
            dispatched=message.dispatched,
            pid=message.pid,
        )


@dataclass
class Usage:
    """What an attempt cost: tokens and money. Give the money as ``cost_usd`` (a float) or as
    ``cost_micros`` (integer micro-dollars, exact); ``micros`` is what travels. The input counts
    are apart, each priced once: ``input_tokens`` at the full input price, ``cached_input_tokens``
    read from a provider's prompt cache, ``cache_write_tokens`` written to it."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: "float | None" = None
    cost_micros: "int | None" = None
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def micros(self):
        """The cost in integer micro-dollars."""
        if self.cost_micros is not None:
            return int(self.cost_micros)
        return round((self.cost_usd or 0) * 1_000_000)

    def to_proto(self, pb2):
        return pb2.Usage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_micros=self.micros,
            cached_input_tokens=self.cached_input_tokens,
            cache_write_tokens=self.cache_write_tokens,
        )


@dataclass
class StepTask:
    """One attempt of one step, given to a worker (``ConnectWorker``). ``inputs`` maps each
    declared input (``input`` or an earlier step) to its stored bytes; ``config`` is the step's
    parsed config; ``history`` a list of ``{"role", "content"}`` dicts."""

    task_id: str
    task: str
    workflow_id: str
    workflow: str
    step: str
    attempt: int
    idempotency_key: str
    step_key: str
    deadline_unix_ms: int
    config: dict
    inputs: dict
    history: list
    heartbeat_timeout_ms: int

    @classmethod
    def from_proto(cls, pb2, message):
        return cls(
            task_id=message.task_id,
            task=message.task,
            workflow_id=message.workflow_id,
            workflow=message.workflow,
            step=message.step,
            attempt=message.attempt,
            idempotency_key=message.idempotency_key,
            step_key=message.step_key,
            deadline_unix_ms=message.deadline_unix_ms,
            config=json.loads(message.config_json) if message.config_json else {},
            inputs={i.name: bytes(i.data) for i in message.inputs},
            history=[{"role": m.role, "content": m.content} for m in message.history],
            heartbeat_timeout_ms=message.heartbeat_timeout_ms,
        )


@dataclass
class FeedFrame:
    """One frame of a worker's task feed (``connect_worker()``): exactly one of ``worker_id``
    (the first frame), ``task`` (a ``StepTask`` to run) and ``cancelled_task_id`` (a task to
    stop, with ``cancelled_reason``) is set."""

    worker_id: str = ""
    task: "StepTask | None" = None
    cancelled_task_id: str = ""
    cancelled_reason: str = ""

    @classmethod
    def from_proto(cls, pb2, message):
        return cls(
            worker_id=message.worker_id,
            task=StepTask.from_proto(pb2, message.task) if message.HasField("task") else None,
            cancelled_task_id=message.cancelled.task_id if message.HasField("cancelled") else "",
            cancelled_reason=message.cancelled.reason if message.HasField("cancelled") else "",
        )
