"""Lessons (issue 33, item 3): their shape, their links against their CLI twins, ``lessons --check`` on every step's
own run, the export, and the study page's lesson panel."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fusionlab.cli import build_parser, main
from fusionlab.findings import HOLDS, Finding
from fusionlab.lessons import LESSONS, STUDIES, Lesson, Runs, Said, Step, check, step_config
from fusionlab.lessons.export import inline, lesson_html

ROOT = Path(__file__).resolve().parents[1]


def test_at_least_six_lessons_of_four_to_eight_steps_covering_every_study():
    assert len(LESSONS) >= 6
    assert {les.study for les in LESSONS.values()} == set(STUDIES)
    for les in LESSONS.values():
        assert 4 <= len(les.steps) <= 8
        for step in les.steps:
            assert len(step.predict) >= 2 and step.question and step.do and step.look and step.note


def test_a_lesson_refuses_a_shape_it_cannot_have():
    step = Step("s", "q?", ("a", "b"), "do", "look", lambda r: None, expect=0)
    with pytest.raises(ValueError, match="4 to 8"):
        Lesson("x", "t", "playground", "intro", (step,) * 3)
    with pytest.raises(ValueError, match="choices"):
        Step("s", "q?", ("a", "b"), "do", "look", lambda r: None, expect=2)


def _settings():
    """Every distinct (study, link, arguments) of the lessons, once."""
    seen = {}
    for les in LESSONS.values():
        for step in les.steps:
            seen.setdefault((les.study, tuple(sorted(step.link.items())), step.args), (les, step))
    return list(seen.values())


@pytest.mark.parametrize("lesson, step", _settings(), ids=lambda v: getattr(v, "id", None) or getattr(v, "title", ""))
def test_a_step_link_sets_the_page_to_the_config_its_cli_twin_builds(lesson, step):
    """The oracle: the page opened with the step's link builds the config the step's CLI arguments build; no link
    parameter is refused."""
    where = lesson.where
    at = AppTest.from_file(str(ROOT / "pages" / where.page), default_timeout=300)
    for k, v in {**step.link, "lesson": lesson.id, "step": "1"}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [w.value for w in at.warning if "Not applied" in w.value]
    if lesson.study == "permutation":  # its controls follow Fit experts
        at.button(key="permutation-train").click().run()
        assert not at.exception
    assert at.session_state[f"{where.key}-config"] == step_config(lesson, step)
    assert any(lesson.title in m.value for m in at.markdown)  # the lesson panel is up


def test_lessons_check_passes_on_every_step(capsys):
    """``python -m fusionlab lessons --check``: every step's finding, on its own run, supports the lesson's expected
    prediction (CI runs this)."""
    assert main(["lessons", "--check"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and out.count("ok  ") == sum(len(les.steps) for les in LESSONS.values())


class _Fixed(Runs):
    def result(self, lesson, step, check=False):
        return "a run"


def _lesson(expect: int, says_choice) -> Lesson:
    step = Step("One <b>", "Is **x** `y`?", ("yes", "no", "cannot say"), "Press it.", "Look.",
                lambda r: Said(Finding("x is y", HOLDS, "p = 0.01 < 0.05"), says_choice), expect=expect,
                note="why & how")
    return Lesson("fake", "Fake", "playground", "Intro", (step,) * 4)


def test_check_fails_a_step_whose_run_no_longer_supports_its_expected_prediction():
    assert all(c.ok for c in check([_lesson(0, 0)], _Fixed()))
    bad = check([_lesson(1, 0)], _Fixed())
    assert not any(c.ok for c in bad) and len(bad) == 4
    assert not any(c.ok for c in check([_lesson(0, None)], _Fixed()))  # "cannot tell" supports no choice


def test_export_html_escapes_text_and_hides_the_answer_until_opened():
    page = lesson_html(_lesson(0, 0), 1, _Fixed())
    assert "One &lt;b&gt;" in page and "<b>x</b>" in page and "<code>y</code>" in page
    assert page.count("<details>") == 4 and "What the reference run says" in page
    assert "why &amp; how" in page
    assert inline("a < b **c**") == "a &lt; b <b>c</b>"


def test_export_writes_a_standalone_file_per_lesson(tmp_path):
    out = tmp_path / "lessons"
    assert main(["lessons", "--export", str(out), "--lesson", "which-view"]) == 0
    page = (out / "lesson-1-which-view.html").read_text(encoding="utf-8")
    assert page.count("plotly.js v") == 1  # plotly.js inline once: opens without a server or the internet
    assert "src=\"http" not in page and page.count("<details>") == len(LESSONS["which-view"].steps)


def test_export_refuses_a_folder_of_other_files(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep")
    assert main(["lessons", "--export", str(tmp_path), "--lesson", "1"]) == 2
    assert (tmp_path / "mine.txt").read_text() == "keep" and len(list(tmp_path.iterdir())) == 1


def test_unknown_lesson_is_one_line():
    assert main(["lessons", "--lesson", "nope"]) == 2


def test_the_page_shows_what_the_students_run_says_after_a_prediction():
    at = AppTest.from_file(str(ROOT / "pages" / "1_playground.py"), default_timeout=300)
    at.query_params.update({"lesson": "which-view", "step": "1", "epochs": "3"})
    at.run()
    at.button(key="playground-train").click().run()
    assert not at.exception
    assert any("Make your prediction" in c.value for c in at.caption)  # predict first
    assert not any("You predicted" in m.value for m in at.markdown)
    at.radio[0].set_value(0).run()
    said = [m.value for m in at.markdown if "You predicted" in m.value]
    assert said and ("agrees" in said[0] or "otherwise" in said[0] or "cannot decide" in said[0])
    assert any("McNemar" in m.value for m in at.markdown)  # the finding, with its numbers


def test_every_page_runs_with_the_lessons_page_in_the_app():
    at = AppTest.from_file(str(ROOT / "pages" / "0_lessons.py"), default_timeout=60)
    at.run()
    assert not at.exception
    for name in list(LESSONS)[1:]:
        at.selectbox(key="lessons-chosen").set_value(name).run()
        assert not at.exception
        assert len([b for b in at.button if b.key.startswith(f"lessons-open-{name}-")]) == len(LESSONS[name].steps)


def test_step_arguments_parse_for_their_command():
    for les in LESSONS.values():
        for step in les.steps:
            build_parser(les.where.command).parse_args([les.where.command, *step.args, "--out", "x"])
            assert isinstance(step.link, dict) and all(isinstance(v, str) for v in step.link.values())


def test_the_docs_list_every_step_with_its_reference_answer():
    doc = (ROOT / "docs" / "lessons.md").read_text(encoding="utf-8")
    for les in LESSONS.values():
        assert f"(`{les.id}`, page: {les.where.url_path})" in doc
        for step in les.steps:
            assert f"{step.question} Choices: {' / '.join(step.predict)}. The reference run says: " \
                   f"*{step.predict[step.expect]}*" in doc, step.title
