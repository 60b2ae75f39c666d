"""fusionlab dashboard: page config, thread settings and navigation; nothing else.

Pages are discovered from ``pages/*.py`` in file-name order; each page's title is
the first line of its module docstring, so adding a page touches no shared file.
"""
from pathlib import Path

import streamlit as st
import torch

from fusionlab.threads import one_blas_thread
from fusionlab.ui.memory import start_trimmer
from fusionlab.ui.shell import page_title, warm_up

# one intra-op thread per training: on a 2-core machine shared with sessions, a browser or a worker, two OpenMP
# threads wait on a busy core. benchmarks/torch_threads.py, next to one busy process: UDML's default study 5.7 s
# with one thread, 22.9 s with two; Fusion complexity 9.3 vs 20.6 s. Idle, two threads gain nothing on the small
# models (UDML 5.8 vs 6.0 s) and 25 % on tensor fusion (8.7 vs 6.5 s). First results in the browser fell from
# 5.9 / 11.9 / 5.4 / 10.8 / 12.4 s to 3.7-3.9 / 10.6-11.5 / 3.4-3.7 / 9.6-9.9 / 6.8-7.5 s (slider_latency.py).
torch.set_num_threads(1)
one_blas_thread()  # numpy's and scipy's BLAS too: the reliability test's solvers ran 14-16x slower on two
st.set_page_config(page_title="fusionlab", page_icon=":material/hub:", layout="wide")
start_trimmer()  # freed sessions' memory goes back to the system
warm_up()  # torch's lazy imports, before the first Train

PAGES_DIR = Path(__file__).parent / "pages"

pages = [st.Page(str(p), title=page_title(p), default=(i == 0), url_path=p.stem.split("_", 1)[-1])
         for i, p in enumerate(sorted(PAGES_DIR.glob("*.py")))]
st.navigation(pages).run()
