"""Where the lab keeps generated material and run state (nothing here is committed)."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def data_dir(name: str) -> Path:
    """The checkout's top-level `name/` (``scenarios``, ``compose``), or the copy an installed wheel
    carries in ``lab/_data/``."""
    checkout = _CHECKOUT / name
    return checkout if checkout.is_dir() else _PACKAGE / "_data" / name


def default_certs_dir() -> Path:
    """``$TLSLAB_CERTS``, else the checkout's ``certs/`` (git-ignored), else ``~/.cache/tlslab/certs``."""
    env = os.environ.get("TLSLAB_CERTS")
    if env:
        return Path(env).expanduser().resolve()
    if (_CHECKOUT / "scenarios").is_dir() and os.access(_CHECKOUT, os.W_OK):
        return _CHECKOUT / "certs"
    return Path.home() / ".cache" / "tlslab" / "certs"


def state_dir() -> Path:
    """Run state (which ``tlslab up`` processes are alive) so ``tlslab down`` can clean up after crashes."""
    env = os.environ.get("TLSLAB_STATE")
    base = Path(env).expanduser() if env else Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "tlslab"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    return base
