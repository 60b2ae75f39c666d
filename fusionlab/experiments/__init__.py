"""One module per study: its config, defaults and presets (defined once) and ``run(cfg) -> Result``.

``playground``, ``scaling`` (seed 002), ``gates`` and ``gates_compare`` (seed 003, VGMR),
``permutation`` (seed 000), ``udml`` (seed 001). Pages and CLI commands build a study's config and
call its ``run``; nothing else trains.
"""
