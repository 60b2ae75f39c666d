"""Start the dashboard on a free local port and wait until it answers: what the browser tests and the browser
benchmarks (``benchmarks/slider_latency.py``) both need."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Tuple

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(root: Path = ROOT, timeout_s: float = 120.0) -> Tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` in ``root``, headless on 127.0.0.1; ``(process, url)`` once its health check
    says ok. Its output goes to a temporary file (a pipe nobody reads could fill and stall it), or to the file
    ``FUSIONLAB_SERVER_LOG`` names (a benchmark's server log, to read an error a page only names); if it does
    not come up, ``RuntimeError`` carries the output's tail."""
    port = free_port()
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    named = os.environ.get("FUSIONLAB_SERVER_LOG")
    log = open(named, "w+b") if named else tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.address", "127.0.0.1"],
                            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    log.seek(0)
    raise RuntimeError("streamlit did not become healthy: " + log.read().decode(errors="replace")[-2000:])


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=20)
