"""`faultlang quiz --topic T --seed N [--solve]`: OSTEP-style seeded questions.

A topic generator draws a small scenario and its questions from random.Random(seed)
alone (no hashing, no set order, no clock), so a seed gives the same quiz on every
machine; the answers come from running that scenario on the engine, and `--solve`
shows them with the call path that proves them. GENERATOR_VERSION names the drawing
rules: a change to them must bump it, and tests pin a few seeds per topic.

`--format json` gives PrairieLearn-style data: {"params": ...} for the question, and
with --solve also {"correct_answers": ..., "proofs": ...}; `grade()` scores answers.
`prairielearn_generate` / `prairielearn_grade` are a PrairieLearn server.py's two steps.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

GENERATOR_VERSION = 1
# The functions a "which handler" answer names: the deepest of these on the path.
HANDLERS = ("do_anonymous_page", "do_read_fault", "do_cow_fault", "do_shared_fault",
            "do_swap_page", "wp_page_copy", "wp_page_reuse", "wp_page_shared",
            "hugetlb_no_page", "hugetlb_wp", "do_huge_pmd_anonymous_page",
            "do_huge_pmd_wp_page", "shmem_fault", "handle_userfault", "do_sigbus")


# The kinds of question, each one sentence about one scenario line: the OSTEP-style
# questions of the course ("how many minor and major faults does step 4 take?").
QUESTIONS = {
    "faults": "How many minor and major faults does line {line} (`{text}`) take?",
    "handler": "Which function handles the first fault of line {line} (`{text}`)?",
    "value": "What value does {who} read at line {line} (`{text}`)?",
    "swapcache": "After line {line} (`{text}`), how many pages are in the swap cache?",
}


@dataclass(frozen=True)
class Ask:
    """A question before it is answered: its kind (a QUESTIONS key), the scenario line
    it is about, and its text."""

    kind: str
    line: int
    text: str
    process: str = "main"


@dataclass
class Quiz:
    topic: str
    seed: int
    lines: list[str]
    asks: list[Ask]
    answers: list[Any] = field(default_factory=list)
    proofs: list[str] = field(default_factory=list)

    @property
    def scenario(self) -> str:
        return "".join(line + "\n" for line in self.lines)


class _Draft:
    """Lines under construction; `add` returns the line number questions refer to."""

    def __init__(self, rng: random.Random, title: str):
        self.rng = rng
        self.lines = [f'title "{title}"']
        self.asks: list[Ask] = []

    def add(self, line: str) -> int:
        self.lines.append(line)
        return len(self.lines)

    def ask(self, kind: str, line: int, who: str = "main") -> None:
        # The swap cache is read once, after the whole scenario has run (solve()).
        assert kind != "swapcache" or line == len(self.lines), "swapcache asks about the end"
        text = QUESTIONS[kind].format(line=line, text=self.lines[line - 1], who=who)
        self.asks.append(Ask(kind, line, text, who))


def _span(rng: random.Random, pages: int) -> str:
    lo = rng.randrange(pages)
    hi = rng.randrange(lo + 1, pages + 1)
    return f"{lo}..{hi}" if hi - lo > 1 else f"{lo}"


def _anon(d: _Draft) -> None:
    rng = d.rng
    pages = rng.choice([4, 8, 16])
    d.add(f"map a anon size {pages * 4}K")
    if rng.random() < 0.5:
        d.add(f"read a[{_span(rng, pages)}]")
    w = d.add(f"write a[{_span(rng, pages)}] = {rng.randint(1, 9)}")
    r = d.add("read a[*]")
    d.ask("faults", w)
    d.ask("handler", w)
    d.ask("faults", r)


def _cow(d: _Draft) -> None:
    rng = d.rng
    pages = rng.choice([4, 8])
    d.add(f"map a anon size {pages * 4}K")
    d.add(f"write a[*] = {rng.randint(1, 4)}")
    d.add("fork child")
    i = rng.randrange(pages)
    writer = rng.choice(["main", "child"])
    prefix = "as child: " if writer == "child" else ""
    w = d.add(f"{prefix}write a[{_span(rng, pages)}] = {rng.randint(5, 9)}")
    d.ask("faults", w)
    d.ask("handler", w)
    r = d.add(f"as child: read a[{i}]")
    d.ask("value", r, "child")
    if rng.random() < 0.5:
        d.add("exit child")
        w2 = d.add(f"write a[{rng.randrange(pages)}] = 1")
        d.ask("handler", w2)


def _files(d: _Draft) -> None:
    rng = d.rng
    pages = rng.choice([8, 16, 32])
    cached = rng.choice(["cached", "uncached"])
    share = rng.choice(["shared", "private"])
    d.add(f"file data size {pages * 4}K {cached}")
    d.add(f"map d file data size {pages * 4}K {share}")
    r = d.add(f"read d[{rng.randrange(pages)}]")
    d.ask("faults", r)
    d.ask("handler", r)
    w = d.add(f"write d[{rng.randrange(pages)}] = {rng.randint(1, 9)}")
    d.ask("faults", w)
    d.ask("handler", w)


def _file_sweep(setting: str, sizes: tuple[int, ...], cache: str,
                first_within: Optional[int], first_ask: str) -> Callable[[_Draft], None]:
    """A file topic in two reads: one page (among the first `first_within` pages, or
    anywhere), then the whole file, under a drawn `setting` (fault-around maps cached
    neighbours; readahead reads uncached ones in)."""

    def build(d: _Draft) -> None:
        rng = d.rng
        d.add(f"set {setting} {rng.choice(sizes)}K")
        pages = rng.choice([32, 64])
        d.add(f"file data size {pages * 4}K {cache}")
        d.add(f"map d file data size {pages * 4}K shared")
        r = d.add(f"read d[{rng.randrange(first_within or pages)}]")
        d.ask(first_ask, r)
        d.ask("faults", d.add("read d[*]"))

    return build


_fault_around = _file_sweep("fault_around", (4, 16, 32, 64), "cached", None, "handler")
_readahead = _file_sweep("read_ahead", (16, 32, 64, 128), "uncached", 4, "faults")


def _swap(d: _Draft) -> None:
    rng = d.rng
    d.add("set swap 64M")
    d.add(f"set swap_device {rng.choice(['disk', 'zram'])}")
    pages = rng.choice([8, 16])
    d.add(f"map a anon size {pages * 4}K")
    d.add(f"write a[*] = {rng.randint(1, 9)}")
    d.add(f"swapout a[{_span(rng, pages)}]")
    if rng.random() < 0.5:
        d.add("swapout a[*]")
    r = d.add(f"read a[{_span(rng, pages)}]")
    d.ask("faults", r)
    d.ask("handler", r)
    d.ask("swapcache", r)


def _hugetlb(d: _Draft) -> None:
    rng = d.rng
    huge = rng.choice([1, 2])
    d.add(f"set hugepages {huge + rng.randint(0, 2)}")
    d.add(f"map h hugetlb size {2 * huge}M {rng.choice(['private', 'shared'])}")
    first = rng.choice(["read", "write"])
    a = d.add(f"{first} h[*]")
    d.ask("faults", a)
    d.ask("handler", a)
    b = d.add("write h[*]")
    d.ask("faults", b)


def _thp(d: _Draft) -> None:
    rng = d.rng
    d.add(f"set thp {rng.choice(['always', 'madvise', 'never'])}")
    advice = rng.choice([" hugepage", ""])
    d.add(f"map big anon size 4M{advice}")
    w = d.add(f"{rng.choice(['read', 'write'])} big[*]")
    d.ask("faults", w)
    d.ask("handler", w)


def _uffd(d: _Draft) -> None:
    rng = d.rng
    pages = rng.choice([4, 8, 16])
    d.add(f"map heap anon size {pages * 4}K")
    d.add("uffd register heap[*] missing")
    action = rng.choice(["copy", "zeropage"])
    value = rng.randint(1, 99)
    d.add(f"uffd handle missing by {action}" + (f" {value}" if action == "copy" else ""))
    r = d.add(f"read heap[{_span(rng, pages)}]")
    d.ask("faults", r)
    d.ask("handler", r)
    d.ask("value", d.add(f"read heap[{rng.randrange(pages)}]"))


TOPICS: dict[str, tuple[str, Callable[[_Draft], None]]] = {
    "anon": ("anonymous memory: first touch and the zero page", _anon),
    "cow": ("fork and copy-on-write", _cow),
    "files": ("file mappings and the page cache", _files),
    "fault-around": ("fault-around maps cached neighbours", _fault_around),
    "readahead": ("readahead turns misses into minor faults", _readahead),
    "swap": ("swap-out, swap-in and the swap cache", _swap),
    "hugetlb": ("hugetlb pages from the pool", _hugetlb),
    "thp": ("transparent huge pages", _thp),
    "uffd": ("userfaultfd missing faults", _uffd),
}


def generate(topic: str, seed: int) -> Quiz:
    title, build = TOPICS[topic]
    # The topic name is mixed in as text so two topics with one seed differ, stably.
    rng = random.Random(f"faultlang-quiz-v{GENERATOR_VERSION}:{topic}:{seed}")
    draft = _Draft(rng, f"quiz: {title} (seed {seed})")
    build(draft)
    return Quiz(topic, seed, draft.lines, draft.asks)


def solve(quiz: Quiz) -> Quiz:
    """Run the quiz's scenario and fill in the answers and their proofs."""
    from faultlang.course.golden import lang_function
    check, parse_text = lang_function("check"), lang_function("parse_text")
    from faultlang.runtime.runner import run_scenario

    scenario = parse_text(quiz.scenario + "show memory\n", f"quiz-{quiz.topic}-{quiz.seed}")
    check(scenario)
    report = run_scenario(scenario)
    memory = report.statements[-1].snapshot.memory  # type: ignore[union-attr]
    quiz.answers, quiz.proofs = [], []
    for ask in quiz.asks:
        steps = [s for s in report.steps if s.line == ask.line]
        faulted = [s for s in steps if s.outcome not in ("none",)]
        proof_step = faulted[0] if faulted else (steps[0] if steps else None)
        proof = _path_text(proof_step.path) if proof_step and proof_step.path else "no fault"
        if ask.kind == "faults":
            answer: Any = {"minor": sum(s.outcome == "minor" for s in steps),
                           "major": sum(s.outcome == "major" for s in steps)}
        elif ask.kind == "handler":
            answer = _handler(faulted[0]) if faulted else "no fault"
        elif ask.kind == "value":
            answer = steps[-1].value if steps else None
            if not faulted:
                proof = f"no fault: {ask.process}'s PTE already mapped the page, holding {answer}"
        else:
            answer = memory.swap_cache if memory else 0
            proof = f"show memory: swap cache {answer} pages"
        quiz.answers.append(answer)
        quiz.proofs.append(proof)
    return quiz


