"""The benchmark harness itself: what it times, how it reports, and its command line.

Wall-clock times are never asserted (they depend on the machine); what is checked is that each
library's step runs the promised number of times, that ratios are computed from the reported
medians, that rows above their target are marked, and that `--json` writes what was printed.
"""

import json

import numpy as np

import benchmarks.__main__ as entry
from benchmarks import bench_embedding
from benchmarks.timing import compare


def test_compare_runs_each_step_warmup_plus_reps_plus_one_untimed_per_round():
    calls = {"ours": 0, "theirs": 0}

    def step(name):
        def run():
            calls[name] += 1

        return run

    result = compare(step("ours"), step("theirs"), reps=10, warmup=3, rounds=4)
    assert calls == {"ours": 3 + 10 + 4, "theirs": 3 + 10 + 4}
    assert result["ratio"] == result["tinytorch_ms"] / result["torch_ms"]
    assert result["best_ratio"] == result["tinytorch_best_ms"] / result["torch_best_ms"]
    assert result["tinytorch_best_ms"] <= result["tinytorch_ms"]


def test_embedding_case_times_both_gradient_kinds_on_the_given_sizes():
    rows = bench_embedding.run(reps=2, warmup=1, cases=((20, 8, 64),))
    assert [(r["vocab_size"], r["embed_dim"], r["num_ids"], r["sparse"]) for r in rows] == [
        (20, 8, 64, False),
        (20, 8, 64, True),
    ]
    for row in rows:
        assert row["tinytorch_ms"] > 0 and row["torch_ms"] > 0
        assert np.isclose(row["ratio"], row["tinytorch_ms"] / row["torch_ms"])


def test_command_line_marks_rows_above_target_and_writes_the_json(monkeypatch, tmp_path, capsys):
    def fake_case(reps, warmup, threads):
        return [
            {"case": "slower", "tinytorch_ms": 3.0, "torch_ms": 2.0, "ratio": 1.5},
            {"case": "faster", "tinytorch_ms": 1.0, "torch_ms": 2.0, "ratio": 0.5},
        ]

    thread_counts = []
    monkeypatch.setattr(entry, "CASES", {"fake": (fake_case, 3, 1, 1.25)})
    monkeypatch.setattr(entry, "set_threads", thread_counts.append)
    path = tmp_path / "results.json"
    entry.main(["--cases", "fake", "--threads", "1", "--json", str(path)])

    printed = capsys.readouterr().out
    assert "slower" in printed and "ABOVE TARGET" in printed
    assert "1 of 2 rows with a target meet it" in printed
    assert "above target: slower" in printed
    assert thread_counts and set(thread_counts) == {1}
    written = json.loads(path.read_text())
    assert written["threads"] == 1
    assert [(r["case"], r["target"]) for r in written["rows"]] == [
        ("slower", 1.25),
        ("faster", 1.25),
    ]


def test_compare_with_a_pause_pauses_before_each_block_instead_of_an_untimed_step(monkeypatch):
    import benchmarks.timing as timing

    pauses, calls = [], {"ours": 0, "theirs": 0}
    monkeypatch.setattr(timing.time, "sleep", pauses.append)

    def step(name):
        def run():
            calls[name] += 1

        return run

    compare(step("ours"), step("theirs"), reps=6, warmup=1, rounds=3, pause_s=0.5)
    assert calls == {"ours": 1 + 6, "theirs": 1 + 6}
    assert pauses == [0.5] * 6  # 3 rounds x 2 libraries
