"""The scheme-family interface: everything the package does with one family of schemes, in one class.

A family is one module of ``nas.families`` with one :class:`SchemeFamily` subclass, listed in the explicit
table of :mod:`nas.families.registry` (which makes its one instance). Optional abilities are capability
classes the subclass also inherits (:mod:`nas.families.capabilities`). Consumers never ask what a scheme is; they ask its
family (``registry.family_of(scheme)``) and call the hook documented below. In the spirit of optuna's
``BaseSampler``, each hook's docstring says who calls it and when; the abstract ones must be written, the
others have defaults that suit a family without the feature. A stage's submodules and stepping constants
are what ``init_stage`` returns (:class:`StageParts`), held by the stage.

Family modules import only light modules at the top (``nas.schemes.coefficients``, ``nas.stepper``):
``nas.schemes``, the leaderboard and ``nas schemes`` never import torch. Hooks that need torch, sympy or
the search machinery import them inside the function.
"""
from __future__ import annotations

import abc
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar


@dataclass(frozen=True)
class SchemeParameter:
    """A keyword of a parametrised named scheme, ``get("lm_resnet", k=0.3)``.

    ``choices`` empty means a number. ``flag`` is the command-line option (without dashes) that ``nas train``
    and ``nas diagnose`` build from it; several schemes may share one flag.
    """

    name: str
    help: str
    choices: tuple[str, ...] = ()
    flag: str = ""

    @property
    def option(self) -> str:
        return "--" + (self.flag or self.name)


@dataclass(frozen=True)
class CoefficientOptions:
    """Options of ``nas diagnose`` that give a scheme of the family by its coefficients, as JSON (decimals read
    exactly): ``fields`` is (flag, field of the scheme type, help) per option, ``optional`` the flags that may
    be left out, ``switch`` an optional flag that asks for such a scheme by itself; the scheme is named
    ``name``."""

    name: str
    fields: tuple[tuple[str, str, str], ...]
    optional: tuple[str, ...] = ()
    switch: str = ""
    switch_help: str = ""


@dataclass(frozen=True)
class NamedScheme:
    """A registry entry: ``build(**params)`` gives the scheme; ``order`` is the textbook order (None when it
    depends on parameters); ``source`` cites the method."""

    name: str
    build: Callable[..., Any]
    order: int | None
    source: str
    description: str
    family: str
    parameters: tuple[SchemeParameter, ...] = ()

    @classmethod
    def constant(cls, scheme, order: int | None, source: str, description: str) -> "NamedScheme":
        """The entry of a scheme constant (its own ``name`` and ``family``)."""
        return cls(scheme.name, lambda: scheme, order, source, description, scheme.family)


def number(value):
    """A float from an int / float / sympy number; None for symbols or non-finite values, booleans stay."""
    if value is None or isinstance(value, bool):
        return value
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def json_float(value):
    """A coefficient of a scheme's JSON form (number or "p/q" string) as a float; None stays None."""
    from fractions import Fraction

    return None if value is None else float(Fraction(value) if isinstance(value, str) else value)


def scheme_order(report):
    """The one order nas states for a scheme: ``nas diagnose``'s ``order`` line and the ``order`` column of
    ``trials.csv``, the leaderboard and the search's ``min_order`` constraint.

    A multistep method consistent with T u' = f for T = ρ'(1)/σ(1) ≠ 1 has classical order 0 (``report.order``,
    for u' = f) but is a method of order ``effective_order`` for the equation it does discretise; in a network
    f is learned, so the constant T is absorbed into it and the effective order is the one that describes the
    scheme. LM-ResNet (T = 1 + k) is order 1 for k ≠ -1 (2 at k = 1, leapfrog; SCIENCE.md). Every other
    scheme (T = 1, or no time scale) has its classical order."""
    effective = getattr(report, "effective_order", None)
    return report.order if effective is None else effective


