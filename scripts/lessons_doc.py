"""Rewrite the generated part of docs/lessons.md (every lesson's steps and reference answers) from the lessons'
code: ``.venv/bin/python scripts/lessons_doc.py``. tests/test_lessons.py fails when the two differ."""
from pathlib import Path

from fusionlab.lessons import LESSONS

DOC = Path(__file__).resolve().parents[1] / "docs" / "lessons.md"
START, END = "## The lessons and their checked answers\n", "\n## Writing a lesson\n"


def section() -> str:
    out = [START]
    for n, (name, les) in enumerate(LESSONS.items(), 1):
        out.append(f"\n### {n}. {les.title} (`{name}`, page: {les.where.url_path})\n\n")
        for i, s in enumerate(les.steps, 1):
            setting = " ".join(s.args) if s.args else "defaults"
            link = "&".join(f"{a}={b}" for a, b in s.link.items()) or "-"
            out.append(f"{i}. **{s.title}.** {s.question} Choices: {' / '.join(s.predict)}. The reference run says: "
                       f"*{s.predict[s.expect]}*. (CLI: {setting}; link: `{link}`)\n")
    return "".join(out)


if __name__ == "__main__":
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    tail = rest[rest.index(END):]
    DOC.write_text(head + section() + tail, encoding="utf-8")
    print(f"-> {DOC}")
