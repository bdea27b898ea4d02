"""The Python client against the real server: every method, its errors, and a resume."""

import uuid

import pytest

from resumable_client import (
    AlreadyExists,
    FailedPrecondition,
    Client,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    Unavailable,
)


def new_id(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_start_fail_at_step_three_and_resume_at_step_three(server):
    run_id = new_id("py")
    with Client(server) as client:
        failed = client.start("research", input={"topic": "agents"}, workflow_id=run_id)
        assert failed.status == "FAILED"
        assert failed.current_step == "draft"
        assert [s.status for s in failed.steps] == ["COMPLETED", "COMPLETED", "FAILED", "PENDING"]
        assert "simulated transient failure" in failed.steps[2].last_error

        resumed = client.resume(run_id)
        assert resumed.status == "COMPLETED"
        assert resumed.resumes == 1
        # search and extract were not run (nor paid for) again.
        assert [s.attempts for s in resumed.steps] == [1, 1, 2, 1]
        assert resumed.saved_by_resume_usd == pytest.approx(0.20)
        assert resumed.spent_usd == pytest.approx(0.50)


def test_get_state_with_artifacts(server):
    run_id = new_id("art")
    with Client(server) as client:
        done = client.start("echo", input=[1, 2, 3], workflow_id=run_id)
        assert done.status == "COMPLETED"
        state = client.get_state(run_id, include_artifacts=True)
        assert state.artifact("first") == {"input": [1, 2, 3]}
        assert client.get_state(run_id).artifacts == {}


def test_idempotent_start(server):
    run_id = new_id("idem")
    with Client(server) as client:
        client.start("echo", input="x", workflow_id=run_id)
        with pytest.raises(AlreadyExists) as raised:
            client.start("echo", input="x", workflow_id=run_id)
        assert "COMPLETED" in raised.value.message
        again = client.start("echo", input="x", workflow_id=run_id, use_existing=True)
        assert again.status == "COMPLETED"


def test_errors_are_typed_with_actionable_messages(server):
    with Client(server) as client:
        with pytest.raises(NotFound) as missing:
            client.get_state("no-such-run")
        assert "no-such-run" in missing.value.message
        with pytest.raises(NotFound) as unknown:
            client.start("no-such-workflow")
        assert "research" in unknown.value.message  # names the workflows it has
        with pytest.raises(InvalidArgument):
            client.start("echo", input=b"{not json")
        with pytest.raises(InvalidArgument):
            client.get_state("bad id with spaces")


def test_a_deadline_bounds_the_call_not_the_run(server):
    run_id = new_id("slow")
    with Client(server) as client:
        with pytest.raises(DeadlineExceeded):
            client.start("slow", workflow_id=run_id, timeout=0.2)
        assert client.get_state(run_id).status == "RUNNING"
        assert client.resume(run_id).status == "COMPLETED"


def test_no_wait_returns_a_running_run(server):
    run_id = new_id("nowait")
    with Client(server) as client:
        state = client.start("slow", workflow_id=run_id, wait=False)
        assert state.status == "RUNNING"


def test_an_unreachable_server_is_unavailable(tmp_path):
    with pytest.raises(Unavailable) as raised:
        Client(str(tmp_path / "nobody.sock"))
    assert "resumable serve" in raised.value.message


def test_operating_methods(server):
    run_id = new_id("op")
    with Client(server) as client:
        waiting = client.start("gated", workflow_id=run_id)
        assert waiting.status == "AWAITING_APPROVAL" and waiting.approval_step == "publish"
        assert client.approve(run_id, note="fine").status == "COMPLETED"
        with pytest.raises(FailedPrecondition):
            client.approve(run_id, token=waiting.approval_token)
        rerun = client.resume(run_id, from_step="publish")
        assert rerun.status == "AWAITING_APPROVAL"  # it asks again before it runs again
        slow = new_id("op-slow")
        client.start("slow", workflow_id=slow, wait=False)
        assert client.cancel(slow, reason="no longer needed").status == "CANCELLED"
        runs, cursor = client.list(status="CANCELLED", limit=1000)
        assert slow in [run.workflow_id for run in runs]
        assert client.health()["status"] == "SERVING"
