"""Lessons in the dashboard: the Lessons page's step cards, and the panel a study page shows while a lesson is open.

A step is opened from the Lessons page (``open_step``: the study page's controls back to their defaults, then the
step's link applied by ``ui.links.open_link``) or by a link carrying ``lesson`` and ``step`` (``LESSON_QUERY``). The
study page then draws ``lesson_panel`` above its controls: the question, the prediction (kept per session, so the
Lessons page and the study page share it), what to do and where to look. Where the page shows its result it calls
``LessonPanel.says(result)``: the finding computed from the student's run, shown once a prediction is made.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import streamlit as st
from streamlit.errors import StreamlitAPIException

from ..lessons import LESSONS, Lesson, Step
from .links import LESSON_QUERY

ACTIVE = "lesson-active"  # (lesson id, 0-based step)
PREDICTIONS = "lesson-predictions"  # {(lesson id, step): choice}
ANCHOR = "your-run-says"
UI = {"playground": "playground", "scaling": "scaling", "gates": "vgmr", "permutation": "permutation", "udml": "udml"}


def _ui(study: str):
    return importlib.import_module(f"fusionlab.ui.{UI[study]}")


def prediction(lesson: Lesson, i: int) -> Optional[int]:
    return st.session_state.setdefault(PREDICTIONS, {}).get((lesson.id, i))


def predict_widget(lesson: Lesson, i: int, where=st) -> Optional[int]:
    """The step's choices as a radio with nothing picked until the student picks; the pick is kept per session."""
    step = lesson.steps[i]
    key = f"_lesson-predict-{lesson.id}-{i}"

    def keep() -> None:
        st.session_state.setdefault(PREDICTIONS, {})[(lesson.id, i)] = st.session_state[key]

    return where.radio("Your prediction, before you look", range(len(step.predict)), index=prediction(lesson, i),
                       format_func=lambda c: step.predict[c], key=key, on_change=keep)


def _reset_controls(lesson: Lesson) -> None:
    """The study page's controls back to their defaults (a step's link names only what differs from them) and its
    link read again on the next visit; its trained run stays."""
    ui, key = _ui(lesson.study), lesson.where.key
    default = importlib.import_module(f"fusionlab.experiments.{lesson.where.study}").DEFAULT.data.name
    for dataset in {st.session_state.get(f"{ui.KEY}-dataset") or default, default}:
        try:
            params = ui.link_params(dataset)
        except (KeyError, ValueError):
            continue
        for p in params.values():
            if p.key and not p.apply:
                st.session_state.pop(p.key, None)
    for suffix in ("link-opened", "link-first", "link-notice"):
        st.session_state.pop(f"{key}-{suffix}", None)


def open_step(lesson: Lesson, i: int) -> None:
    """Go to the step's study page with its setting (the same session: the prediction goes with it)."""
    st.session_state[ACTIVE] = (lesson.id, i)
    _reset_controls(lesson)
    st.switch_page(f"pages/{lesson.where.page}",
                   query_params={**lesson.steps[i].link, "lesson": lesson.id, "step": str(i + 1)})


def _active_here(key: str) -> Optional[Tuple[Lesson, int]]:
    """The lesson step this page shows: from a link's ``lesson``/``step`` (remembered for the session), else the
    one opened from the Lessons page, when it belongs to this page."""
    name, step = st.query_params.get(LESSON_QUERY[0]), st.query_params.get(LESSON_QUERY[1])
    if name in LESSONS and step and step.isdigit() and 1 <= int(step) <= len(LESSONS[name].steps):
        st.session_state[ACTIVE] = (name, int(step) - 1)
    active = st.session_state.get(ACTIVE)
    if not active or active[0] not in LESSONS:
        return None
    lesson = LESSONS[active[0]]
    return (lesson, active[1]) if lesson.where.key == key else None


