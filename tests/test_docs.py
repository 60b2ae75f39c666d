"""The documentation is the repository's own (issue 33 items 6 and 7): no user-facing text names a paper by an
internal number or cites a file the repository lacks; the pages' links to the Methods page land on a section
docs/methods.md has; the README stays short and its picture is there."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = re.compile(r"seed[ -]00[0-3]|METHODS")
USER_FACING = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "pages").glob("*.py"),
                      *(ROOT / "fusionlab").rglob("*.py")])


@pytest.mark.parametrize("path", USER_FACING, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_text_names_a_paper_by_number_or_cites_the_teams_spec(path):
    hits = [line for line in path.read_text(encoding="utf-8").splitlines() if FORBIDDEN.search(line)]
    assert not hits, hits


def test_no_command_help_names_a_paper_by_number():
    from fusionlab.cli import build_parser, command_table
    for command in command_table():
        text = build_parser(command).format_help()
        sub = build_parser(command)._subparsers._group_actions[0].choices[command].format_help()
        assert not re.search(r"seed[ -]00[0-3]|METHODS(\.md| §)", text + sub), command  # (a --methods flag's
        # METHODS metavar is the flag's, not a citation)


def _anchor(heading: str) -> str:
    """GitHub's and Streamlit's anchor of a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_methods_link_lands_on_a_section_of_docs_methods():
    from fusionlab.ui.methods import SECTIONS
    headings = {_anchor(h) for h in re.findall(r"^## (.+)$", (ROOT / "docs" / "methods.md").read_text(), re.M)}
    assert set(SECTIONS) <= headings, set(SECTIONS) - headings
    used = set()
    for path in [*(ROOT / "pages").glob("*.py"), *(ROOT / "fusionlab" / "ui").glob("*.py")]:
        used |= set(re.findall(r"methods_link\(\s*[\"']([\w-]+)[\"']", path.read_text()))
    assert used and used <= set(SECTIONS), used - set(SECTIONS)


PATH = re.compile(r"\b((?:docs|benchmarks|examples|scripts|tests|fusionlab|pages)/[\w./-]*\w)")


@pytest.mark.parametrize("path", [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))],
                         ids=lambda p: p.name)
def test_every_file_the_docs_name_is_in_the_repository(path):
    text = path.read_text(encoding="utf-8")
    named = {m.group(1) for m in PATH.finditer(text) if text[m.end():m.end() + 1] not in ("<", "*", "{")}
    missing = sorted(p for p in named if not (ROOT / p).exists() and not (ROOT / p).with_suffix(".py").exists())
    assert not missing, missing


def test_the_readme_is_short_and_shows_a_picture_that_exists():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert pictures and all((ROOT / p).is_file() for p in pictures), pictures
    assert "scripts/setup.sh && .venv/bin/streamlit run app.py" in text
    assert "scripts/setup.sh --browser && .venv/bin/python -m pytest" in text
