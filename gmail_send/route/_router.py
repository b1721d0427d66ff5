"""`Router`: a sender's transports, the choice between them, and what each cannot carry.

The sender builds the SMTP pool (sessions, sign-in, the login hold-off are its business); the
router adds the Gmail API transport when a message first goes that way (importing httpx only
then), asks `AutoChooser` for `transport="auto"`, probes SMTP for it, and refuses before
anything is sent what the chosen transport cannot do as asked: `thread_id` over SMTP, or over
the API an envelope that leaves out an address the headers name.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from typing import TYPE_CHECKING, Any

from .._delivery import DeliveryContext, deliver
from .._limits import api_window
from .._options import Settings, load_ca_file
from .._result import SendResult, TransportName
from .._transport import BeforeBody, Route, Transport
from .._types import Transport as TransportOption
from ..auth._credentials import TokenSource
from ..errors import ConfigurationError, GmailConnectionError, TLSError
from ..message._outgoing import OutgoingMessage
from ..smtp._connection import verified_context
from ..smtp._probe import PROBE_TIMEOUT, alternate, probe_smtp
from ..smtp._signin import ConnectionSettings
from ._auto import AutoChooser

if TYPE_CHECKING:
    from ..api._transport import APITransport

__all__ = ["Router", "check_fits"]


class Router:
    """Routes each message of one sender; `smtp` is where SMTP sessions connect (`auto` may
    move it to the other of 587/465 when only that one answers)."""

    def __init__(
        self,
        *,
        transport: TransportOption,
        settings: Settings,
        delivery: DeliveryContext,
        pool: Transport[Any],
        smtp: ConnectionSettings,
        tokens: TokenSource | None,
        account: str | None,
    ) -> None:
        self.transport = transport
        self.smtp = smtp
        self._settings = settings
        self._delivery = delivery
        self._pool = pool
        self._tokens = tokens
        self._account = account
        self._api: APITransport | None = None
        self._chooser: AutoChooser | None = None
        if transport == "auto":
            self._chooser = AutoChooser(
                tokens=tokens,
                probe=self._probe_smtp,
                reporter=delivery.reporter,
                account=account,
            )
        elif transport == "api":
            self.api_transport()  # now: a missing [api] extra is a configuration error

    async def deliver(
        self,
        outgoing: OutgoingMessage,
        deadline: float | None,
        *,
        before_body: BeforeBody | None = None,
    ) -> SendResult:
        """Deliver over the chosen transport, awaiting `before_body` before each attempt
        writes the body (see `Progress`). With `auto`, a message that found SMTP unreachable
        (nothing of it was sent) goes again by the new choice, once."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        route = await self.route()
        try:
            return await self._deliver(outgoing, route, deadline, before_body)
        except GmailConnectionError as exc:
            unreachable = not exc.after_greeting and not isinstance(exc, TLSError)
            if self._chooser is None or route.transport != "smtp" or not unreachable:
                raise
            self._chooser.smtp_unreachable()
            second = await self.route()
            if second.transport == route.transport:
                raise
            left = None if deadline is None else deadline - (loop.time() - started)
            if left is not None and left <= 0:
                raise
        return await self._deliver(outgoing, second, left, before_body)

    async def route(self) -> Route:
        """The transport for the next message (and why, for `auto`)."""
        if self._chooser is not None:
            return await self._chooser.choose()
        return Route("api" if self.transport == "api" else "smtp")

    async def _deliver(
        self,
        outgoing: OutgoingMessage,
        route: Route,
        deadline: float | None,
        before_body: BeforeBody | None,
    ) -> SendResult:
        check_fits(outgoing, route.transport)
        transport = self._pool if route.transport == "smtp" else self.api_transport()
        return await deliver(
            self._delivery,
            transport,
            outgoing,
            deadline=deadline,
            route=route,
            before_body=before_body,
        )

    def use_tokens(self, tokens: TokenSource | None) -> None:
        """Send through the Gmail API with `tokens` from now on (the sender got a store)."""
        self._tokens = tokens
        if self._chooser is not None:
            self._chooser.use_tokens(tokens)
        if self._api is not None and tokens is not None:
            self._api.use_tokens(tokens)

    def api_transport(self) -> APITransport:
        """The Gmail API transport, made (and httpx imported) on first use."""
        if self._api is None:
            if self._tokens is None:
                raise ConfigurationError(
                    "the Gmail API needs an OAuth2 token source",
                    hint="give OAuth2Credentials, a ServiceAccount or another TokenSource; app "
                    "passwords work over SMTP only",
                )
            try:
                from ..api._transport import APITransport
            except ImportError as exc:
                raise ConfigurationError(
                    f"the Gmail API transport needs httpx ({exc.name} is missing)",
                    hint="pip install 'gmail-send[api]'",
                ) from exc
            settings = self._settings
            per_minute = settings.limits.api_sends_per_minute
            window = (
                api_window(self._account, per_minute)
                if per_minute is not None and self._account is not None
                else None
            )
            self._api = APITransport(
                self._tokens,
                api_url=settings.api_url,
                tls_context=self._api_context(),
                timeout=settings.timeout,
                max_connections=settings.max_connections,
                idle_timeout=settings.pool.idle_timeout,
                wait_for_quota=window.wait if window is not None else None,
            )
        return self._api

    def _api_context(self) -> ssl.SSLContext:
        """The caller's own `tls_context`, else one built like the SMTP sessions' (same CA
        file or system CAs) but apart from it: httpx sets ALPN ("http/1.1") on the context it
        is given, which an SMTP server should not be offered."""
        settings = self._settings
        if settings.tls_context is not None:
            return verified_context(settings.tls_context)
        own = load_ca_file(settings.ca_file) if settings.ca_file is not None else None
        return verified_context(own)

    async def aclose(self) -> None:
        """Close the Gmail API client's connections (the sender closes the SMTP pool)."""
        if self._api is not None:
            await self._api.aclose()

    async def _probe_smtp(self) -> tuple[bool, str]:
        """Whether SMTP answers (the configured port, or the other of 587/465), in words.

        When only the other port answers, this sender's SMTP sessions go there from now on.
        """
        smtp = self.smtp
        timeout = min(self._settings.timeout or PROBE_TIMEOUT, PROBE_TIMEOUT)
        other = alternate(smtp.port, smtp.security)
        probes = [
            probe_smtp(smtp.host, smtp.port, smtp.security, smtp.tls_context, timeout=timeout)
        ]
        if other is not None:
            probes.append(probe_smtp(smtp.host, *other, smtp.tls_context, timeout=timeout))
        found = await asyncio.gather(*probes)
        if found[0] is None:
            return True, f"SMTP {smtp.host}:{smtp.port} answered"
        if other is not None and found[1] is None:
            self.smtp = dataclasses.replace(smtp, port=other[0], security=other[1])
            return True, f"{found[0]}; {smtp.host}:{other[0]} answered, so SMTP goes there"
        return False, "; ".join(why for why in found if why is not None)


def check_fits(outgoing: OutgoingMessage, transport: TransportName) -> None:
    """Refuse, before anything is sent, what the chosen transport cannot carry as asked."""
    if transport == "smtp" and outgoing.thread_id is not None:
        raise ConfigurationError(
            "thread_id works through the Gmail API only, and this message goes over SMTP",
            hint="send with transport='api', or leave thread_id out: In-Reply-To and "
            "References still thread the reply in mail programs",
        )
    if transport == "api" and not outgoing.envelope_from_headers:
        raise ConfigurationError(
            "the Gmail API sends to the To, Cc and Bcc headers, and recipients= (or a Resent- "
            "header block) leaves out an address they name",
            hint="send this message over SMTP (transport='smtp'), or name exactly its "
            "recipients in To, Cc and Bcc",
        )
