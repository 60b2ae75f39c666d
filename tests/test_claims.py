"""Nothing on screen says what its own numbers contradict (issue 33 item 1).

A sentence a page shows that says which way a paper's numbers went ('the paper expects the values to fall') is
either the paper's finding as registered once in ``papers.CLAIMS`` (shown through ``papers.said``, checked
against the paper), or it is not allowed: every other sentence about the run is a computed ``Finding`` or a
neutral reading guide. The rule reads every string the pages and the ui modules can show (so a preset's or a
rarely drawn branch's text is covered without running it) and the text of a trained Gates & values page.
On the Gates page as it was (afadeac), the rule names "the paper expects the values and the gate of the
corrupted modality to fall" and "the paper expects the modality you noise to get a lower value"."""
import ast
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fusionlab.papers import CLAIMS

ROOT = Path(__file__).resolve().parents[1]
SHOWN = sorted([*(ROOT / "pages").glob("*.py"), *(ROOT / "fusionlab" / "ui").glob("*.py"),
                ROOT / "fusionlab" / "diagnostics" / "gates.py", ROOT / "fusionlab" / "diagnostics" / "udml.py",
                ROOT / "fusionlab" / "experiments" / "permutation.py", ROOT / "fusionlab" / "experiments" / "scaling.py"])
DIRECTION = re.compile(r"\b(rise[sn]?|rising|rose|falls?|falling|fell|higher|lower|increases?|decreases?|expects?|"
                       r"gains?|loses?)\b", re.I)
PAPER = re.compile(r"\bpaper('s)?\b", re.I)


def unregistered_paper_claims(text: str) -> list:
    """The sentences of ``text`` that say which way a paper's numbers went in words not registered in CLAIMS."""
    bad = []
    for sentence in re.split(r"(?<=[.;:!?])\s+|\n+| — ", text):  # a finding's claim — its computed evidence
        if PAPER.search(sentence) and DIRECTION.search(sentence) and \
                not any(c.text in sentence for c in CLAIMS.values()):
            bad.append(sentence.strip())
    return bad


def _strings(path: Path) -> list:
    """Every string literal of a module that can reach a user (adjacent literals joined, as Python joins them):
    docstrings, for the code's readers, are left out."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


def test_the_rule_names_a_paper_claim_in_words_of_its_own_and_passes_the_registered_one():
    from fusionlab.papers import said
    old = "look_for: the paper expects the values and the gate of the corrupted modality to fall; a bar near 0."
    assert unregistered_paper_claims(old) == ["the paper expects the values and the gate of the corrupted modality "
                                              "to fall;"]
    assert unregistered_paper_claims(said("vgmr-gates") + ". Here the values fell.") == []
    assert unregistered_paper_claims("each bar is one statistic's corrupted − clean difference.") == []


@pytest.mark.parametrize("path", SHOWN, ids=lambda p: p.name)
def test_no_page_states_a_papers_finding_in_words_of_its_own(path):
    bad = [b for s in _strings(path) for b in unregistered_paper_claims(s)]
    assert not bad, bad


def _shown_text(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "success", "warning", "error", "title", "subheader")
             for e in getattr(at, kind)]
    for key in list(at.session_state.keys()):  # the live views' figures' reading lines (sent to the browser)
        if key.endswith("-live-shown"):
            parts += [str(v) for v in at.session_state[key].values()]
    return "\n".join(parts)


@pytest.mark.parametrize("page", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.stem)
def test_every_page_as_it_opens_states_no_paper_finding_of_its_own(page):
    at = AppTest.from_file(str(page), default_timeout=60).run()
    assert not at.exception
    assert unregistered_paper_claims(_shown_text(at)) == []


def test_a_trained_gates_page_with_its_findings_states_no_paper_finding_of_its_own():
    at = AppTest.from_file(str(ROOT / "pages" / "3_gates_values.py"), default_timeout=180)
    at.session_state["gates_values-epochs"] = 1
    at.run()
    at.button(key="gates_values-train").click().run()
    at.button(key="gates_values-stats").click().run()
    assert not at.exception, [e.value for e in at.exception]
    text = _shown_text(at)
    assert CLAIMS["vgmr-gates"].text in text  # the paper's finding, then ours
    assert "corrupted, the VGMR paper's §4.4" in text
    assert unregistered_paper_claims(text) == []
