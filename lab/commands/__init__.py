"""Typer command functions kept out of :mod:`lab.cli` so they can grow independently; cli.py registers them."""
