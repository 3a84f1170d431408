"""Typer sub-apps kept out of :mod:`lab.cli` (``tlslab image``, ``export``, ``ocsp``, ``matrix``).

They print through :mod:`lab.console`'s one console pair and run inside its one error funnel.
"""

from __future__ import annotations

from lab.console import emit, err, lab_errors, out, print_json, say

__all__ = ["emit", "err", "lab_errors", "out", "print_json", "say"]
