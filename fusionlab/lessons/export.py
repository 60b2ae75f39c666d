"""A lesson as one standalone HTML file: its steps, a reference run's figures and what that run says, to project or
hand out without a server (``python -m fusionlab lessons --export DIR``). Each file carries plotly.js once, inline,
so it opens offline; the answers sit in closed ``<details>`` so a class predicts before it reads them."""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import List, Sequence

from ..papers import cite
from .base import Lesson, Runs


def inline(text: str) -> str:
    """The lessons' markdown subset (``**bold**``, ``*italic*``, ``code``) as HTML, everything else escaped."""
    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", t)
    t = re.sub(r"\*(.+?)\*", r"<i>\1</i>", t)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", t)


STYLE = """body{font:17px/1.5 system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.7em}h2{font-size:1.25em;margin-top:2em;border-top:1px solid #ddd;padding-top:1em}
.q{font-weight:600}ol.p li{margin:.2em 0}details{margin:.6em 0;padding:.5em .8em;background:#f4f6fa;border-radius:6px}
summary{cursor:pointer;font-weight:600}.v{font-family:monospace}.small{color:#555;font-size:.9em}"""


def lesson_html(lesson: Lesson, number: int, runs: Runs) -> str:
    """The page of one lesson, its steps read from their settings' runs (``runs`` shares them between steps)."""
    parts: List[str] = [f"<h1>Lesson {number}: {inline(lesson.title)}</h1>",
                        f"<p>{inline(lesson.intro)}</p>",
                        f"<p class='small'>Page: <b>{html.escape(lesson.where.url_path)}</b> of the fusionlab dashboard."
                        + (f" Paper: {inline(cite(lesson.paper))}." if lesson.paper else "") + "</p>"]
    plotly_js = True
    for i, step in enumerate(lesson.steps, 1):
        result = runs.result(lesson, step)
        said = step.says(result)
        parts.append(f"<h2>Step {i}: {inline(step.title)}</h2><p class='q'>{inline(step.question)}</p>")
        parts.append("<p>Predict first:</p><ol class='p' type='A'>"
                     + "".join(f"<li>{inline(c)}</li>" for c in step.predict) + "</ol>")
        setting = " ".join(step.args) or "the page's defaults"
        parts.append(f"<p><b>Do:</b> {inline(step.do)} <span class='small'>(setting: {html.escape(setting)})</span></p>"
                     f"<p><b>Look at:</b> {inline(step.look)}</p>")
        figs = step.figures(result) if step.figures else []
        for fig in figs:
            fig.update_layout(width=900)
            parts.append(fig.to_html(full_html=False, include_plotlyjs=plotly_js))
            plotly_js = False
        parts.append(f"<details><summary>What the reference run says</summary>"
                     f"<p><b>{inline(said.answer(step.predict))}</b></p>"
                     f"<p class='v'>[{html.escape(said.finding.verdict)}] {inline(said.finding.claim)}: "
                     f"{inline(said.finding.evidence)}</p><p>{inline(step.note)}</p></details>")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Lesson {number}: "
            f"{html.escape(lesson.title)}</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")


def export(lessons: Sequence[Lesson], out: Path) -> List[Path]:
    """Write ``lesson-<n>-<id>.html`` per lesson into ``out`` (a result set: all files or none)."""
    from ..commands._common import check_out, result_set
    from . import LESSONS
    out = check_out(str(out))
    order = list(LESSONS)
    runs, written = Runs(), []
    with result_set(out, "lessons") as d:
        for lesson in lessons:
            n = order.index(lesson.id) + 1
            name = f"lesson-{n}-{lesson.id}.html"
            (d / name).write_text(lesson_html(lesson, n, runs), encoding="utf-8")
            written.append(out / name)
    return written
