"""Diagnostics reports: frozen dataclasses with an exact JSON round trip, text and LaTeX renderings.

:class:`Report` is the common base; each family has its own subclass (fields documented there). Numbers
inside are exact (sympy), symbolic (sympy in k) or floats, see :mod:`nas.diagnostics.values`.
``to_dict`` writes a ``"kind"`` key; :func:`report_from_dict` dispatches on it through ``REPORT_KINDS``, the
one table of report kinds. Each field names its codec (``CODECS``: JSON form and renderings, in one place).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import sympy

from nas.schemes.serialization import check_keys

from . import values

# --- building blocks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """coefficient · h^power · factor, e.g. (−1/2, 1, "f'f") for −½ h f'f.

    ``factor`` is plain text, ``latex`` its LaTeX form; ``tree`` is the rooted tree (bracket notation) for
    Runge-Kutta terms and empty otherwise.
    """

    coefficient: Any
    power: int
    factor: str
    latex: str = ""
    tree: str = ""

    def to_dict(self) -> dict:
        return {"coefficient": values.encode(self.coefficient), "power": self.power, "factor": self.factor,
                "latex": self.latex, "tree": self.tree}

    @classmethod
    def from_dict(cls, data: dict) -> "Term":
        check_keys(data, required={"coefficient", "power", "factor"}, optional={"latex", "tree"}, where="term")
        return cls(values.decode(data["coefficient"], "term.coefficient"), int(data["power"]), data["factor"],
                   data.get("latex", ""), data.get("tree", ""))


@dataclass(frozen=True)
class ModifiedEquation:
    """Σ lhs terms = Σ rhs terms + O(h^remainder) (zero terms are left out)."""

    lhs: tuple
    rhs: tuple
    remainder: int

    def to_dict(self) -> dict:
        return {"lhs": [t.to_dict() for t in self.lhs], "rhs": [t.to_dict() for t in self.rhs],
                "remainder": self.remainder}

    @classmethod
    def from_dict(cls, data: dict) -> "ModifiedEquation":
        check_keys(data, required={"lhs", "rhs", "remainder"}, optional=set(), where="modified_equation")
        return cls(tuple(Term.from_dict(t) for t in data["lhs"]), tuple(Term.from_dict(t) for t in data["rhs"]),
                   int(data["remainder"]))

    def coefficient(self, side: str, power: int, factor: str):
        """The coefficient of h^power·factor on ``side`` ("lhs" or "rhs"), 0 when absent."""
        for term in getattr(self, side):
            if term.power == power and term.factor == factor:
                return term.coefficient
        return 0

    def text(self) -> str:
        return f"{_side_text(self.lhs, False)} = {_side_text(self.rhs, False)} + O(h^{self.remainder})"

    def latex(self) -> str:
        return f"{_side_text(self.lhs, True)} = {_side_text(self.rhs, True)} + O(h^{{{self.remainder}}})"

    def __str__(self) -> str:
        return self.text()


def _coefficient_text(value, latex: bool) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, complex):
        return f"({value.real:.6g}{value.imag:+.6g}i)"
    if isinstance(value, sympy.Add) and value.free_symbols:
        # (1 - k)/2 reads better than sympy's canonical 1/2 - k/2
        content, primitive = value.as_content_primitive()
        if content != 1 and content.is_Rational:
            body = sympy.latex(primitive) if latex else sympy.sstr(primitive)
            top = body if content.p == 1 else (f"{content.p} ({body})" if latex else f"{content.p}*({body})")
            if content.q == 1:
                return top
            return f"\\frac{{{top}}}{{{content.q}}}" if latex else f"({body})/{content.q}" if content.p == 1 \
                else f"{top}/{content.q}"
    if isinstance(value, sympy.Basic):
        return sympy.latex(value) if latex else sympy.sstr(value)
    return str(value)


def _needs_parentheses(value, text: str) -> bool:
    if isinstance(value, complex) or text.startswith("(") or text.startswith("\\frac"):
        return False
    if isinstance(value, sympy.Basic) and value.free_symbols:
        body = text[1:] if text.startswith("-") else text
        return any(op in body for op in ("+", "-"))
    return False


def _term_text(coefficient, power: int, factor: str, latex: bool) -> str:
    """c·h^q·factor as text (``-1/2*h*f'f``) or LaTeX (``- \\frac{1}{2} h f'f``)."""
    sep = " " if latex else "*"
    h = "" if power == 0 else ("h" if power == 1 else (f"h^{{{power}}}" if latex else f"h^{power}"))
    body = sep.join(p for p in (h, factor) if p)
    number = _coefficient_text(coefficient, latex)
    if not body:
        return number
    if number == "1":
        return body
    if number == "-1":
        return "-" + body
    if _needs_parentheses(coefficient, number):
        number = f"\\left({number}\\right)" if latex else f"({number})"
    return number + sep + body


def _side_text(terms, latex: bool) -> str:
    if not terms:
        return "0"
    # Group terms of equal power: h^4 (a X + b Y).
    groups: dict[int, list] = {}
    for term in terms:
        groups.setdefault(term.power, []).append(term)
    parts = []
    for power in sorted(groups):
        group = groups[power]
        if len(group) == 1:
            t = group[0]
            parts.append(_term_text(t.coefficient, power, t.latex if latex else t.factor, latex))
        elif power == 0:
            parts.extend(_term_text(t.coefficient, 0, t.latex if latex else t.factor, latex) for t in group)
        else:
            inner = " + ".join(_term_text(t.coefficient, 0, t.latex if latex else t.factor, latex) for t in group)
            inner = inner.replace("+ -", "- ")
            h = "h" if power == 1 else (f"h^{{{power}}}" if latex else f"h^{power}")
            parts.append(f"{h} \\left({inner}\\right)" if latex else f"{h}*({inner})")
    return " + ".join(parts).replace("+ -", "- ")


# --- field codecs ----------------------------------------------------------------------------------------
# A report field names its codec in its metadata (``field(metadata=_codec("json"))``; no codec: "math").
# The codec says, in one place, how the field is written to JSON, read back, and rendered.

def _value_text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        if len(value) > 12:
            return f"[{len(value)} entries]"
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, complex):
        return f"{value.real:.6g}{value.imag:+.6g}i"
    if isinstance(value, sympy.Basic):
        text = sympy.sstr(value)
        if not value.free_symbols and isinstance(value, sympy.Expr) and not value.is_Rational:
            text += f" (≈ {float(sympy.N(value)):.6g})" if value.is_real else ""
        return text
    return str(value)


def _value_latex(value) -> str:
    if value is None:
        return "--"
    if isinstance(value, tuple):
        if len(value) > 12:
            return f"{len(value)} entries"
        return "$(" + ", ".join(_value_latex(v).strip("$") for v in value) + ")$"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"${value:.6g}$"
    if isinstance(value, complex):
        return f"${value.real:.6g}{value.imag:+.6g}i$"
    if isinstance(value, sympy.Basic):
        return f"${sympy.latex(value)}$"
    return _latex_escape(str(value))


def _latex_escape(text: str) -> str:
    for a, b in (("\\", "\\textbackslash{}"), ("_", "\\_"), ("&", "\\&"), ("%", "\\%"), ("#", "\\#"),
                 ("$", "\\$")):
        text = text.replace(a, b)
    return text


@dataclass(frozen=True)
class FieldCodec:
    """How one kind of report field is written to JSON (``encode``), read back (``decode(value, where)``)
    and rendered: ``text`` is what follows ``"  name:"`` in ``str(report)``, ``latex`` the table cell."""

    encode: Callable[[Any], Any]
    decode: Callable[[Any, str], Any]
    text: Callable[[Any], str]
    latex: Callable[[Any], str]


def _lists(value):
    return [_lists(v) for v in value] if isinstance(value, (tuple, list)) else value


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, (tuple, list)) else value


def _terms_text(terms) -> str:
    # one term per line below the field's name
    return "".join(f"\n    {_term_text(t.coefficient, t.power, t.factor, False)}" + (f"   [{t.tree}]" if t.tree else "")
                   for t in terms)


def _terms_latex(terms) -> str:
    return ", ".join(f"${_term_text(t.coefficient, t.power, t.latex, True)}$" for t in terms) or "--"


def _plain_text(value) -> str:
    return " " + _value_text(value)


CODECS: dict[str, FieldCodec] = {
    # JSON values as they are (names, strings, integers)
    "json": FieldCodec(lambda v: v, lambda v, where: v, _plain_text, _value_latex),
    "strings": FieldCodec(list, lambda v, where: tuple(v), _plain_text, _value_latex),
    # nested tuples (rows of a table) as nested lists
    "tuple": FieldCodec(_lists, lambda v, where: _tuples(v), _plain_text, _value_latex),
    "equation": FieldCodec(lambda v: None if v is None else v.to_dict(),
                           lambda v, where: None if v is None else ModifiedEquation.from_dict(v),
                           lambda v: f" {v.text() if v is not None else '-'}",
                           lambda v: f"${v.latex()}$" if v is not None else "--"),
    "terms": FieldCodec(lambda v: [t.to_dict() for t in v], lambda v, where: tuple(Term.from_dict(t) for t in v),
                        _terms_text, _terms_latex),
    # exact, symbolic or float numbers (nas.diagnostics.values)
    "math": FieldCodec(values.encode, values.decode, _plain_text, _value_latex),
}


def _codec(name: str) -> dict:
    """The metadata of a report field with codec ``name``."""
    if name not in CODECS:
        raise ValueError(f"codec: must be one of {', '.join(CODECS)}, got {name!r}")
    return {"codec": name}


def _codec_of(f: dataclasses.Field) -> FieldCodec:
    return CODECS[f.metadata.get("codec", "math")]


# --- reports ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """Common fields: the scheme's name and JSON form, the arithmetic used, the order, and notes.

    ``order`` is the classical order of consistency with u' = f (0 for an inconsistent scheme, None when it
    does not apply).
    """

    kind: ClassVar[str] = "report"
    name: str = field(metadata=_codec("json"))
    scheme: dict = field(metadata=_codec("json"))
    arithmetic: str = field(metadata=_codec("json"))
    order: Any = field(metadata=_codec("math"))
    notes: tuple = field(default=(), metadata=_codec("strings"))

    def __post_init__(self):
        if self.arithmetic not in values.ARITHMETICS:
            raise ValueError(f"arithmetic: must be one of {', '.join(values.ARITHMETICS)}, got {self.arithmetic!r}")

    def to_dict(self) -> dict:
        out = {"kind": self.kind}
        for f in dataclasses.fields(self):
            out[f.name] = _codec_of(f).encode(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Report":
        if cls is Report:
            return report_from_dict(data)
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        check_keys(data, required=required | {"kind"}, optional=names - required, where=f"{cls.kind} report")
        if data["kind"] != cls.kind:
            raise ValueError(f"kind: expected {cls.kind!r}, got {data['kind']!r}")
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in data:
                kwargs[f.name] = _codec_of(f).decode(data[f.name], f"{cls.kind}.{f.name}")
        return cls(**kwargs)

    # --- renderings ---
    # fields rendered as a table by the subclass rather than as one row each
    _table_fields: ClassVar[tuple] = ()

    def _rows(self):
        for f in dataclasses.fields(self):
            if f.name in ("name", "scheme", "notes") or f.name in self._table_fields:
                continue
            yield f.name, getattr(self, f.name), _codec_of(f)

    def __str__(self) -> str:
        lines = [f"{self.name} ({self.kind}, {self.arithmetic} arithmetic)"]
        for name, value, codec in self._rows():
            if name != "arithmetic":  # in the heading
                lines.append(f"  {name}:{codec.text(value)}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_latex(self) -> str:
        """A LaTeX ``tabular`` (two columns: quantity, value)."""
        lines = ["\\begin{tabular}{ll}", f"\\multicolumn{{2}}{{l}}{{\\textbf{{{_latex_escape(self.name)}}} "
                 f"({_latex_escape(self.kind)})}} \\\\", "\\hline"]
        for name, value, codec in self._rows():
            lines.append(f"{_latex_escape(name.replace('_', ' '))} & {codec.latex(value)} \\\\")
        lines.extend(f"\\multicolumn{{2}}{{l}}{{{_latex_escape(n)}}} \\\\" for n in self.notes)
        lines.append("\\end{tabular}")
        return "\n".join(lines)


@dataclass(frozen=True)
class RungeKuttaReport(Report):
    """Explicit Runge-Kutta method (Hairer, Nørsett, Wanner I, §II.2, §IV.2; Butcher 2016, §3).

    * ``order``: largest p with Φ(t) = 1/γ(t) for every rooted tree |t| ≤ p (checked up to
      ``max_tree_order``); ``conditions``: per order q, (q, satisfied, number of trees).
    * ``stage_order``: largest q with B(q) and C(q).
    * ``principal_error_coefficients``: (Φ(t) − 1/γ(t))/σ(t) for |t| = p+1, as terms h^{p+1} F(t) of the
      local error; ``principal_error_norm`` their 2-norm.
    * ``stability_polynomial``: coefficients of R(z), lowest degree first.
    * ``real_stability_interval`` [−r, 0] and ``imaginary_stability_interval`` [−ir, ir] (given as (−r, r)).
    * ``modified_equation``: u' = f + Σ h^{|t|−1} b(t)/σ(t) F(t) up to h^p (backward error analysis);
      ``linear_modified_equation``: u' = (log R(hλ)/h) u as a series in hλ.
    """

    kind: ClassVar[str] = "runge_kutta"
    stages: int = field(default=0, metadata=_codec("json"))
    max_tree_order: int = field(default=0, metadata=_codec("json"))
    conditions: tuple = field(default=(), metadata=_codec("tuple"))
    stage_order: Any = None
    principal_error_coefficients: tuple = field(default=(), metadata=_codec("terms"))
    principal_error_norm: Any = None
    stability_polynomial: tuple = ()
    real_stability_interval: Any = None
    imaginary_stability_interval: Any = None
    modified_equation: Any = field(default=None, metadata=_codec("equation"))
    linear_modified_equation: Any = field(default=None, metadata=_codec("equation"))


@dataclass(frozen=True)
class MultistepReport(Report):
    """Linear multistep method Σ α_j x_{n+j} = h Σ β_j f(x_{n+j}) (Hairer, Nørsett, Wanner I, §III.2).

    * ``rho``, ``sigma``: coefficients of ρ and σ (lowest degree first); ``characteristic_roots``: roots
      of ρ (with repetition).
    * ``error_constants``: C_0 … C_{p+1} (about t_n); ``order`` p; ``error_constant`` C_{p+1} and
      ``normalized_error_constant`` C_{p+1}/σ(1). With a symbolic k, ``order`` is the order for generic k
      and ``order_when`` lists (q, condition on k for order ≥ q).
    * ``consistent``, ``zero_stable``: booleans, or conditions on k (sympy relationals).
    * ``time_scale`` T = ρ'(1)/σ(1): the scheme is consistent with T u' = f; ``effective_order`` is its
      order as a method for that equation (equal to ``order`` when T = 1).
    * ``real_stability_interval``, ``imaginary_stability_interval`` as for Runge-Kutta;
      ``boundary_locus`` sampled z(θ) = ρ(e^{iθ})/σ(e^{iθ}) as [re, im] pairs.
    * ``modified_equation``: Σ_q c_q h^{q−1} u^{(q)} = Σ_m d_m h^m (d/dt)^m f(u), expanded about
      t_{n+r}, r = ``reference_step`` (the latest step where f is evaluated);
      ``linear_modified_equation``: u' = (log ζ₁(hλ)/h) u for the principal root ζ₁.
    """

    kind: ClassVar[str] = "multistep"
    steps: int = field(default=0, metadata=_codec("json"))
    rho: tuple = ()
    sigma: tuple = ()
    characteristic_roots: tuple = ()
    consistent: Any = None
    error_constants: tuple = ()
    error_constant: Any = None
    normalized_error_constant: Any = None
    order_when: tuple = ()
    time_scale: Any = None
    effective_order: Any = None
    zero_stable: Any = None
    real_stability_interval: Any = None
    imaginary_stability_interval: Any = None
    boundary_locus: tuple = ()
    reference_step: int = field(default=0, metadata=_codec("json"))
    modified_equation: Any = field(default=None, metadata=_codec("equation"))
    linear_modified_equation: Any = field(default=None, metadata=_codec("equation"))


@dataclass(frozen=True)
class ReversibleReport(Report):
    """Reversible scheme of Chang et al. (AAAI 2018): Hamiltonian (Verlet) or leapfrog (Störmer).

    * ``order``: classical order (for ``leapfrog2`` from the order conditions of second-order multistep
      methods, Hairer, Nørsett, Wanner I §III.10, with ``error_constant``; for ``hamiltonian`` from the
      Baker-Campbell-Hausdorff series of the kick-drift-kick composition).
    * ``test_equation``: the oscillator the stability analysis uses (ω² ≥ 0 an eigenvalue of the
      linearised force); ``characteristic_polynomial`` in ζ and μ = (hω)²; ``volume_preserving``: the
      product of the roots is 1 for every μ, so no root can lie strictly inside the unit circle: the step
      is either neutrally stable or unstable.
    * ``periodicity_interval`` (0, μ*): all roots on the unit circle and simple; ``step_bound`` = √μ*,
      i.e. stable when h ω < step_bound; ``stability_condition`` states it for the network's layers.
    * ``modified_equation``: Taylor form (leapfrog2) or the modified vector field as Lie brackets of the
      kick A and the drift B (hamiltonian); ``linear_modified_equation``: the numerical frequency,
      x'' = −ω̃² x with ω̃ = arccos(1 − μ/2)/h as a series in μ.
    """

    kind: ClassVar[str] = "reversible"
    ode_form: str = field(default="", metadata=_codec("json"))
    test_equation: str = field(default="", metadata=_codec("json"))
    error_constant: Any = None
    characteristic_polynomial: Any = None
    volume_preserving: Any = None
    periodicity_interval: Any = None
    step_bound: Any = None
    stability_condition: str = field(default="", metadata=_codec("json"))
    jacobian_spectrum: str = field(default="", metadata=_codec("json"))
    legend: tuple = field(default=(), metadata=_codec("strings"))
    modified_equation: Any = field(default=None, metadata=_codec("equation"))
    linear_modified_equation: Any = field(default=None, metadata=_codec("equation"))


@dataclass(frozen=True)
class NoiseReport(Report):
    """Noise schedule as an SDE discretisation (Sun, Tao, Du 2018; SCIENCE.md §4), for ``depth`` steps of h.

    * ``sde``: the stochastic modified equation, dX = E[η](t) F dt + sd(η)(t) √h F dW (multiplicative) or
      dX = F dt + σ(t) dW (additive); ``steps``: one row per step (n, t_n, E[η_n], Var(η_n), drift scale,
      diffusion scale, additive variance), read from the schedule's own methods.
    * ``total_injected_variance``: Σ_n h² Var(η_n) (per unit F²) or Σ_n h σ_n².
    * ``weak_order`` / ``strong_order``: of the Euler–Maruyama discretisation of that SDE (Kloeden &
      Platen 1992, Thms 10.2.2, 14.5.1): weak 1; strong 1/2 for multiplicative noise, 1 for additive
      noise (diffusion independent of the state); None without noise. ``order`` is the weak order.
    """

    kind: ClassVar[str] = "noise"
    noise_kind: str = field(default="", metadata=_codec("json"))
    shape: str = field(default="", metadata=_codec("json"))
    depth: int = field(default=0, metadata=_codec("json"))
    h: Any = None
    multiplicative: Any = None
    per_sample: Any = None
    sde: str = field(default="", metadata=_codec("json"))
    columns: tuple = field(default=(), metadata=_codec("strings"))
    steps: tuple = field(default=(), metadata=_codec("tuple"))
    total_injected_variance: Any = None
    weak_order: Any = None
    strong_order: Any = None

    _table_fields: ClassVar[tuple] = ("columns", "steps")

    def __str__(self) -> str:
        lines = [super().__str__(), "  per step:", "    " + " ".join(f"{c:>17}" for c in self.columns)]
        for row in self.steps:
            lines.append("    " + " ".join(f"{v:>17.6g}" if isinstance(v, float) else f"{v:>17}" for v in row))
        return "\n".join(lines)

    def to_latex(self) -> str:
        header = " & ".join(_latex_escape(c.replace("_", " ")) for c in self.columns)
        rows = [" & ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row) + " \\\\"
                for row in self.steps]
        table = ["\\begin{tabular}{" + "r" * len(self.columns) + "}", header + " \\\\", "\\hline", *rows,
                 "\\end{tabular}"]
        return super().to_latex() + "\n" + "\n".join(table)


@dataclass(frozen=True)
class NetworkReport(Report):
    """Per-layer diagnostics of a built (possibly trained) network, from its ``coefficients()`` rows.

    ``rows`` has one entry per step with the ``columns``: stage, step, startup (plain residual start-up
    step), k (mean over channels for per-channel k), k_min, k_max, the per-layer modified-equation
    coefficients u_dot = Σ α_j (j − r) and h_u_ddot = Σ α_j (j − r)²/2 about the step r where f is
    evaluated (for LM-ResNet (1 + k) and (1 − k)/2), consistent, zero_stable (LM-ResNet: −1 < k ≤ 1 for
    every channel) and order. ``order`` is the smallest order over the non-start-up steps.
    """

    kind: ClassVar[str] = "network"
    columns: tuple = field(default=(), metadata=_codec("strings"))
    rows: tuple = field(default=(), metadata=_codec("tuple"))
    all_zero_stable: Any = None
    unstable_steps: tuple = field(default=(), metadata=_codec("tuple"))
    k_range: Any = None
    _table_fields: ClassVar[tuple] = ("columns", "rows")

    def column(self, name: str) -> list:
        """One column of ``rows`` as a list."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def __str__(self) -> str:
        def cell(v):
            if isinstance(v, float):
                return f"{v:>10.4g}"
            return f"{'-' if v is None else str(v):>10}"
        lines = [super().__str__(), "  per step:", "    " + " ".join(f"{c:>10}" for c in self.columns)]
        lines.extend("    " + " ".join(cell(v) for v in row) for row in self.rows)
        return "\n".join(lines)

    def to_latex(self) -> str:
        def cell(v):
            if isinstance(v, bool):
                return "yes" if v else "no"
            if isinstance(v, float):
                return f"{v:.4g}"
            return "--" if v is None else str(v)
        header = " & ".join(_latex_escape(c.replace("_", " ")) for c in self.columns)
        rows = [" & ".join(cell(v) for v in row) + " \\\\" for row in self.rows]
        table = ["\\begin{tabular}{" + "r" * len(self.columns) + "}", header + " \\\\", "\\hline", *rows,
                 "\\end{tabular}"]
        return super().to_latex() + "\n" + "\n".join(table)


