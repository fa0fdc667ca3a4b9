"""Butcher tableaus of the embedded Runge–Kutta pairs used by the adaptive methods."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BOSH3", "DOPRI5", "Tableau"]


@dataclass(frozen=True)
class Tableau:
    """An explicit embedded Runge–Kutta pair, with its dense output.

    The step is ``y_1 = y_0 + h sum_j b_j k_j`` with stages
    ``k_i = f(t_0 + c_i h, y_0 + h sum_{j<i} a_ij k_j)``; the local error estimate is
    ``h sum_j e_j k_j`` (``e = b - b_hat``, the difference to the embedded solution).

    Dense output on a step, ``theta = (t - t_0) / h`` in ``[0, 1]``, is the cubic Hermite
    polynomial through ``y_0, y_1`` with slopes ``f(t_0, y_0), f(t_1, y_1)``, plus, when
    ``dense`` is given, the quartic correction
    ``theta^2 (1 - theta)^2 h sum_j dense_j k_j`` (Hairer, Nørsett and Wanner, *Solving
    Ordinary Differential Equations I*, section II.6).

    Attributes:
        name: Method name.
        c: Stage times (``c[0] == 0``).
        a: Rows of the strictly lower triangular stage matrix (``a[i]`` has ``i`` entries).
        b: Weights of the propagated solution.
        e: Weights of the error estimate ``b - b_hat``.
        order: Order of the propagated solution.
        error_order: Order of the embedded solution; the local error estimate is
            ``O(h^(error_order + 1))``, which sets the step-size controller's exponent.
        fsal: Whether the last stage is evaluated at ``(t_1, y_1)`` (``a[-1] == b[:-1]``,
            ``c[-1] == 1``): it is then the next step's first stage.
        dense: Coefficients of the quartic dense-output correction, or ``None`` for the
            cubic Hermite polynomial alone.
    """

    name: str
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    e: tuple[float, ...]
    order: int
    error_order: int
    fsal: bool
    dense: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        s = len(self.c)
        if len(self.a) != s or any(len(row) != i for i, row in enumerate(self.a)):
            raise ValueError(
                f"tableau {self.name!r}: a must have rows of length 0, 1, ..., {s - 1}"
            )
        if (
            len(self.b) != s
            or len(self.e) != s
            or (self.dense is not None and len(self.dense) != s)
        ):
            raise ValueError(
                f"tableau {self.name!r}: b, e and dense need {s} entries (one per stage)"
            )
        if self.fsal and (
            self.c[-1] != 1.0 or tuple(self.a[-1]) != tuple(self.b[:-1]) or self.b[-1] != 0.0
        ):
            raise ValueError(
                f"tableau {self.name!r}: fsal needs c[-1] == 1, a[-1] == b[:-1] and b[-1] == 0"
            )


#: Dormand–Prince 5(4) (Dormand and Prince 1980), FSAL, with its fourth-order dense output.
DOPRI5 = Tableau(
    name="dopri5",
    c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
    a=(
        (),
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
        (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
    ),
    b=(35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0),
    e=(
        71 / 57600,
        0.0,
        -71 / 16695,
        71 / 1920,
        -17253 / 339200,
        22 / 525,
        -1 / 40,
    ),
    order=5,
    error_order=4,
    fsal=True,
    dense=(
        -12715105075 / 11282082432,
        0.0,
        87487479700 / 32700410799,
        -10690763975 / 1880347072,
        701980252875 / 199316789632,
        -1453857185 / 822651844,
        69997945 / 29380423,
    ),
)

#: Bogacki–Shampine 3(2) (Bogacki and Shampine 1989), FSAL; cubic Hermite dense output.
BOSH3 = Tableau(
    name="bosh3",
    c=(0.0, 1 / 2, 3 / 4, 1.0),
    a=((), (1 / 2,), (0.0, 3 / 4), (2 / 9, 1 / 3, 4 / 9)),
    b=(2 / 9, 1 / 3, 4 / 9, 0.0),
    e=(2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8),
    order=3,
    error_order=2,
    fsal=True,
)
