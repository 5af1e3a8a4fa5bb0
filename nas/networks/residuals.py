"""Residual forms: what one step's residual function f is (``NetworkSpec.residual``), in one table.

- ``preact`` (default): the pre-activation block BN-ReLU-conv-BN-ReLU-conv (He, Zhang, Ren, Sun, ECCV 2016).
- ``kernel_transpose``: f(x) = Kᵀ σ(K x), σ = ReLU ∘ BN (batch norm's shift is the bias b, its scale a
  per-channel normalisation, as in the reference implementation of Chang et al., AAAI 2018), K a 3-tap
  convolution and Kᵀ the transposed convolution with the same kernel (the adjoint of K: ``mlp`` uses Wᵀ).
  The Hamiltonian and leapfrog networks' form.
- ``single_layer``: f(x) = σ(K x). The midpoint network's form.
- ``antisymmetric``: f(x) = σ((K − Kᵀ) x): K − Kᵀ has imaginary eigenvalues, which makes the midpoint
  network stable for |hλ| < 1 (Chang et al. §3.2; Haber & Ruthotto, Inverse Problems 2017).

Every scheme accepts every form: reversibility never depends on what f is (the Hamiltonian network with
``preact`` functions on the two halves is a RevNet).
"""
from __future__ import annotations

from torch import nn
from torch.nn import functional as F

from .blocks import PreActResidual

_NORMS = {"image": nn.BatchNorm2d, "sequence": nn.BatchNorm1d, "mlp": nn.BatchNorm1d}
_KERNEL = 3


class _Kernel(nn.Module):
    """One square operator K (3-tap convolution, or a matrix for ``mlp``) with its adjoint Kᵀ."""

    def __init__(self, macro: str, width: int):
        super().__init__()
        self.macro = macro
        if macro == "image":
            self.op = nn.Conv2d(width, width, _KERNEL, padding=_KERNEL // 2, bias=False)
        elif macro == "sequence":
            self.op = nn.Conv1d(width, width, _KERNEL, padding=_KERNEL // 2, bias=False)
        else:
            self.op = nn.Linear(width, width, bias=False)

    def apply_weight(self, x, weight):
        if self.macro == "image":
            return F.conv2d(x, weight, padding=_KERNEL // 2)
        if self.macro == "sequence":
            return F.conv1d(x, weight, padding=_KERNEL // 2)
        return F.linear(x, weight)

    def forward(self, x):
        return self.op(x)

    def transpose(self, x):
        """Kᵀ x: the transposed convolution with the same kernel (the adjoint of a zero-padded 'same' conv)."""
        if self.macro == "image":
            return F.conv_transpose2d(x, self.op.weight, padding=_KERNEL // 2)
        if self.macro == "sequence":
            return F.conv_transpose1d(x, self.op.weight, padding=_KERNEL // 2)
        return F.linear(x, self.op.weight.t())

    def antisymmetric_weight(self):
        """The weight of K − Kᵀ: Kᵀ as a convolution has in/out channels swapped and the taps flipped."""
        w = self.op.weight
        if self.macro == "mlp":
            return w - w.t()
        return w - w.transpose(0, 1).flip(tuple(range(2, w.dim())))


class KernelTransposeResidual(nn.Module):
    """f(x) = Kᵀ σ(K x), σ = ReLU ∘ BN (Chang et al. 2018, eqs. 7 and 10)."""

    def __init__(self, macro: str, width: int):
        super().__init__()
        self.kernel = _Kernel(macro, width)
        self.norm = _NORMS[macro](width)

    def forward(self, x):
        return self.kernel.transpose(F.relu(self.norm(self.kernel(x))))


class SingleLayerResidual(nn.Module):
    """f(x) = σ(K x), or σ((K − Kᵀ) x) when ``antisymmetric`` (Chang et al. 2018, eq. 8)."""

    def __init__(self, macro: str, width: int, antisymmetric: bool = False):
        super().__init__()
        self.kernel = _Kernel(macro, width)
        self.norm = _NORMS[macro](width)
        self.antisymmetric = antisymmetric

    def forward(self, x):
        if self.antisymmetric:
            u = self.kernel.apply_weight(x, self.kernel.antisymmetric_weight())
        else:
            u = self.kernel(x)
        return F.relu(self.norm(u))


# residual form name -> constructor(macro, width, spec)
RESIDUAL_FORMS = {
    "preact": lambda macro, width, spec: PreActResidual(macro, width),
    "kernel_transpose": lambda macro, width, spec: KernelTransposeResidual(macro, width),
    "single_layer": lambda macro, width, spec: SingleLayerResidual(macro, width),
    "antisymmetric": lambda macro, width, spec: SingleLayerResidual(macro, width, antisymmetric=True),
}

__all__ = ["KernelTransposeResidual", "RESIDUAL_FORMS", "SingleLayerResidual"]
