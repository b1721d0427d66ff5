"""Throw-away TLS certificates for the local Gmail, so tests verify certificates for real.

A trustme CA signs a server certificate for "localhost" and "127.0.0.1"; clients trust the CA
through `client_context()`, with hostname checking on. Nothing here switches verification off.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import trustme

__all__ = ["TestCertificates"]


class TestCertificates:
    """A private CA and a server certificate it signed (kept in memory).

    Args:
        hostnames: the names and IP addresses the server certificate is valid for (at least
            one); clients check the one they connect to against them.
    """

    __test__ = False  # the name starts with "Test": tell pytest this is no test class

    def __init__(self, *, hostnames: tuple[str, ...] = ("localhost", "127.0.0.1")) -> None:
        if not hostnames:
            raise ValueError("the server certificate needs at least one hostname")
        self.hostnames = tuple(hostnames)
        self._ca = trustme.CA()
        self._server_cert = self._ca.issue_cert(*self.hostnames)

    def __repr__(self) -> str:
        return f"<TestCertificates for {', '.join(self.hostnames)}>"

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate in PEM, for clients that want bytes or a file."""
        return self._ca.cert_pem.bytes()

    def ca_pem_path(self, directory: str | os.PathLike[str]) -> Path:
        """Write the CA certificate into `directory` and return the file's path.

        Args:
            directory: an existing directory; the file is `gmail-send-test-ca.pem` in it,
                replaced if there.
        """
        path = Path(directory) / "gmail-send-test-ca.pem"
        path.write_bytes(self.ca_pem)
        return path

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this CA, with verification and hostname checks on."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))

    def server_context(self) -> ssl.SSLContext:
        """The server side: presents the certificate, does not ask clients for one."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_cert.configure_cert(context)
        return context
