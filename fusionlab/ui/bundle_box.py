"""The "Save this run, or reopen a saved one" box every page with a trained model shows (issue 17 item 4).

A page gives ``bundle_box`` its key, whether its run can be saved, how to make the bundle's bytes (called when
the user asks, not on every rerun: a bundle holds every table and figure) and how to reopen one (a callback
that gets the uploaded bytes and sets the page's run and controls, raising ``ValueError`` with a one-line
reason). The upload is reopened in the button's callback, before the page runs, so the controls it sets are
drawn with the bundle's values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Hashable, Mapping, Optional, Tuple

import streamlit as st

from .. import bundles
from .links import Param, apply_view, checked_state, literal, run_url, view_query


def _reopen(key: str, reopen: Callable[[bytes], None]) -> None:
    up = st.session_state.get(f"{key}-bundle-up")
    st.session_state.pop(f"{key}-bundle-error", None)
    if up is None:
        st.session_state[f"{key}-bundle-error"] = ("No run bundle has reached the page yet: choose a .zip, wait until "
                                                   "its size shows, then press Reopen.")
        return
    from .links import plain
    try:
        reopen(up.getvalue())
    except Exception as exc:  # noqa: BLE001 - a crafted bundle must end in this one line, never in a traceback box
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        why = text if isinstance(exc, ValueError) else f"{type(exc).__name__}: {text}"
        st.session_state[f"{key}-bundle-error"] = f"Cannot reopen {literal(up.name)}: {plain(why, 300)}"
        return
    st.session_state[f"{key}-bundle-note"] = (f"Reopened {literal(up.name)}: its model, settings, tables and what was on "
                                              "screen (sliders, sample); nothing was retrained.")


def bundle_box(key: str, run: object, make: Optional[Callable[[], bytes]], file_name: str,
               reopen: Callable[[bytes], None], version: Hashable = None, why: str = "",
               view: Optional[Tuple[Tuple[str, str], ...]] = None) -> None:
    """'Download run' of ``run`` (``make`` is None: it cannot be saved, for the reason ``why``) and 'Reopen' of an
    uploaded bundle. ``version`` names what the run holds now, for a run that grows in place or changes with the
    controls (more seeds, more tables, another setting); ``view``, the sliders and sample on screen (link
    parameters, sorted), when the bundle keeps them. A prepared download of another version or view is not
    offered, and the box says which of the two changed."""
    # a bordered box, not an expander: the training run's progress bar shifts the elements, so an expander would
    # come back closed on the next run (and hide the download button that run made)
    with st.container(border=True, key=f"{key}-bundle-box"):
        st.markdown("**Save this run, or reopen a saved one**")
        left, right = st.columns(2)
        with left:
            if run is None:
                st.caption("Train a model to download it.")
            elif make is None:
                st.caption(f"This run cannot be saved{': ' + why if why else '.'}")
            else:
                made = st.session_state.get(f"{key}-bundle")  # (run, version, view, bytes)
                current = made is not None and made[0] is run and made[1:3] == (version, view)
                if not current:
                    note = st.empty() if made is not None else None  # the download offered before is gone
                    slot = st.empty()  # the button goes once its download is there (no later run may redraw the box)
                    if slot.button("Prepare the download", key=f"{key}-bundle-make",
                                   help="one .zip: config.json (with this page's link), the weights (safetensors), "
                                        "every table as CSV and every figure as HTML"):
                        try:
                            made = (run, version, view, make())
                        except ValueError as exc:
                            st.error(f"Cannot save this run: {exc}")
                        else:
                            st.session_state[f"{key}-bundle"] = made
                            current = True
                            slot.empty()
                    if note is not None and not current:  # say why, unless it was prepared again just now
                        note.caption(f"The {_what_changed(made, run, version)} since the download was prepared: "
                                     "prepare it again to save this one.")
                if current:
                    st.download_button("Download run (.zip)", made[3], key=f"{key}-bundle-download",
                                       file_name=file_name, mime="application/zip", on_click="ignore", type="primary")
                    if view is not None:  # a slider moved since (the live view's own run) does not redraw this box
                        st.caption("It holds what was on screen when prepared: "
                                   + (", ".join(f"{literal(k)} = {literal(v)}" for k, v in view) if view else
                                      "every slider and the sample at their start") + ".")
        with right:
            st.file_uploader("reopen a run (.zip from 'Download run')", type=["zip"], key=f"{key}-bundle-up")
            st.button("Reopen", key=f"{key}-reopen", on_click=_reopen, args=(key, reopen))
        if st.session_state.get(f"{key}-bundle-error"):
            st.error(st.session_state[f"{key}-bundle-error"])
        elif st.session_state.get(f"{key}-bundle-note"):
            st.success(st.session_state.pop(f"{key}-bundle-note"))
            if st.session_state.get(f"{key}-bundle-warning"):
                st.warning(st.session_state.pop(f"{key}-bundle-warning"))


def _what_changed(made: tuple, run: object, version: Hashable) -> str:
    """Which part of a prepared download (``(run, version, view, bytes)``) no longer matches the page, in words."""
    if made[0] is not run:
        return "run on screen has changed (trained again, reopened, or its other seeds landed)"
    if made[1] != version:
        return "run on screen has grown (more models or tables landed)"
    return "sliders or sample on screen have changed"


@dataclass(frozen=True)
class PageSaving:
    """How one page saves and reopens its runs (``bundles`` does the saving itself, the same for every study).

    ``params(dataset)``: the page's link parameters; ``config_state(cfg)``: the widget values that show a config;
    ``restore(reopened)``: the page's run from a reopened one (raising ``ValueError`` if the page cannot show it);
    ``figures()``: the figures saved with the run (called on demand)."""

    key: str
    url_path: str
    saving: bundles.Saving
    params: Callable[[str], Mapping[str, Param]]
    config_state: Callable[[Any], Dict[str, Any]]
    restore: Callable[[bundles.Reopened], None]

    def view(self, cfg: Any) -> Dict[str, str]:
        return view_query(self.params(cfg.data.name), self.config_state(cfg))

    def make(self, cfg: Any, result: Any, figures: Callable[[], Mapping[str, Any]]) -> bytes:
        params, state = self.params(cfg.data.name), self.config_state(cfg)
        view = view_query(params, state)
        return bundles.save(self.saving, cfg, result, view, run_url(self.url_path, params, state, view), figures())

    def reopen(self, data: bytes) -> None:
        """Reopen's callback (it runs before the page, so it may set the controls): the run, its controls, then
        what was on screen (the sliders and the sample, which depend on the run's modalities)."""
        done = bundles.reopen(self.saving, data)
        cfg = done.config
        state = checked_state(self.params(cfg.data.name), self.config_state(cfg))
        self.restore(done)
        st.session_state.update(state)
        problems = apply_view(lambda: self.params(cfg.data.name), done.view)
        if problems:  # the run is back; only part of what was on screen is not (said, not raised: state has changed)
            st.session_state[f"{self.key}-bundle-warning"] = ("Part of what was on screen could not be shown: "
                                                              + "; ".join(problems))

    def box(self, run: object, cfg: Any, result: Any, figures: Callable[[], Mapping[str, Any]], file_name: str,
            savable: bool = True, version: Hashable = None, why: str = "") -> None:
        """``bundle_box`` for this page: a prepared download belongs to the run, its ``version`` and its view."""
        view = tuple(sorted(self.view(cfg).items())) if run is not None else ()
        bundle_box(self.key, run, (lambda: self.make(cfg, result, figures)) if run is not None and savable else None,
                   file_name, self.reopen, version=version, why=why, view=view)
