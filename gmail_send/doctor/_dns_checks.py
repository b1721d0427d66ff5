"""The doctor's checks of a custom sending domain: SPF, DKIM and DMARC TXT records.

Gmail (and every receiver) sends mail from a custom domain to spam, or refuses it with
550 5.7.26 / 421 4.7.26, when the domain does not authenticate it. Mail sent through Google
needs: SPF that includes `_spf.google.com`, a DKIM key at `<selector>._domainkey` (Google
Workspace's default selector is `google`), and a DMARC policy at `_dmarc`.

Queries use dnspython (the `[doctor]` extra). `nameserver` ("ip", "ipv4:port" or "[ipv6]:port",
see `parse_nameserver`) points them at a given server instead of the system's resolvers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._report import CheckResult, skipped

__all__ = ["TxtAnswer", "check_domain", "parse_nameserver", "query_txt"]

SPF_INCLUDE = "_spf.google.com"
_WORKSPACE_DKIM = (
    "in the Google Admin console: Apps > Google Workspace > Gmail > Authenticate email: "
    "generate a DKIM key, publish it as the TXT record it shows at "
    "{selector}._domainkey.{domain}, then press 'Start authentication'"
)


@dataclass(frozen=True)
class TxtAnswer:
    """The TXT strings at a name (each record's strings joined), or why there are none.

    `error` is None when the server answered (possibly with no TXT record: `records` empty);
    `nxdomain` says the name does not exist at all, which is no error for `_dmarc.<domain>`
    but means a mistyped domain (or a resolver that cannot see it) for the domain itself.
    """

    name: str
    records: tuple[str, ...]
    error: str | None = None
    nxdomain: bool = False


def parse_nameserver(text: str) -> tuple[str, int]:
    """`(ip, port)` of a DNS server written as an IPv4 or IPv6 address (port 53),
    `ipv4:port` or `[ipv6]:port`; ValueError for anything else."""
    value = text.strip()
    port_text: str | None = None
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"not an address of a DNS server: {text!r}")
        port_text = rest[1:] if rest else None
        if _ip_version(host) != 6:
            raise ValueError(f"not an IPv6 address in brackets: {text!r}")
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
        if _ip_version(host) != 4:
            raise ValueError(f"not an IPv4 address: {text!r} (write IPv6 as [ADDRESS]:PORT)")
    else:
        host = value
        if _ip_version(host) is None:
            raise ValueError(f"not an IP address: {text!r}")
    if port_text is None:
        return host, 53
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"the port of {text!r} is not a number from 1 to 65535")
    return host, int(port_text)


def _ip_version(host: str) -> int | None:
    import ipaddress

    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


async def query_txt(
    name: str, *, nameserver: str | None = None, timeout: float = 10.0
) -> TxtAnswer:
    """The TXT records at `name`, asked of `nameserver` or the system's resolvers."""
    import dns.asyncresolver
    import dns.exception
    import dns.resolver

    if nameserver is None:
        resolver = dns.asyncresolver.Resolver()
    else:
        host, port = parse_nameserver(nameserver)
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.lifetime = timeout
    try:
        answer = await resolver.resolve(name, "TXT", search=False)
    except dns.resolver.NXDOMAIN:
        return TxtAnswer(name, (), nxdomain=True)
    except dns.resolver.NoAnswer:
        return TxtAnswer(name, ())
    except dns.exception.Timeout:
        return TxtAnswer(name, (), error="the DNS query timed out")
    except dns.exception.DNSException as exc:
        return TxtAnswer(name, (), error=str(exc) or type(exc).__name__)
    records = tuple(b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer)
    return TxtAnswer(name, records)


async def check_domain(
    domain: str,
    *,
    dkim_selector: str = "google",
    nameserver: str | None = None,
    timeout: float = 10.0,
) -> list[CheckResult]:
    """SPF, DKIM and DMARC checks of `domain`, in that order."""
    domain = domain.strip().rstrip(".").lower()
    try:
        import dns.asyncresolver  # noqa: F401
    except ImportError:
        reason = "skipped: the domain checks need dnspython: pip install 'gmail-send[doctor]'"
        return [
            skipped("spf", f"SPF of {domain}", reason),
            skipped("dkim", f"DKIM of {domain}", reason),
            skipped("dmarc", f"DMARC of {domain}", reason),
        ]
    spf = await query_txt(domain, nameserver=nameserver, timeout=timeout)
    dkim_title = f"DKIM of {domain} (selector {dkim_selector})"
    if spf.nxdomain or spf.error is not None:
        # The other names live under the domain: asking would only repeat the answer (or
        # the wait) and report records as missing when the domain itself is.
        why = "the domain does not exist in DNS" if spf.nxdomain else "the SPF lookup failed"
        reason = f"skipped: {why} (see the SPF check)"
        return [
            _spf_result(domain, spf),
            skipped("dkim", dkim_title, reason),
            skipped("dmarc", f"DMARC of {domain}", reason),
        ]
    dkim_name = f"{dkim_selector}._domainkey.{domain}"
    dkim = await query_txt(dkim_name, nameserver=nameserver, timeout=timeout)
    dmarc = await query_txt(f"_dmarc.{domain}", nameserver=nameserver, timeout=timeout)
    return [
        _spf_result(domain, spf),
        _dkim_result(domain, dkim_selector, dkim),
        _dmarc_result(domain, dmarc),
    ]


def _lookup_failed(name: str, title: str, answer: TxtAnswer) -> CheckResult | None:
    if answer.error is None:
        return None
    return CheckResult(
        name,
        title,
        "failed",
        f"could not look up TXT {answer.name}: {answer.error}",
        fix="check the DNS server (--nameserver) and the network; then run the doctor again",
    )


def _spf_result(domain: str, answer: TxtAnswer) -> CheckResult:
    title = f"SPF of {domain}"
    failed = _lookup_failed("spf", title, answer)
    if failed is not None:
        return failed
    if answer.nxdomain:
        return CheckResult(
            "spf",
            title,
            "failed",
            f"{domain} does not exist in DNS (NXDOMAIN)",
            fix="check the spelling of --domain; if the domain is new or private, ask its "
            "authoritative server with --nameserver",
        )
    spf = [r for r in answer.records if r.lower().startswith("v=spf1")]
    wanted = f"v=spf1 include:{SPF_INCLUDE} ~all"
    if not spf:
        return CheckResult(
            "spf",
            title,
            "failed",
            f"{domain} has no SPF record",
            fix=f'publish a TXT record at {domain}: "{wanted}" (add the include to any other '
            "senders you use)",
        )
    if len(spf) > 1:
        return CheckResult(
            "spf",
            title,
            "failed",
            f"{domain} has {len(spf)} SPF records; receivers treat that as an error",
            fix=f'merge them into one TXT record, e.g. "{wanted}"',
            details={"records": spf},
        )
    terms = spf[0].lower().split()
    if f"include:{SPF_INCLUDE}" in terms or f"redirect={SPF_INCLUDE}" in terms:
        return CheckResult(
            "spf", title, "passed", f'"{spf[0]}" includes {SPF_INCLUDE}', details={"records": spf}
        )
    return CheckResult(
        "spf",
        title,
        "failed",
        f'the SPF record "{spf[0]}" does not include {SPF_INCLUDE}: Google\'s servers are not '
        "allowed senders for this domain",
        fix=f"add include:{SPF_INCLUDE} before the final all term",
        details={"records": spf},
    )


def _dkim_result(domain: str, selector: str, answer: TxtAnswer) -> CheckResult:
    title = f"DKIM of {domain} (selector {selector})"
    failed = _lookup_failed("dkim", title, answer)
    if failed is not None:
        return failed
    keys = [r for r in answer.records if "p=" in r.replace(" ", "")]
    if not keys:
        return CheckResult(
            "dkim",
            title,
            "failed",
            f"no DKIM key at {answer.name}",
            fix=_WORKSPACE_DKIM.format(selector=selector, domain=domain)
            + " (another selector: --dkim-selector)",
        )
    key = keys[0].replace(" ", "")
    if "p=;" in key or key.endswith("p="):
        return CheckResult(
            "dkim",
            title,
            "failed",
            f"the DKIM key at {answer.name} is revoked (empty p=)",
            fix=_WORKSPACE_DKIM.format(selector=selector, domain=domain),
        )
    return CheckResult("dkim", title, "passed", f"a DKIM key is published at {answer.name}")


def _dmarc_result(domain: str, answer: TxtAnswer) -> CheckResult:
    title = f"DMARC of {domain}"
    failed = _lookup_failed("dmarc", title, answer)
    if failed is not None:
        return failed
    policies = [r for r in answer.records if r.lower().startswith("v=dmarc1")]
    if not policies:
        return CheckResult(
            "dmarc",
            title,
            "failed",
            f"{domain} has no DMARC record at {answer.name}",
            fix=f'publish a TXT record at _dmarc.{domain}: "v=DMARC1; p=none; '
            f'rua=mailto:dmarc-reports@{domain}" (Gmail requires DMARC from bulk senders; '
            "tighten p= to quarantine or reject once reports look right)",
        )
    tags = dict(part.strip().split("=", 1) for part in policies[0].split(";") if "=" in part)
    policy = tags.get("p", "").strip().lower()
    return CheckResult(
        "dmarc",
        title,
        "passed",
        f'"{policies[0]}" (policy {policy or "?"})',
        details={"policy": policy},
    )
