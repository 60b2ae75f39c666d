"""``lessons``: the Lessons page's headless twin: list them, check every step's claim, export them as HTML."""
from __future__ import annotations

COMMANDS = {"lessons": "the guided lessons: list them, --check every step's claim on its own run, --export DIR as "
                       "standalone HTML"}


def add_parser(sub) -> None:
    p = sub.add_parser("lessons", help=COMMANDS["lessons"])
    what = p.add_mutually_exclusive_group()
    what.add_argument("--check", action="store_true",
                      help="run every step's setting (the CI-sized twin where a lesson names one) and check that its "
                           "finding supports the prediction the lesson expects; exit 1 if one does not")
    what.add_argument("--export", metavar="DIR",
                      help="write each lesson as a standalone HTML file (a reference run's figures and findings) into DIR")
    p.add_argument("--lesson", action="append", metavar="ID",
                   help="only this lesson (its id or number; repeat for several)")
    p.add_argument("--full", action="store_true", help="with --check: the lessons' own settings, never the CI-sized twins")
    p.set_defaults(func=run_lessons)


def _chosen(args):
    from ..lessons import LESSONS, lesson
    return [lesson(n) for n in args.lesson] if args.lesson else list(LESSONS.values())


def run_lessons(args) -> int:
    chosen = _chosen(args)
    if args.check:
        return _check(chosen, args.full)
    if args.export:
        return _export(chosen, args.export)
    for i, les in enumerate(chosen, 1):
        print(f"{i}. {les.id}: {les.title} ({les.where.url_path}, {len(les.steps)} steps)")
        for j, step in enumerate(les.steps, 1):
            print(f"   {j}. {step.title}: {step.question}")
    return 0


def _check(chosen, full: bool) -> int:
    import torch

    from ..lessons import check
    torch.set_num_threads(1)
    bad = 0
    for c in check(chosen, full=full):
        bad += not c.ok
        mark = "ok  " if c.ok else "FAIL"
        smaller = " (CI-sized twin: " + (c.step.check_why or "a smaller setting") + ")" if c.smaller else ""
        print(f"{mark} {c.lesson.id} step {c.number}: expected '{c.step.predict[c.step.expect]}', the run says "
              f"'{c.said.answer(c.step.predict)}'{smaller}")
        print(f"     {c.said.finding.line()}")
    print(f"{'all steps hold' if not bad else f'{bad} step(s) do not hold'}")
    return 1 if bad else 0


def _export(chosen, out: str) -> int:
    from pathlib import Path

    import torch

    from ..lessons.export import export
    torch.set_num_threads(1)
    written = export(chosen, Path(out))
    for path in written:
        print(f"-> {path}")
    return 0
