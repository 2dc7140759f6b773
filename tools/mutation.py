"""Mutation testing of the Module 11 (embeddings) integration points, with mutmut 3.

    python tools/mutation.py                      # tests/11_embeddings, the whole folder
    python tools/mutation.py --suite integration  # the two integration files alone
    python tools/mutation.py --only 'tinytorch.text.bpe.*'   # a part of the scope, while working
    python tools/mutation.py --survivors         # after adding tests: re-check the survivors

mutmut rewrites every function in scope into many one-line variants ("mutants") and runs, for
each, the tests that call that function; a mutant that no test notices "survives". The run
happens in a copy of the repository (the files git lists, tracked or new, not ignored) under
build/mutation/<suite>/, so the checkout is never touched and mutated source can never be
committed. The command prints the kill ratio and every survivor with its file, line and diff.

`SCOPE` below is the one list to update when files move (and `EXCLUDE` the one list of what
is left out inside them, with the reason).
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# The code under test: what a token id meets on its way to a vector, through positions and
# attention, and what its gradient meets on the way back into the table. A path mutates the
# whole file; `path::Name` only that class or function; `path::Class.method` only that method.
SCOPE = [
    "tinytorch/text/embeddings.py",
    "tinytorch/text/lookup.py",
    "tinytorch/text/positions.py",
    "tinytorch/text/tokenizer_base.py",
    "tinytorch/text/char_tokenizer.py",
    "tinytorch/text/bpe.py",
    # The id tables every BPE tokenizer encodes with (trained here or read from a file).
    # split_patterns.py is not listed: its patterns are data (mutmut mutates functions only),
    # and its one function names the regex of another library's file.
    "tinytorch/text/bpe_ids.py",
    "tinytorch/core/attention.py",
    "tinytorch/core/scaled_dot_product.py",
    "tinytorch/core/kv_cache.py",
    "tinytorch/core/autograd.py",
    "tinytorch/core/sparse.py",
    # The argument checks of the embedding, positions and attention (ids, sizes, offsets,
    # dropout, scale).
    "tinytorch/core/checks.py",
    # Of the ops, only those an embedding's output and gradient pass through (positions are
    # added, tokens scaled, attention splits and merges heads, the KV cache joins keys). The
    # q/k/v projections are `LinearFunction` in core/layers.py, which is not in scope.
    "tinytorch/core/casting.py::promote",
    "tinytorch/core/casting.py::_lift",
    "tinytorch/core/casting.py::operands",
    "tinytorch/core/casting.py::cast",
    "tinytorch/core/arithmetic.py::Add",
    "tinytorch/core/arithmetic.py::add",
    "tinytorch/core/arithmetic.py::Mul",
    "tinytorch/core/arithmetic.py::mul",
    "tinytorch/core/shape_ops.py::Reshape",
    "tinytorch/core/shape_ops.py::reshape",
    "tinytorch/core/shape_ops.py::Transpose",
    "tinytorch/core/shape_ops.py::transpose",
    "tinytorch/core/shape_ops.py::GetItem",
    "tinytorch/core/shape_ops.py::getitem",
    "tinytorch/core/shape_ops.py::is_basic_index",
    "tinytorch/core/shape_ops.py::plain_index",
    "tinytorch/core/shape_ops.py::Concatenate",
    "tinytorch/core/shape_ops.py::concatenate",
    "tinytorch/core/shape_ops.py::_promoted",
]

# Inside the files above but not an integration point: no token id, vector or gradient passes
# through them. Tokenizer files and other libraries' vocabularies are Module 10's file formats,
# tested in tests/10_tokenization and tests/reliability; reprs only print; `check_choice` only
# serves nn.init.
EXCLUDE = [
    "tinytorch/text/tokenizer_base.py::Tokenizer.save",
    "tinytorch/text/tokenizer_base.py::Tokenizer.load",
    "tinytorch/text/tokenizer_base.py::Tokenizer.from_bytes",
    "tinytorch/text/tokenizer_base.py::Tokenizer._file_version",
    "tinytorch/text/tokenizer_base.py::Tokenizer.__init_subclass__",
    "tinytorch/text/tokenizer_base.py::_reject_duplicate_keys",
    "tinytorch/text/tokenizer_base.py::read_file_bytes",
    "tinytorch/text/tokenizer_base.py::read_json_file",
    "tinytorch/text/char_tokenizer.py::CharTokenizer.save_pretrained",
    "tinytorch/text/char_tokenizer.py::CharTokenizer.from_pretrained",
    "tinytorch/text/char_tokenizer.py::CharTokenizer._to_dict",
    "tinytorch/text/char_tokenizer.py::CharTokenizer._from_dict",
    "tinytorch/text/char_tokenizer.py::CharTokenizer.__repr__",
    "tinytorch/text/char_tokenizer.py::_tokens_by_id",
    "tinytorch/text/bpe.py::BPETokenizer.from_pretrained",
    "tinytorch/text/bpe.py::BPETokenizer.from_tiktoken",
    "tinytorch/text/bpe.py::BPETokenizer._from_file",
    "tinytorch/text/bpe.py::BPETokenizer.save_pretrained",
    "tinytorch/text/bpe.py::BPETokenizer._file_version",
    "tinytorch/text/bpe.py::BPETokenizer._to_dict",
    "tinytorch/text/bpe.py::BPETokenizer._from_dict",
    "tinytorch/text/bpe.py::BPETokenizer.__repr__",
    "tinytorch/text/embeddings.py::Embedding.extra_repr",
    "tinytorch/text/embeddings.py::EmbeddingLayer.extra_repr",
    "tinytorch/text/positions.py::PositionalEncoding.extra_repr",
    "tinytorch/text/positions.py::SinusoidalPositionalEncoding.extra_repr",
    "tinytorch/text/positions.py::RotaryEmbedding.extra_repr",
    "tinytorch/text/positions.py::ALiBi.extra_repr",
    "tinytorch/core/attention.py::MultiHeadAttention.extra_repr",
    "tinytorch/core/sparse.py::RowSparseGrad.__repr__",
    "tinytorch/core/checks.py::check_choice",
]

SUITES = {
    "folder": ["tests/11_embeddings"],
    "integration": [
        "tests/11_embeddings/test_progressive_integration.py",
        "tests/11_embeddings/test_roadmap_priorities.py",
    ],
}

# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code).
KILLED, SURVIVED = {1, 3}, {0}
TIMEOUT = {24, -24, 36, 152, 255}
NO_TESTS = {5, 33}

ROOT = Path(__file__).resolve().parent.parent


def name_patterns(entries: list[str]) -> tuple[list[str], list[str]]:
    """(files, mutant-name globs) for SCOPE-style entries (see `mutmut.trampoline_templates`)."""
    files, names = [], []
    for entry in entries:
        path, _, name = entry.partition("::")
        module = path.removesuffix(".py").replace("/", ".")
        if path not in files:
            files.append(path)
        cls, _, method = name.partition(".")
        if method:
            names.append(f"{module}.x\u01c1{cls}\u01c1{method}__mutmut_*")
        elif name:  # a top-level function, or every method of a class
            names += [f"{module}.x_{name}__mutmut_*", f"{module}.x\u01c1{name}\u01c1*"]
        else:
            names.append(f"{module}.*")
    return files, names


def missing_entries(entries: list[str]) -> list[str]:
    """The entries that name no file, class or function of the checkout (after files moved)."""
    missing = []
    for entry in entries:
        path, _, name = entry.partition("::")
        if not (ROOT / path).is_file():
            missing.append(entry)
            continue
        scope = ast.parse((ROOT / path).read_text(encoding="utf-8")).body
        for part in filter(None, name.split(".")):
            node = next((n for n in scope if getattr(n, "name", None) == part), None)
            if node is None:
                missing.append(entry)
                break
            scope = getattr(node, "body", [])
    return missing


def in_scope(key: str, names: list[str], excluded: list[str]) -> bool:
    def matches(patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)

    return matches(names) and not matches(excluded)


def copy_repository(work: Path) -> None:
    """A fresh copy of the files git lists (tracked and new, not ignored), as a clone has."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    if work.exists():
        shutil.rmtree(work)
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, work / name)


