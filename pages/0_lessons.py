"""Lessons

Guided lessons for a class: predict, run, read what your own run says.
"""
import streamlit as st

from fusionlab.lessons import LESSONS
from fusionlab.papers import cite
from fusionlab.ui.lessons import open_step, predict_widget
from fusionlab.ui.shell import ensure_app

ensure_app()  # a deep link as a fresh server's first request still runs inside app.py

st.title("Lessons")
st.markdown(
    "Each lesson walks through one page in a few steps. A step asks a question; **predict first**, then press "
    "**Open this step**: the page opens with the step's setting and a panel with your prediction. After you run "
    "it, the page shows what **your run says**, computed from your run's numbers, next to your prediction. "
    "`python -m fusionlab lessons --export DIR` writes every lesson as a standalone HTML file to project or hand out.")

names = list(LESSONS)
chosen = st.selectbox("Lesson", names, format_func=lambda n: f"{names.index(n) + 1}. {LESSONS[n].title}",
                      key="lessons-chosen")
lesson = LESSONS[chosen]
st.subheader(f"Lesson {names.index(chosen) + 1}: {lesson.title}")
st.markdown(lesson.intro)
if lesson.paper:
    st.caption(f"Paper: {cite(lesson.paper)}.")
for i, step in enumerate(lesson.steps):
    with st.container(border=True):
        st.markdown(f"**Step {i + 1}: {step.title}.** {step.question}")
        left, right = st.columns([2, 3])
        with left:
            predict_widget(lesson, i)
        with right:
            st.markdown(f"**Do:** {step.do}  \n**Look at:** {step.look}")
            if st.button("Open this step", key=f"lessons-open-{lesson.id}-{i}", icon=":material/open_in_new:",
                         type="primary" if i == 0 else "secondary"):
                open_step(lesson, i)
