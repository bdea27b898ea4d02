#!/usr/bin/env python3
"""Writes the seed corpus in Fuzz/corpus (committed; run again after a protocol change).

Each file is one fuzz input; the first byte is the target's selector (see each main.swift).
"""
import os, struct

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def field(number, value):
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(number << 3 | 2) + varint(len(value)) + value

def message(*fields):
    return b"".join(field(n, v) for n, v in fields)

def write(target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    with open(os.path.join(root, target, name), "wb") as f:
        f.write(data)

start = message((1, "research"), (2, "run-1"), (3, '{"topic":"agents"}'), (4, True), (5, 1))
resume = message((1, "run-1"), (2, True))
get = message((1, "run-1"), (2, True))
usage = message((1, 1200), (2, 300), (3, 100000))
step = message((1, "search"), (2, "simulate"), (3, 3), (4, 1), (5, usage), (6, "boom"), (7, True))
state = message((1, "run-1"), (2, "research"), (3, 3), (4, "draft"), (5, 3), (6, step), (6, step),
                (7, message((1, "search"), (2, b'{"a":1}'))), (8, message((1, 600000), (2, 300000))))
envelopes = [
    message((1, 1), (2, "StartWorkflow"), (3, start), (6, 30000)),
    message((1, 2), (2, "ResumeWorkflow"), (3, resume)),
    message((1, 3), (2, "GetState"), (3, get)),
    message((1, 4), (2, "GetState"), (3, message((1, "run-1"))), (4, 5), (5, "no run"), (7, True)),
    b"",
]
frames = b"".join(struct.pack(">I", len(e)) + e for e in envelopes)
for chunk in (0, 3, 255):
    write("FuzzFrames", f"pipelined-chunk{chunk}", bytes([chunk]) + frames)
write("FuzzFrames", "oversized-prefix", bytes([7]) + struct.pack(">I", 1 << 31) + b"xx")
write("FuzzFrames", "truncated", bytes([1]) + struct.pack(">I", 10) + b"abc")

for selector, body in [(0, envelopes[0]), (0, envelopes[3]), (1, start), (2, message((1, state), (2, True))),
                       (3, resume), (4, message((1, state))), (5, get), (6, message((1, state))), (7, state),
                       (8, step), (9, message((1, "search"), (2, b"{}"))), (10, message((1, 1), (2, 2), (3, 3), (4, 4))),
                       (11, usage)]:
    write("FuzzMessages", f"selector{selector}-{len(body)}", bytes([selector]) + body)

examples = os.path.join(os.path.dirname(root), "..", "examples", "workflows.yaml")
with open(examples, "rb") as f:
    write("FuzzDefinitions", "examples-yaml", b"\x01" + f.read())
write("FuzzDefinitions", "json-definitions", b"\x01" + b'{"workflows":[{"name":"w","steps":[{"name":"a","plugin":"echo","inputs":["input"]},{"name":"b","plugin":"simulate","inputs":["a"],"config":{"latency_ms":1,"cost_usd":0.1},"retry":{"max_attempts":2},"timeout_ms":100}]}]}')
write("FuzzDefinitions", "bad-input-reference", b"\x01workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo, inputs: [b]}\n      - {name: b, plugin: echo}\n")
write("FuzzDefinitions", "json-input", b"\x00" + b'{"topic":"agents","n":[1,2.5,-3e10,true,false,null],"s":"\\u00e9\\n"}')
write("FuzzDefinitions", "json-deep", b"\x00" + b"[" * 64 + b"]" * 64)
