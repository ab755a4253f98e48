"""The example's own declarative base, so its tables live in a metadata of their own."""

from __future__ import annotations

from sqlalchemy import MetaData

from fastapi_pro.db import NAMING_CONVENTION, Base


class Model(Base):
    """Base of the orders service's models; ``Model.metadata`` holds exactly their tables."""

    __abstract__ = True
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