def report_kinds(*classes: type) -> dict[str, type]:
    """{kind: report class} for ``classes``; a ``ValueError`` when two share a kind (one would be unreadable)."""
    table: dict[str, type] = {}
    for cls in classes:
        if cls.kind in table:
            raise ValueError(f"report kind {cls.kind!r}: both {table[cls.kind].__name__} and {cls.__name__}")
        table[cls.kind] = cls
    return table


# The one table of report kinds: ``report_from_dict`` reads exactly these.
REPORT_KINDS = report_kinds(RungeKuttaReport, MultistepReport, ReversibleReport, NoiseReport, NetworkReport)


def report_from_dict(data: dict) -> Report:
    """Any report from its JSON form (dispatch on ``"kind"``)."""
    if not isinstance(data, dict):
        raise ValueError(f"report: expected a mapping, got {type(data).__name__}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in REPORT_KINDS:
        raise ValueError(f"report.kind: unknown kind {kind!r}; known kinds: {', '.join(REPORT_KINDS)}")
    return REPORT_KINDS[kind].from_dict(data)



__all__ = ["CODECS", "FieldCodec", "ModifiedEquation", "MultistepReport", "NetworkReport", "NoiseReport", "REPORT_KINDS",
           "Report", "ReversibleReport", "RungeKuttaReport", "Term", "report_from_dict", "report_kinds"]
