"""Every public module's ``__all__`` names things that exist (the public surface is explicit)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import cart
import livecommerce
import streaming


def _modules() -> list[str]:
    names = []
    for package in (livecommerce, cart, streaming):
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            if ".migrations" in info.name or info.name.endswith("__main__"):
                continue
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    for attr in getattr(module, "__all__", ()):
        assert hasattr(module, attr), f"{name}.__all__ lists {attr!r}, which it does not define"
