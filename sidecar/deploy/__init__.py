"""Deploying a backend elsewhere: its bundle, the container build context made from it, and the
entry point that installs a bundle into a data volume and serves it.

- ``bundle``: what a backend *is*, apart from its data: workflows, schema, triggers, security rules,
  config parameters (their secret ones by name only), the environment it needs, and empty slots for
  alerts and Python packages; plus a manifest with each file's SHA-256 and one bundle hash. Never the
  admin token, webhook secrets, credential values, API key hashes, the database or the history
  (``leaks`` refuses a bundle in which any of those values shows up).
- ``context``: a Docker build context from a bundle: Dockerfile (non-root, ``/data`` volume, HEALTHCHECK
  on ``/health``, SIGTERM drain), ``bin/start``, ``bin/healthcheck`` and the sidecar's own source.
- ``install`` and ``entry``: what ``bin/start`` runs: install the bundle into the data directory (secrets
  from the environment), then ``serve`` it; ``/health`` answers the installed bundle's hash.
- ``docker_build``: builds the context through the ``docker`` SDK when it and an engine are present.
"""
