#!/usr/bin/env python3
"""No cycle between the library's top-level modules.

Reads src/*.rs and src/*/ (not src/bin), takes every `crate::NAME` a
module's code names (comments and doc links left out: they are not
imports), and fails with the cycle if two modules reach each other.
Prints the layers, bottom first, when there is none.

    python3 targets/layers.py [SRC_DIR]
"""
import re
import sys
from pathlib import Path

src = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "src")
skip = {"lib", "main", "bin"}


def code_of(text):
    """The text without comments (line, block and doc comments)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


modules = {}
for path in sorted(src.iterdir()):
    name = path.stem if path.suffix == ".rs" else path.name
    if name in skip or (path.is_file() and path.suffix != ".rs"):
        continue
    files = [path] if path.is_file() else sorted(path.rglob("*.rs"))
    deps = modules.setdefault(name, set())
    for f in files:
        code = code_of(f.read_text())
        for group in re.findall(r"crate::\{([^}]*)\}", code):
            deps.update(re.findall(r"\b([a-z_][a-z0-9_]*)\s*(?:::|,|$)", group.strip()))
        deps.update(re.findall(r"crate::([a-z_][a-z0-9_]*)", code))
for name, deps in modules.items():
    deps &= set(modules)
    deps.discard(name)

# Tarjan's strongly connected components: any with two or more modules is
# a cycle.
index, low, stack, on_stack, sccs = {}, {}, [], set(), []


def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in sorted(modules[v]):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        scc = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            scc.append(w)
            if w == v:
                break
        sccs.append(sorted(scc))


for v in sorted(modules):
    if v not in index:
        visit(v)

cycles = [s for s in sccs if len(s) > 1]
if cycles:
    for s in cycles:
        print("layers: these modules import each other in a cycle:", ", ".join(s))
        for m in s:
            print(f"  {m} -> {', '.join(sorted(modules[m] & set(s)))}")
    sys.exit(1)

# Layers: each module one above the highest module it imports.
level = {}
for scc in sccs:  # Tarjan emits a component after everything it reaches
    m = scc[0]
    level[m] = 1 + max((level[d] for d in modules[m]), default=-1)
for n in range(max(level.values()) + 1):
    print(f"layer {n}: {' '.join(sorted(m for m in level if level[m] == n))}")
print(f"layers: no cycle between {len(modules)} top-level modules")
