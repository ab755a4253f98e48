"""The example's own declarative base, so its tables live in a metadata of their own."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

from sqlalchemy import MetaData

from fastapi_pro.db import NAMING_CONVENTION, Base

FEATURES = "examples.orders.modules"
"""The package whose sub-packages are the features, each with its tables in ``models.py``."""


class Model(Base):
    """Base of the orders service's models; ``Model.metadata`` holds exactly their tables."""

    __abstract__ = True
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def complete_metadata() -> MetaData:
    """``Model.metadata`` with the tables of every feature, whatever was imported so far.

    A table is in ``Model.metadata`` once its module is imported; this imports the
    ``models.py`` of every folder under ``modules/``, so code that creates the tables (the
    demo's seeding, the app at start-up) cannot miss a feature, nor need a list of them.
    """
    features = importlib.import_module(FEATURES)
    for feature in pkgutil.iter_modules(features.__path__, f"{FEATURES}."):
        models = f"{feature.name}.models"
        if feature.ispkg and importlib.util.find_spec(models) is not None:
            importlib.import_module(models)
    return Model.metadata
