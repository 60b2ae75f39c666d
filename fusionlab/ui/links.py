"""Links that open a setup: a page's controls in its URL (``st.query_params``), named after the controls.

A page lists its linkable controls as :class:`Param` (the widget's session-state key, its kind and what it
accepts); the dataset's options come from the dataset specs (``data_params``). Then:

- ``open_link(page, params)``, before the widgets are drawn, once per session and page: every query parameter
  the page knows sets its widget; an unknown or invalid one is named in a warning (never a crash), and the
  rest still apply. The user still presses Train; the same seed then trains the same model.
- ``link_box(page, url_path, params)``, after the widgets: writes the current setting back into the URL (only the
  controls that differ from their defaults, so a link stays short) and shows it in a box with a copy button.

Example: ``/playground?dataset=uci-digits&views=pix,mor&fusion=gated&epochs=5&seed=3``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union
from urllib.parse import urlencode, urlsplit

import streamlit as st

from ..data import DATASETS
from ..data.spec import controls, kind_of, spec
from .forms import DEFAULTS, field_key

Choices = Union[Sequence[str], Callable[[], Sequence[str]], None]
DATASET = "dataset"
LESSON_QUERY = ("lesson", "step")  # a lesson step's link names it; every page accepts them (``ui.lessons``)


@dataclass(frozen=True)
class Param:
    """One control in the URL: its widget's key, kind (``str``, ``strs``, ``int``, ``float``, ``bool``) and
    what it accepts (``choices`` for the text kinds, ``lo``/``hi`` for numbers; ``step`` snaps a float)."""

    key: str
    kind: str = "str"
    choices: Choices = None
    lo: Optional[float] = None
    hi: Optional[float] = None
    step: Optional[float] = None
    apply: Optional[Callable[[Any], None]] = None  # a preset: called with the value, applied before the rest
    most: Optional[int] = None  # a multiselect's max_selections
    late: bool = False  # looked up after the others are applied: it depends on them (a noise level on the noise type)
    default: Any = None  # left out of a link at this value (when the widget records no default in ``DEFAULTS``)

    def options(self) -> Optional[list]:
        return list(self.choices() if callable(self.choices) else self.choices) if self.choices is not None else None

    def parse(self, raw: str) -> Any:
        """The widget value a URL's text stands for; ``ValueError`` (saying what is accepted) otherwise."""
        raw = raw.strip()
        if self.kind == "bool":
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError("expected true or false")
            return raw.lower() in ("true", "1")
        if self.kind in ("int", "float"):
            try:
                v = int(raw) if self.kind == "int" else float(raw)
            except ValueError:
                raise ValueError(f"expected {'an integer' if self.kind == 'int' else 'a number'}") from None
            if not math.isfinite(v) or (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
                lo, hi = (f"{b:g}" if b is not None else "" for b in (self.lo, self.hi))
                raise ValueError(f"expected a value in [{lo}, {hi}]")
            if self.kind == "float" and self.step:
                v = round(round((v - (self.lo or 0.0)) / self.step) * self.step + (self.lo or 0.0), 10)
            allowed = self.options()  # a select slider's fixed values
            if allowed is not None:
                hit = [a for a in allowed if math.isclose(a, v, rel_tol=1e-9)]
                if not hit:
                    raise ValueError(f"expected one of {', '.join(f'{a:g}' for a in allowed)}")
                v = hit[0]
            return v
        values = [v.strip() for v in raw.split(",") if v.strip()] if self.kind == "strs" else [raw]
        allowed = self.options()
        if allowed is not None:
            bad = [v for v in values if v not in allowed]
            if bad:  # the message never repeats the link's text: a page shows it apart, as a literal
                what = "it is" if len(values) == 1 else f"{len(bad)} of its {len(values)} values are"
                raise ValueError(f"{what} not one of {', '.join(map(str, allowed))}")
        if self.most is not None and len(values) > self.most:
            raise ValueError(f"at most {self.most} may be chosen here")
        return values if self.kind == "strs" else values[0]

    def text(self, value: Any) -> str:
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind == "strs":
            return ",".join(map(str, value))
        return f"{value:g}" if self.kind == "float" else str(value)


def field_param(f, key: str, **extra: Any) -> Param:
    """The link parameter of a declared option (``options.option``): its kind, choices and one range."""
    meta = f.metadata
    return Param(key, kind_of(f), meta.get("choices"), meta.get("lo"), meta.get("hi"), meta.get("step"), **extra)


def offered(names: Sequence[str]) -> list:
    """The datasets a page offers: all of ``names`` but those that need what this server was not given (a dataset
    read from a folder the server was not pointed at: ``DatasetSpec.available``)."""
    return [n for n in names if n not in DATASETS or spec(n).offered()]


def data_params(page: str, dataset: str, names: Sequence[str], max_select: Mapping[str, int] = {}) -> Dict[str, Param]:
    """``dataset`` and the chosen dataset's options (named as the config fields: ``views``, ``n_samples`` ...);
    ``max_select`` as the page gives ``data_controls`` (a multiselect's limit)."""
    out = {DATASET: Param(f"{page}-dataset", "str", offered(names))}
    if dataset not in DATASETS:
        return out
    for f in controls(spec(dataset).config):
        if kind_of(f) in ("bool", "int", "float", "str", "strs"):
            out[f.name] = field_param(f, field_key(page, dataset, f.name), most=max_select.get(f.name))
    return out


def _notice_key(page: str) -> str:
    return f"{page}-link-notice"


def open_link(page: str, params: Callable[[str], Mapping[str, Param]], default_dataset: str) -> None:
    """Once per session and page, set the controls the URL names (``params(dataset)`` gives the page's
    parameters for a dataset); a warning names what was unknown or invalid."""
    done = f"{page}-link-opened"
    if not st.session_state.get(done):
        st.session_state[done] = True
        query = {k: st.query_params.get(k) for k in st.query_params if k not in LESSON_QUERY}
        dataset = query.get(DATASET) or default_dataset
        known = params(dataset)
        if DATASET in known and dataset not in (known[DATASET].options() or [dataset]):
            known = {**params(default_dataset), DATASET: known[DATASET]}  # its options are the default dataset's
        problems, later = [], []
        presets = [n for n in query if n in known and known[n].apply]

        def apply(name: str) -> None:
            raw = query[name]
            try:
                value = known[name].parse(raw)
            except ValueError as exc:
                problems.append(f"{literal(f'{name}={raw}')}: {plain(str(exc), 200)}")
                return
            if known[name].apply:
                known[name].apply(value)
            else:
                st.session_state[known[name].key] = value

        for name in presets + [n for n in query if n not in presets]:  # a preset first, then what it left
            if name not in presets and presets and DATASET not in query:  # a preset may have switched the dataset
                known = {**params(st.session_state.get(known[DATASET].key, default_dataset)),
                         **{n: known[n] for n in presets}}
            if name not in known or known[name].late:
                later.append(name)
            else:
                apply(name)
        if later:  # a second look, with the parameters as the rest left them (the views chosen, the noise type)
            known = params(st.session_state.get(known[DATASET].key, default_dataset) if DATASET in known
                           else default_dataset)
            for name in later:
                if name in known:
                    apply(name)
                else:
                    problems.append(f"unknown parameter {literal(name)}")
        if problems:
            st.session_state[_notice_key(page)] = ("Not applied from this link: " + "; ".join(problems)
                                                   + ". Its other settings were applied.")
    first = st.session_state.get(f"{page}-link-first")
    if first is not None:
        now = params(st.session_state.get(f"{page}-dataset", default_dataset))
        if current_query(now) != first:  # the user has moved a control since the link opened: its warning is history
            st.session_state.pop(_notice_key(page), None)
    notice = st.session_state.get(_notice_key(page))
    if notice:
        st.warning(notice, icon=":material/link_off:")


def current_query(params: Mapping[str, Param], values: Optional[Mapping[str, Any]] = None) -> Dict[str, str]:
    """The controls that differ from their defaults, as URL text: the widgets' values now, or ``values``
    (widget key -> value, e.g. the setting a saved run was trained with)."""
    values = st.session_state if values is None else values
    out = {}
    for name, p in params.items():
        if p.apply or p.key not in values:  # a preset is a one-off: the controls it set are in the URL
            continue
        value = values[p.key]
        default = DEFAULTS.get(p.key, p.default)
        if default is not None and _same(value, default):
            continue
        if isinstance(value, str) and value.startswith("__") and value.endswith("__"):
            continue  # a placeholder a page resolves later (e.g. "the last modality" before any are known)
        out[name] = p.text(value)
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def page_url(url_path: str, query: Mapping[str, str]) -> str:
    """The page's address with ``query``: the browser's origin (``st.context.url``) and the page's path."""
    parts = urlsplit(st.context.url or "http://localhost:8501")
    base = f"{parts.scheme}://{parts.netloc}/{url_path}"
    return base + (f"?{urlencode(query, safe=',')}" if query else "")


def write_link(params: Mapping[str, Param]) -> Dict[str, str]:
    """Write the current setup into the browser's address (a live view's fragment calls it after its sliders
    moved: the address then holds their levels before the page reruns)."""
    query = current_query(params)
    if {k: st.query_params.get(k) for k in st.query_params} != query:
        st.query_params.from_dict(query)
    return query


def link_box(page: str, url_path: str, params: Mapping[str, Param]) -> str:
    """Write the current setup into the URL and show it with a copy button; returns the link."""
    query = write_link(params)
    st.session_state.setdefault(f"{page}-link-first", query)  # the setting the link opened (open_link compares)
    url = page_url(url_path, query)
    with st.popover("Copy link", icon=":material/link:", help="a link that opens this page with these settings"):
        address_box(url)
        st.caption("Opening it sets the controls, the noise sliders and the sample; press Train there to train the "
                   "same model (same seed).")
    return url


ADDRESS_HTML = """<div style="font: 14px monospace; word-break: break-all; padding: 6px; border-radius: 6px;
 background: #f0f2f6; color: #31333f" id="u"></div>
<button id="c" style="margin-top: 6px; padding: 4px 10px; border-radius: 6px; border: 1px solid #ccc;
 background: white; cursor: pointer">Copy</button>
<script>
const u = document.getElementById("u"), c = document.getElementById("c");
let here = %s;
function show() { try { here = window.parent.location.href; } catch (e) {} u.textContent = here; }
show(); setInterval(show, 500);
c.onclick = async () => { try { await navigator.clipboard.writeText(here); c.textContent = "Copied"; }
  catch (e) { const r = document.createRange(); r.selectNodeContents(u); const s = getSelection();
              s.removeAllRanges(); s.addRange(r); c.textContent = "Selected: press Ctrl+C"; } };
</script>"""


def address_box(url: str) -> None:
    """The page's address as the browser holds it (the live views write their sliders into it as they move, between
    the page's full runs), read when shown and while open, with a Copy button: the same link the address bar
    holds, never an older one. ``url`` (the setting as of this run) shows until the browser's is read."""
    import json
    st.iframe(ADDRESS_HTML % json.dumps(url).replace("<", "\\u003c"), height=84)  # no '</script>' can close it


def view_query(params: Mapping[str, Param], config_state: Mapping[str, Any]) -> Dict[str, str]:
    """What the page shows beyond a config (the noise sliders, the selected sample) as link text: the current
    link's parameters whose widgets ``config_state`` (the config's widget values) does not set. A bundle saves it
    as its ``view``; ``apply_view`` brings it back."""
    return {n: v for n, v in current_query(params).items() if params[n].key not in config_state}


def apply_view(params: Callable[[], Mapping[str, Param]], view: Mapping[str, str]) -> list:
    """Set the widgets a saved ``view`` names (``view_query``'s), parameters that depend on others (``late``: a
    noise level on the noise type) after the rest; returns what could not be applied, named."""
    problems, known = [], params()
    for late in (False, True):
        if late:
            known = params()  # with the noise type, the modalities... the first pass set
        for name, raw in view.items():
            p = known.get(name)
            if p is None:
                if late:
                    problems.append(f"unknown parameter {literal(name)}")
                continue
            if p.late != late or p.apply:
                continue
            try:
                st.session_state[p.key] = p.parse(raw)
            except ValueError as exc:
                problems.append(f"{literal(f'{name}={raw}')}: {plain(str(exc), 200)}")
    return problems


def literal(text: str, most: int = 80) -> str:
    """Text from a link shown as itself in a markdown element: a code span (no markup, no image, no link, not even a
    bare URL's autolink), at most ``most`` characters, with a delimiter longer than any run of backticks in it."""
    text = text if len(text) <= most else text[:most] + "…"
    text = re.sub(r"[\x00-\x1f\x7f]", " ", text)  # no line breaks: a code span is one line
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plain(text: str, most: int = 80) -> str:
    """Text from a file or a link shown as itself: markdown's special characters escaped, at most ``most`` long."""
    text = text if len(text) <= most else text[:most] + "…"
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~])", r"\\\1", text)


def run_url(url_path: str, params: Mapping[str, Param], config_state: Mapping[str, Any],
            view: Mapping[str, str]) -> str:
    """The link that opens the page as a run was: the controls of its config, then what was on screen."""
    return page_url(url_path, {**current_query(params, config_state), **view})


def checked_state(params: Mapping[str, Param], state: Dict[str, Any]) -> Dict[str, Any]:
    """``state`` (widget key -> value, e.g. a reopened run's), refused (``ValueError``) where a control cannot
    show it: a bundle's config may hold values the engine accepts but the page's widgets do not (150 epochs;
    Streamlit raises on those)."""
    for name, p in params.items():
        if p.key in state and not p.apply:
            try:
                p.parse(p.text(state[p.key]))
            except ValueError as exc:
                raise ValueError(f"its {name} = {p.text(state[p.key])} is beyond this page's controls: {exc}") from None
    return state
