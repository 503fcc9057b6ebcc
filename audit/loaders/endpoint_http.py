"""The HTTP client behind an endpoint model: checked URLs, a rate limit, retries, bounded and
hashed responses.

Security promises (each tested by attacking it in tests/test_endpoint.py):

- plain ``http`` only to a loopback host; user info in the URL is refused (a password in a spec
  would be written into the report); the query is never displayed;
- redirects are not followed (a redirect could send the audited rows to another host);
- a response body is read up to :data:`MAX_BODY` bytes and its JSON nesting is bounded
  (:func:`audit.jsonio.check_depth`) before it is parsed;
- the bearer token goes only into the ``Authorization`` header, never into a message or report.

Retries: a connect error, a timeout, 429 and 502-504 are retried up to ``max_retries`` times,
waiting ``min(BACKOFF_CAP, BACKOFF * 2**attempt)`` seconds, or the server's ``Retry-After``
(seconds, at most :data:`MAX_RETRY_AFTER`). ``requests_per_second`` is a token bucket of one
token: requests start at least ``1 / rate`` seconds apart.
"""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import InputError
from ..jsonio import loads

#: The largest response body read (bytes).
MAX_BODY = 64 * 1024**2
#: The longest ``Retry-After`` honoured (seconds); longer waits are cut to this.
MAX_RETRY_AFTER = 30.0
#: First backoff (seconds) and the longest one.
BACKOFF = 0.25
BACKOFF_CAP = 8.0
#: Statuses that mean "try again later".
RETRIED = frozenset({429, 502, 503, 504})

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """The URL as it may be displayed (no query or fragment); InputError if it is refused."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as exc:
        raise InputError(
            f"model endpoint: the URL is not valid ({exc})",
            hint="write model: endpoint+https://host[:port]/path",
        ) from None
    shown = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InputError(
            f"model endpoint {shown}: the URL holds user info (user:password@); it would be "
            "written into the report",
            hint="remove it and name an environment variable holding a bearer token in "
            "endpoint.token_env",
        )
    if parts.scheme not in ("http", "https") or not host:
        raise InputError(
            f"model endpoint {shown}: only https:// URLs with a host are accepted",
            hint="write model: endpoint+https://host[:port]/path",
        )
    if parts.scheme == "http" and not is_loopback(host):
        raise InputError(
            f"model endpoint {shown}: plain http is accepted only to this machine (loopback); "
            "the audited rows and the token would cross the network unencrypted",
            hint="use https:// (endpoint.ca_file for a private CA)",
        )
    return shown


@dataclass
class CallLog:
    """The successful calls in the order they were made: (sha256 of request, of response)."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    rows: int = 0
    retries: int = 0

    def add(self, request: bytes, response: bytes, rows: int) -> None:
        self.calls.append(
            (hashlib.sha256(request).hexdigest(), hashlib.sha256(response).hexdigest())
        )
        self.rows += rows

    def digest(self) -> str:
        """sha256 over the lines ``<request sha256> <response sha256>\\n``, in call order."""
        return hashlib.sha256("".join(f"{q} {r}\n" for q, r in self.calls).encode()).hexdigest()

    def responses_digest(self) -> str:
        """sha256 over the lines ``<response sha256>\\n``, in call order."""
        return hashlib.sha256("".join(f"{r}\n" for _, r in self.calls).encode()).hexdigest()


class TokenBucket:
    """At most ``rate`` requests per second (a bucket of one token; None: no limit)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 0.0 if rate is None else 1.0 / rate
        self.next = 0.0

    def wait(self) -> None:
        now = time.monotonic()
        if now < self.next:
            time.sleep(self.next - now)
            now = self.next
        self.next = now + self.interval


def _is_tls(exc: BaseException) -> bool:
    """True when a connect error is a failed TLS handshake (retrying cannot fix it)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header's wait in seconds (capped), or None if absent or a date."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date: use the backoff instead
    if seconds != seconds or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


