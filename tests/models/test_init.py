"""models.init: HiPPO structure, NPLR/DPLR reconstruction, S4D spectra, dt inits, seeding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrnnx_array.models import init as I

RANKS = {"legs": 1, "legt": 2, "lagt": 1, "fourier": 1, "fout": 1}


def test_legs_structure():
    N = 6
    A, B = I.transition("legs", N)
    n = np.arange(N)
    assert np.allclose(np.diag(A), -(n + 1))
    assert np.allclose(np.triu(A, 1), 0)
    i, k = 4, 1
    assert A[i, k] == pytest.approx(-math.sqrt(2 * i + 1) * math.sqrt(2 * k + 1))
    assert np.allclose(B[:, 0], np.sqrt(2 * n + 1))
    np.testing.assert_allclose(I.make_HiPPO(N), A)  # the S5 helper is the same matrix


@pytest.mark.parametrize("measure", sorted(RANKS))
def test_nplr_diagonalises_normal_part(measure):
    N = 16
    A, B = I.transition(measure, N)
    P = I.rank_correction(measure, N, RANKS[measure])
    AP = A + P.T @ P
    assert np.abs(AP @ AP.T - AP.T @ AP).max() < 1e-10  # normal
    W, Pt, Bt, V = I.nplr(measure, N, RANKS[measure], B_clip=None)
    assert W.shape == (N // 2,) and V.shape == (N, N // 2)
    assert np.all(W.real <= 1e-12) and np.all(W.imag <= 1e-12)  # left half plane, negative freq
    # the kept half and its conjugates rebuild the real matrix A = V W V^H + c.c. - P P^T
    rebuilt = 2 * (V @ np.diag(W) @ V.conj().T).real - P.T @ P
    np.testing.assert_allclose(rebuilt, A, atol=1e-10)
    np.testing.assert_allclose(Bt, V.conj().T @ B[:, 0], atol=1e-12)
    np.testing.assert_allclose(Pt, P @ V.conj(), atol=1e-12)


def test_nplr_legs_values_and_clip():
    W, P, B, _ = I.nplr("legs", 8)
    np.testing.assert_allclose(W.real, -0.5)
    assert np.all(np.abs(B.imag) <= 2.0)
    lam = np.linalg.eigvals(I.transition("legs", 8)[0])
    assert np.all(lam.real < 0)


def test_legt_needs_rank_two():
    with pytest.raises(ValueError, match="legt"):
        I.nplr("legt", 8, 1)


def test_dplr_spectra():
    N, H = 8, 3
    n = np.arange(N // 2)
    cases = {
        "lin": -0.5 - 1j * math.pi * n,
        "inv": -0.5 - 1j * N / math.pi * (N / (1 + 2 * n) - 1),
        "inv2": -0.5 - 1j * N / math.pi * (N / (1 + n) - 1),
        "quad": -0.5 - 1j * (1 + 2 * n) ** 2 / math.pi,
        "real": -(1.0 + n) + 0j,
        "legs": I.nplr("legs", N)[0],
    }
    for name, want in cases.items():
        A, P, B, V = I.dplr(name, N, 1, H, rng=0)
        assert A.shape == (H, N // 2) and P.shape == (1, H, N // 2) and V.shape == (H, N, N // 2)
        np.testing.assert_allclose(A, np.broadcast_to(want, A.shape), atol=1e-12, err_msg=name)
    A, _, _, _ = I.dplr("rand", N, 1, H, rng=0)
    assert np.all(A.real == -0.5) and np.all(A.imag < 0)
    B = I.dplr("lin", N, 1, H, B_init="alternating", rng=0)[2]
    np.testing.assert_allclose(B[0], [1, -1, 1, -1])
    B = I.dplr("lin", N, 1, H, B_init="unit-ccw", rng=0)[2]
    np.testing.assert_allclose(B[0], np.exp(2j * math.pi / N * n))
    B = I.dplr("lin", N, 1, H, normalize=True, rng=0)[2]
    A = I.dplr("lin", N, 1, H, rng=0)[0]
    np.testing.assert_allclose(2 * np.sum(np.abs(B / A) ** 2, -1), 1.0)


def test_combinations_and_diag_zero_P():
    A, P, B, V = I.combination("all", 8, 1, 8, rng=0)
    assert A.shape == (8, 4) and P.shape == (1, 8, 4)
    np.testing.assert_allclose(A[0], I.nplr("legs", 8)[0])
    np.testing.assert_allclose(A[4], -0.5 - 1j * 8 / math.pi * (8 / (1 + 2 * np.arange(4)) - 1))
    np.testing.assert_allclose(A[6], -0.5 - 1j * math.pi * np.arange(4))
    assert np.all(P[:, 4:] == 0)  # diag-* has P_scale 0
    _, P, _, _ = I.combination("dplr-lin", 8, 2, 2, rng=0)
    assert np.all(P != 0)
    with pytest.raises(ValueError, match="multiple"):
        I.combination("hippo", 8, 1, 3)
    with pytest.raises(ValueError, match="init"):
        I.combination("diag-nope", 8, 1, 2)
    with pytest.raises(ValueError, match="init"):
        I.combination("legz", 8, 1, 2)


def test_transforms_round_trip():
    x = np.array([1e-3, 0.5, 2.0])
    np.testing.assert_allclose(np.exp(I.inv_transform(x, "exp")), x)
    np.testing.assert_allclose(np.logaddexp(0, I.inv_transform(x, "softplus")), x)
    np.testing.assert_allclose(1 / (1 + np.exp(-I.inv_transform(x[:2], "sigmoid"))), x[:2])
    assert I.inv_transform(0.0, "none") == 1e-4  # lrnnx's clamp
    with pytest.raises(ValueError, match="transform"):
        I.inv_transform(x, "tanh")


def test_init_dt_and_seeding():
    a = I.init_dt(16, 8, 1e-3, 1e-1, True, "exp", False, rng=3)
    b = I.init_dt(16, 8, 1e-3, 1e-1, True, "exp", False, rng=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (16, 1) and np.all(np.exp(a) >= 1e-3) and np.all(np.exp(a) <= 1e-1)
    assert I.init_dt(16, 8, 1e-3, 1e-1, False, "exp", False, rng=3).shape == (16, 4)
    d = I.init_dt(5, 8, 1e-3, 1e-1, True, "exp", True)
    # deterministic stores log dt under the exp transform (lrnnx stores dt: its bug)
    np.testing.assert_allclose(np.exp(d[:, 0]), np.geomspace(1e-3, 1e-1, 5))
    s = I.init_dt(5, 8, 1e-3, 1e-1, True, "softplus", True)
    np.testing.assert_allclose(np.logaddexp(0, s[:, 0]), np.geomspace(1e-3, 1e-1, 5))


def test_init_ssm_dplr_deterministic_C():
    A, P, B, C = I.init_ssm_dplr(8, 4, 2, 1, 1, "legs", True)
    V = I.nplr("legs", 8)[3]
    np.testing.assert_allclose(C[0, 0], V.conj()[0])
    assert C.shape == (1, 4, 4) and A.shape == (2, 4)


def test_utils_init_helpers():
    lam, Pt, Bt, V, B = I.make_DPLR_HiPPO(8)
    np.testing.assert_allclose(lam.real, -0.5)
    assert I.init_VinvB(V.conj().T, 8, 3, seed=0).shape == (8, 3, 2)
    assert I.init_CV(V, 8, 3, seed=0).shape == (3, 8, 2)
    np.testing.assert_array_equal(I.init_log_steps(4, seed=1), I.init_log_steps(4, seed=1))
    nu, th = I.lru_ring_init(2000, 0.5, 0.9, math.pi, seed=0)
    r = np.exp(-np.exp(nu))
    assert r.min() >= 0.5 - 1e-12 and r.max() <= 0.9 + 1e-12
    assert np.exp(th).max() <= math.pi
    b = I.inverse_softplus_dt(50, seed=0)
    dt = np.logaddexp(0, b)
    assert dt.min() >= 1e-3 - 1e-12 and dt.max() <= 1e-1 + 1e-12
