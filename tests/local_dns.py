"""A tiny authoritative DNS server on 127.0.0.1 (UDP, a thread) answering TXT queries.

Answers are built with dnspython from a dict of name -> TXT strings; any other name gets
NXDOMAIN. The doctor's domain checks query it through `--nameserver 127.0.0.1:PORT`.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["LocalDNS"]


class LocalDNS:
    """`with LocalDNS({"example.com": ["v=spf1 ..."]}) as dns_server: dns_server.nameserver`."""

    def __init__(self, records: Mapping[str, Iterable[str]]) -> None:
        self.records = {dns.name.from_text(name): list(values) for name, values in records.items()}
        self.queries: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="LocalDNS", daemon=True)

    @property
    def nameserver(self) -> str:
        host, port = self._sock.getsockname()
        return f"{host}:{port}"

    def __enter__(self) -> LocalDNS:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except dns.exception.DNSException:  # a test server ignores garbage
                continue
            self._sock.sendto(self._answer(query).to_wire(), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        self.queries.append(question.name.to_text())
        values = self.records.get(question.name)
        if values is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT and values:
            texts = ['"' + value.replace('"', '\\"') + '"' for value in values]
            response.answer.append(
                dns.rrset.from_text_list(
                    question.name, 300, dns.rdataclass.IN, dns.rdatatype.TXT, texts
                )
            )
        return response
