"""Command-line options for the parameters of named schemes, built from the registry.

Every parameter a named scheme declares (``nas.families.base.SchemeParameter``: lm_resnet's ``k`` and
``learn``, ...) becomes one option (``--k``, ``--learn-k``) of ``nas train`` and ``nas diagnose``; a new
family's parameters appear here without editing the commands.
"""
from __future__ import annotations


def add_scheme_options(parser, number) -> None:
    """One option per declared scheme parameter; ``number`` reads numeric values (float, or Fraction for
    exact diagnostics)."""
    from nas.families.registry import parameter_owners

    group = parser.add_argument_group("scheme parameters")
    for option, (owners, parameter) in parameter_owners().items():
        kwargs = {"choices": parameter.choices} if parameter.choices else {"type": number}
        group.add_argument(option, default=None, help=f"{parameter.help} [{', '.join(owners)}]", **kwargs)


def given_options(args) -> dict:
    """option -> value of the scheme-parameter options given on the command line."""
    from nas.families.registry import parameter_owners

    return {option: getattr(args, _dest(option)) for option in parameter_owners()
            if getattr(args, _dest(option), None) is not None}


def scheme_parameters(name: str, given: dict) -> dict:
    """The keyword arguments of ``nas.schemes.get(name, ...)`` from the given options; an option that
    ``name`` does not take is a ``ValueError`` naming the schemes that do."""
    from nas.families.registry import info, parameter_owners

    owners = parameter_owners()
    takes = {p.option: p.name for p in info(name).parameters}
    for option in given:
        if option not in takes:
            raise ValueError(f"scheme {name!r}: bad parameters: {option} only applies to "
                             f"{', '.join(owners[option][0])}")
    return {takes[option]: value for option, value in given.items()}


def check_options_apply(given: dict, names: list[str]) -> None:
    """Every given option must be a parameter of one of the named schemes ``names``."""
    from nas.families.registry import info, parameter_owners

    owners = parameter_owners()
    for option in given:
        if not any(option in {p.option for p in info(name).parameters} for name in names):
            raise ValueError(f"{option}: only applies to {', '.join(owners[option][0])}")


def add_coefficient_options(parser) -> None:
    """The families' options that give a scheme by its coefficients (``--tableau/--b/--c``, ...)."""
    from nas.families.registry import FAMILIES

    for family in FAMILIES.values():
        options = family.coefficient_options
        if options is None:
            continue
        if options.switch:
            parser.add_argument(f"--{options.switch}", action="store_true", help=options.switch_help)
        for flag, _, text in options.fields:
            parser.add_argument(f"--{flag}", default=None, help=text)


def coefficient_schemes(args, read_json) -> list:
    """The schemes given by coefficient options, in family order; ``read_json(text, option)`` reads a value."""
    from nas.families.registry import FAMILIES

    schemes = []
    for family in FAMILIES.values():
        options = family.coefficient_options
        if options is None:
            continue
        given = {flag: getattr(args, _dest(flag)) for flag, _, _ in options.fields
                 if getattr(args, _dest(flag)) is not None}
        if not given and not (options.switch and getattr(args, _dest(options.switch))):
            continue
        required = [flag for flag, _, _ in options.fields if flag not in options.optional]
        if not set(required) <= set(given):
            fields = ", ".join(field for flag, field, _ in options.fields if flag in required)
            raise ValueError(f"{' and '.join('--' + flag for flag in required)}: give "
                             f"{'both' if len(required) == 2 else 'all'} ({options.name}: {fields})")
        values = {field: read_json(given[flag], f"--{flag}") for flag, field, _ in options.fields if flag in given}
        schemes.append(family.scheme_type(**values, name=options.name))
    return schemes


def _dest(option: str) -> str:
    return option.lstrip("-").replace("-", "_")


__all__ = ["add_coefficient_options", "add_scheme_options", "check_options_apply", "coefficient_schemes",
           "given_options", "scheme_parameters"]