def _handler(step: Any) -> str:
    named = [symbol for symbol in step.path if symbol in HANDLERS]
    return named[-1] if named else (step.handler or step.outcome)


def _path_text(path: tuple[str, ...]) -> str:
    runs: list[list[Any]] = []
    for symbol in path:
        if runs and runs[-1][0] == symbol:
            runs[-1][1] += 1
        else:
            runs.append([symbol, 1])
    return " → ".join(s if n == 1 else f"{s} ×{n}" for s, n in runs)


def to_data(quiz: Quiz, solved: bool) -> dict[str, Any]:
    params = {"topic": quiz.topic, "seed": quiz.seed, "generator": GENERATOR_VERSION,
              "scenario": quiz.scenario,
              "questions": [{"id": f"q{i}", "kind": a.kind, "line": a.line, "text": a.text}
                            for i, a in enumerate(quiz.asks, 1)]}
    data: dict[str, Any] = {"params": params}
    if solved:
        data["correct_answers"] = {f"q{i}": a for i, a in enumerate(quiz.answers, 1)}
        data["proofs"] = {f"q{i}": p for i, p in enumerate(quiz.proofs, 1)}
    return data


def grade(correct: dict[str, Any], submitted: dict[str, Any]) -> dict[str, Any]:
    """PrairieLearn-style grading: a score in [0, 1] and the per-question verdicts."""
    verdicts = {q: _same(submitted.get(q), a) for q, a in correct.items()}
    score = sum(verdicts.values()) / len(verdicts) if verdicts else 0.0
    return {"score": score, "correct": verdicts}