@dataclass
class LessonPanel:
    lesson: Optional[Lesson] = None
    index: int = 0

    @property
    def step(self) -> Optional[Step]:
        return self.lesson.steps[self.index] if self.lesson else None

    def anchor(self, default: str) -> str:
        """Where the page scrolls after its main button: to the answer while a lesson is open."""
        return ANCHOR if self.lesson is not None else default

    def says(self, result, shows: str = "") -> None:
        """Where the page shows its result (``shows``: the table shown there, for a step that ``needs`` one): what the
        student's run says on this step's question."""
        if self.lesson is None or result is None or shows != self.step.needs:
            return
        step, n = self.step, self.index + 1
        with st.container(border=True):
            st.subheader(f"Your run says (lesson {self.number}, step {n})", anchor=ANCHOR)
            cache: Dict = st.session_state.setdefault("lesson-said", {})
            memo = (self.lesson.id, self.index)
            if cache.get("result") is not result or cache.get("step") != memo:  # holds the result: no id reuse
                try:
                    said = step.says(result)
                except (KeyError, ValueError, TypeError, AttributeError) as exc:
                    said = exc
                cache.update(result=result, step=memo, said=said)
            said = cache["said"]
            if isinstance(said, Exception):
                st.info(f"This run cannot answer the step's question ({type(said).__name__}: {said}); open the "
                        "step again from the Lessons page to get its setting.")
                return
            picked = prediction(self.lesson, self.index)
            if picked is None and not st.toggle("Show without predicting", key=f"lesson-show-{self.lesson.id}-{n}"):
                st.caption("Make your prediction in the lesson panel at the top first.")
                return
            st.markdown(f"**{said.answer(step.predict)}** — [{said.finding.verdict}] {said.finding.claim}: "
                        f"{said.finding.evidence}")
            if picked is not None:
                st.markdown(f"You predicted *{step.predict[picked]}*: "
                            + ("your run agrees." if picked == said.choice else "your run says otherwise."
                               if said.choice is not None else "this run cannot decide."))
            if said.choice == step.expect:
                st.caption(step.note)
            else:
                st.caption(f"The lesson's reference run says *{step.predict[step.expect]}*; yours differs, so the "
                           "lesson's note is not shown. Check that the controls are the step's (open it again from the "
                           "Lessons page), or treat it as a finding of your own setting.")

    @property
    def number(self) -> int:
        return list(LESSONS).index(self.lesson.id) + 1


def lesson_panel(key: str, button: str = "") -> LessonPanel:
    """Above the page's controls while a lesson step of this page is open: the step and the prediction."""
    found = _active_here(key)
    if found is None:
        return LessonPanel()
    lesson, i = found
    step, panel = lesson.steps[i], LessonPanel(lesson, i)
    with st.container(border=True):
        top = st.container(horizontal=True, vertical_alignment="center")
        top.markdown(f"**Lesson {panel.number}: {lesson.title}** · step {i + 1} of {len(lesson.steps)}: *{step.title}*")
        if top.button("Leave lesson", key=f"{key}-lesson-leave", type="tertiary"):
            st.session_state.pop(ACTIVE, None)
            st.rerun()
        st.markdown(f"**{step.question}**")
        left, right = st.columns([2, 3])
        with left:
            predict_widget(lesson, i)
        with right:
            st.markdown(f"**Do:** {step.do}  \n**Look at:** {step.look}")
            st.caption(f"Your run's answer appears with the results (press **{lesson.where.button}** if the page has no "
                       "run of this setting yet).")
        nav = st.container(horizontal=True)
        try:
            nav.page_link("pages/0_lessons.py", label="All lessons", icon=":material/school:")
        except StreamlitAPIException:  # the page run alone (a test), outside app.py's navigation
            nav.markdown("[All lessons](/lessons)")
        if i > 0 and nav.button("Previous step", key=f"{key}-lesson-prev", icon=":material/arrow_back:"):
            _go(lesson, i - 1)
        if i + 1 < len(lesson.steps) and nav.button("Next step", key=f"{key}-lesson-next",
                                                    icon=":material/arrow_forward:"):
            _go(lesson, i + 1)
    return panel


def _go(lesson: Lesson, i: int) -> None:
    """Another step: the same setting keeps the run and the sliders (only the panel changes); another opens it."""
    here = st.session_state.get(ACTIVE)
    st.session_state[ACTIVE] = (lesson.id, i)
    if here and dict(lesson.steps[here[1]].link) == dict(lesson.steps[i].link) and \
            lesson.steps[here[1]].args == lesson.steps[i].args:
        st.rerun()
    open_step(lesson, i)
