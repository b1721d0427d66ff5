"""A short probe: can this host reach an SMTP port at all (a greeting within seconds)?

Hosting providers block outgoing 587 and 465 in two ways: the connection is refused, or it is
silently dropped (nothing ever answers). A port counts as reachable once the server's greeting
line arrives (after the TLS handshake on 465, with the sender's own verifying context); the
probe then closes the connection. `transport="auto"` uses it to choose SMTP or the Gmail API.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time

from .._types import Security

__all__ = ["PROBE_TIMEOUT", "alternate", "probe_smtp"]

PROBE_TIMEOUT = 5.0
"""Seconds a probe waits for a greeting, at most (less when the sender's timeout is shorter)."""


def alternate(port: int, security: Security) -> tuple[int, Security] | None:
    """Gmail's other submission port: 465 (implicit TLS) for 587 (STARTTLS) and back."""
    if (port, security) == (587, "starttls"):
        return 465, "tls"
    if (port, security) == (465, "tls"):
        return 587, "starttls"
    return None


async def probe_smtp(
    host: str,
    port: int,
    security: Security,
    tls_context: ssl.SSLContext | None,
    *,
    timeout: float = PROBE_TIMEOUT,
) -> str | None:
    """None when `host`:`port` greets within `timeout` seconds; else what went wrong, in words."""
    where = f"{host}:{port}"
    started = time.monotonic()
    use_tls = security == "tls"
    writer: asyncio.StreamWriter | None = None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host,
                port,
                ssl=(tls_context or ssl.create_default_context()) if use_tls else None,
                server_hostname=host if use_tls else None,
            ),
            timeout,
        )
        left = max(timeout - (time.monotonic() - started), 0.01)
        line = await asyncio.wait_for(reader.readline(), left)
    except ConnectionRefusedError:
        return f"{where} refused the connection"
    except asyncio.TimeoutError:
        return f"{where} did not answer within {timeout:g} s"
    except ssl.SSLError:
        return None  # the port answers; the session will report the TLS failure itself
    except OSError as exc:
        return f"{where} cannot be reached ({exc.strerror or type(exc).__name__})"
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
    if line[:3].isdigit():
        return None
    return f"{where} answered, but not with an SMTP greeting"