def write_config(work: Path, files: list[str], tests: list[str]) -> None:
    """mutmut reads [tool.mutmut] from the pyproject.toml of the directory it runs in."""
    config = {
        "source_paths": ["tinytorch"],
        "only_mutate": files,
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:cacheprovider"],
    }
    lines = ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(val)}" for key, val in config.items()]
    with open(work / "pyproject.toml", "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def mutmut(work: Path, *args: str) -> None:
    """Run mutmut in the copy. A PYTHONPATH naming a checkout would shadow the mutated
    package (mutmut puts its mutants/ directory first on sys.path), so it is dropped."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=work, check=True, env=env)


def results(work: Path, keep: Callable[[str], bool]) -> dict[str, int | None]:
    """Exit code of every mutant `keep` accepts (None: not run), from mutmut's records."""
    codes: dict[str, int | None] = {}
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        for key, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if keep(key):
                codes[key] = code
    return codes


# Prints `mutmut show`'s diff of each mutant named on stdin, in one process.
SHOW_DIFFS = """
import sys
from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
for key in sys.stdin.read().split():
    print("@@@@", key)
    print(get_diff_for_mutant(key, path=find_mutant(key).path))
"""


def mutant_diffs(work: Path, keys: list[str]) -> dict[str, tuple[str, str]]:
    """For each mutant: (path:line of the change, the changed lines)."""
    shown = subprocess.run(
        [sys.executable, "-c", SHOW_DIFFS], cwd=work, check=True, capture_output=True,
        text=True, input="\n".join(keys),
    ).stdout
    diffs = {}
    for block in shown.split("@@@@ ")[1:]:
        key, *lines = block.splitlines()
        path = next(line for line in lines if line.startswith("--- ")).removeprefix("--- ")
        changed = [line for line in lines if line[:1] in "+-" and line[:3] not in ("---", "+++")]
        diffs[key] = f"{path}:{changed_line(work / path, key, changed)}", "\n".join(changed)
    return diffs


def changed_line(path: Path, key: str, changed: list[str]) -> int:
    """The line in the original file of the first removed line, searched in the function."""
    name = key.rpartition(".")[2].partition("__mutmut_")[0]  # x_function or xǁClassǁmethod
    cls, _, function = name[2:].partition("\u01c1") if name[1] == "\u01c1" else ("", "", name[2:])
    source = path.read_text(encoding="utf-8")
    scope = ast.parse(source).body
    if cls:
        scope = next(n.body for n in scope if isinstance(n, ast.ClassDef) and n.name == cls)
    node = next(n for n in scope if isinstance(n, ast.FunctionDef) and n.name == function)
    removed = next((line[1:].strip() for line in changed if line[:1] == "-"), None)
    lines = source.splitlines()
    for number in range(node.lineno, node.end_lineno + 1):
        if lines[number - 1].strip() == removed:
            return number
    return node.lineno


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--suite", choices=SUITES, default="folder")
    parser.add_argument("--max-children", type=int, default=2, help="mutants run at once")
    parser.add_argument("--report", action="store_true",
                        help="only print the results of the last run of this suite")
    parser.add_argument("--survivors", action="store_true",
                        help="copy the current tests into the last run of this suite and re-check "
                             "only its survivors (tests only added since: kills still stand)")
    parser.add_argument("--only", nargs="+", metavar="GLOB",
                        help="run only the mutants whose names match, e.g. 'tinytorch.text.bpe.*'")
    args = parser.parse_args()
    work = ROOT / "build" / "mutation" / args.suite
    stale = missing_entries(SCOPE + EXCLUDE)
    if stale:
        parser.error(f"SCOPE or EXCLUDE names what the package no longer has: {stale}")
    files, names = name_patterns(SCOPE)
    excluded = name_patterns(EXCLUDE)[1]
    selected = args.only or names

    def wanted(key: str) -> bool:
        return in_scope(key, selected, excluded) and in_scope(key, names, [])

    start = time.monotonic()
    if args.survivors:
        left = [key for key, code in results(work, wanted).items()
                if code not in KILLED and code not in TIMEOUT]
        shutil.rmtree(work / "tests")
        shutil.copytree(ROOT / "tests", work / "tests",
                        ignore=shutil.ignore_patterns("__pycache__"))
        # Which tests call which function was recorded for the old tests: record it again.
        (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
        mutmut(work, "run", "--max-children", str(args.max_children), *left)
    elif not args.report:
        copy_repository(work)
        write_config(work, files, SUITES[args.suite])
        mutmut(work, "run", "--max-children", str(args.max_children), *selected)
    elapsed = time.monotonic() - start

    codes = results(work, wanted)
    killed = [key for key, code in codes.items() if code in KILLED or code in TIMEOUT]
    left = sorted(key for key in codes if key not in killed)
    print(f"\nsuite {args.suite}: {len(killed)} of {len(codes)} mutants killed "
          f"({100.0 * len(killed) / max(len(codes), 1):.1f}%), {len(left)} left"
          + ("" if args.report else f"; {elapsed:.0f} s with {args.max_children} workers")
          + (" (survivors re-checked)" if args.survivors else ""))
    diffs = mutant_diffs(work, left)
    for key in left:
        status = "no test reaches it" if codes[key] in NO_TESTS else f"exit code {codes[key]}"
        where, diff = diffs[key]
        print(f"\n{where} {key.rpartition('.')[2]} ({status})\n{diff}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