def prairielearn_generate(data: dict[str, Any], topic: str) -> None:
    """The body of a PrairieLearn question's `generate(data)` in server.py: the quiz of
    this variant into data["params"], its answers into data["correct_answers"].

    PrairieLearn's input elements take one value each, so a fault-count answer becomes
    two answer names: q1_minor and q1_major.
    """
    quiz = solve(generate(topic, int(data["variant_seed"]) % 1_000_000))
    solved = to_data(quiz, solved=True)
    data["params"].update(solved["params"], proofs=solved["proofs"])
    for name, answer in solved["correct_answers"].items():
        if isinstance(answer, dict):
            data["correct_answers"].update({f"{name}_{k}": v for k, v in answer.items()})
        else:
            data["correct_answers"][name] = answer


def prairielearn_grade(data: dict[str, Any]) -> None:
    """The body of `grade(data)`: one partial score per answer name, and the total."""
    submitted = data.get("submitted_answers", {})
    for name, answer in data["correct_answers"].items():
        ok = _same(submitted.get(name), answer)
        data["partial_scores"][name] = {"score": 1.0 if ok else 0.0, "weight": 1}
    scores = [p["score"] for p in data["partial_scores"].values()]
    data["score"] = sum(scores) / len(scores) if scores else 0.0


def _same(given: Any, answer: Any) -> bool:
    if isinstance(answer, dict) and isinstance(given, dict):
        return all(str(given.get(k)) == str(v) for k, v in answer.items())
    return str(given).strip() == str(answer)


