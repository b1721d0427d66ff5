"""How `transport="auto"` picks a transport: `AutoChooser`, one decision before each message.

1. credentials without an OAuth2 token (an app password): SMTP, the only door they open;
2. a token whose grant (from the token endpoint's answer, or the token file until the first
   refresh) holds gmail.send but not https://mail.google.com/: the API, the only door it opens;
3. otherwise SMTP if a short probe reaches its port (or the other of 587/465), else the API:
   port 443 is open wherever HTTPS is. The probe's answer is remembered for `PROBE_MEMORY`
   seconds; a send that finds SMTP unreachable makes the next one probe again.

A message never changes transport once its body went out. Each new choice is reported once
(`TransportChosen`, a log record); `SendResult.transport` and `transport_reason` tell, for every
message, which one carried it and why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from .._transport import Route
from ..auth._credentials import TokenSource
from ..auth._scopes import MAIL_SCOPE, granted_scopes, sends_over
from ..events import Reporter, TransportChosen

__all__ = ["PROBE_MEMORY", "AutoChooser", "Probe"]

PROBE_MEMORY = 600.0
"""Seconds `auto` trusts a probe's answer before probing again."""

Probe = Callable[[], Awaitable[tuple[bool, str]]]
"""`probe()` -> (SMTP reachable, what was found, in words)."""


class AutoChooser:
    """`transport="auto"`: the rules in this module's doc, for one sender."""

    def __init__(
        self,
        *,
        tokens: TokenSource | None,
        probe: Probe,
        reporter: Reporter,
        account: str | None,
        remember: float = PROBE_MEMORY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens = tokens
        self._probe = probe
        self._reporter = reporter
        self._account = account
        self._remember = remember
        self._clock = clock
        self._lock = asyncio.Lock()
        self._probed: tuple[float, bool, str] | None = None
        self._last: Route | None = None

    async def choose(self) -> Route:
        """The route for the next message."""
        route = await self._decide()
        if route != self._last:
            self._last = route
            self._reporter.report(
                TransportChosen(self._account, route.transport, route.reason or ""),
                "transport=auto chose %s: %s",
                route.transport,
                route.reason,
            )
        return route

    def use_tokens(self, tokens: TokenSource | None) -> None:
        """Judge grants by `tokens` from now on (the sender got a store)."""
        self._tokens = tokens

    def smtp_unreachable(self) -> None:
        """An SMTP send could not connect: probe again before the next message."""
        self._probed = None

    async def _decide(self) -> Route:
        if self._tokens is None:
            return Route("smtp", "app passwords sign in over SMTP only")
        scopes = granted_scopes(self._tokens)
        if scopes is None:
            await self._tokens.get_token()  # a first refresh tells what the grant holds
            scopes = granted_scopes(self._tokens)
        if scopes is not None:
            doors = sends_over(scopes)
            if "smtp" not in doors and "api" in doors:
                return Route(
                    "api",
                    f"the token is granted gmail.send but not {MAIL_SCOPE}, which SMTP needs",
                )
        reachable, found = await self._reachability()
        if reachable:
            return Route("smtp", found)
        return Route("api", f"SMTP cannot be reached ({found}); the Gmail API uses port 443")

    async def _reachability(self) -> tuple[bool, str]:
        async with self._lock:  # concurrent first sends share one probe
            probed = self._probed
            if probed is not None and self._clock() - probed[0] < self._remember:
                return probed[1], probed[2]
            reachable, found = await self._probe()
            self._probed = (self._clock(), reachable, found)
            self._reporter.note(
                "smtp_probe",
                "SMTP probe: %s",
                found,
                level=logging.DEBUG,
                reachable=reachable,
            )
            return reachable, found
