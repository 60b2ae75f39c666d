"""Guided lessons: each walks a class through one study page in 4-8 steps (a question, a prediction made before
seeing, a link that sets the page's controls, what to look at, and the finding computed from the student's own
run). One lesson per module of this package, named ``l<n>_<name>.py`` (``n`` orders them), defining ``LESSON``;
a new lesson is one new file."""
import importlib as _importlib
import pkgutil as _pkgutil
from typing import Dict

from .base import STUDIES, Checked, Lesson, Runs, Said, Step, check, step_config

LESSONS: Dict[str, Lesson] = {}
for _module in sorted(_pkgutil.iter_modules(__path__), key=lambda m: (len(m.name.split("_")[0]), m.name)):
    if _module.name.startswith("l") and _module.name.split("_")[0][1:].isdigit():
        _lesson = _importlib.import_module(f"{__name__}.{_module.name}").LESSON
        if _lesson.id in LESSONS:
            raise ValueError(f"two lessons are called '{_lesson.id}'")
        LESSONS[_lesson.id] = _lesson


def lesson(name: str) -> Lesson:
    """A lesson by its id or its number (1-based)."""
    if name.isdigit() and 1 <= int(name) <= len(LESSONS):
        return list(LESSONS.values())[int(name) - 1]
    if name not in LESSONS:
        raise KeyError(f"no lesson '{name}'; the lessons are {', '.join(LESSONS)}")
    return LESSONS[name]


__all__ = ["LESSONS", "STUDIES", "Checked", "Lesson", "Runs", "Said", "Step", "check", "lesson", "step_config"]
