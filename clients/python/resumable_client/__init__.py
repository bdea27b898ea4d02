"""A Python SDK for the Resumable sidecar: durable, resumable workflows for AI agents.

    from resumable_client import Client

    with Client() as client:
        state = client.start("research", input={"topic": "agents"}, workflow_id="demo-1")
        if state.status == "FAILED":
            state = client.resume("demo-1")

``AsyncClient`` has the same methods for asyncio; ``Worker`` serves steps with Python
functions. The protobuf module ``resumable_pb2`` is generated from ``proto/`` (``make proto``)
and committed, so ``pip install ./clients/python`` needs no protoc.
"""

from . import errors
from .aio import AsyncClient
from .client import Client, DEFAULT_SOCKET_PATH, Stream, default_socket_path
from .errors import *  # noqa: F401,F403 - the typed exceptions, listed in errors.__all__
from .state import FeedFrame, RunEvent, RunState, RunSummary, StepRecord, StepTask, Usage, WatchUpdate, WorkerInfo
from .worker import NonRetryable, RateLimited, Retryable, StepFailure, StepResult, TaskContext, Worker

__all__ = [
    "AsyncClient", "Client", "DEFAULT_SOCKET_PATH", "Stream", "default_socket_path",
    "FeedFrame", "RunEvent", "RunState", "RunSummary", "StepRecord", "StepTask", "Usage", "WatchUpdate", "WorkerInfo",
    "NonRetryable", "RateLimited", "Retryable", "StepFailure", "StepResult", "TaskContext", "Worker",
] + errors.__all__
