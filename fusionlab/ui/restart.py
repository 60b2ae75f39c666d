"""A page whose run is gone says so: the server restarted, or the tab was reloaded (issue 32).

A session's models live in the server's memory, for one browser session; a restarted server hands the reconnecting tab a
fresh session, and so does a reload, and the page used to say "No model yet" as if nothing had happened. When a page
has a trained run, it marks the browser tab (``sessionStorage``, which survives the reconnect and a reload but not the
tab) with this server process and this session. A page without a run whose tab carries another session's mark says
which of the two took it.
"""
from __future__ import annotations

import json
import secrets
import time

import streamlit as st

BOOT = secrets.token_hex(8)  # this server process
STARTED = time.strftime("%H:%M")

MARK_HTML = """<script>
try { window.parent.sessionStorage.setItem(%(key)s, %(boot)s); } catch (e) {}
</script>"""

CHECK_HTML = """<style>body { margin: 0; }</style><div id="n" role="status" style="display: none; font: 15px 'Source Sans Pro', sans-serif;
 padding: 10px 14px; border-radius: 8px; background: #fff8e1; color: #5d4300; border: 1px solid #f0d58c">
The %(what)s trained in this tab is gone: <span id="why"></span>, and a model lives only in the server's memory, for
one browser session. Train it again, or reopen a run you downloaded with <b>Download run</b>.</div>
<script>
const n = document.getElementById("n");
function look() {  // shown while the tab's mark is another session's; hidden once this session trains (mark)
  try {
    const was = window.parent.sessionStorage.getItem(%(key)s);
    const gone = was && was !== %(mark)s;
    if (gone) {
      document.getElementById("why").textContent = was.split(":")[0] === %(boot)s ?
        "the page was reloaded" : "the server restarted (at %(started)s)";
    }
    n.style.display = gone ? "block" : "none";
    const h = gone ? (n.offsetHeight + 4) + "px" : "1px";  // the frame and its element container (1 px tall)
    window.frameElement.style.height = h;
    window.frameElement.parentElement.style.height = h;
  } catch (e) {}
}
look();
const every = setInterval(look, 1000);
setTimeout(() => clearInterval(every), 600000);
</script>"""


def _key(page: str) -> str:
    return json.dumps(f"fusionlab-trained-{page}")


def _mark() -> str:
    """This server process and this browser session."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    ctx = get_script_run_ctx()
    return f"{BOOT}:{ctx.session_id if ctx is not None else ''}"


def mark(page: str) -> None:
    """The page has a trained run: mark the tab with this server and session (once per session)."""
    if not st.session_state.get(f"{page}-restart-marked"):
        st.session_state[f"{page}-restart-marked"] = True
        st.iframe(MARK_HTML % {"key": _key(page), "boot": json.dumps(_mark())}, height=1)


def lost_notice(page: str, what: str = "model", has_run: bool = False) -> None:
    """Near the top of a page without a run (``has_run`` False): if another session marked the tab, say the run is
    gone and why (until this session trains one)."""
    if has_run:
        return
    st.session_state.pop(f"{page}-restart-marked", None)
    st.iframe(CHECK_HTML % {"key": _key(page), "mark": json.dumps(_mark()), "boot": json.dumps(BOOT), "what": what,
                            "started": STARTED}, height=1)