class EndpointClient:
    """JSON over HTTP(S) to one endpoint, with the log of every successful call."""

    def __init__(
        self,
        url: str,
        *,
        shown: str,
        timeout_s: float,
        max_retries: int,
        requests_per_second: float | None,
        ca_file: Path | None = None,
        token: str | None = None,
    ) -> None:
        import httpx

        self.url = url
        self.shown = shown
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.bucket = TokenBucket(requests_per_second)
        self.log = CallLog()
        verify: Any = True
        if ca_file is not None:
            try:
                verify = ssl.create_default_context(cafile=str(ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise InputError(
                    f"endpoint.ca_file {ca_file} cannot be loaded: {exc}",
                    hint="give a PEM file of the CA that signed the server's certificate",
                ) from None
        # identity: the body cap counts the bytes that arrive, so no compressed bodies
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": "identity",
            "User-Agent": "audit",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(
            verify=verify,
            timeout=timeout_s,
            follow_redirects=False,
            headers=headers,
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def get(self, url: str) -> tuple[bytes, Any]:
        """GET ``url`` (metadata): the body and its parsed JSON."""
        try:
            body = self._call("GET", url, None)
            return body, loads(body, f"model endpoint {self.shown}")
        except InputError:
            self.close()  # the audit ends here: leave no connection open
            raise

    def post(self, url: str, request: bytes, rows: int) -> Any:
        """POST the JSON ``request`` for ``rows`` rows; the parsed answer (logged)."""
        try:
            body = self._call("POST", url, request)
            self.log.add(request, body, rows)
            return loads(body, f"model endpoint {self.shown}")
        except InputError:
            self.close()
            raise

    def _call(self, method: str, url: str, content: bytes | None) -> bytes:
        import httpx

        attempt = 0
        while True:
            self.bucket.wait()
            wait: float | None = None
            try:
                status, headers, body = self._send(method, url, content)
            except (httpx.TimeoutException, httpx.ConnectError, httpx.RemoteProtocolError) as exc:
                if _is_tls(exc):
                    raise InputError(
                        f"model endpoint {self.shown}: the TLS handshake failed ({exc})",
                        hint="give the CA that signed the server's certificate in endpoint.ca_file",
                    ) from None
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= status < 300:
                    return body
                self._refuse(status, headers)
                problem = f"HTTP {status}"
                wait = retry_after(headers.get("retry-after"))
            if attempt >= self.max_retries:
                raise InputError(
                    f"model endpoint {self.shown} did not answer after {attempt} retries "
                    f"(last: {problem})",
                    hint="check that the server is up; raise endpoint.max_retries or lower "
                    "endpoint.requests_per_second",
                )
            attempt += 1
            self.log.retries += 1
            time.sleep(wait if wait is not None else min(BACKOFF_CAP, BACKOFF * 2 ** (attempt - 1)))

    def _send(self, method: str, url: str, content: bytes | None) -> tuple[int, Any, bytes]:
        import httpx

        extra = {"Content-Type": "application/json"} if content is not None else {}
        try:
            with self._client.stream(method, url, content=content, headers=extra) as response:
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
                    self._too_big()
                chunks: list[bytes] = []
                size = 0
                deadline = time.monotonic() + self.timeout_s
                for chunk in response.iter_raw():
                    if time.monotonic() > deadline:  # a body trickling in: a timeout too
                        raise httpx.ReadTimeout(f"no whole answer within {self.timeout_s:g} s")
                    size += len(chunk)
                    if size > MAX_BODY:
                        self._too_big()
                    chunks.append(chunk)
                return response.status_code, response.headers, b"".join(chunks)
        except (httpx.TimeoutException, httpx.ConnectError, httpx.RemoteProtocolError):
            raise
        except httpx.HTTPError as exc:
            raise InputError(
                f"model endpoint {self.shown}: the request failed ({type(exc).__name__}: {exc})",
                hint="check the URL, the server's certificate (endpoint.ca_file) and the network",
            ) from None

    def _too_big(self) -> None:
        raise InputError(
            f"model endpoint {self.shown}: the response is larger than {MAX_BODY // 1024**2} MiB",
            hint="lower endpoint.batch_rows, or check that the URL is the model's scoring path",
        )

    def _refuse(self, status: int, headers: Any) -> None:
        """InputError for answers that retrying cannot fix."""
        if status in RETRIED:
            return
        if 300 <= status < 400:
            raise InputError(
                f"model endpoint {self.shown} answered {status} (a redirect); audit does not "
                "follow redirects, which could send the audited rows to another host",
                hint="write the final URL of the scoring endpoint in the spec",
            )
        if status in (401, 403):
            raise InputError(
                f"model endpoint {self.shown} refused the request ({status}): not authorised",
                hint="name the environment variable holding a valid bearer token in "
                "endpoint.token_env, and set it",
            )
        raise InputError(
            f"model endpoint {self.shown} answered HTTP {status}",
            hint="check the URL (MLflow: .../invocations; KServe v2: .../v2/models/<name>), "
            "endpoint.protocol and endpoint.features against the server",
        )
