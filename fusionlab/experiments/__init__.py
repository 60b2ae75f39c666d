"""One module per study: its config, defaults and presets (defined once) and ``run(cfg) -> Result``.

``playground``, ``scaling`` (the fusion-complexity paper), ``gates`` and ``gates_compare`` (the VGMR paper, VGMR),
``permutation`` (the reliability paper), ``udml`` (the UDML paper). Pages and CLI commands build a study's config and
call its ``run``; nothing else trains.
"""
