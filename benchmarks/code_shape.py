"""How the code is shaped: the longest functions and modules, the widest handlers.

    python benchmarks/code_shape.py            # the figures, worst first
    python benchmarks/code_shape.py --check    # exit 1 when a limit below is broken

A function's length is its whole extent in lines (decorators and docstring included); a
handler's width is its number of parameters (gr.Request included). The limits are the
project's (issue "One piece of code per idea"): a newcomer reads any function of the core in
one screen, and no handler's inputs are matched by eye against a list far away.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMITS = {
    "function lines in cnnzoo/": 60,
    "parameters of a function in ui/": 12,
    "lines of a module in ui/": 500,
    "lines of a module in cnnzoo/": 600,
}


def python_files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def functions(path: Path):
    """(qualified name, lines, parameters) of every function and method in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                args = child.args
                count = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
                count += bool(args.vararg) + bool(args.kwarg)
                yield f"{prefix}{child.name}", child.end_lineno - start + 1, count
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")

    yield from walk(tree, "")


def measure() -> dict[str, list[tuple[int, str]]]:
    """For each limit, (value, where) pairs, largest first."""
    core = [(lines, f"{p.relative_to(ROOT)}:{name}") for p in python_files("cnnzoo")
            for name, lines, _ in functions(p)]
    ui = [(params, f"{p.relative_to(ROOT)}:{name}") for p in python_files("ui")
          for name, _, params in functions(p)]

    def module_lines(folder):
        return [(len(p.read_text(encoding="utf-8").splitlines()), str(p.relative_to(ROOT)))
                for p in python_files(folder)]

    figures = {
        "function lines in cnnzoo/": core,
        "parameters of a function in ui/": ui,
        "lines of a module in ui/": module_lines("ui"),
        "lines of a module in cnnzoo/": module_lines("cnnzoo"),
    }
    return {name: sorted(values, reverse=True) for name, values in figures.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when a limit is broken")
    parser.add_argument("--top", type=int, default=3, help="how many of the largest to list")
    args = parser.parse_args(argv)
    broken = 0
    for name, values in measure().items():
        limit = LIMITS[name]
        over = [v for v in values if v[0] > limit]
        broken += len(over)
        print(f"{name}: largest {values[0][0]} (limit {limit}; {len(over)} over)")
        for value, where in values[: max(args.top, len(over))]:
            print(f"    {value:5d}  {where}")
    return 1 if args.check and broken else 0


if __name__ == "__main__":
    sys.exit(main())
