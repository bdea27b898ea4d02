"""Workers against a real server: real worker processes (tests/worker_app.py), real signals,
and the low-level calls where a test must play a worker that misbehaves on purpose."""

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import shutil

import pytest

from conftest import ROOT, start_redis, start_serve, stop
from helpers import Feed, new_id, records, wait_for, wait_for_run, wait_for_worker
from resumable_client import Client, FailedPrecondition, InvalidArgument, NotFound, Usage, Worker


def worker_step(name, task, **more):
    return dict({"name": name, "plugin": "worker", "config": {"task": task}}, **more)


def test_a_worker_killed_mid_step_is_replaced_and_the_step_key_stays(server, spawn_worker):
    prepare, work = new_id("prepare"), new_id("work")
    workflow, run_id = new_id("killed"), new_id("run")
    with Client(server) as client:
        client.register_workflow(workflow, [
            worker_step("prepare", prepare, inputs=["input"]),
            worker_step("work", work, inputs=["prepare"], retry={"max_attempts": 3, "initial_backoff_ms": 10}),
        ])
        first = spawn_worker(server, f"{prepare}:quick", f"{work}:hang")
        wait_for_worker(client, first.name)
        client.start(workflow, input={"n": 1}, workflow_id=run_id, wait=False)
        record = first.record
        wait_for(lambda: records(record, event="started", task=work), "the first worker to start the step")
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()

        second = spawn_worker(server, f"{prepare}:quick", f"{work}:quick")
        done = wait_for_run(client, run_id, "COMPLETED")
        assert [(s.name, s.attempts) for s in done.steps] == [("prepare", 1), ("work", 2)]
        assert done.artifact("work")["attempt"] == 2
        assert done.artifact("work")["pid"] == second.process.pid
        assert done.artifact("work")["inputs"]["prepare"]["task"] == prepare

    # prepare, committed, ran once; work ran as attempt 1 in the killed worker, 2 in the other.
    assert [(r["pid"], r["attempt"]) for r in records(record, task=prepare)] == [(first.process.pid, 1)]
    attempts = records(record, task=work, event="started") + records(record, task=work, event="ran")
    assert [(r["pid"], r["attempt"]) for r in attempts] == [(first.process.pid, 1), (second.process.pid, 2)]
    assert {r["step_key"] for r in attempts} == {f"{run_id}/work"}
    assert [r["idempotency_key"] for r in attempts] == [f"{run_id}/work/1", f"{run_id}/work/2"]


def test_a_late_completion_is_refused_and_the_second_attempt_is_committed(server):
    task, workflow, run_id = new_id("late"), new_id("late-wf"), new_id("run")
    with Client(server) as client:
        client.register_workflow(workflow, [worker_step("slow", task, heartbeat_timeout_ms=300,
                                                        retry={"max_attempts": 2, "initial_backoff_ms": 10})])
        feed = Feed(client, [task], slots=1)
        try:
            assert feed.next().worker_id
            client.start(workflow, workflow_id=run_id, wait=False)
            first = feed.next_task()
            assert first.attempt == 1
            # No heartbeat: the attempt is abandoned after 300 ms and attempt 2 is dispatched.
            second = feed.next_task()
            assert (second.attempt, second.step_key) == (2, first.step_key)
            with pytest.raises(FailedPrecondition):
                client.complete_task(first.task_id, {"attempt": 1})
            with pytest.raises(FailedPrecondition):
                client.heartbeat_task(first.task_id)
            client.complete_task(second.task_id, {"attempt": 2})
            done = wait_for_run(client, run_id, "COMPLETED")
        finally:
            feed.close()
    assert done.artifact("slow") == {"attempt": 2}
    assert done.steps[0].attempts == 2


def test_the_usage_a_worker_reports_carries_the_cache_counts_into_the_ledger(server):
    task, workflow, run_id = new_id("cache"), new_id("cache-wf"), new_id("run")
    with Client(server) as client:
        client.register_workflow(workflow, [worker_step("ask", task, retry={"max_attempts": 2, "initial_backoff_ms": 10})])
        feed = Feed(client, [task], slots=1)
        try:
            assert feed.next().worker_id
            client.start(workflow, workflow_id=run_id, wait=False)
            first = feed.next_task()
            client.fail_task(first.task_id, "504", usage=Usage(100, 0, cost_micros=40, cache_write_tokens=900))
            second = feed.next_task()
            client.complete_task(second.task_id, {"ok": True},
                                 usage=Usage(100, 20, cost_micros=60, cached_input_tokens=900))
            done = wait_for_run(client, run_id, "COMPLETED")
        finally:
            feed.close()
    assert (done.input_tokens, done.cached_input_tokens, done.cache_write_tokens, done.output_tokens) == (200, 900, 900, 20)
    step = done.steps[0]
    assert (step.input_tokens, step.cached_input_tokens, step.cache_write_tokens, step.output_tokens) == (200, 900, 900, 20)
    assert done.spent_usd == pytest.approx(0.0001)