def report_columns(report) -> dict:
    """The diagnostics columns of ``trials.csv`` read off a report (None where it has no such value)."""
    order = number(scheme_order(report))
    zero_stable = getattr(report, "zero_stable", None)
    interval = getattr(report, "real_stability_interval", None)
    return {"order": None if order is None else int(order),
            "zero_stable": zero_stable if isinstance(zero_stable, bool) else None,
            "error_constant": number(getattr(report, "normalized_error_constant", None)),
            "error_norm": number(getattr(report, "principal_error_norm", None)),
            "real_stability_interval": None if interval is None else number(-interval[0])}


def rounded(value) -> float:
    """A learned coefficient as it labels and draws a stability region: the mean over channels, 4 significant
    digits (the one rounding of export cards and leaderboard plots)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    mean = sum(float(v) for v in values) / len(values)
    return float(f"{mean:.4g}")


class Parametrisation(abc.ABC):
    """An order-preserving parametrisation of a family's coefficients (docs/learned.md).

    A differentiable map from free real parameters θ to coefficients for which the family's conditions
    (order ``order``; zero-stability for multistep methods) hold for *every* θ, up to float round-off.
    ``free_parameters()`` are the θ (float64) of the starting scheme it was made from; ``coefficients(θ)``
    is the map in torch (the network steps with it; gradients reach θ); ``scheme(θ)`` is the concrete frozen
    scheme at θ (what a trained network writes back). Subclasses are frozen dataclasses with a ``start``
    field (θ as floats) and an ``order`` field; made by :meth:`SchemeFamily.parametrisation`.
    """

    family: ClassVar[str]

    @property
    def size(self) -> int:
        """Number of free parameters."""
        return len(self.start)

    def free_parameters(self):
        """θ of the starting scheme, a float64 tensor (the learned parameters' initial value)."""
        import torch

        return torch.tensor(self.start, dtype=torch.float64)

    @abc.abstractmethod
    def coefficients(self, params) -> dict:
        """The family's coefficients at θ = ``params`` as torch tensors in ``params``' dtype, keyed as the
        family's stepping reads them (``A``/``b``, ``alpha``/``beta``, ``k``, ``gamma``)."""

    @abc.abstractmethod
    def scheme(self, params, name: str = ""):
        """The concrete frozen scheme at θ = ``params`` (coefficients as Python floats, exactly the values
        ``coefficients`` gives, so a network rebuilt from it steps with the same numbers)."""


def floats(tensor) -> tuple[float, ...]:
    """A tensor's entries as Python floats (exact: float64 → float)."""
    return tuple(float(v) for v in tensor.detach().reshape(-1).tolist())


# Relative size of the smallest singular value under which an order-condition system counts as singular.
SINGULAR_TOLERANCE = 1e-8


def check_full_rank(M, what: str) -> None:
    """``ValueError`` when the order-condition matrix ``M`` (m × s, m ≤ s) has rank < m: its conditions then
    have no solution, or no unique least-norm one, at these parameters (checked without a graph)."""
    import torch

    if M.device.type == "meta":  # size estimates (nas.networks.estimate): shapes only, nothing to check
        return
    with torch.no_grad():
        singular = torch.linalg.svdvals(M.detach())
        if not bool(singular[-1] > SINGULAR_TOLERANCE * singular[0]):
            raise ValueError(f"{what}: the order-condition matrix is singular at these parameters (singular "
                             f"values {[float(v) for v in singular]})")


def nearest_solution(M, r, w):
    """The point of the affine set {b : M b = r} nearest to ``w`` (M of full row rank):
    b = w − Mᵀ (M Mᵀ)⁻¹ (M w − r), the least-norm solution plus the null-space part of ``w``
    (Golub & Van Loan, Matrix Computations, §5.7: minimum-norm solutions of underdetermined systems).
    Differentiable in M, r and w."""
    import torch

    return w - M.transpose(-1, -2) @ torch.linalg.solve(M @ M.transpose(-1, -2), M @ w - r)


@dataclass(frozen=True)
class StageParts:
    """What a family's ``init_stage`` gives the stage it builds (the stage holds it; nothing is set on it from
    outside). ``modules``: the stage's submodules by attribute name, exactly the names the family declares in
    ``stage_modules`` and in that order (None for an optional one the scheme does without); the stage
    registers them, so they are the state-dict prefixes that weights files, exports and the leaderboard read
    (``stages.<i>.residuals.<n>...``, ``stages.<i>.learned_k.<j>``). ``state``: a frozen value of the plain
    numbers the family's stepping reads (its own dataclass; None when it needs none), ``stage.state``. In the
    manner of diffrax, whose solver state is an explicit value passed through ``step``."""

    modules: dict[str, Any]
    state: Any = None


class SchemeFamily(abc.ABC):
    """One family of schemes: its value type, named schemes, stepping, network stage, diagnostics, search
    block and result columns. Subclasses set ``name`` and ``scheme_type`` and write the abstract hooks."""

    #: the ``"family"`` key of the schemes' JSON form
    name: ClassVar[str]
    #: the frozen, self-validating dataclass of the family's scheme values (``to_dict`` / ``from_dict``)
    scheme_type: ClassVar[type]

    #: the attribute names of the submodules its stages hold (``StageParts.modules``), in registration order
    stage_modules: ClassVar[tuple[str, ...]]

    #: options of ``nas diagnose`` that give a scheme by its coefficients (None: the family has none)
    coefficient_options: ClassVar[CoefficientOptions | None] = None

    def __repr__(self) -> str:
        return f"<scheme family {self.name}>"

    # ------------------------------------------------------------------------------------- the values
    @abc.abstractmethod
    def named_schemes(self) -> tuple[NamedScheme, ...]:
        """The family's registered names. Called once, when the registry builds its name table (the source
        of ``nas.schemes.names()/get()/info()``, ``nas schemes`` and of every test that enumerates names)."""

    def from_dict(self, data: dict):
        """The scheme of a JSON form whose ``family`` key is this family (``nas.schemes.from_dict``)."""
        return self.scheme_type.from_dict(data)

    # -------------------------------------------------------------------------------------- stepping
    @abc.abstractmethod
    def integrate(self, scheme, fns: list, x0, h: float, steps: int, startup: str):
        """``nas.integrate``: x_steps from x0 with one callable per step (arguments already checked).

        ``startup`` names the start-up of multistep methods (``nas.stepper.STARTUPS``); one-step families
        ignore it. Families with another ODE form (second order, partitioned) document what ``fns`` and
        ``x0`` mean, and set ``ode_form`` on their scheme type.
        """

    # --------------------------------------------------------------------------------- network stage
    # Called by nas.networks.SchemeStage, the one nn.Module class of every stage: __init__ calls init_stage,
    # forward calls stage_forward (or the memory-efficient Function), coefficients() calls
    # stage_coefficients. Hooks import torch inside; the stepping reads the stage's submodules (named in
    # stage_modules: residuals, learned_<name>, ...) and its ``stage.state``.
    @abc.abstractmethod
    def init_stage(self, stage, spec, width: int, first_step: int, make_residual: Callable) -> StageParts:
        """The stage's residual functions, learned coefficients and stepping constants, as :class:`StageParts`
        (read from ``stage``: ``scheme``, ``h``, ``noise``, ``memory_efficient``, ``prior_states``; written to
        it: nothing). ``make_residual(width=None, *, step, role="f")``
        gives the residual function that step ``step`` evaluates in ``role`` (one role per distinct function
        of a step: the Hamiltonian network's ``drift`` and ``kick``); when the spec ties the stage
        (``nas.networks.tying``), every step gets the same weights, so a family only has to ask with the
        right step and role. ``first_step`` is the stage's first global step (for error messages)."""

    @abc.abstractmethod
    def stage_forward(self, stage, x):
        """The stage's plain forward pass: the scheme's steps over ``stage``'s residual functions."""

    @abc.abstractmethod
    def stage_coefficients(self, stage) -> list[dict]:
        """One dict per step: the coefficients that step really uses, learned values included
        (``SchemeNetwork.coefficients()``; read by ``analyze_network`` and the export card)."""

    # ------------------------------------------------- optional abilities (nas.families.capabilities)
    # A family with an ability inherits its capability class (ReversibleFamily, ConvertibleFamily,
    # PriorStateFamily, LearnableFamily) and writes its hooks; these questions are how a family without it
    # says why not (the messages users see), asked before anything is built.
    def memory_efficient_reason(self, scheme) -> str | None:
        """None when ``scheme`` supports the memory-efficient mode (backward by inverting steps), else why not.
        Asked by ``SchemeStage`` when a spec sets ``memory_efficient``, and by the memory benchmark; None only
        from a :class:`~nas.families.capabilities.ReversibleFamily`."""
        return f"the {self.name} family has no step-by-step inverse"

    def conversion_reason(self, scheme) -> str | None:
        """None when a converted torchvision ResNet can run ``scheme`` (``nas.convert``), else why not. Asked
        by ``nas.convert`` before anything is built, and by search spaces with a torchvision network for one
        scheme of each family block: the answer is the family's, whatever the coefficients; None only from a
        :class:`~nas.families.capabilities.ConvertibleFamily`."""
        return f"the {self.name} family's stages cannot run on pre-built residual functions"

    def paper_residual(self, scheme) -> str:
        """The residual form (``NetworkSpec.residual``) of the paper that introduced the scheme's network
        (benchmarks and examples build the paper's network with it)."""
        return "preact"

    # ----------------------------------------------------------------------------------- diagnostics
    @abc.abstractmethod
    def analyze(self, scheme, tolerance: float):
        """``nas.diagnostics.analyze``: the report of ``scheme``. The maths lives in ``nas.diagnostics``;
        this hook picks and configures it."""

    def diagnostic_columns(self, scheme) -> dict:
        """order, zero_stable, error_constant, error_norm, real_stability_interval for ``trials.csv`` (None
        where the report has no such value). Called once per trial; an analysis that fails raises."""
        return report_columns(self.analyze(scheme, 1e-9))

    def zero_stability_violation(self, scheme) -> float:
        """The Optuna constraint ``zero_stable``: ≤ 0 when the root condition holds, else how far from it.
        Default: 0, for families without a characteristic polynomial ρ to violate it (one-step methods)."""
        return 0.0

    # ------------------------------------------------------------------------------ learned coefficients
    def parametrisation(self, scheme, order: int | None = None) -> Parametrisation:
        """The order-preserving parametrisation of the family's coefficients (``NetworkSpec.learn_scheme``),
        written by a :class:`~nas.families.capabilities.LearnableFamily`. A family without that capability
        answers with the ``ValueError`` users see when they ask to learn its coefficients, at construction."""
        raise ValueError(f"learn_scheme: the {self.name} family has no order-preserving parametrisation of its "
                         f"coefficients (families with one: runge_kutta, multistep, lm_resnet, momentum)")

    # ---------------------------------------------------------------------------------------- search
    def parse_block(self, raw: dict, path: str, label: str):
        """A search-space block ``{family: <name>, label: ..., ...}`` as a block with ``label``, ``family``,
        ``suggest(trial, constants)``, ``build(config)`` and ``check_depth(most_steps, path)``; a bad block
        is a ``SpaceError`` naming the key path. Default: the family's first named scheme, no keys to search."""
        from nas.domains import check_mapping

        check_mapping(raw, path, {"family", "label"})
        return ConstantBlock(label, self.name, self.named_schemes()[0].build())

    def coefficient_columns(self, data: dict) -> dict:
        """``coef_<name>`` columns of ``trials.csv`` from the scheme's JSON form. Default: every numeric
        entry of the form."""
        return {f"coef_{key}": float(value) for key, value in data.items()
                if isinstance(value, (int, float)) and not isinstance(value, bool)}

    def display_name(self, scheme) -> str:
        """The ``scheme_name`` column of a trial (leaderboards, export titles)."""
        return getattr(scheme, "name", "") or str(scheme)

    # --------------------------------------------------------------------------------------- results
    def learned_coefficients(self, scheme) -> tuple[str, ...]:
        """Names of the per-step coefficients a network of ``scheme`` learns (parameters
        ``stages.<i>.learned_<name>.<j>``, keys of the coefficient rows); () when nothing is learned."""
        return ()

    def stability_proxy(self, scheme, learned: dict | None = None, name: str | None = None):
        """The scheme whose linear stability region stands for ``scheme`` in plots (export card, leaderboard),
        with learned coefficients set to ``learned`` (name -> value, averaged over channels and rounded by
        :func:`rounded`) and renamed to ``name``; None when the family has no such region."""
        return None

    def card_rows(self, scheme) -> dict[str, str]:
        """Family-specific lines of the export card's scheme section (label -> text)."""
        return {}


class ParameterFreeScheme:
    """Mixin of frozen scheme dataclasses with no coefficients, only ``name`` and ``family`` fields: the name
    check and the JSON form ``{"family", "name"}``."""

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise ValueError(f"name: expected a string, got {self.name!r}")

    def to_dict(self) -> dict:
        return {"family": self.family, "name": self.name}

    @classmethod
    def from_dict(cls, data: dict):
        from nas.schemes.serialization import check_keys

        fields = cls.__dataclass_fields__
        check_keys(data, required=set(), optional={"family", "name"}, where=f"{fields['family'].default} scheme")
        return cls(name=data.get("name", fields["name"].default))

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ConstantBlock:
    """A search block that always builds the same scheme (a family without searched coefficients)."""

    label: str
    family: str
    scheme: Any = field(compare=False)

    def suggest(self, trial, constants: dict) -> None:
        return None

    def build(self, config: dict):
        return self.scheme

    def check_depth(self, most_steps: int, path: str) -> None:
        return None


@dataclass(frozen=True)
class FreeCoefficientsBlock:
    """A search block that samples a size (``size_key``: stages, steps) and then every free coefficient of
    that size in [low, high]; subclasses list the free coefficients (``free``) and ``build`` the scheme."""

    label: str
    size: Any  # nas.domains.Domain
    low: float
    high: float
    size_key: ClassVar[str] = "size"

    @classmethod
    def parse(cls, raw: dict, path: str, label: str, largest: int):
        """``{family, label, <size_key>, coefficients: {low, high}}`` with sizes 1..``largest``."""
        from nas.domains import check_mapping, fail, parse_domain, parse_range

        key = cls.size_key
        check_mapping(raw, path, {"family", "label", key, "coefficients"}, {key})
        size = parse_domain(raw[key], f"{path}.{key}", "int")
        for v in size.values():
            if not 1 <= v <= largest:
                raise fail(f"{path}.{key}", f"must be 1..{largest}, got {v}")
        return cls(label, cls.size_domain(size, f"{path}.{key}"),
                   *parse_range(raw.get("coefficients"), f"{path}.coefficients"))

    @classmethod
    def size_domain(cls, size, path: str):
        """The parsed size domain as the block samples it (subclasses restrict or convert ranges)."""
        return size

    def free(self, size: int) -> list[str]:
        raise NotImplementedError

    def suggest(self, trial, constants: dict) -> None:
        from nas.domains import suggest_into

        size = suggest_into(self.size, trial, f"{self.label}.{self.size_key}", constants)
        for name in self.free(size):
            trial.suggest_float(f"{self.label}.{name}", self.low, self.high)

    def check_depth(self, most_steps: int, path: str) -> None:
        return None


def negated(f):
    """x ↦ −f(x) (a residual function used as a force or kick with the opposite sign)."""
    return lambda x: -f(x)


def renamed(scheme, name: str | None):
    """``scheme`` with another ``name`` (unchanged when ``name`` is None)."""
    return scheme if name is None else dataclasses.replace(scheme, name=name)


__all__ = ["CoefficientOptions", "ConstantBlock", "FreeCoefficientsBlock", "NamedScheme", "ParameterFreeScheme",
           "Parametrisation", "SchemeFamily", "SchemeParameter", "StageParts", "check_full_rank", "floats", "json_float",
           "nearest_solution", "negated", "number", "renamed", "report_columns", "rounded", "scheme_order"]
