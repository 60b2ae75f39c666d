"""CLI subcommands; one module per page (see ``fusionlab.cli``)."""
