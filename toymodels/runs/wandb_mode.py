"""Where a W&B run goes: online or offline, decided without importing wandb or torch.

The mode rules every W&B user of the package shares (a training run, the report's and the forecast's
uploads): offline unless online is asked for (``WANDB_MODE=online``, ``logger.mode=online``, or no
mode with an API key or a ``wandb login`` in ~/.netrc), never online without credentials (wandb would
prompt), and a quick TCP probe of the server so an unreachable one is found in seconds, not after
wandb's own ~90 s timeout. Torch-free, like the rest of `runs`.
"""

from __future__ import annotations

import netrc
import os
import socket
import threading
from urllib.parse import urlsplit

from toymodels.errors import ConfigError

MODES = ("online", "offline", "disabled")
DEFAULT_BASE_URL = "https://api.wandb.ai"
PROBE_SECONDS = 5.0  # a server that does not accept a TCP connection in this time is "unreachable"
_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def base_url(environ=os.environ) -> str:
    """The W&B server this process would talk to."""
    return (environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def has_credentials(url: str, environ=os.environ) -> bool:
    """Whether wandb would find credentials for `url` without asking: an env key or a netrc login."""
    if environ.get("WANDB_API_KEY") or environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlsplit(url).hostname
    path = environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        return bool(host and netrc.netrc(path).authenticators(host))
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode(mode: str | None, environ=os.environ) -> tuple[str, str | None]:
    """The mode a run uses ("online", "offline" or "disabled"), and why online was refused, if it was.

    An explicit ``logger.mode`` wins over ``WANDB_MODE``; with neither, a run is online exactly
    when credentials are found. Online without credentials would prompt, so it becomes offline.
    """
    if mode is None:
        mode = {"dryrun": "offline", "run": "online"}.get(environ.get("WANDB_MODE", ""), environ.get("WANDB_MODE"))
        if mode not in MODES:
            mode = "online" if has_credentials(base_url(environ), environ) else "offline"
    elif mode not in MODES:
        raise ConfigError(f"logger.mode={mode!r} is unknown; choose online, offline, disabled or null")
    if mode == "online" and not has_credentials(base_url(environ), environ):
        return "offline", "no API key (set WANDB_API_KEY or run `wandb login`)"
    return mode, None


def probe_server(url: str, timeout: float = PROBE_SECONDS, environ=os.environ) -> str | None:
    """Why `url` cannot be reached (a TCP connect within `timeout`, DNS included), or None if it can.

    Behind a proxy the direct connection says nothing, so the probe is skipped (None).
    """
    if any(environ.get(var) for var in _PROXY_VARS):
        return None
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    outcome: list[str | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as err:
            outcome.append(f"{type(err).__name__}: {err.strerror or err}")

    # getaddrinfo has no timeout of its own: run the whole connect in a thread we can stop waiting for.
    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"
