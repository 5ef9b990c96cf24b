"""Roles of tenant users.

Roles are ordered: an admin can do everything an editor can, an editor everything a viewer
can. Compare them with ``at_least``, never with ``<`` (a ``StrEnum`` compares as text, and
"admin" < "viewer" alphabetically says nothing about privilege).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        """Higher means more privileged: viewer 1, editor 2, admin 3."""
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        """True when this role grants everything ``other`` grants."""
        return self.rank >= other.rank

    @classmethod
    def highest(cls, names: object) -> Role | None:
        """The most privileged role named in ``names`` (an iterable of strings), if any.

        Unknown names are ignored, so a list of identity-provider groups can be passed as is.
        """
        if not isinstance(names, list | tuple | set | frozenset):
            return None
        found = [cls(name) for name in names if isinstance(name, str) and name in _BY_VALUE]
        return max(found, key=lambda role: role.rank, default=None)


_RANKS: dict[Role, int] = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3}
_BY_VALUE = frozenset(role.value for role in Role)
