"""Named schemes: one constant each, with its order and source.

Sources: Butcher, Numerical Methods for ODEs (2016), and Hairer, Nørsett, Wanner, Solving ODEs I (1993)
for the Runge-Kutta and Adams methods; Lu, Zhong, Li, Dong (ICML 2018) for LM-ResNet.
"""
from __future__ import annotations

from fractions import Fraction as F

from .multistep import LinearMultistep, LMResNet
from .tableau import ButcherTableau

# Forward Euler (Euler 1768) = ResNet (He et al. 2016). Order 1.
EULER = ButcherTableau(A=[[0]], b=[1], name="euler")
# Explicit midpoint rule (Runge 1895). Order 2.
MIDPOINT = ButcherTableau(A=[[0, 0], [F(1, 2), 0]], b=[0, 1], name="midpoint")
# Heun's method / explicit trapezoidal rule. Order 2.
HEUN = ButcherTableau(A=[[0, 0], [1, 0]], b=[F(1, 2), F(1, 2)], name="heun")
# Ralston (1962), the 2-stage order-2 method with minimal error bound. Order 2.
RALSTON = ButcherTableau(A=[[0, 0], [F(2, 3), 0]], b=[F(1, 4), F(3, 4)], name="ralston")
# Kutta's third-order method (Kutta 1901). Order 3.
KUTTA3 = ButcherTableau(
    A=[[0, 0, 0], [F(1, 2), 0, 0], [-1, 2, 0]], b=[F(1, 6), F(2, 3), F(1, 6)], name="kutta3"
)
# Strong-stability-preserving RK3 (Shu & Osher 1988). Order 3.
SSPRK3 = ButcherTableau(
    A=[[0, 0, 0], [1, 0, 0], [F(1, 4), F(1, 4), 0]], b=[F(1, 6), F(1, 6), F(2, 3)], name="ssprk3"
)
# The classic Runge-Kutta method (Kutta 1901). Order 4.
RK4 = ButcherTableau(
    A=[[0, 0, 0, 0], [F(1, 2), 0, 0, 0], [0, F(1, 2), 0, 0], [0, 0, 1, 0]],
    b=[F(1, 6), F(1, 3), F(1, 3), F(1, 6)],
    name="rk4",
)
# Kutta's 3/8 rule (Kutta 1901). Order 4.
RK38 = ButcherTableau(
    A=[[0, 0, 0, 0], [F(1, 3), 0, 0, 0], [F(-1, 3), 1, 0, 0], [1, -1, 1, 0]],
    b=[F(1, 8), F(3, 8), F(3, 8), F(1, 8)],
    name="rk38",
)
# Two-step Adams-Bashforth: x_{n+2} = x_{n+1} + h(3/2 f_{n+1} − 1/2 f_n). Order 2, C_3 = 5/12.
AB2 = LinearMultistep(alpha=[0, -1, 1], beta=[F(-1, 2), F(3, 2), 0], name="ab2")
# Three-step Adams-Bashforth: x_{n+3} = x_{n+2} + h(23/12 f_{n+2} − 16/12 f_{n+1} + 5/12 f_n). Order 3, C_4 = 3/8.
AB3 = LinearMultistep(alpha=[0, 0, -1, 1], beta=[F(5, 12), F(-16, 12), F(23, 12), 0], name="ab3")
# Leapfrog / explicit midpoint two-step rule: x_{n+2} = x_n + 2h f_{n+1}. Order 2, zero-stable. This is the
# "midpoint network" of Chang et al. (AAAI 2018).
LEAPFROG = LinearMultistep(alpha=[-1, 0, 1], beta=[0, 2, 0], name="leapfrog")
# LM-ResNet with one learned k per step, initialised as in the paper's reference code.
LM_RESNET = LMResNet(k=None, learn="layer")