def test_with_no_worker_the_step_waits_and_a_worker_connecting_later_runs_it(server, spawn_worker):
    task, workflow, run_id = new_id("absent"), new_id("absent-wf"), new_id("run")
    with Client(server) as client:
        client.register_workflow(workflow, [worker_step("only", task)])
        client.start(workflow, workflow_id=run_id, wait=False)
        waiting = wait_for(lambda: (lambda s: s if s.steps[0].status == "WAITING" else None)(client.get_state(run_id)),
                           "the step to wait")
        assert waiting.status == "RUNNING"
        # The issue words it "no worker serves task NAME"; the server quotes the name.
        assert waiting.steps[0].wait_reason in (f"no worker serves task {task}", f"no worker serves task '{task}'")
        assert waiting.steps[0].attempts == 0  # waiting spends no attempt

        spawn_worker(server, f"{task}:quick")
        done = wait_for_run(client, run_id, "COMPLETED")
        assert done.steps[0].attempts == 1
        assert done.artifact("only")["task"] == task


def connections_to(socket_path):
    """How many connections the server listening on ``socket_path`` has accepted and holds
    open (the kernel's view: its ends of them carry the path in /proc/net/unix)."""
    with open("/proc/net/unix") as table:
        rows = [line.split() for line in table.read().splitlines()[1:]]
    # Num RefCount Protocol Flags Type St Inode Path: St 03 is connected (01 is the listener).
    return sum(1 for row in rows if len(row) == 8 and row[7] == socket_path and row[5] == "03")


def test_a_worker_answers_on_its_feed_connection_whatever_its_concurrency(server, spawn_worker):
    task, workflow = new_id("feed"), new_id("feed-wf")
    runs = [new_id("run") for _ in range(8)]
    with Client(server) as client:
        client.register_workflow(workflow, [worker_step("one", task), worker_step("two", task)])
        before = connections_to(server)
        worker = spawn_worker(server, f"{task}:quick", concurrency=4)
        wait_for_worker(client, worker.name)
        for run_id in runs:
            client.start(workflow, workflow_id=run_id, wait=False)
        for run_id in runs:
            assert wait_for_run(client, run_id, "COMPLETED").steps[1].attempts == 1
        # The feed (and the client for heartbeats and the drain, once used): no connection per
        # step thread, as there were (6 here) when each answered on one of its own.
        assert connections_to(server) - before <= 2
        assert len(records(worker.record, event="ran")) == 16
        assert "answer refused" not in worker.log_text() and "not delivered" not in worker.log_text()


def test_a_worker_never_holds_more_tasks_than_its_slots(server, spawn_worker):
    task, workflow = new_id("slot"), new_id("slot-wf")
    runs = [new_id("run") for _ in range(6)]
    with Client(server) as client:
        client.register_workflow(workflow, [worker_step("hold", task)])
        worker = spawn_worker(server, f"{task}:slot", concurrency=2)  # async def steps: the SDK does not queue them
        info = wait_for_worker(client, worker.name)
        assert (info.slots, info.tasks) == (2, [task])
        for run_id in runs:
            client.start(workflow, workflow_id=run_id, wait=False)
        seen_in_flight = {0}

        def all_completed():
            seen_in_flight.update(w.in_flight for w in client.list_workers() if w.name == worker.name)
            return all(client.get_state(r).status == "COMPLETED" for r in runs)

        wait_for(all_completed, "the 6 runs to complete", interval=0.02)
        assert max(seen_in_flight) <= 2
    events = sorted([(r["clock"], +1) for r in records(worker.record, event="started")]
                    + [(r["clock"], -1) for r in records(worker.record, event="ended")])
    assert len(events) == 12
    held, most = 0, 0
    for _clock, change in events:
        held += change
        most = max(most, held)
    assert most == 2  # never more than its slots, and the slots were used


# With one slot, the task holds the worker's only slot: its cancellation is still read (a step
# thread more than the slots reads the feed while every slot is busy).
@pytest.mark.parametrize("concurrency", [1, 4])
def test_cancelling_a_run_mid_step_sets_ctx_cancelled_and_refuses_the_late_result(server, spawn_worker, concurrency):
    task, workflow, run_id = new_id("cancel"), new_id("cancel-wf"), new_id("run")
    with Client(server) as client:
        client.register_workflow(workflow, [worker_step("long", task)])
        worker = spawn_worker(server, f"{task}:cancellable", concurrency=concurrency)
        wait_for_worker(client, worker.name)
        client.start(workflow, workflow_id=run_id, wait=False)
        wait_for(lambda: records(worker.record, event="started"), "the step to start")
        assert client.cancel(run_id, reason="not needed").status == "CANCELLED"
        seen = wait_for(lambda: records(worker.record, event="saw-cancel"), "the step to see ctx.cancelled")
        assert seen[0]["reason"]
        wait_for(lambda: "answer refused (FAILED_PRECONDITION)" in worker.log_text(), "the late result to be refused")
        state = client.get_state(run_id, include_artifacts=True)
    assert state.status == "CANCELLED"
    assert state.steps[0].status != "COMPLETED"
    assert "long" not in state.artifacts


