"""`{{variable}}` substitution as Postman does it.

Postman (postman-collection's `Substitutor`, `lib/superstring/index.js`) replaces every
`{{name}}` matching `/{{([^{}]*?)}}/` with the value from the first scope, narrowest first, that
has an enabled variable of that name, and repeats the pass so that values may themselves contain
`{{other}}`, up to 19 passes. A name no scope defines is left in place as `{{name}}`. Dynamic
variables such as `{{$guid}}` are generated at send time; they are left in place and are not
reported as unresolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from .model import Unresolved, VariableScope

PATTERN: Final = re.compile(r"{{([^{}]*?)}}")
PASS_LIMIT: Final = 19  # postman-collection's Substitutor.VARS_SUBREPLACE_LIMIT


@dataclass(frozen=True)
class Scopes:
    """The scopes in lookup order, narrowest first (for our inputs: environment, collection,
    globals)."""

    layers: tuple[VariableScope, ...]

    @classmethod
    def of(
        cls,
        *,
        environment: VariableScope | None,
        collection: VariableScope,
        globals_: VariableScope | None,
    ) -> Scopes:
        layers = (environment, collection, globals_)
        return cls(tuple(layer for layer in layers if layer is not None))

    def value(self, name: str) -> str | None:
        for layer in self.layers:
            variable = layer.lookup(name)
            if variable is not None:
                return variable.value
        return None

    def secret_values(self) -> tuple[str, ...]:
        """Values of variables exported as `type: "secret"` (for masking)."""
        return tuple(
            variable.value
            for layer in self.layers
            for variable in layer.variables
            if variable.secret and variable.value
        )


def substitute(text: str, scopes: Scopes) -> tuple[str, tuple[str, ...]]:
    """`text` with variables replaced, and the names left unresolved (in order, once each)."""
    for _ in range(PASS_LIMIT):
        replaced = PATTERN.sub(lambda match: _replacement(match, scopes), text)
        if replaced == text:
            break
        text = replaced
    return text, _unresolved_names(text)


def _replacement(match: re.Match[str], scopes: Scopes) -> str:
    value = scopes.value(match.group(1))
    return match.group(0) if value is None else value


def _unresolved_names(text: str) -> tuple[str, ...]:
    names: list[str] = []
    for name in PATTERN.findall(text):
        if not name.startswith("$") and name not in names:
            names.append(name)
    return tuple(names)


class Resolver:
    """Substitutes values for one request and remembers what stayed unresolved, and where."""

    def __init__(self, scopes: Scopes) -> None:
        self.scopes = scopes
        self._unresolved: list[Unresolved] = []

    def __call__(self, text: str, where: str) -> str:
        value, names = substitute(text, self.scopes)
        for name in names:
            entry = Unresolved(name, where)
            if entry not in self._unresolved:
                self._unresolved.append(entry)
        return value

    @property
    def unresolved(self) -> tuple[Unresolved, ...]:
        return tuple(self._unresolved)
