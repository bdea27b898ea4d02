#!/usr/bin/env python3
"""Fails when a module imports a module listed after it in Package.swift's header.

The header ("Layers, dependencies pointing one way") lists every module of
Sources/, lowest first. A module may import only modules listed before it: the
check reads each target's `import` lines (any access level) and each target's
dependencies in Package.swift. Run by `make test` (through `make layers`).
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
package = (root / "Package.swift").read_text()
header = package[package.index("// Layers"):package.index("let swiftSettings")]
sources = root / "Sources"
modules = sorted(p.name for p in sources.iterdir() if p.is_dir())

order = []
for line in header.splitlines():
    for name in re.findall(r"\b([A-Z][A-Za-z]+|resumable)\b", line.lstrip("/ ")):
        if name in modules and name not in order:
            order.append(name)
problems = [f"Package.swift's header does not list {m}" for m in modules if m not in order]
rank = {m: i for i, m in enumerate(order)}

for module in modules:
    if module not in rank:
        continue
    for file in sorted((sources / module).rglob("*.swift")):
        for number, line in enumerate(file.read_text().splitlines(), 1):
            match = re.match(r"\s*(?:@\w+\s+)*(?:public |package |internal |private |fileprivate )?import (\w+)", line)
            if match and match.group(1) in rank and rank[match.group(1)] > rank[module]:
                problems.append(
                    f"{file.relative_to(root)}:{number}: {module} imports {match.group(1)}, "
                    "which Package.swift's header lists above it")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"layers: {len(order)} modules, every import points down")
