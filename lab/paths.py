"""Where the lab keeps generated material and run state (nothing here is committed).

A path the user gave (a flag or a variable) that cannot be what it must be is a UserInputError
naming that flag or variable; one the lab chose that this machine cannot create is an
EnvironmentError_.
"""

from __future__ import annotations

import os
from pathlib import Path

from lab.errors import EnvironmentError_, UserInputError

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


def certs_dir(flag: Path | None = None) -> Path:
    """``--certs`` when given, else :func:`default_certs_dir`; refuses a path that is not a directory."""
    path = flag.expanduser().resolve() if flag else default_certs_dir()
    source = "--certs" if flag else "TLSLAB_CERTS" if os.environ.get("TLSLAB_CERTS") else "the certificate directory"
    _must_be_directory(path, source, "TLSLAB_CERTS or --certs")
    return path


def state_dir() -> Path:
    """Run state (which ``tlslab up`` processes are alive) so ``tlslab down`` can clean up after crashes."""
    env = os.environ.get("TLSLAB_STATE")
    base = Path(env).expanduser() if env else Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "tlslab"
    _must_be_directory(base, "TLSLAB_STATE" if env else "the state directory", "TLSLAB_STATE")
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise EnvironmentError_(f"cannot create the state directory {base} ({exc.strerror}); "
                                "point TLSLAB_STATE at a writable directory") from None
    return base


def _must_be_directory(path: Path, source: str, remedy: str) -> None:
    # Any existing ancestor that is a file (TLSLAB_CERTS=/etc/passwd/certs) fails the same way.
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                where = f"{source} {path} is not a directory" if candidate == path else \
                    f"{source} {path}: {candidate} is not a directory"
                raise UserInputError(f"{where}; set {remedy} to a directory (it is created if missing)")
            return


def check_writable_file(path: Path, flag: str) -> None:
    """Before any work: `path` can be created or replaced (its directory exists and is writable)."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UserInputError(f"{flag} {path}: is a directory; give a file name, e.g. {path / 'report.xml'}")
    if not parent.is_dir():
        raise UserInputError(f"{flag} {path}: the directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserInputError(f"{flag} {path}: not writable; choose a path in a directory you can write")
