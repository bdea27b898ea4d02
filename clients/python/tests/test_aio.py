"""The asyncio client against the real server: every method, watch() as an async iterator,
and the sync client's watch() iterator."""

import asyncio

import pytest

from helpers import new_id
from resumable_client import AlreadyExists, AsyncClient, Client, InvalidArgument, NotFound, Unavailable


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def test_every_method_of_the_async_client(server):
    async def scenario():
        async with AsyncClient(server) as client:
            run_id = new_id("aio")
            failed = await client.start("research", input={"topic": "agents"}, workflow_id=run_id)
            assert (failed.status, failed.current_step) == ("FAILED", "draft")
            with pytest.raises(AlreadyExists):
                await client.start("research", workflow_id=run_id)
            resumed = await client.resume(run_id)
            assert resumed.status == "COMPLETED" and resumed.saved_by_resume_usd == pytest.approx(0.20)
            state = await client.get_state(run_id, include_artifacts=True, include_history=True)
            assert set(state.artifacts) == {"search", "extract", "draft", "verify"}

            gated = new_id("aio-gated")
            waiting = await client.start("gated", workflow_id=gated)
            assert waiting.status == "AWAITING_APPROVAL"
            assert (await client.approve(gated, note="fine")).status == "COMPLETED"

            slow = new_id("aio-slow")
            assert (await client.start("slow", workflow_id=slow, wait=False)).status == "RUNNING"
            assert (await client.cancel(slow, reason="enough")).status == "CANCELLED"
            runs, _cursor = await client.list(status="CANCELLED", limit=1000)
            assert slow in [r.workflow_id for r in runs]

            name = new_id("aio-coded")
            assert await client.register_workflow(name, [{"name": "a", "plugin": "echo", "inputs": ["input"]}]) == {
                "name": name, "version": 1, "changed": True}
            assert (await client.register_workflows([{"name": name, "steps": [
                {"name": "a", "plugin": "echo", "inputs": ["input"]}]}]))[0]["changed"] is False
            assert (await client.health())["status"] == "SERVING"
            assert isinstance(await client.list_workers(), list)
            with pytest.raises(NotFound):
                await client.get_state("no-such-run")
            with pytest.raises(InvalidArgument):
                await client.register_workflow("broken", [{"name": "a", "plugin": "nope"}])

    run(scenario())


def test_async_calls_run_concurrently_on_one_connection(server):
    async def scenario():
        async with AsyncClient(server) as client:
            ids = [new_id("aio-many") for _ in range(20)]
            states = await asyncio.gather(*(client.start("echo", input=i, workflow_id=run_id)
                                            for i, run_id in enumerate(ids)))
            assert [s.workflow_id for s in states] == ids
            assert [(await client.get_state(r, include_artifacts=True)).artifact("first") for r in ids] == [
                {"input": i} for i in range(20)]

    run(scenario())


def test_async_watch_follows_a_run_to_its_end(server):
    async def scenario():
        async with AsyncClient(server) as client:
            run_id = new_id("aio-watch")
            await client.start("slow", workflow_id=run_id, wait=False)
            updates = [update async for update in client.watch(run_id)]
        return updates

    updates = run(scenario())
    assert updates[0].state is not None and updates[0].event is None
    assert updates[-1].state.status == "COMPLETED"
    assert "step_committed" in [u.event.type for u in updates if u.event]


def test_sync_watch_is_an_iterator(server):
    run_id = new_id("watch")
    with Client(server) as client:
        client.start("slow", workflow_id=run_id, wait=False)
        with client.watch(run_id) as stream:
            updates = list(stream)
        assert client.health()["status"] == "SERVING"  # the client's own connection is untouched
    assert updates[0].state.workflow_id == run_id
    assert updates[-1].state.status == "COMPLETED"
    assert "step_committed" in [u.event.type for u in updates if u.event]


def test_an_unreachable_server_is_unavailable_to_the_async_client(tmp_path):
    with pytest.raises(Unavailable) as raised:
        run(AsyncClient(str(tmp_path / "nobody.sock")).health())
    assert "resumable serve" in raised.value.message
