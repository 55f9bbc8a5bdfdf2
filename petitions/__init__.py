"""petitions: publish a petition, collect confirmed signatures, deliver a signed bundle.

The package itself imports nothing heavy: the worker process that draws the bundle's PDF volumes
imports `petitions.delivery` and should not pay for Flask, SQLAlchemy and Alembic (about 65 MB).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flask import Flask

__version__ = "0.1.0"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application from the environment, or from `test_config` alone in tests."""
    from petitions.app import create_app as build

    return build(test_config)
