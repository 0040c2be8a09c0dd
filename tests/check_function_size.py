#!/usr/bin/env python3
"""Fails when a function body in the named folders is longer than a limit (80 lines by default).

A function is counted from the line that opens its body to the line that closes it, lambdas and local
classes included. Namespace and extern "C" blocks are transparent; functions defined inside a class body
are counted one by one. The scan strips comments, string and character literals first, so a brace in a
string does not count.

  check_function_size.py [--max N] SOURCE_DIR FOLDER...   exit 1 and one line per long function
  check_function_size.py --self-test                      check the checker on made-up sources
"""
import os
import re
import sys

SOURCE_EXT = (".h", ".hpp", ".cc", ".cpp")
TOKEN = re.compile(r'^[ \t]*#(?:\\\n|[^\n])*|//[^\n]*|/\*.*?\*/|R"([^(]*)\(.*?\)\1"|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S | re.M)
TRANSPARENT = re.compile(r'^\s*(?:inline\s+)?(?:namespace\b[^{;]*|extern\s+"C"\s*)$')
AGGREGATE = re.compile(r'(?:^|[\s>])(?:struct|class|union|enum)\b[^()]*$')


def strip(text):
    """Replaces preprocessor lines, comments and literals by spaces, keeping line breaks, so line numbers stay right."""
    return TOKEN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def functions(text):
    """Yields (name, first_line, line_count) for each function body in the source text."""
    code = strip(text)
    # stack of (kind, start offset, head text); kind is 'ns', 'agg', 'fn' or 'blk'
    stack = []
    head_start = 0
    for i, c in enumerate(code):
        if c in ";":
            if not stack or stack[-1][0] in ("ns", "agg"):
                head_start = i + 1
        elif c == "{":
            head = code[head_start:i]
            inside_fn = any(k == "fn" for k, _, _ in stack)
            if inside_fn:
                kind = "blk"
            elif TRANSPARENT.match(head.strip().replace("\n", " ")):
                kind = "ns"
            elif AGGREGATE.search(head.replace("\n", " ")):
                kind = "agg"
            elif ")" in head and not re.search(r"=\s*$", head):
                kind = "fn"
            else:
                kind = "blk"
            stack.append((kind, i, head))
            head_start = i + 1
        elif c == "}":
            if not stack:
                continue
            kind, start, head = stack.pop()
            if kind == "fn":
                first = code.count("\n", 0, start) + 1
                last = code.count("\n", 0, i) + 1
                name = head.strip().split("(")[0].split()[-1] if "(" in head else "?"
                yield name, first, last - first + 1
            if not stack or stack[-1][0] in ("ns", "agg"):
                head_start = i + 1


def check(source_dir, folders, limit):
    bad = []
    for folder in folders:
        for root, _, files in os.walk(os.path.join(source_dir, folder)):
            for f in sorted(files):
                if not f.endswith(SOURCE_EXT):
                    continue
                path = os.path.join(root, f)
                rel = os.path.relpath(path, source_dir)
                for name, line, count in functions(open(path, encoding="utf-8").read()):
                    if count > limit:
                        bad.append(f"{rel}:{line}: {name} is {count} lines (limit {limit})")
    return bad


def self_test():
    src = '''
#include <string>
#define BRACE {
namespace a {
int short_fn(int x) {
  return x;
}
struct S {
  int member() const {
    const char* s = "}}}{";
    return 1;
  }
};
int long_fn() {
  auto l = [] {
''' + "    ;\n" * 90 + '''  };
  return 0;
}
}  // namespace a
'''
    got = {name: n for name, _, n in functions(src)}
    assert got.get("short_fn") == 3, got
    assert got.get("member") == 4, got
    assert got.get("long_fn", 0) > 90, got
    assert len(got) == 3, got
    print("self-test passed")


def main(argv):
    if argv[1:] == ["--self-test"]:
        self_test()
        return 0
    args = argv[1:]
    limit = 80
    if len(args) >= 2 and args[0] == "--max":
        limit = int(args[1])
        args = args[2:]
    if len(args) < 2:
        print(__doc__)
        return 2
    bad = check(args[0], args[1:], limit)
    for line in bad:
        print(line)
    if bad:
        print(f"{len(bad)} function(s) over {limit} lines")
        return 1
    print(f"no function over {limit} lines in {' '.join(args[1:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