def test_a_step_with_heartbeat_timeout_runs_longer_than_it_thanks_to_the_sdk_heartbeats(server, spawn_worker):
    task, workflow, run_id = new_id("beat"), new_id("beat-wf"), new_id("run")
    with Client(server) as client:
        # The step sleeps 2 s, more than 3 heartbeat timeouts: only the heartbeats keep it alive.
        client.register_workflow(workflow, [worker_step("nap", task, heartbeat_timeout_ms=600,
                                                        retry={"max_attempts": 1})])
        worker = spawn_worker(server, f"{task}:sleep")
        wait_for_worker(client, worker.name)
        done = client.start(workflow, workflow_id=run_id, timeout=30)
        assert done.status == "COMPLETED", done.error
        assert done.steps[0].attempts == 1


def test_a_plain_function_that_returns_a_coroutine_is_awaited_and_answered(server, spawn_worker):
    task, workflow, run_id = new_id("deferred"), new_id("deferred-wf"), new_id("run")
    with Client(server) as client:
        client.register_workflow(workflow, [worker_step("later", task, retry={"max_attempts": 1})])
        worker = spawn_worker(server, f"{task}:deferred")
        wait_for_worker(client, worker.name)
        done = client.start(workflow, workflow_id=run_id, timeout=30)
        assert done.status == "COMPLETED", done.error
        assert client.get_state(run_id, include_artifacts=True).artifact("later")["task"] == task
        assert records(worker.record, event="ran")


