"""fusionlab dashboard: page config, thread settings and navigation; nothing else.

Pages are discovered from ``pages/*.py`` in file-name order; each page's title is
the first line of its module docstring, so adding a page touches no shared file.
"""
import ast
from pathlib import Path

import streamlit as st
import torch

from fusionlab.ui.memory import start_trimmer

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
st.set_page_config(page_title="fusionlab", page_icon=":material/hub:", layout="wide")
start_trimmer()  # freed sessions' memory goes back to the system

PAGES_DIR = Path(__file__).parent / "pages"


def _title(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or path.stem
    return doc.strip().splitlines()[0].rstrip(".")


pages = [st.Page(str(p), title=_title(p), default=(i == 0), url_path=p.stem.split("_", 1)[-1])
         for i, p in enumerate(sorted(PAGES_DIR.glob("*.py")))]
st.navigation(pages).run()
