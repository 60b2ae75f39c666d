"""Name-keyed registries (in the style of timm's ``register_model``).

Fusion operators, corruptions, datasets and refiners each register under a name;
pages list ``registry.names()`` in their selectboxes and tests parametrise over it,
so a new method is exercised the moment it is registered.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Generic, List, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to factories with a decorator for registration."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: Dict[str, T] = {}
        self._docs: Dict[str, str] = {}

    def register(self, name: str, doc: str = "") -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            self._docs[name] = doc or (getattr(obj, "__doc__", "") or "").strip().split("\n")[0]
            return obj

        return deco

    def get(self, name: str) -> T:
        if name not in self._items:
            raise ValueError(
                f"unknown {self.kind} '{name}'; choose one of: {', '.join(self.names())}"
            )
        return self._items[name]

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.get(name)(*args, **kwargs)  # type: ignore[operator]

    def names(self) -> List[str]:
        return list(self._items)

    def doc(self, name: str) -> str:
        self.get(name)
        return self._docs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items
