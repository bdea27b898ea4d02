"""The Python client against the real server: every method, its errors, and a resume."""

import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

from resumable_client import (
    AlreadyExists,
    FailedPrecondition,
    Client,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    PermissionDenied,
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


def test_a_budget_pauses_a_run_before_the_attempt_that_would_pass_it(server):
    run_id = new_id("budget")
    with Client(server) as client:
        paused = client.start("research", workflow_id=run_id, input={"q": "x"}, budget_usd=0.15)
        assert paused.status == "AWAITING_BUDGET"
        assert paused.budget_usd == 0.15 and abs(paused.budget_projected_usd - 0.20) < 1e-9
        assert paused.spent_usd == 0.10 and paused.current_step == "extract"
        with pytest.raises(InvalidArgument):
            client.answer_budget(run_id, raise_to=0.05)
        with pytest.raises(ValueError):
            client.answer_budget(run_id)
        failed = client.answer_budget(run_id, raise_to=10)
        assert failed.status == "FAILED" and failed.budget_usd == 10  # draft fails once, by design
        with pytest.raises(FailedPrecondition):
            client.answer_budget(run_id, raise_to=20, token=paused.approval_token)


# -- issue 12: the default socket path and the server's identity -------------------------


def test_the_default_socket_path():
    from resumable_client.client import default_socket_path

    assert default_socket_path({"XDG_RUNTIME_DIR": "/run/user/1000"}, 1000) == "/run/user/1000/resumable.sock"
    assert default_socket_path({}, 1000) == "/tmp/resumable-1000/resumable.sock"
    assert default_socket_path({"XDG_RUNTIME_DIR": ""}, 0) == "/tmp/resumable-0/resumable.sock"


@pytest.mark.parametrize(
    "server_uid, client_uid, trusted, allowed",
    [(1000, 1000, None, True), (0, 1000, None, True), (1001, 1000, None, False), (1001, 1000, 1001, True),
     (1001, 1000, 1002, False), (1000, 0, None, False)],
)
def test_which_server_users_a_client_trusts(server_uid, client_uid, trusted, allowed):
    from resumable_client.client import trusts

    assert trusts(server_uid, client_uid, trusted) is allowed


@pytest.mark.parametrize("kind", ["mode 0777", "owned by nobody"])
def test_a_socket_directory_not_the_users_own_is_refused(tmp_path, monkeypatch, kind):
    from resumable_client import wire as client_module

    directory = tmp_path / "sockets"
    directory.mkdir(mode=0o700)
    if kind == "mode 0777":
        os.chmod(directory, 0o777)
    else:
        os.chown(directory, 65534, 65534)  # the tests run as root
    monkeypatch.setattr(client_module, "private_directory", lambda uid=None: str(directory))
    with pytest.raises(PermissionDenied) as raised:
        Client(str(directory / "resumable.sock"))
    assert f"refusing the socket directory {directory}" in raised.value.message


def test_a_server_running_as_another_user_is_refused_unless_trusted():
    """A real listener run as nobody (setpriv): its uid comes from SO_PEERCRED."""
    directory = tempfile.mkdtemp(prefix="rsm-py-uid-")  # pytest's tmp_path is closed to nobody
    os.chmod(directory, 0o777)
    path = os.path.join(directory, "other.sock")
    listener = subprocess.Popen(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
         "import socket, sys, time\n"
         "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(8)\n"
         "print('ready', flush=True); time.sleep(60)\n", path],
        stdout=subprocess.PIPE,
    )
    try:
        assert listener.stdout.readline().strip() == b"ready"
        with pytest.raises(Unavailable) as raised:
            Client(path)
        assert (
            f"the server on {path} runs as uid 65534, not you (uid {os.geteuid()}); "
            "pass trust_server_uid=65534 if you trust it" in raised.value.message
        )
        Client(path, trust_server_uid=65534).close()
    finally:
        listener.kill()
        listener.wait()
        shutil.rmtree(directory, ignore_errors=True)


def test_register_a_workflow_from_code_then_start_fail_and_resume(server):
    name = new_id("coded")
    steps = [
        {"name": "search", "plugin": "simulate", "inputs": ["input"], "config": {"cost_usd": 0.10}},
        {"name": "draft", "plugin": "simulate", "inputs": ["search"],
         "config": {"cost_usd": 0.10, "fail_attempts": 1}, "retry": {"max_attempts": 1}},
    ]
    with Client(server) as client:
        assert client.register_workflow(name, steps) == {"name": name, "version": 1, "changed": True}
        assert client.register_workflow(name, steps) == {"name": name, "version": 1, "changed": False}
        run_id = new_id("py-coded")
        failed = client.start(name, input={"topic": "agents"}, workflow_id=run_id)
        assert failed.status == "FAILED"
        assert failed.current_step == "draft"
        resumed = client.resume(run_id)
        assert resumed.status == "COMPLETED"
        assert [s.attempts for s in resumed.steps] == [1, 2]
        assert resumed.saved_by_resume_usd == pytest.approx(0.10)


def test_registering_an_invalid_workflow_names_the_workflow_and_the_step(server):
    with Client(server) as client:
        with pytest.raises(InvalidArgument) as raised:
            client.register_workflow("broken", [{"name": "a", "plugin": "echo"}, {"name": "b", "plugin": "nope"}])
        assert "workflow 'broken'" in str(raised.value)
        assert "step 'b'" in str(raised.value)


def test_the_tests_use_the_installed_package():
    # `make python` installs ./clients/python as a user would (pip, no protoc):
    # the tests must exercise that copy, generated module included.
    import resumable_client
    from resumable_client import resumable_pb2

    assert "site-packages" in resumable_client.__file__
    assert "site-packages" in resumable_pb2.__file__


def test_parallel_and_map_state_is_exposed(server):
    """A parallel workflow registered from Python: its map step's items and records."""
    run_id = new_id("py-map")
    with Client(server) as client:
        client.register_workflow("py-map", [
            {"name": "each", "plugin": "simulate", "inputs": ["input"], "map": {"over": "input"},
             "config": {"latency_ms": 0}},
            {"name": "join", "plugin": "echo", "inputs": ["each"]},
        ], parallel=True)
        state = client.start("py-map", input=["a", "b", "c"], workflow_id=run_id)
        assert state.status == "COMPLETED"
        each = state.step("each")
        assert (each.items_total, each.items_committed, each.items_failed) == (3, 3, 0)
        full = client.get_state(run_id, include_items=True)
        assert [item.name for item in full.items] == ["each[0]", "each[1]", "each[2]"]
        assert all(item.status == "COMPLETED" for item in full.items)
        assert full.running_steps == []