def block_termination_signals():
    """As a parent whose threads block signals (Foundation's Process does) leaves its children."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})


@pytest.mark.parametrize("mask", ["default", "inherited blocked"])
def test_sigterm_drains_the_worker_its_step_in_flight_is_answered(server, spawn_worker, mask):
    task, workflow, run_id = new_id("drain"), new_id("drain-wf"), new_id("run")
    with Client(server) as client:
        client.register_workflow(workflow, [worker_step("nap", task, retry={"max_attempts": 1})])
        worker = spawn_worker(server, f"{task}:sleep",
                              preexec_fn=block_termination_signals if mask != "default" else None)
        wait_for_worker(client, worker.name)
        client.start(workflow, workflow_id=run_id, wait=False)
        wait_for(lambda: records(worker.record, event="started"), "the step to start")
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=30) == 0, worker.log_text()
        done = wait_for_run(client, run_id, "COMPLETED")
        assert done.steps[0].attempts == 1  # finished by the draining worker, not retried
        assert not [w for w in client.list_workers() if w.name == worker.name]


def test_the_example_agent_registers_from_code_fails_at_draft_and_resumes(server):
    run_id = new_id("agent")
    output = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "python-agent" / "agent.py"), "--socket", server,
         "--workflow-id", run_id],
        capture_output=True, text=True, timeout=120,
    )
    assert output.returncode == 0, output.stdout + output.stderr
    assert "first run ran: search, extract, outline, draft; the resume ran: draft, verify" in output.stdout
    with Client(server) as client:
        state = client.get_state(run_id)
    assert state.status == "COMPLETED" and state.resumes == 1
    assert [(s.name, s.attempts) for s in state.steps] == [
        ("search", 1), ("extract", 1), ("outline", 1), ("draft", 2), ("verify", 1)]
    assert state.saved_by_resume_usd > 0
    assert state.saved_by_resume_usd == pytest.approx(sum(s.cost_usd for s in state.steps[:3]))
    assert state.input_tokens > 0 and state.output_tokens > 0


def test_a_worker_reconnects_when_the_sidecar_restarts(spawn_worker):
    directory = tempfile.mkdtemp(prefix="rsm-py-re-")
    socket_path = os.path.join(directory, "rsm.sock")
    redis = serve = None
    try:
        redis, redis_socket = start_redis(directory)
        task, workflow = new_id("again"), new_id("again-wf")
        worker = spawn_worker(socket_path, f"{task}:quick")  # before the sidecar listens: it retries
        serve = start_serve(socket_path, redis_socket, os.path.join(directory, "serve.log"))
        with Client(socket_path) as client:
            wait_for_worker(client, worker.name)
        serve.kill()
        serve.wait()
        serve = start_serve(socket_path, redis_socket, os.path.join(directory, "serve.log"))
        with Client(socket_path) as client:
            wait_for_worker(client, worker.name)
            client.register_workflow(workflow, [worker_step("only", task)])
            assert client.start(workflow, timeout=30).status == "COMPLETED"
        assert worker.log_text().count("registered: tasks") == 2
    finally:
        stop(serve)
        stop(redis)
        shutil.rmtree(directory, ignore_errors=True)


def test_two_servers_on_one_redis_the_survivor_recovers_the_run_and_its_worker_finishes_it(spawn_worker):
    directory = tempfile.mkdtemp(prefix="rsm-py-two-")
    a_socket, b_socket = os.path.join(directory, "a.sock"), os.path.join(directory, "b.sock")
    redis = a = b = None
    lease = ["--lease-seconds", "1", "--recovery-interval", "0.2"]
    try:
        redis, redis_socket = start_redis(directory)
        a = start_serve(a_socket, redis_socket, os.path.join(directory, "a.log"), *lease)
        b = start_serve(b_socket, redis_socket, os.path.join(directory, "b.log"), *lease)
        prepare, work = new_id("prepare"), new_id("work")
        workflow, run_id = new_id("two"), new_id("run")
        on_a = spawn_worker(a_socket, f"{prepare}:quick", f"{work}:hang", name="on-a")
        on_b = spawn_worker(b_socket, f"{prepare}:quick", f"{work}:quick", name="on-b")
        with Client(a_socket) as client_a:
            client_a.register_workflow(workflow, [
                worker_step("prepare", prepare, inputs=["input"]),
                worker_step("work", work, inputs=["prepare"], retry={"max_attempts": 3, "initial_backoff_ms": 10}),
            ])
            wait_for_worker(client_a, on_a.name)
            client_a.start(workflow, input={"n": 2}, workflow_id=run_id, wait=False)
        wait_for(lambda: records(on_a.record, event="started", task=work), "server A's worker to start the step")
        a.kill()
        a.wait()
        with Client(b_socket) as client_b:
            wait_for_worker(client_b, on_b.name)
            done = wait_for_run(client_b, run_id, "COMPLETED", timeout=60)
        assert done.artifact("work")["pid"] == on_b.process.pid
        assert [r["pid"] for r in records(on_a.record, task=prepare)] == [on_a.process.pid]  # not run again
        assert [(r["pid"], r["step_key"]) for r in records(on_a.record, task=work, event="started")] + [
            (r["pid"], r["step_key"]) for r in records(on_b.record, task=work, event="ran")] == [
            (on_a.process.pid, f"{run_id}/work"), (on_b.process.pid, f"{run_id}/work")]
    finally:
        for process in (a, b, redis):
            stop(process)
        shutil.rmtree(directory, ignore_errors=True)


# -- bad input ------------------------------------------------------------------------


def test_answers_for_an_unknown_task_are_not_found(server):
    with Client(server) as client:
        with pytest.raises(NotFound):
            client.complete_task("no-such-task", {"x": 1})
        with pytest.raises(NotFound):
            client.fail_task("no-such-task", "boom")
        with pytest.raises(NotFound):
            client.heartbeat_task("no-such-task")


@pytest.mark.parametrize("tasks, slots", [(["t"], 0), ([f"t{i}" for i in range(1001)], 1), ([], 1)])
def test_a_worker_declaring_no_slots_or_too_many_tasks_is_refused(server, tasks, slots):
    with Client(server) as client:
        with client.connect_worker(tasks, slots) as feed:
            with pytest.raises(InvalidArgument):
                next(feed)


def test_the_worker_surfaces_a_refused_registration_instead_of_retrying(server):
    worker = Worker(server, concurrency=0)
    worker.step("anything")(lambda ctx, inputs: None)
    with pytest.raises(InvalidArgument):
        asyncio.run(asyncio.wait_for(worker.run_async(), 30))


def test_an_artifact_that_is_not_json_fails_the_step_non_retryable_naming_it(server):
    task, workflow, run_id = new_id("raw"), new_id("raw-wf"), new_id("run")
    with Client(server) as client:
        client.register_workflow(workflow, [worker_step("emit", task)])
        feed = Feed(client, [task])
        try:
            feed.next()
            client.start(workflow, workflow_id=run_id, wait=False)
            given = feed.next_task()
            client.complete_task(given.task_id, b"\xffnot json")  # taken: the step's commit refuses it
            failed = wait_for_run(client, run_id, "FAILED")
        finally:
            feed.close()
    step = failed.steps[0]
    assert (step.status, step.last_error_class, step.attempts) == ("FAILED", "NON_RETRYABLE", 1)
    assert "step 'emit'" in step.last_error and "not JSON" in step.last_error
