"""Plain Python views of the run state (no protobuf types leak out)."""

import json
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

    def artifact(self, step):
        """The step's artifact parsed as JSON (requested with ``include_artifacts=True``)."""
        return json.loads(self.artifacts[step])

    @classmethod
    def from_proto(cls, pb2, message):
        steps = [
            StepRecord(
                name=s.name,
                plugin=s.plugin,
                status=_enum_name(pb2.StepStatus, s.status, "STEP_STATUS_"),
                attempts=s.attempts,
                last_error=s.last_error,
                last_error_retryable=s.last_error_retryable,
                input_tokens=s.usage.input_tokens,
                output_tokens=s.usage.output_tokens,
                cost_usd=s.usage.cost_micros / 1_000_000,
                artifact_bytes=s.artifact_bytes,
            )
            for s in message.steps
        ]
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
