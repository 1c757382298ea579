"""Plain value records: equality, repr, pickling and ``replace`` from a class's ``__slots__``.

What ``dataclasses`` would generate, without its cost at import: the module and
``inspect`` it pulls in, and an ``exec`` per class, were about a fifth of
``tracklog run``'s start-up. A record class lists its fields in ``__slots__`` (in
the order of its ``__init__``'s parameters) and writes that ``__init__`` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self


class Record:
    """A mutable record: two are equal when they are of one class with equal fields (unhashable)."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # as a dataclass with eq and not frozen

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__match_args__ = tuple(cls.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _values(self) == _values(other)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in type(self).__slots__)
        return f"{type(self).__qualname__}({shown})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return type(self), _values(self)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (field name -> value): ``dataclasses.replace`` for records."""
        values = {name: getattr(self, name) for name in type(self).__slots__}
        values.update(changes)
        return type(self)(**values)

    __replace__ = replace  # copy.replace (Python 3.13)


class FrozenRecord(Record):
    """A record whose fields are set once, in ``__init__``, and hashable by their values."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, name):
            raise AttributeError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash(_values(self))


def _values(record: Record) -> tuple[Any, ...]:
    return tuple([getattr(record, name) for name in type(record).__slots__])
