"""A Python client for the Resumable sidecar: durable, resumable workflows for AI agents.

    from resumable_client import Client

    with Client() as client:
        state = client.start("research", input={"topic": "agents"}, workflow_id="demo-1")
        if state.status == "FAILED":
            state = client.resume("demo-1")

The protobuf module ``resumable_pb2`` is generated from ``proto/`` (``make proto``) and
committed, so ``pip install ./clients/python`` needs no protoc.
"""

from . import errors
from .client import Client, DEFAULT_SOCKET_PATH, default_socket_path
from .errors import *  # noqa: F401,F403 - the typed exceptions, listed in errors.__all__
from .state import RunState, RunSummary, StepRecord

__all__ = ["Client", "DEFAULT_SOCKET_PATH", "default_socket_path", "RunState", "RunSummary", "StepRecord"] + errors.__all__
