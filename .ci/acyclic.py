#!/usr/bin/env python3
"""Fails when two source files of the crate depend on each other, directly or through others.

Each file under src/ is one module. A module depends on another when its code (not its
comments, not its `#[cfg(test)] mod tests`) names a path into it: `use crate::…`, `use
super::…`, `self::…`, or an inline `crate::…` path. A folder's `mod.rs` re-exporting its own
children (`pub use child::Item`) is the folder's structure, not a dependency, and is not an
edge. Prints each cycle and exits 1; prints the module count and exits 0 otherwise.

    python3 .ci/acyclic.py            # from the repository root
"""
import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def module_of(path: Path) -> tuple:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


MODULES = {module_of(p): p for p in SRC.rglob("*.rs")}


def strip(text: str) -> str:
    """Code only: no test module, no comments, no string literals."""
    text = re.split(r"#\[cfg\(test\)\]\s*(?:pub(?:\([a-z]+\))?\s+)?mod tests\b", text)[0]
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def expand(tree: str) -> list:
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    tree = tree.strip()
    depth, brace = 0, None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                brace = i
            depth += 1
        elif ch == "}":
            depth -= 1
    if brace is None:
        return [tree.split(" as ")[0].strip()]
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rindex("}")]
    items, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(inner[start:i])
            start = i + 1
    items.append(inner[start:])
    out = []
    for item in items:
        if item.strip():
            out += [prefix + p for p in expand(item)]
    return out


def resolve(module: tuple, path: str, is_mod_file: bool):
    segs = [s for s in path.split("::") if s]
    if not segs:
        return None
    # The directory a relative path starts from: a mod.rs file is its folder's module.
    here = list(module)
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    elif segs[0] in ("self", "super"):
        base = list(here)
        while segs and segs[0] in ("self", "super"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    else:
        return None
    full = base + segs
    for i in range(len(full), -1, -1):
        if tuple(full[:i]) in MODULES:
            return tuple(full[:i])
    return None


def edges():
    graph = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        is_mod_file = path.name in ("mod.rs", "lib.rs")
        code = strip(path.read_text())
        for vis, tree in re.findall(r"\b(pub(?:\([a-z]+\))?\s+)?use\s+((?:crate|self|super)\b[^;]*);", code):
            for used in expand(tree):
                target = resolve(module, used, is_mod_file)
                if target is None or target == module:
                    continue
                # A folder re-exporting its own children is its structure.
                if vis and is_mod_file and target[: len(module)] == module:
                    continue
                graph[module].add(target)
        code_wo_uses = re.sub(r"\buse\s+[^;]*;", " ", code)
        for used in re.findall(r"\b(?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+", code_wo_uses):
            target = resolve(module, used, is_mod_file)
            if target is not None and target != module:
                graph[module].add(target)
    return graph


def cycles(graph):
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def name(m):
    return "::".join(m) or "crate"


def main():
    graph = edges()
    found = cycles(graph)
    for comp in found:
        members = set(comp)
        print("import cycle between files:", ", ".join(name(m) for m in comp))
        for m in comp:
            into = sorted(name(t) for t in graph[m] if t in members)
            print(f"    {name(m)} -> {', '.join(into)}")
    if found:
        sys.exit(1)
    print(f"{len(graph)} modules, no import cycle")


if __name__ == "__main__":
    main()
