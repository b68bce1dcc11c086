"""NumPy's BLAS kept to one thread while gllamm fits.

gllamm's own NumPy linear algebra is on small matrices (parameters x parameters: Newton
steps, eigenvalues of the Hessian, start values); the large computations run in XLA. OpenBLAS
nevertheless wakes its worker threads for some of these calls, and they then spin, waiting for
more work, on the cores XLA and gllamm's program loading need: in a 9-item CFA's process they
took 14% of all CPU samples (0.2 s of CPU), and limiting BLAS to one thread made the whole
process 31 ms faster and the contraception fit's 26 ms (medians of 11 interleaved pairs).
``one_blas_thread`` limits BLAS (through threadpoolctl) for the duration of a call.
"""

from __future__ import annotations

from functools import wraps


def one_blas_thread(function):
    """``function`` with every BLAS library loaded in the process limited to one thread while it runs (the
    libraries are looked up at each call, about 2 ms: SciPy or another package may have loaded one since)."""

    @wraps(function)
    def limited(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return function(*args, **kwargs)

    return limited
