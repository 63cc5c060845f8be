"""The editor's GitHub panel, served over the stdio protocol (``github:*`` channels).

- ``repo``: a project folder's repository from its git remote and the git CLI (owner, name, branches,
  ahead/behind);
- ``api``: a small REST client on aiohttp — conditional requests (a 304 answered from the cache
  keyed by URL and token), the rate-limit headers kept and reported, ``Link`` pagination;
- ``device``: the OAuth device flow (the server's interval, ``slow_down``, expiry, denial).

The token lives in a credential store of its own under ``$NOODL_HOME/github`` (``sidecar.credentials``).
The endpoints come from ``NOODL_SIDECAR_GITHUB_API`` (default ``https://api.github.com``) and
``NOODL_SIDECAR_GITHUB_OAUTH`` (default ``https://github.com``); the OAuth app's client id from
``NOODL_SIDECAR_GITHUB_CLIENT_ID``.
"""
