"""The wire and the worker's answers, without a server: framing, envelopes, status codes,
hostile frames, and what a step's result or exception becomes on the wire."""

import asyncio
import json
import math
import socket
import struct
import threading
import time

import pytest

from resumable_client import (
    AsyncClient,
    Client,
    FailedPrecondition,
    Internal,
    NonRetryable,
    RateLimited,
    ResourceExhausted,
    ResumableError,
    Retryable,
    StepResult,
    Usage,
)
from resumable_client import wire
from resumable_client.state import StepTask
from resumable_client.wire import pb2
from resumable_client.worker import TaskContext, answer_for_error, answer_for_result, parse_inputs


def reply(**fields):
    return pb2.Envelope(**fields)


def test_a_request_frame_is_a_big_endian_length_then_the_envelope():
    frame = wire.encode_request(7, "GetState", pb2.GetStateRequest(workflow_id="run-1"), timeout=1.5)
    (length,) = struct.unpack(">I", frame[:4])
    assert length == len(frame) - 4
    envelope = wire.decode_envelope(frame[4:])
    assert (envelope.request_id, envelope.method, envelope.timeout_ms) == (7, "GetState", 1500)
    request = pb2.GetStateRequest()
    request.ParseFromString(envelope.payload)
    assert request.workflow_id == "run-1"


def test_no_timeout_is_no_deadline_and_a_tiny_one_is_not_rounded_to_none():
    assert wire.decode_envelope(wire.encode_request(1, "Health", b"")[4:]).timeout_ms == 0
    assert wire.decode_envelope(wire.encode_request(1, "Health", b"", timeout=0.0001)[4:]).timeout_ms == 1


def test_a_frame_over_the_limit_is_refused_on_its_header():
    assert wire.frame_length(struct.pack(">I", wire.MAX_FRAME)) == wire.MAX_FRAME
    with pytest.raises(Internal) as raised:
        wire.frame_length(struct.pack(">I", wire.MAX_FRAME + 1))
    assert str(wire.MAX_FRAME + 1) in raised.value.message


def test_bytes_that_are_not_an_envelope_are_an_internal_error():
    with pytest.raises(Internal):
        wire.decode_envelope(b"\xff\xff\xff\xff")


@pytest.mark.parametrize("number, cls, name", [
    (pb2.STATUS_CODE_FAILED_PRECONDITION, FailedPrecondition, "FAILED_PRECONDITION"),
    (pb2.STATUS_CODE_RESOURCE_EXHAUSTED, ResourceExhausted, "RESOURCE_EXHAUSTED"),
    (pb2.STATUS_CODE_DATA_LOSS, ResumableError, "DATA_LOSS"),
    (99, ResumableError, "UNKNOWN"),
])
def test_a_status_becomes_its_typed_error(number, cls, name):
    with pytest.raises(cls) as raised:
        wire.decode_reply(reply(status_code=number, status_message="why", status_setting="max_runs"),
                          pb2.HealthResponse)
    assert (raised.value.code, raised.value.message, raised.value.setting) == (name, "why", "max_runs")


def test_stream_frames_end_with_end_of_stream_and_an_empty_last_frame_carries_nothing():
    event = pb2.WatchWorkflowResponse(event=pb2.RunEvent(type="step_committed"))
    message, ended = wire.decode_stream_frame(reply(payload=event.SerializeToString()), pb2.WatchWorkflowResponse)
    assert (message.event.type, ended) == ("step_committed", False)
    last = pb2.WatchWorkflowResponse(state=pb2.RunState(workflow_id="r"))
    message, ended = wire.decode_stream_frame(reply(payload=last.SerializeToString(), end_of_stream=True),
                                              pb2.WatchWorkflowResponse)
    assert (message.state.workflow_id, ended) == ("r", True)
    assert wire.decode_stream_frame(reply(end_of_stream=True), pb2.WatchWorkflowResponse) == (None, True)
    with pytest.raises(ResumableError):
        wire.decode_stream_frame(reply(status_code=pb2.STATUS_CODE_UNAVAILABLE, end_of_stream=True),
                                 pb2.ConnectWorkerResponse)


