"""Sliders that answer at once (issue 17 item 1): a live view evaluated in Python beforehand, drawn in the browser.

A Streamlit slider reruns the page for every step, and the browser then redraws every figure the rerun sent:
0.5-1 s per step on a 2-core machine. Here the figures that depend on the sliders live in one component
(``live/index.html``) with its own sliders. For the current setting the page evaluates every position of every
slider with the others held (the "axes" through the point: ``sum(len(s.values))`` frames, not their product), and
sends those frames; a step along any axis then only swaps figures in the browser, with Plotly.react, and nothing
reruns. A second slider moved after the first needs the axes through the new point: the component reports the
setting one second after the last move (and at once when it has no frame for it), the page stores it in the
sliders' session-state keys (what links, bundles and the rest of the page read) and sends the new axes.

A frame is a mapping of block names to :class:`Block`: a figure, metrics, or a line of text. Blocks that do not
change between two positions are not redrawn.
"""
from __future__ import annotations

import atexit
import functools
import hashlib
import html
import itertools
import json
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Hashable, List, Mapping, Optional, Sequence, Tuple

import plotly
import plotly.graph_objects as go
from plotly.utils import PlotlyJSONEncoder

MAX_FRAMES = 600  # per view and session: about 15 kB each; the oldest go first
POLL_MS = 400  # while the page prepares the sliders' own positions, the component asks for those ready this often
ABANDON_S = 6.0  # a preparation no run of its view has asked about for this long stops (the tab is gone)
QUIET_POLL_MS = 5000  # and this often for the rest (what a second slider reaches): each run redraws the fragment,
# and a redraw every 1.5 s landed in every third slider step (235-492 ms medians, against 109 ms between them)


@dataclass(frozen=True)
class LiveSlider:
    """One slider of a live view: its label, the session-state key holding its value, its positions."""

    name: str
    key: str
    values: Tuple[float, ...]
    labels: Tuple[str, ...] = ()
    help: str = ""
    # the index of another slider at whose first position this one changes nothing (a noise weight with nothing
    # noised): the browser greys it out and says why, instead of leaving a control that does nothing
    inert_unless: Optional[int] = None
    inert_note: str = ""

    def label_list(self) -> List[str]:
        return list(self.labels) if self.labels else [f"{v:g}" for v in self.values]

    def index(self, value: float) -> int:
        """The position nearest ``value`` (a link or a bundle may hold a value between two positions)."""
        return min(range(len(self.values)), key=lambda i: abs(self.values[i] - float(value)))


@dataclass(frozen=True)
class Metric:
    label: str
    value: str
    delta: str = ""
    color: str = "normal"  # or "off": no arrow, grey (ui.widgets.metric_change)


Block = object  # go.Figure | its plotly JSON (a dict) | List[Metric] | str (markdown: **bold** and `code` only)


def markdown_html(text: str) -> str:
    """The markdown the live view's text blocks use (**bold**, `code`), as escaped HTML."""
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def block_json(block: Block) -> str:
    """One block as the component reads it; a figure without its template (sent once per view)."""
    if isinstance(block, (go.Figure, dict)):  # a dict: a figure's plotly JSON (figures.common.with_shapes)
        fig = block.to_plotly_json() if isinstance(block, go.Figure) else dict(block)
        fig["layout"] = {k: v for k, v in fig["layout"].items() if k != "template"}
        out = {"kind": "figure", "figure": fig}
    elif isinstance(block, str):
        out = {"kind": "text", "html": markdown_html(block)}
    else:
        out = {"kind": "metrics", "items": [m.__dict__ for m in block]}
    return json.dumps(out, cls=PlotlyJSONEncoder, separators=(",", ":"))


def frame_json(frame: Mapping[str, Block]) -> Dict[str, str]:
    return {name: block_json(b) for name, b in frame.items()}


@functools.lru_cache(maxsize=1)
def template_json() -> str:
    """The figures' template, sent once per view (the frames' figures go without it)."""
    import plotly.io as pio
    return json.dumps(pio.templates[pio.templates.default].to_plotly_json(), cls=PlotlyJSONEncoder)


