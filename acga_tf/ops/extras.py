"""How to install an optional extra (README Install): one wording for every message that needs one."""

from __future__ import annotations

import importlib.metadata
import re

DISTRIBUTION = "acga-tf"


def extra_packages(extra: str) -> list[str]:
    """The requirements the optional `extra` adds (`["torch"]` for "convert"), as the installed package's metadata
    lists them (setup.cfg's extras_require); empty where acga-tf runs from a checkout that was not installed."""
    try:
        requires = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return []
    marker = re.compile(r"""extra\s*==\s*["']""" + re.escape(extra) + r"""["']""")
    return [requirement.split(";")[0].strip() for requirement in requires
            if ";" in requirement and marker.search(requirement.split(";", 1)[1])]


def install_hint(extra: str) -> str:
    """`pip install -e ".[convert]"` from the acga-tf checkout (as README Install does), and the extra's packages
    for a pip install on their own: `(or: pip install torch)`."""
    packages = " ".join(f'"{p}"' if re.search(r"[<>=!~\[ ]", p) else p for p in extra_packages(extra))
    alone = f" (or: pip install {packages})" if packages else ""
    return f'pip install -e ".[{extra}]" in the acga-tf checkout{alone}'
