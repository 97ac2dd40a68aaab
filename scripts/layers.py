#!/usr/bin/env python3
"""Checks the layering of src/ (docs/architecture.md): no two modules import each other,
directly or through others, and imports run downward only. Reads `crate::`, `super::`
and `self::` paths outside test modules; prints every violation and exits 1 if any."""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
# Layers by the top-level module they live in; a module may import only lower ranks.
RANK = {"client": 3, "http": 3, "service": 2, "domain": 0, "store": 1, "crypto": 0, "plugins": 1,
        "template_worker": 1}
# Lower layers that must not see each other.
FORBIDDEN = {("domain", "store"), ("domain", "crypto"), ("domain", "plugins"),
             ("store", "crypto"), ("store", "plugins"), ("crypto", "domain"),
             ("template_worker", "store"), ("template_worker", "crypto"), ("template_worker", "plugins"),
             ("store", "template_worker"), ("plugins", "template_worker"), ("crypto", "template_worker"),
             ("client", "template_worker"),
             ("crypto", "store"), ("plugins", "store"), ("plugins", "crypto"),
             # The client speaks to a server over HTTP only.
             ("client", "service"), ("client", "store"), ("client", "crypto"),
             ("client", "plugins"), ("client", "http")}


def modules():
    found = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
            if parts[-1] == "mod":
                parts = parts[:-1]
            if parts in (["lib"], ["main"]) or parts[0] == "bin":
                continue
            with open(path, encoding="utf-8") as f:
                found["::".join(parts)] = f.read().split("#[cfg(test)]")[0]
    return found


def target(mods, current, path):
    segs = path.split("::")
    base = current.split("::")
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    elif segs[0] == "super":
        base, segs = base[:-1], segs[1:]
        while segs and segs[0] == "super":
            base, segs = base[:-1], segs[1:]
    elif segs[0] == "self":
        segs = segs[1:]
    full = base + segs
    for i in range(len(full), 0, -1):
        name = "::".join(full[:i])
        if name in mods:
            return name
    return None


def edges(mods):
    out = {m: set() for m in mods}
    for m, src in mods.items():
        for found in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", src):
            t = target(mods, m, found.group(1))
            if t and t != m and not m.startswith(t + "::") and not t.startswith(m + "::"):
                out[m].add(t)
    return out


def cycles(graph):
    index, low, stack, on, result, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return result


def main():
    mods = modules()
    graph = edges(mods)
    problems = [f"import cycle: {' <-> '.join(c)}" for c in cycles(graph)]
    for m, targets in sorted(graph.items()):
        for t in sorted(targets):
            a, b = m.split("::")[0], t.split("::")[0]
            if a in RANK and b in RANK and a != b:
                if RANK[b] > RANK[a] or (a, b) in FORBIDDEN:
                    problems.append(f"upward or sideways import: {m} -> {t}")
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f"layers: {len(mods)} modules, no cycles, imports run downward")


if __name__ == "__main__":
    main()