def format_text(quiz: Quiz, solved: bool) -> str:
    out = [f"faultlang quiz · topic {quiz.topic} · seed {quiz.seed} · modelled on Linux 6.18",
           f"ARG topic {quiz.topic}", f"ARG seed {quiz.seed}", f"ARG solve {solved}", "",
           "The scenario (line numbers on the left):", ""]
    out += [f"  {n:3}  {line}" for n, line in enumerate(quiz.lines, 1)]
    out.append("")
    for i, ask in enumerate(quiz.asks, 1):
        out.append(f"Q{i}. {ask.text}")
        if solved:
            out.append(f"     answer: {_answer_text(quiz.answers[i - 1])}")
            out.append(f"     proof:  {quiz.proofs[i - 1]}")
    out.append("")
    if not solved:
        out.append("Work the answers out, then check them with --solve "
                   "(or run the scenario with `faultlang run -v`).")
    return "\n".join(out) + "\n"


def _answer_text(answer: Any) -> str:
    if isinstance(answer, dict):
        return ", ".join(f"{v} {k}" for k, v in answer.items())
    return str(answer)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topic", required=True, choices=list(TOPICS))
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same quiz")
    p.add_argument("--solve", action="store_true", help="print the answers and their proofs")
    p.add_argument("--format", choices=["text", "json"], default="text")


def cmd_quiz(args: argparse.Namespace, out: Optional[Any] = None) -> int:
    out = out or sys.stdout
    quiz = generate(args.topic, args.seed)
    # Solving always runs the scenario, so a quiz that does not run fails loudly here
    # (exit 2) instead of reaching students.
    solve(quiz)
    if args.format == "json":
        out.write(json.dumps(to_data(quiz, args.solve), indent=1) + "\n")
    else:
        out.write(format_text(quiz, args.solve))
    return 0
