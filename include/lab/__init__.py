"""The DI lab: a stand-in for the UC applications' admin APIs and TLS endpoints (demo and tests).

``include.lab.server.Lab`` serves one real TLS endpoint per node (real X.509 certificates made
with ``cryptography``) and the UC admin HTTP contract of ``docs/uc_admin_api.md`` (FastAPI).
Start it for the demo with ``python -m include.lab --inventory .data/inventory --state .data/lab``.
"""
