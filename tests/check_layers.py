#!/usr/bin/env python3
"""Fails when a source file includes a header from a layer above its own.

The layers and what each may include are read from the ```layers block of host/ARCHITECTURE.md, so the
document and the check cannot disagree. A folder may include its own files, the folders its line names
and, transitively, whatever those may include. Every C/C++ file under the listed roots must belong to a
layer, and every include of one of our headers must name a layer: a new folder has to be placed first.

  check_layers.py SOURCE_DIR     check the tree (exit 1 and one line per bad or missing include)
  check_layers.py --self-test    check the checker on a small made-up tree
"""
import os
import re
import sys
import tempfile

ROOTS = ("graph", "backend", "host", "cl_kernels", "tools", "tests", "bench")
GENERATED = ("cl_kernels/",)  # headers made in the build tree (the kernel registry)
SOURCE_EXT = (".h", ".hpp", ".c", ".cc", ".cpp")
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]')


def read_layers(doc_path):
    """Returns {layer: set of layers it names}; '*' stands for every layer."""
    text = open(doc_path, encoding="utf-8").read()
    m = re.search(r"^```layers\n(.*?)^```", text, re.S | re.M)
    if not m:
        raise SystemExit(f"{doc_path}: no ```layers block")
    layers = {}
    for n, line in enumerate(m.group(1).splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        names, sep, deps = line.partition(":")
        if not sep:
            raise SystemExit(f"{doc_path}: layers line {n}: expected 'folder: folders it may include'")
        for name in names.split():
            layers[name] = set(d for d in deps.split() if d != "-")
    for name, deps in layers.items():
        for d in deps - {"*"}:
            if d not in layers:
                raise SystemExit(f"{doc_path}: layer {name} names unknown layer {d}")
    return layers


def closure(layers):
    """Transitive closure; raises on a cycle (the table must be an order)."""
    done, reach = set(), {}

    def visit(name, stack):
        if name in stack:
            raise SystemExit("layers form a cycle: " + " -> ".join(stack[stack.index(name):] + [name]))
        if name in done:
            return reach[name]
        out = set()
        for d in layers[name]:
            out |= {"*"} if d == "*" else {d} | visit(d, stack + [name])
        done.add(name)
        reach[name] = out
        return out

    for name in layers:
        visit(name, [])
    return reach


def layer_of(path, layers):
    """The longest layer name that is a folder prefix of path (repo-relative, '/' separated)."""
    best = None
    for name in layers:
        if path == name or path.startswith(name + "/"):
            if best is None or len(name) > len(best):
                best = name
    return best


def include_target(inc):
    """Repo-relative path of an include of ours, or None for a system or third-party header."""
    if inc.startswith("bluecl/"):
        return "host/include/" + inc  # the installed C header, found through host/include
    if inc.split("/", 1)[0] in ROOTS and "/" in inc:
        return inc
    return None


def check(src_dir, layers):
    reach = closure(layers)
    problems = []
    for root in ROOTS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(src_dir, root)):
            dirnames[:] = sorted(d for d in dirnames if d != "data")
            for fname in sorted(filenames):
                if not fname.endswith(SOURCE_EXT):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, fname), src_dir).replace(os.sep, "/")
                src = layer_of(rel, layers)
                if src is None:
                    problems.append(f"{rel}: its folder is in no layer of host/ARCHITECTURE.md")
                    continue
                with open(os.path.join(src_dir, rel), encoding="utf-8", errors="replace") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        target = include_target(m.group(1)) if m else None
                        if target is None:
                            continue
                        dst = layer_of(target, layers)
                        if not target.startswith(GENERATED) and not os.path.isfile(os.path.join(src_dir, target)):
                            problems.append(f"{rel}:{n}: includes {m.group(1)}, which does not exist (moved?)")
                        elif dst is None:
                            problems.append(f"{rel}:{n}: includes {m.group(1)}, which is in no layer")
                        elif dst != src and dst not in reach[src] and "*" not in reach[src]:
                            allowed = " ".join(sorted(reach[src])) or "nothing"
                            problems.append(f"{rel}:{n}: {src} includes {m.group(1)} from {dst}, a layer it "
                                            f"may not use (it may include: {allowed})")
    return problems


def self_test():
    layers = {"graph/base": set(), "graph": {"graph/base"}, "host/low": {"graph"}, "host/high": {"host/low"},
              "tests": {"*"}}
    files = {
        "graph/base/error.h": "",
        "graph/graph.h": '#include "graph/base/error.h"\n',
        "host/low/a.h": '#include "graph/graph.h"\n#include <vector>\n',
        "host/high/b.cpp": '#include "host/low/a.h"\n#include "graph/base/error.h"\n',  # transitive: fine
        "tests/t.cpp": '#include "host/high/b.cpp"\n',
    }
    bad = {
        "graph/up.h": '#include "host/low/a.h"\n',              # graph reaching into host
        "host/low/up.cpp": '#include "host/high/b.h"\n',         # a sibling layer above
        "host/stray/c.cpp": "",                                  # a folder in no layer
        "host/low/odd.cpp": '#include "host/nowhere/x.h"\n',     # an include in no layer
        "host/low/gone.cpp": '#include "graph/error.h"\n',        # a header that moved away
    }
    with tempfile.TemporaryDirectory() as d:
        for rel, text in {**files, **bad}.items():
            os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as f:
                f.write(text)
        problems = check(d, layers)
    flagged = {p.split(":", 1)[0] for p in problems}
    ok = flagged == set(bad) and len(problems) == len(bad)
    cyclic = {"a": {"b"}, "b": {"a"}}
    try:
        closure(cyclic)
        ok = False
        print("self-test: a cycle in the table was not reported")
    except SystemExit:
        pass
    if flagged != set(bad):
        print("self-test: expected problems in", sorted(bad), "got", problems)
    return 0 if ok else 1


def main(argv):
    if argv[1:] == ["--self-test"]:
        rc = self_test()
        print("self-test", "passed" if rc == 0 else "FAILED")
        return rc
    if len(argv) != 2:
        print(__doc__)
        return 2
    src_dir = argv[1]
    layers = read_layers(os.path.join(src_dir, "host", "ARCHITECTURE.md"))
    problems = check(src_dir, layers)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include(s) against the layer order in host/ARCHITECTURE.md")
        return 1
    print(f"includes follow the {len(layers)} layers of host/ARCHITECTURE.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