@pytest.fixture
def hostile_listener(tmp_path):
    """A listener that answers any request with a header announcing a 3 GiB frame (a real
    socket: the client must refuse it on the header, without buffering)."""
    path = str(tmp_path / "hostile.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4)

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.recv(65536)
            connection.sendall(struct.pack(">I", 3 * 1024 ** 3) + b"x" * 16)

    threading.Thread(target=serve, daemon=True).start()
    yield path
    listener.close()


def test_the_sync_client_refuses_a_hostile_frame(hostile_listener):
    with Client(hostile_listener) as client:
        with pytest.raises(Internal) as raised:
            client.health()
    assert "3221225472 bytes" in raised.value.message


def test_the_async_client_refuses_a_hostile_frame(hostile_listener):
    async def call():
        async with AsyncClient(hostile_listener) as client:
            await client.health()

    with pytest.raises(Internal) as raised:
        asyncio.run(call())
    assert "3221225472 bytes" in raised.value.message


def test_frames_that_arrive_together_or_in_pieces_are_read_one_by_one(tmp_path):
    """The sync client receives 64 KiB at a time: two replies that arrive in one segment,
    and a third split inside its header, each answer their own call."""
    path = str(tmp_path / "pieces.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def frame(request_id, version):
        body = pb2.Envelope(request_id=request_id, method="Health",
                            payload=pb2.HealthResponse(status="ok", version=version).SerializeToString())
        return struct.pack(">I", len(body.SerializeToString())) + body.SerializeToString()

    def serve():
        connection, _ = listener.accept()
        connection.recv(65536)
        third = frame(3, "three")
        connection.sendall(frame(1, "one") + frame(2, "two") + third[:3])
        time.sleep(0.05)
        connection.sendall(third[3:])
        time.sleep(0.5)
        connection.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        with Client(path) as client:
            assert [client.health()["version"] for _ in range(3)] == ["one", "two", "three"]
    finally:
        listener.close()


# -- what a step's outcome becomes ------------------------------------------------------


def test_a_plain_value_is_its_json_artifact():
    answer = answer_for_result("draft", {"text": "é", "n": [1, 2]})
    assert answer.error_class is None
    assert json.loads(answer.artifact) == {"text": "é", "n": [1, 2]}


def test_a_step_result_carries_usage_and_history():
    result = StepResult({"ok": True}, usage=Usage(10, 20, cost_usd=0.0123), history=[{"role": "user", "content": "hi"}])
    answer = answer_for_result("draft", result)
    assert json.loads(answer.artifact) == {"ok": True}
    assert answer.usage.to_proto(pb2) == pb2.Usage(input_tokens=10, output_tokens=20, cost_micros=12300)
    assert answer.history == [{"role": "user", "content": "hi"}]
    assert Usage(cost_micros=7).micros == 7
    cached = Usage(10, 20, cost_micros=1, cached_input_tokens=30, cache_write_tokens=40).to_proto(pb2)
    assert (cached.cached_input_tokens, cached.cache_write_tokens) == (30, 40)


@pytest.mark.parametrize("value", [{1, 2}, object(), math.nan])
def test_a_value_that_is_not_json_fails_non_retryable_naming_the_step(value):
    answer = answer_for_result("draft", value)
    assert answer.error_class == "NON_RETRYABLE"
    assert "step 'draft' returned a value that is not JSON" in answer.message


def test_exceptions_map_to_error_classes():
    assert (answer_for_error(Retryable("flaky")).error_class, answer_for_error(Retryable("flaky")).message) == (
        "RETRYABLE", "flaky")
    assert answer_for_error(NonRetryable("bad input")).error_class == "NON_RETRYABLE"
    limited = answer_for_error(RateLimited(2.5))
    assert (limited.error_class, limited.retry_after_s) == ("RATE_LIMITED", 2.5)
    other = answer_for_error(KeyError("topic"))
    assert (other.error_class, other.message) == ("RETRYABLE", "KeyError: 'topic'")
    spent = answer_for_error(Retryable("timeout", usage=Usage(cost_usd=0.5)))
    assert spent.usage.micros == 500_000


def test_inputs_are_parsed_json_and_bytes_that_are_not_json_stay_bytes():
    assert parse_inputs({"input": b'{"topic": "x"}', "search": b"[1]", "empty": b"", "raw": b"\xff"}) == {
        "input": {"topic": "x"}, "search": [1], "empty": None, "raw": b"\xff"}


def test_a_task_context_reads_the_task():
    message = pb2.StepTask(task_id="t1", task="draft", workflow_id="run", workflow="wf", step="draft", attempt=2,
                           idempotency_key="run/draft/2", step_key="run/draft", deadline_unix_ms=1_700_000_000_500,
                           config_json='{"model": "m"}', heartbeat_timeout_ms=900,
                           history=[pb2.HistoryMessage(role="user", content="q")],
                           inputs=[pb2.TaskInput(name="input", data=b"1")])
    task = StepTask.from_proto(pb2, message)
    ctx = TaskContext(task, worker=None)
    assert (ctx.attempt, ctx.step_key, ctx.idempotency_key) == (2, "run/draft", "run/draft/2")
    assert ctx.deadline.timestamp() == 1_700_000_000.5
    assert ctx.config == {"model": "m"} and ctx.history == [{"role": "user", "content": "q"}]
    assert task.inputs == {"input": b"1"}
    assert not ctx.cancelled
    ctx._cancel("the run was cancelled")
    assert ctx.cancelled and ctx.cancel_reason == "the run was cancelled"
    assert TaskContext(StepTask.from_proto(pb2, pb2.StepTask()), worker=None).deadline is None
