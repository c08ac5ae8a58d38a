"""Turn a kubeconfig (file + context) into kopf credentials, honouring ``--kubeconfig``/``--context`` flags.

kopf's built-in login reads the default kubeconfig location once, at import time of the kubernetes client, so a
controller started with an explicit ``--kubeconfig`` (or a test that points at a throwaway cluster) must log in
through its own handler. The kubernetes client's loader does the parsing (exec plugins, embedded data, tokens).
"""

from __future__ import annotations

import kopf
from kubernetes import client, config

__all__ = ["connection_from_kubeconfig", "load_api_client"]


def load_api_client(kubeconfig: str | None = None, context: str | None = None) -> client.ApiClient:
    """An ApiClient for the given kubeconfig/context; in-cluster config when neither is given and one exists."""
    configuration = client.Configuration()
    if kubeconfig is None and context is None:
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            config.load_kube_config(client_configuration=configuration)
    else:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
    return client.ApiClient(configuration)


def connection_from_kubeconfig(kubeconfig: str | None = None, context: str | None = None) -> kopf.ConnectionInfo:
    """kopf credentials equivalent to :func:`load_api_client` (same file, context and certificates)."""
    api = load_api_client(kubeconfig, context)
    cfg = api.configuration
    token = (cfg.api_key or {}).get("authorization") or (cfg.api_key or {}).get("BearerToken")
    scheme = None
    if token and " " in token:
        scheme, token = token.split(" ", 1)
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
        scheme=scheme or ("Bearer" if token else None),
        token=token,
    )
