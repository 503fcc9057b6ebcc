"""An endpoint model's provenance in report.json (``subject.model.endpoint``): the calls made
and the digest of every response.

The model behind an endpoint cannot be hashed, so the audit hashes what it sent and what came
back: each successful call is the pair (sha256 of the request body, sha256 of the response
body), in the order the calls were made (batches in row order, partitions in file order). The
model artifact's ``sha256`` is the digest of that ordered log (see
:func:`audit.loaders.endpoint_http.CallLog.digest`); ``responses_sha256`` is the digest of the
response bodies alone, which anyone holding the server's access log can recompute.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Digest, Section


class EndpointCalls(Section):
    """What the audit sent to and received from a model endpoint."""

    #: the endpoint's URL, without user info, query or fragment
    url: str
    protocol: Literal["mlflow", "kserve-v2"]
    #: the model's name and version as the server states them (KServe v2 metadata), if known
    model_name: str | None = None
    model_version: str | None = None
    #: what each row's answer is: class probabilities, class labels or values
    output: Literal["probabilities", "labels", "values"]
    #: successful requests, the rows they scored, and the retries it took (not counted in
    #: ``requests``)
    requests: int = Field(ge=0)
    rows: int = Field(ge=0)
    retries: int = Field(ge=0)
    batch_rows: int = Field(ge=1)
    #: sha256 over the lines ``sha256(response body)`` of the successful calls, in order
    responses_sha256: Digest
    #: sha256 of the server's metadata response (KServe v2 ``GET /v2/models/<name>``)
    metadata_sha256: Digest | None = None
