"""`faultlang quiz`: seeded, reproducible, every topic runs, JSON for graders."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from faultlang.course.quiz import (
    QUESTIONS,
    TOPICS,
    cmd_quiz,
    generate,
    grade,
    solve,
    to_data,
)

GOLDENS = Path(__file__).resolve().parent / "quiz"
GOLDEN_SEEDS = (0, 1, 2, 3)
# The topics the issue names (anon, COW, files, fault-around, readahead, swap, hugetlb,
# THP, userfaultfd).
ISSUE_TOPICS = {"anon", "cow", "files", "fault-around", "readahead", "swap", "hugetlb",
                "thp", "uffd"}


def quiz_output(topic: str, seed: int, solve_it: bool = False, fmt: str = "text") -> str:
    out = io.StringIO()
    args = argparse.Namespace(topic=topic, seed=seed, solve=solve_it, format=fmt)
    assert cmd_quiz(args, out) == 0
    return out.getvalue()


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_every_topic_generates_runnable_quizzes(topic: str) -> None:
    for seed in range(12):
        quiz = solve(generate(topic, seed))
        assert quiz.asks and len(quiz.answers) == len(quiz.asks)
        assert all(p for p in quiz.proofs)


def test_the_same_seed_gives_the_same_quiz_and_another_seed_differs() -> None:
    assert quiz_output("cow", 7, True) == quiz_output("cow", 7, True)
    assert {generate("anon", s).scenario for s in range(10)}.__len__() > 3


def test_seeds_are_pinned_across_machines_and_versions() -> None:
    # random.Random(str) seeding is stable across platforms and CPython versions: a
    # change here means GENERATOR_VERSION must change.
    assert generate("cow", 1).lines == [
        'title "quiz: fork and copy-on-write (seed 1)"', "map a anon size 16K",
        "write a[*] = 3", "fork child", "write a[2] = 7", "as child: read a[2]"]


def test_quiz_hides_answers_until_solve() -> None:
    text = quiz_output("anon", 3)
    assert "Q1. How many minor and major faults" in text and "answer:" not in text
    solved = quiz_output("anon", 3, True)
    assert "answer: 4 minor, 0 major" in solved
    assert "proof:  exc_page_fault → do_user_addr_fault" in solved


def test_json_is_prairielearn_style_and_grades() -> None:
    data: dict[str, Any] = json.loads(quiz_output("swap", 3, True, "json"))
    assert set(data) == {"params", "correct_answers", "proofs"}
    assert data["params"]["scenario"].startswith('title "quiz: swap')
    assert grade(data["correct_answers"], data["correct_answers"])["score"] == 1.0
    wrong = {q: "nope" for q in data["correct_answers"]}
    assert grade(data["correct_answers"], wrong)["score"] == 0.0
    assert "correct_answers" not in to_data(generate("swap", 3), solved=False)


def test_the_topics_are_those_of_the_course() -> None:
    assert set(TOPICS) >= ISSUE_TOPICS


def test_every_kind_of_question_is_asked_by_some_topic() -> None:
    asked = {ask.kind for topic in TOPICS for seed in range(8)
             for ask in generate(topic, seed).asks}
    assert asked == set(QUESTIONS)


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_solved_quizzes_match_their_goldens(topic: str, golden_file) -> None:
    """Several seeds per topic, as `--solve` text and as `--format json`: a change to a
    drawing rule, a question or an answer shows here as a diff to review."""
    text = "".join(f"$ faultlang quiz --topic {topic} --seed {seed} --solve\n"
                   + quiz_output(topic, seed, True) for seed in GOLDEN_SEEDS)
    data = [json.loads(quiz_output(topic, seed, True, "json")) for seed in GOLDEN_SEEDS]
    data_text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    golden_file(GOLDENS / f"{topic}.txt", text)
    golden_file(GOLDENS / f"{topic}.json", data_text)


def test_the_issue_s_questions_have_the_engine_s_answers() -> None:
    """The kinds of question the course asks, answered from the run, checked by hand
    against the kernel's rules."""
    cow = solve(generate("cow", 1))        # write a[2] in main after fork, child reads
    assert cow.answers == [{"minor": 1, "major": 0}, "wp_page_copy", 3]
    files = solve(generate("files", 2))    # uncached private file: read, then write
    assert files.answers == [{"minor": 0, "major": 1}, "do_read_fault",
                             {"minor": 1, "major": 0}, "wp_page_copy"]
    swap = solve(generate("swap", 1))      # zram swaps in around the swap cache
    assert swap.asks[-1].kind == "swapcache" and swap.answers[-1] == 0
    disk = solve(generate("swap", 3))      # disk: pages stay in the swap cache
    assert disk.answers[-1] == 8 and disk.answers[1] == "do_swap_page"


def test_a_prairielearn_question_generates_and_grades_its_variant() -> None:
    from faultlang.course.quiz import prairielearn_generate, prairielearn_grade

    data: dict[str, Any] = {"variant_seed": 1, "params": {}, "correct_answers": {}}
    prairielearn_generate(data, "cow")
    assert data["params"]["scenario"] == generate("cow", 1).scenario
    assert data["correct_answers"] == {"q1_minor": 1, "q1_major": 0, "q2": "wp_page_copy",
                                       "q3": 3}
    assert data["params"]["proofs"]["q2"].endswith("do_wp_page → wp_page_copy → "
                                                   "vmf_anon_prepare → __alloc_pages → "
                                                   "mm_account_fault")
    data.update(partial_scores={}, submitted_answers={"q1_minor": "1", "q1_major": 0,
                                                      "q2": " wp_page_copy", "q3": 5})
    prairielearn_grade(data)
    assert data["partial_scores"]["q3"]["score"] == 0.0
    assert data["partial_scores"]["q1_minor"]["score"] == 1.0
    assert data["score"] == 0.75
