"""Checkouts timed: how long a connection took to come out of the pool, and which never came.

SQLAlchemy's pool events fire once a connection has been handed out (``checkout``) and before
it is put back (``checkin``), never around either, so they can neither time a wait nor tell
what the pool holds after a return. The `Database`'s pool is therefore the class the engine
would have used anyway, with `Pool.connect` and the return of a connection wrapped: a pair of
``perf_counter`` readings per checkout, and nothing at all while no listener is registered.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any, Protocol

from sqlalchemy.engine import URL
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import Pool, PoolProxiedConnection


class PoolListener(Protocol):
    """What a `Database` tells about its pool (see `Database.add_pool_listener`).

    The methods run inside the checkout and the return of a connection: keep them short and
    never let them raise.
    """

    def checked_out(self, seconds: float) -> None:
        """A connection was handed out ``seconds`` after it was asked for."""

    def timed_out(self, seconds: float) -> None:
        """No connection came within the pool timeout (the request gets a 503)."""

    def changed(self, pool: Pool) -> None:
        """The pool's counts may have changed: after a checkout, a return or a dispose."""


class _WatchedPool(Pool):
    """Mixed in before the engine's own pool class; its listeners survive `Pool.recreate`."""

    _listeners: list[PoolListener] | tuple[()] = ()

    def connect(self) -> PoolProxiedConnection:
        listeners = self._listeners
        if not listeners:
            return super().connect()
        started = perf_counter()
        try:
            connection = super().connect()
        except PoolTimeoutError:
            waited = perf_counter() - started
            for listener in listeners:
                listener.timed_out(waited)
            raise
        waited = perf_counter() - started
        for listener in listeners:
            listener.checked_out(waited)
            listener.changed(self)
        return connection

    def _do_return_conn(self, record: Any) -> None:
        super()._do_return_conn(record)
        for listener in self._listeners:
            listener.changed(self)

    def dispose(self) -> None:
        super().dispose()
        for listener in self._listeners:
            listener.changed(self)

    def recreate(self) -> Pool:
        pool = super().recreate()  # the same class: engine.dispose() keeps the watch
        if isinstance(pool, _WatchedPool):
            pool._listeners = self._listeners
        return pool


_WATCHED: dict[type[Pool], type[Pool]] = {}
"""The watched subclass made for each pool class, so the engines of one class share it."""


def watched(pool_class: type[Pool]) -> type[Pool]:
    """``pool_class`` with its checkouts timed for the listeners of `watch`."""
    if issubclass(pool_class, _WatchedPool):
        return pool_class
    made = _WATCHED.get(pool_class)
    if made is None:
        # SQLAlchemy names a pool's logger after its class: keep the engine's own pool's name.
        namespace = f"{pool_class.__module__}.{pool_class.__name__}"
        made = type(
            f"Watched{pool_class.__name__}",
            (_WatchedPool, pool_class),
            {"_sqla_logger_namespace": namespace},
        )
        made = _WATCHED.setdefault(pool_class, made)
    return made


def watch(pool: Pool) -> list[PoolListener]:
    """Report ``pool``'s checkouts to the listeners of the list returned, which may grow later."""
    listeners: list[PoolListener] = []
    if isinstance(pool, _WatchedPool):  # not a ready-made pool given as engine_options pool=
        pool._listeners = listeners
    return listeners


def watched_pool_class(url: URL, given: type[Pool] | None) -> type[Pool]:
    """The pool class the engine would use for ``url`` (or ``given``), with checkouts timed."""
    if given is not None:
        return watched(given)
    dialect: Any = url.get_dialect(_is_async=True)  # the class create_engine would pick
    pool_class: type[Pool] = dialect.get_pool_class(url)
    return watched(pool_class)