def axes(point: Sequence[int], sliders: Sequence[LiveSlider], first: int = 0) -> List[Tuple[int, ...]]:
    """The points evaluated for a view at ``point``, in order: ``point`` itself; every point that differs from it in
    one slider (the positions of slider ``first``, then of the sliders next to it before those further away); then
    the settings a second slider reaches after one step of another (slider ``j`` one step either way, any position of
    slider ``k``), so that the first step of a second slider finds its frame ready."""
    order = sorted(range(len(sliders)), key=lambda j: (abs(j - first), j))
    out, seen = [tuple(point)], {tuple(point)}

    def add(q):
        if q not in seen:
            seen.add(q)
            out.append(q)

    for j in order:
        for p in range(len(sliders[j].values)):
            add(tuple(point[:j]) + (p,) + tuple(point[j + 1:]))
    for j in order:
        for step in (1, -1):
            if 0 <= point[j] + step < len(sliders[j].values):
                moved = list(point)
                moved[j] += step
                for k in order:
                    if k != j:
                        for p in range(len(sliders[k].values)):
                            add(tuple(moved[:k]) + (p,) + tuple(moved[k + 1:]))
    return out


def _assets() -> Path:
    """A directory holding the component's page and plotly.js (Streamlit serves a component's files from one
    directory and refuses links out of it). Written once per version, atomically, outside the repository."""
    page = Path(__file__).with_name("live") / "index.html"
    js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    digest = hashlib.sha256(page.read_bytes() + plotly.__version__.encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fusionlab"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: a fresh private temporary directory (never one another user could plant)
        base = Path(tempfile.mkdtemp(prefix="fusionlab-live-"))
    root = base / f"live-{digest}"
    if not (root / "index.html").exists():
        tmp = Path(tempfile.mkdtemp(dir=base, prefix=".live-"))
        shutil.copyfile(js, tmp / "plotly.min.js")
        shutil.copyfile(page, tmp / "index.html")
        try:
            tmp.rename(root)
        except OSError:  # another session wrote it first
            shutil.rmtree(tmp, ignore_errors=True)
    return root


@functools.lru_cache(maxsize=1)
def _component():
    import streamlit.components.v1 as components
    return components.declare_component("fusionlab_live", path=str(_assets()))


def reported_point(value: object, sliders: Sequence[LiveSlider], revision: int) -> Optional[Tuple[int, ...]]:
    """The point the component reported, if it is one of this view's (same revision, positions in range)."""
    if not isinstance(value, dict) or value.get("revision") != revision:
        return None
    p = value.get("point")
    if not isinstance(p, list) or len(p) != len(sliders):
        return None
    if not all(isinstance(i, int) and 0 <= i < len(s.values) for i, s in zip(p, sliders)):
        return None
    return tuple(p)


def _structure(sliders: Sequence[LiveSlider], layout: Sequence[Sequence[Tuple[str, str]]]) -> str:
    """A hash of the sliders' names and positions and of the layout: another structure drops the frames."""
    return hashlib.sha1(json.dumps([[s.name, s.label_list()] for s in sliders] + [list(map(list, layout))])
                        .encode()).hexdigest()[:12]


def _agree_point(state, key: str, sliders: Sequence[LiveSlider], structure: str) -> Tuple[int, Tuple[int, ...], int]:
    """The revision, the point to show (reported by the component or set by the page) and the slider moved last."""
    point = tuple(s.index(state.get(s.key, s.values[0])) for s in sliders)
    meta = state.get(f"{key}-live")  # (structure, revision, the point last agreed with the component, moved)
    revision, moved = (meta[1], meta[3]) if meta else (0, 0)
    got = reported_point(state.get(key), sliders, revision) if meta and meta[0] == structure else None
    if got is not None and got != meta[2]:  # the user moved a slider in the browser
        last = state.get(key).get("moved")  # the slider moved last: its neighbours' axes are evaluated first
        moved = last if isinstance(last, int) and 0 <= last < len(sliders) and got[last] != meta[2][last] else \
            next(j for j, (a, b) in enumerate(zip(got, meta[2])) if a != b)
        point = got
        for s, i in zip(sliders, point):
            state[s.key] = s.values[i]
    elif meta is not None and point != meta[2]:  # the page moved them (a link, a reopened run, the noise type)
        revision += 1
    for s, i in zip(sliders, point):  # a value between two positions (a link, an older run) is the nearest one
        if state.get(s.key) != s.values[i]:
            state[s.key] = s.values[i]
    state[f"{key}-live"] = (structure, revision, point, moved)
    return revision, point, moved


def _frame_cache(state, key: str, owner: object, structure: str, context: tuple) -> Tuple[dict, dict, int]:
    """This view's frames by point and by ``same()`` and their generation, dropped for another owner or context."""
    cache = state.get(f"{key}-frames")  # (owner, (structure, context), frames by point, by same(), generation)
    if cache is None or cache[0] is not owner or cache[1] != (structure, context):
        cache = (owner, (structure, context), {}, {}, next(_NUMBERS))
        state[f"{key}-frames"] = cache
    return cache[2], cache[3], cache[4]


def _evaluator(sliders: Sequence[LiveSlider], frame: Callable[[Tuple[float, ...]], Mapping[str, Block]],
               same: Optional[Callable[[Tuple[float, ...]], Hashable]], frames: dict,
               evaluated: dict, shared: Optional[Hashable] = None) -> Callable[..., Optional[bool]]:
    """``evaluate(q)``: put point ``q``'s frame in ``frames``, computed once per ``same`` name; with ``shared`` (the
    view of a result several sessions share), once for all of them (``sharing.frame_store``)."""
    from . import sharing
    store = sharing.frame_store() if shared is not None else None

    def compute(name, values, claim: bool) -> Optional[bool]:
        if store is None:
            evaluated[name] = frame_json(frame(values))
            return True
        k = (shared, name)
        hit = store.frames.peek(k)
        if hit is not None:
            evaluated[name] = hit
            return False
        if claim and not store.claim(k):  # another session computes it now: it comes with a later run
            return None
        try:
            evaluated[name] = frame_json(frame(values))
            store.frames.put(k, evaluated[name])
        finally:
            if claim:
                store.release(k)
        return True

    def evaluate(q: Tuple[int, ...], claim: bool = False) -> Optional[bool]:
        """Put ``q``'s frame in the cache; True if it had to be computed (not shared with a ``same`` setting or
        another session), None if another session is computing it now (only asked with ``claim``)."""
        values = tuple(s.values[i] for s, i in zip(sliders, q))
        name = same(values) if same else q
        fresh = False
        if name not in evaluated:
            fresh = compute(name, values, claim)
            if fresh is None:
                return None
        frames[q] = evaluated[name]
        return fresh

    return evaluate


def _frames_to_send(ordered: Sequence[Tuple[int, ...]], frames: dict, held: set) -> Dict[str, Dict[str, str]]:
    """The evaluated frames of the axes the component does not hold, by ``"i,j,..."``; every evaluated one is
    marked recently used."""
    out = {}
    for q in ordered:
        f = frames.pop(q, None)
        if f is not None:
            frames[q] = f  # recently used last: the oldest are dropped first
            if q not in held:
                out[",".join(map(str, q))] = f
    return out


# Render numbers and frame generations, never reused in this process nor by the one before it (they start from the
# clock, in microseconds: still exact in a JavaScript number). A component outlives them: a report it made before
# reading the first render of a new delivery names a render of the old one, a tab that reconnects to a restarted
# server holds the old server's frames, and neither may be taken for the new one's (render numbers restarted at 1
# with each delivery, and a slider step then waited forever for a frame the page believed the component held).
_NUMBERS = itertools.count(time.time_ns() // 1000)


@dataclass
class _Delivery:
    """What the page knows the component holds. The component keeps every frame it was sent until it starts
    afresh (a new frame, another sample, too many), and then names a new ``epoch``: the page sends it everything
    again. Each render carries a number (``seq``) and every frame the component has not acknowledged; the
    component reports the last number it read (``got``), so a render Streamlit skips (two runs close together
    are drawn once) loses nothing. Sending only what it lacks matters while the page prepares: a view of six
    sliders has ~500 positions (7 MB), and sending them all with every poll kept the browser parsing."""

    epoch: Optional[str]
    generation: int
    held: set  # acknowledged
    sent: Dict[int, set]  # render number -> points it carried, not acknowledged yet
    seq: int = 0

    def send(self, out: Mapping[str, object]) -> int:
        self.seq = next(_NUMBERS)
        self.sent[self.seq] = {tuple(int(i) for i in k.split(",")) for k in out}
        for old in list(self.sent)[:-100]:  # never acknowledged (no report came): their frames go again anyway
            del self.sent[old]
        return self.seq


def _delivery(state, key: str, generation: int) -> _Delivery:
    value = state.get(key) if isinstance(state.get(key), dict) else {}
    heard = value.get("epoch") if isinstance(value.get("epoch"), str) else None
    d: Optional[_Delivery] = state.get(f"{key}-sent")
    if d is None or d.epoch != heard or d.generation != generation:
        d = _Delivery(heard, generation, set(), {})
        state[f"{key}-sent"] = d
    got = value.get("got")
    if isinstance(got, int):
        for n in [n for n in d.sent if n <= got]:
            d.held |= d.sent.pop(n)
    return d


class Preparation:
    """The positions a view lacks, evaluated in a thread of its own once the run that drew the view has sent it.

    Evaluating them inside the page's run kept Streamlit's running icon and Stop on screen while the page was only
    getting ready (Streamlit shows them 500 ms into a run); here a run only sends the frames ready so far and ends
    at once, and the component asks for another run (every ``POLL_MS``) while the page has more to send. A new
    setting (a move, another sample) cancels the preparation for the old one: its thread stops after the frame it
    is evaluating. So does a view nobody asks any more (a closed tab, another page): the thread stops once no run
    of the view has come for ``ABANDON_S``, and the view's next run goes on from there."""

    def __init__(self, todo: Sequence[Tuple[int, ...]], frames: dict, evaluate: Callable[..., Optional[bool]],
                 tag: tuple) -> None:
        self.todo, self.frames, self.evaluate, self.tag = list(todo), frames, evaluate, tag
        self.cancelled, self.error = False, None
        self.seen = time.monotonic()  # the last run of the view (it asks for what is ready while some is missing)
        self.thread = threading.Thread(target=self._run, name="fusionlab-live-prepare", daemon=True)
        _RUNNING.add(self)
        self.thread.start()

    def _run(self) -> None:
        todo = self.todo
        try:
            while todo and not self.cancelled:
                for q in todo:
                    if self.cancelled or time.monotonic() - self.seen > ABANDON_S:
                        return
                    if q not in self.frames:
                        self.evaluate(q, claim=True)
                todo = [q for q in todo if q not in self.frames]  # those another session was computing
                if todo:
                    time.sleep(0.05)
        except Exception as exc:  # noqa: BLE001 -- a frame that raises: the page says so at its next run
            self.error = exc

    def alive(self) -> bool:
        return self.thread.is_alive()

    def join(self, timeout: Optional[float] = None) -> None:
        self.thread.join(timeout)


_RUNNING: "weakref.WeakSet[Preparation]" = weakref.WeakSet()


@atexit.register
def stop_preparations(timeout: float = 5.0) -> None:
    """Cancel every preparation and wait for its thread (at exit: a thread killed inside torch aborts the process)."""
    running = list(_RUNNING)
    for prep in running:
        prep.cancelled = True
    for prep in running:
        prep.join(timeout)


def _prepare(state, key: str, missing: Sequence[Tuple[int, ...]], frames: dict,
             evaluate: Callable[..., Optional[bool]], tag: tuple) -> None:
    """Start evaluating ``missing`` in the background, unless the running preparation is already doing so."""
    prep: Optional[Preparation] = state.get(f"{key}-prep")
    if prep is not None and prep.alive() and prep.tag == tag and prep.frames is frames:
        prep.seen = time.monotonic()
        return
    if prep is not None:
        prep.cancelled = True
        if prep.error is not None and prep.tag == tag:
            raise prep.error
    state[f"{key}-prep"] = Preparation(missing, frames, evaluate, tag) if missing else None


def _trim(frames: dict, evaluated: dict, keep: set) -> None:
    """Drop the oldest frames beyond ``MAX_FRAMES`` (of the points, those off the current axes). A preparation
    thread may be adding to them: every read here is one dict operation (atomic), never an iteration."""
    for store in (frames, evaluated):
        for old in list(store)[:max(0, len(store) - MAX_FRAMES)]:
            if store is evaluated or old not in keep:
                store.pop(old, None)


def live_view(key: str, sliders: Sequence[LiveSlider], frame: Callable[[Tuple[float, ...]], Mapping[str, Block]],
              layout: Sequence[Sequence[Tuple[str, str]]], owner: object, context: tuple = (),
              same: Optional[Callable[[Tuple[float, ...]], Hashable]] = None, columns: int = 3,
              shared: Optional[str] = None) -> Tuple[float, ...]:
    """Draw the live view and return the sliders' current values. Call it inside an ``st.fragment``.

    ``frame(values)`` gives the blocks for one setting; ``layout`` is rows of ``(block name, what to look for)``;
    the frames depend on nothing but the values, ``owner`` (the trained run, by identity) and ``context`` (the
    sample, the noise type): another owner or context drops them. ``same(values)``, if given, names settings
    that draw alike (a noise weight with nothing noised), evaluated once. ``shared``, if given, names ``owner``'s
    result as several sessions share it (``sharing.name_of``): its frames are computed once for all of them, a
    session leaving to another the frames that one is computing. The sliders' values live in
    ``st.session_state[s.key]``; set them there to move the sliders.

    The current setting is evaluated at once and drawn; then its axes, in a background thread (:class:`Preparation`),
    sent with the further runs of the fragment that the component asks for while some are missing, so a view with
    many positions shows without waiting for all of them, and no run of the page lasts long enough for Streamlit
    to show its running icon and Stop while the page only prepares.
    """
    import streamlit as st
    state = st.session_state
    structure = _structure(sliders, layout)
    revision, point, moved = _agree_point(state, key, sliders, structure)
    frames, evaluated, generation = _frame_cache(state, key, owner, structure, context)
    evaluate = _evaluator(sliders, frame, same, frames, evaluated,
                          None if shared is None else (shared, key, structure, context))
    ordered = axes(point, sliders, moved)
    if point not in frames:
        evaluate(point)
    delivery = _delivery(state, key, generation)
    out = _frames_to_send(ordered, frames, delivery.held)
    seq = delivery.send(out)
    pending = any(q not in frames for q in ordered)
    on_axes = 1 + sum(len(s.values) - 1 for s in sliders)  # ``axes`` lists the point's own axes first
    preparing = any(q not in frames for q in ordered[:on_axes])  # what the view says it is preparing
    state[f"{key}-shown"] = frames[point]  # what the view shows now (tests read it; AppTest draws no component)
    state[f"{key}-pending"] = pending
    # the positions it lacks are evaluated after this, in the background, and sent with the next run the component
    # asks for (pending)
    _component()(sliders=[{"name": s.name, "labels": s.label_list(), "help": s.help, "inert_unless": s.inert_unless,
                           "inert_note": s.inert_note} for s in sliders],
                 layout=[[list(c) for c in row] for row in layout], structure=structure, context=generation,
                 revision=revision, point=list(point), frames=out, template=template_json(), columns=columns,
                 pending=pending, preparing=preparing, budget_ms=POLL_MS if preparing else QUIET_POLL_MS,
                 epoch=delivery.epoch, seq=seq,
                 key=key, default=None)
    _trim(frames, evaluated, set(ordered))
    _prepare(state, key, [q for q in ordered if q not in frames], frames, evaluate, (generation, point, moved))
    return tuple(s.values[i] for s, i in zip(sliders, point))
