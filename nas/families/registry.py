"""The one table of scheme families, and the table of named schemes built from it.

Adding a family is one module in ``nas/families/`` and one line in :data:`FAMILIES` (see
``docs/families.md``). Nothing registers itself on import: every consumer (stepper, networks, diagnostics,
search, records, export, leaderboard, CLI) asks this module, and the tests that enumerate
:func:`names` / :func:`scheme_names` bring a new family into every test.
"""
from __future__ import annotations

from types import MappingProxyType

from . import hamiltonian, leapfrog2, lm_resnet, momentum, multistep, runge_kutta
from .base import NamedScheme, SchemeFamily
from .capabilities import check_family_type


def family_table(*family_types: type[SchemeFamily]) -> MappingProxyType[str, SchemeFamily]:
    """family name -> the one instance of each family class, in the given order. Every class is checked
    first (:func:`~nas.families.capabilities.check_family_type`): a family that declares a capability
    without writing its hooks, or leaves a hook of the interface unwritten, is refused here, with its name
    and the hook, before any run can meet it."""
    table: dict[str, SchemeFamily] = {}
    for family_type in family_types:
        check_family_type(family_type)
        if family_type.name in table:
            other = type(table[family_type.name]).__qualname__
            raise TypeError(f"scheme family {family_type.name!r} is defined by {other} and {family_type.__qualname__}")
        table[family_type.name] = family_type()
    return MappingProxyType(table)


# family name (the "family" key of a scheme's JSON form) -> its family
FAMILIES: MappingProxyType[str, SchemeFamily] = family_table(
    runge_kutta.RungeKuttaFamily,
    multistep.MultistepFamily,
    lm_resnet.LMResNetFamily,
    hamiltonian.HamiltonianFamily,
    leapfrog2.Leapfrog2Family,
    momentum.MomentumFamily,
)


def _named_table() -> MappingProxyType[str, NamedScheme]:
    table: dict[str, NamedScheme] = {}
    for entry in FAMILIES.values():
        for named in entry.named_schemes():
            if named.name in table:
                raise RuntimeError(f"scheme name {named.name!r} is defined by {table[named.name].family} and "
                                   f"{named.family}")
            table[named.name] = named
    return MappingProxyType(table)


NAMED: MappingProxyType[str, NamedScheme] = _named_table()
_TYPES = tuple(entry.scheme_type for entry in FAMILIES.values())


# ----------------------------------------------------------------------------------------- families
def names() -> list[str]:
    """Family names, in table order."""
    return list(FAMILIES)


def _entry(table, key, what: str, plural: str, where: str = ""):
    if key not in table:
        raise ValueError(f"{where}unknown {what} {key!r}; known {plural}: {', '.join(table)}")
    return table[key]


def families_with(capability: type[SchemeFamily]) -> list[str]:
    """Names of the families that declare ``capability`` (a class of :mod:`nas.families.capabilities`), in
    table order: the question to ask before building anything that needs the ability."""
    return [name for name, entry in FAMILIES.items() if isinstance(entry, capability)]


def family(name: str) -> SchemeFamily:
    return _entry(FAMILIES, name, "family", "families", "scheme.family: ")


def family_of(scheme) -> SchemeFamily:
    """The family of a scheme object; ``TypeError`` for anything else."""
    entry = FAMILIES.get(getattr(scheme, "family", None))
    if entry is None or not isinstance(scheme, entry.scheme_type):
        raise TypeError(f"expected a scheme (one of {', '.join(t.__name__ for t in _TYPES)}), "
                        f"got {type(scheme).__name__}")
    return entry


def is_scheme(value) -> bool:
    return isinstance(value, _TYPES)


# ------------------------------------------------------------------------------------ named schemes
def scheme_names() -> list[str]:
    """Registered scheme names, family by family in table order."""
    return list(NAMED)


def info(name: str) -> NamedScheme:
    return _entry(NAMED, name, "scheme", "schemes")


def get(name: str, **params):
    """The scheme registered as ``name``; ``params`` are its declared parameters (``get('lm_resnet', k=0.3)``)."""
    entry = info(name)
    allowed = [p.name for p in entry.parameters]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        takes = f"it takes {', '.join(allowed)}" if allowed else "it takes none"
        raise ValueError(f"scheme {name!r}: bad parameters {params}: unknown {', '.join(unknown)} ({takes})")
    return entry.build(**params)


def from_dict(data: dict):
    """Rebuild any scheme from its JSON form (dispatch on its "family" key)."""
    if not isinstance(data, dict):
        raise ValueError(f"scheme: expected a mapping, got {type(data).__name__}")
    return family(data.get("family")).from_dict(data)


def resolve(scheme):
    """A scheme object from a scheme object, a registered name or a JSON dict."""
    if isinstance(scheme, str):
        return get(scheme)
    if isinstance(scheme, dict):
        return from_dict(scheme)
    family_of(scheme)  # TypeError naming the accepted types
    return scheme


def parameter_owners() -> dict[str, tuple[list[str], object]]:
    """Command-line flag -> (the named schemes that take it, its first declaration), for ``nas train`` and
    ``nas diagnose``."""
    owners: dict[str, tuple[list[str], object]] = {}
    for entry in NAMED.values():
        for parameter in entry.parameters:
            owners.setdefault(parameter.option, ([], parameter))[0].append(entry.name)
    return owners


__all__ = ["FAMILIES", "NAMED", "families_with", "family", "family_of", "family_table", "from_dict", "get", "info",
           "is_scheme", "names", "parameter_owners", "resolve", "scheme_names"]
