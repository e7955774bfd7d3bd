"""The `quadro` command. Subcommands come from the `quadro.commands` entry-point group, so
the server, Chiefs and Workers each add their own without the client importing them."""

from quadro.cli.main import main

__all__ = ["main"]
