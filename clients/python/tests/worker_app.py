"""A worker process for the tests: `python tests/worker_app.py --socket S --record FILE
--serve TASK:KIND ...`. Each task appends what it saw, one JSON line per event, to FILE, so a
test can tell which process ran which attempt with which keys, even after a SIGKILL.

Kinds:
  quick        returns {"task", "attempt", "pid", "inputs"} at once
  sleep        sleeps 2 s (a plain function; heartbeats are the SDK's), then as quick
  hang         blocks until the attempt is cancelled (60 s at most), then as quick
  slot         an async def that holds its slot 0.4 s, recording when it starts and ends
  cancellable  loops until ctx.cancelled, records that it saw it, returns {"late": true}
  deferred     a plain function that returns a coroutine (awaited on the event loop), then as quick
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import time

from resumable_client import Worker


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--serve", action="append", required=True, help="TASK:KIND")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--name", default=None)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")

    def record(event, ctx, **more):
        line = json.dumps(dict(event=event, task=ctx.task, step=ctx.step, attempt=ctx.attempt, step_key=ctx.step_key,
                               idempotency_key=ctx.idempotency_key, workflow_id=ctx.workflow_id, pid=os.getpid(),
                               t=time.time(), **more))
        descriptor = os.open(arguments.record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, (line + "\n").encode())  # one write: lines of concurrent tasks never mix
        finally:
            os.close(descriptor)

    def outcome(ctx, inputs):
        return {"task": ctx.task, "attempt": ctx.attempt, "pid": os.getpid(), "inputs": inputs}

    def quick(ctx, inputs):
        record("ran", ctx)
        return outcome(ctx, inputs)

    def sleep(ctx, inputs):
        record("started", ctx)
        time.sleep(2)
        record("ran", ctx)
        return outcome(ctx, inputs)

    def hang(ctx, inputs):
        record("started", ctx)
        ctx.wait_cancelled(60)
        return outcome(ctx, inputs)

    async def slot(ctx, inputs):
        record("started", ctx, clock=time.monotonic())
        await asyncio.sleep(0.4)
        record("ended", ctx, clock=time.monotonic())
        return outcome(ctx, inputs)

    def cancellable(ctx, inputs):
        record("started", ctx)
        deadline = time.monotonic() + 60
        while not ctx.cancelled and time.monotonic() < deadline:
            time.sleep(0.02)
        record("saw-cancel" if ctx.cancelled else "no-cancel", ctx, reason=ctx.cancel_reason)
        return {"late": True}

    def deferred(ctx, inputs):
        async def later():
            await asyncio.sleep(0.01)
            record("ran", ctx)
            return outcome(ctx, inputs)
        return later()

    kinds = {"quick": quick, "sleep": sleep, "hang": hang, "slot": slot, "cancellable": cancellable,
             "deferred": deferred}
    worker = Worker(arguments.socket, concurrency=arguments.concurrency, name=arguments.name,
                    reconnect_backoff=(0.05, 0.5))
    for spec in arguments.serve:
        task, kind = spec.rsplit(":", 1)
        worker.step(task)(kinds[kind])
    worker.run()


if __name__ == "__main__":
    main()
