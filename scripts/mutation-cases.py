#!/usr/bin/env python3
"""mutation-cases.py PKGDIR: the mutants gremlins leaves NOT COVERED in the
conditions of switch case clauses, run by hand.

Go's coverage profile has no block for a case clause's expression, so
gremlins (v0.6.0) reports every mutant there as NOT COVERED however often
the tests run it. This script reads gremlins' lines on stdin, and for each
conditional, arithmetic or negation mutant on a line that starts with
"case", applies the mutation in a copy of the tree, runs the package's
tests, and prints the line again as KILLED or LIVED, marked "(case)".
Other lines are printed unchanged, and all of them if the package's tests
fail in the copy unmutated.
"""
import os
import re
import subprocess
import sys
import tempfile

NEG = {"==": "!=", "!=": "==", ">=": "<", "<": ">=", ">": "<=", "<=": ">"}
BND = {">": ">=", ">=": ">", "<": "<=", "<=": "<"}
ARITH = {"+": "-", "-": "+", "*": "/", "/": "*", "%": "*"}
TABLES = {"CONDITIONALS_NEGATION": NEG, "CONDITIONALS_BOUNDARY": BND, "ARITHMETIC_BASE": ARITH, "INVERT_NEGATIVES": {"-": "+"}}


def main():
    pkg = sys.argv[1].removeprefix("./")
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory(prefix="cnlab-cases-") as work:
        subprocess.run(f"tar -C {top} --exclude=./build --exclude=./.git --exclude=./.cache -cf - . | tar -C {work} -xf -",
                       shell=True, check=True)
        if os.path.isdir(os.path.join(top, ".cache")):
            os.symlink(os.path.join(top, ".cache"), os.path.join(work, ".cache"))  # the kernel's KTAP parser
        test = ["go", "test", "-count=1", "-timeout", "2m", "./" + pkg + "/"]
        baseline = subprocess.run(test, cwd=work, capture_output=True, text=True).returncode == 0
        for line in sys.stdin:
            m = re.search(r"NOT COVERED (CONDITIONALS_NEGATION|CONDITIONALS_BOUNDARY|ARITHMETIC_BASE|INVERT_NEGATIVES) at (\S+):(\d+):(\d+)", line)
            if not m:
                print(line, end="")
                continue
            mut, f, ln, col = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
            path = os.path.join(work, pkg, f)
            orig = open(path).read()
            lines = orig.split("\n")
            src, i = lines[ln - 1], col - 1
            table = TABLES[mut]
            op = src[i:i + 2] if src[i:i + 2] in table else src[i]
            if not baseline or not src.lstrip().startswith("case") or op not in table:
                print(line, end="")
                continue
            lines[ln - 1] = src[:i] + table[op] + src[i + len(op):]
            open(path, "w").write("\n".join(lines))
            try:
                r = subprocess.run(test, cwd=work, capture_output=True, text=True)
            finally:
                open(path, "w").write(orig)
            status = "KILLED" if r.returncode else "LIVED"
            print(f"{status:>12} {mut} at {f}:{ln}:{col} (case: {op} -> {table[op]})")


if __name__ == "__main__":
    main()
