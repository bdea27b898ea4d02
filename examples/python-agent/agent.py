"""The article's research agent, with its five steps as Python functions served by a worker.

    make run                  # terminal 1: the sidecar
    make example-python       # terminal 2: this script, with the SDK's virtualenv

It registers the workflow `research-agent` from code (every step `plugin: worker`), starts a
worker in this process, and starts a run. `draft` fails transiently on its first try and has
no retry left (`retry: {max_attempts: 1}`), so the run FAILS at draft. Then it resumes the
run: draft runs again, verify runs, and search, extract and outline do not run again; the
ledger shows what the resume saved. The "LLM" is a deterministic stand-in (no network) that
reports tokens and cost.
"""

import argparse
import hashlib
import os
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path

try:
    import resumable_client  # noqa: F401 - installed (pip install ./clients/python, or make python)
except ImportError:  # run from a clone without installing: use the SDK's source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))

from resumable_client import Client, Retryable, StepResult, Unavailable, Usage, Worker

WORKFLOW = "research-agent"
STEPS = [
    {"name": "search", "plugin": "worker", "inputs": ["input"]},
    {"name": "extract", "plugin": "worker", "inputs": ["search"]},
    {"name": "outline", "plugin": "worker", "inputs": ["extract"]},
    {"name": "draft", "plugin": "worker", "inputs": ["outline"], "retry": {"max_attempts": 1}},
    {"name": "verify", "plugin": "worker", "inputs": ["draft", "extract"]},
]

# Dollars per token of the pretend model.
INPUT_PRICE = 3 / 1_000_000
OUTPUT_PRICE = 15 / 1_000_000

worker = Worker(socket_path=os.environ.get("RESUMABLE_SOCKET"), concurrency=4, name="python-agent")
calls = Counter()  # step -> how many times this process ran it
lock = threading.Lock()


def fake_llm(prompt, words):
    """A deterministic stand-in for a model: the same prompt gives the same text and usage."""
    seed = hashlib.sha256(prompt.encode()).hexdigest()
    vocabulary = ["durable", "agents", "resume", "state", "redis", "steps", "cost", "retry", "ledger", "lease"]
    text = " ".join(vocabulary[int(seed[i % 64], 16) % len(vocabulary)] for i in range(words))
    input_tokens, output_tokens = len(prompt.split()) * 4 // 3 + 200, words * 4 // 3
    usage = Usage(input_tokens, output_tokens, cost_usd=input_tokens * INPUT_PRICE + output_tokens * OUTPUT_PRICE)
    history = [{"role": "user", "content": prompt[:200]}, {"role": "assistant", "content": text[:200]}]
    return text, usage, history


def ran(ctx):
    with lock:
        calls[ctx.step] += 1
    print(f"  worker: {ctx.step:<8} attempt {ctx.attempt}  (step key {ctx.step_key})", flush=True)


@worker.step("search")
def search(ctx, inputs):
    ran(ctx)
    topic = inputs["input"]["topic"]
    text, usage, history = fake_llm(f"Find sources about {topic}", 60)
    sources = [{"title": f"{topic}, part {i + 1}", "summary": text[i * 40:(i + 1) * 40]} for i in range(3)]
    return StepResult({"topic": topic, "sources": sources}, usage=usage, history=history)


@worker.step("extract")
def extract(ctx, inputs):
    ran(ctx)
    sources = inputs["search"]["sources"]
    text, usage, history = fake_llm("Extract the facts from: " + "; ".join(s["summary"] for s in sources), 80)
    return StepResult({"facts": text.split()[:12]}, usage=usage, history=history)


@worker.step("outline")
def outline(ctx, inputs):
    ran(ctx)
    facts = inputs["extract"]["facts"]
    text, usage, history = fake_llm("Outline an article from: " + " ".join(facts), 40)
    return StepResult({"sections": [f"{i + 1}. {w}" for i, w in enumerate(text.split()[:4])]}, usage=usage,
                      history=history)


@worker.step("draft")
async def draft(ctx, inputs):  # an async step: it runs on the worker's event loop
    ran(ctx)
    sections = inputs["outline"]["sections"]
    text, usage, history = fake_llm("Draft the sections: " + ", ".join(sections), 300)
    if ctx.attempt == 1:
        # The first try in a run times out: the tokens were paid for all the same.
        raise Retryable("the model timed out (simulated transient failure)", usage=usage)
    return StepResult({"draft": text}, usage=usage, history=history)


@worker.step("verify")
def verify(ctx, inputs):
    ran(ctx)
    words = inputs["draft"]["draft"].split()
    facts = inputs["extract"]["facts"]
    text, usage, history = fake_llm("Check the draft against the facts: " + " ".join(facts), 30)
    return StepResult({"verified": True, "words": len(words), "facts_checked": len(facts)}, usage=usage,
                      history=history)


def show(state):
    for step in state.steps:
        error = f"  {step.last_error}" if step.status == "FAILED" else ""
        print(f"    {step.name:<8} {step.status:<10} attempts {step.attempts}  ${step.cost_usd:.4f}{error}")
    print(f"    run {state.status}; spent ${state.spent_usd:.4f}, saved by resume ${state.saved_by_resume_usd:.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", help="the sidecar's socket (default: $RESUMABLE_SOCKET, else the default socket)")
    parser.add_argument("--workflow-id", default=f"agent-{uuid.uuid4().hex[:8]}")
    parser.add_argument("--topic", default="durable agents")
    arguments = parser.parse_args()
    if arguments.socket:
        worker.socket_path = arguments.socket

    try:
        client = Client(arguments.socket)
    except Unavailable as error:
        sys.exit(f"{error.message}\n(start the sidecar first: `make run` in another terminal)")
    feed = threading.Thread(target=worker.run, name="worker", daemon=True)
    feed.start()
    if not worker.ready.wait(15):
        sys.exit("the worker did not register with the sidecar in 15 s")
    print(f"worker {worker.worker_id} serves {', '.join(worker.tasks)}")

    with client:
        registered = client.register_workflow(WORKFLOW, STEPS)
        print(f"registered {WORKFLOW} (version {registered['version']})")

        run_id = arguments.workflow_id
        print(f"\n1. start {run_id}: draft fails on its first try, with no retry left")
        state = client.start(WORKFLOW, input={"topic": arguments.topic}, workflow_id=run_id)
        show(state)
        first = Counter(calls)

        print(f"\n2. resume {run_id}: it continues at {state.current_step}")
        state = client.resume(run_id)
        show(state)
        again = {step: calls[step] - first[step] for step in calls if calls[step] - first[step]}

        print(f"\nfirst run ran: {', '.join(first)}; the resume ran: {', '.join(again)}")
        final = client.get_state(run_id, include_artifacts=True)
        print(f"verify says: {final.artifact('verify')}")
        print(f"tokens: {final.input_tokens} in, {final.output_tokens} out; "
              f"spent ${final.spent_usd:.4f}; saved by resume ${final.saved_by_resume_usd:.4f}")
    worker.stop()
    feed.join(15)
    ok = state.status == "COMPLETED" and set(again) == {"draft", "verify"}
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
