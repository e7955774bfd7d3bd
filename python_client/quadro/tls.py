"""TLS for clients: channel credentials from PEM files, as `quadro serve --tls-*` expects
them. Pass the result as `credentials=` to `quadro.Client` or `quadro.AsyncClient`."""

from __future__ import annotations

from pathlib import Path

import grpc


def channel_credentials(
    ca_file: str | Path | None = None,
    cert_file: str | Path | None = None,
    key_file: str | Path | None = None,
) -> grpc.ChannelCredentials:
    """TLS credentials: `ca_file` is the CA that signed the server's certificate (the
    system's roots when None); `cert_file` and `key_file`, together, are this client's
    certificate for a server that requires mutual TLS."""
    if (cert_file is None) != (key_file is None):
        raise ValueError("a client certificate needs both its certificate and its key file")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca_file),
        private_key=_read(key_file),
        certificate_chain=_read(cert_file),
    )


def _read(path: str | Path | None) -> bytes | None:
    return None if path is None else Path(path).read_bytes()


__all__ = ["channel_credentials"]
