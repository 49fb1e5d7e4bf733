"""The real sshd on loopback and its upload folder (tests/integrations/conftest.py) for the SFTP store tests."""

from tests.integrations.conftest import sftp_root, sshd_lab  # noqa: F401 - fixtures shared with the adapter tests
