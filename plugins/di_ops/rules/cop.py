"""COP file names (Cisco Options Package) the operator accepts for upload.

Source: DOMAIN.md §5 — "a file name with a path component, or any name not
ending in ``.cop.sgn``, is refused". The suffix comes from
``include/config/policy.yaml`` (``cop.suffix``).

Defaults that interpret the source (each one refuses, none rewrites a name):

- The suffix is compared **case-sensitively**: the source writes ``*.cop.sgn``
  and Cisco publishes its COP files in lower case; ``X.COP.SGN`` is refused.
- A *path component* is anything a file system or SFTP server could read as a
  directory: ``/`` or ``\\`` (also their Unicode look-alikes that NFKC folds to
  them, e.g. the full-width solidus), any ``:`` (a Windows drive letter such as
  ``C:x.cop.sgn`` or an NTFS stream), any ``..``, and a leading ``.`` (a hidden
  file; a leading ``..`` is the parent directory).
- NUL, control characters and invisible format characters (e.g. the
  right-to-left override used to disguise a file's real extension) are refused.
- Leading or trailing white space is refused: the name must match the
  published name byte for byte.
- Something must come before the suffix (``.cop.sgn`` alone is refused).
"""

from __future__ import annotations

import re
import unicodedata

from di_ops.core.settings import CopPolicy
from di_ops.core.settings import policy as policy_settings

__all__ = ["validate_cop_name"]

_SEPARATORS = ("/", "\\")
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
# Cc: C0/C1 controls incl. NUL and DEL; Cf: invisible format characters (bidi overrides,
# zero-width joiners); Zl/Zp: line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _refuse(name: object, reason: str) -> ValueError:
    return ValueError(f"COP file name {name!r} refused: {reason}")


def validate_cop_name(name: str, *, policy: CopPolicy | None = None) -> str:
    """Return ``name`` unchanged if it is an acceptable COP file name; ValueError with the reason otherwise.

    Source: DOMAIN.md §5 (a name with a path component, or not ending in
    ``.cop.sgn``, is refused). ``policy`` overrides the configured suffix.
    """
    suffix = (policy or policy_settings().cop).suffix
    if not isinstance(name, str):
        raise _refuse(name, f"a file name must be a string, got {type(name).__name__}")
    if not name.strip():
        raise _refuse(name, "the name is empty")
    for char in name:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise _refuse(name, f"it contains the control or invisible character U+{ord(char):04X}")
    if name != name.strip():
        raise _refuse(name, "it starts or ends with white space")
    folded = unicodedata.normalize("NFKC", name)
    for separator in _SEPARATORS:
        if separator in name or separator in folded:
            raise _refuse(name, f"it contains a path component (separator {separator!r})")
    if _DRIVE_LETTER.match(name) or _DRIVE_LETTER.match(folded):
        raise _refuse(name, "it starts with a drive letter (a path component)")
    if ":" in name or ":" in folded:
        raise _refuse(name, "it contains ':' (a drive or stream separator, i.e. a path component)")
    if not name.endswith(suffix):
        if name.lower().endswith(suffix.lower()):
            raise _refuse(name, f"it must end in {suffix!r} (the suffix is case-sensitive)")
        raise _refuse(name, f"it does not end in {suffix!r}")
    if name == suffix:
        raise _refuse(name, f"nothing comes before {suffix!r}")
    if ".." in name or ".." in folded:
        raise _refuse(name, "it contains '..' (a parent-directory path component)")
    if name.startswith(".") or folded.startswith("."):
        raise _refuse(name, "it starts with '.' (a hidden file)")
    return name
