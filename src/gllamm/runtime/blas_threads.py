"""NumPy's BLAS kept to one thread while gllamm fits.

gllamm's own NumPy linear algebra is on small matrices (parameters x parameters: Newton
steps, eigenvalues of the Hessian, start values); the large computations run in XLA. OpenBLAS
nevertheless wakes its worker threads for some of these calls (the least-squares start values of
a long design: its Householder reflections), and they then spin, waiting for
more work, on the cores XLA and gllamm's program loading need: in a 9-item CFA's process they
took 14% of all CPU samples (0.2 s of CPU), and limiting BLAS to one thread made the whole
process 31 ms faster and the contraception fit's 26 ms (medians of 11 interleaved pairs). Once the CFA's
iterations needed fewer programs and less work (session 10), the limit still saved its process 64 ms of CPU but
no wall time: the first fit's lookup of the libraries costs about 12 ms.
``one_blas_thread`` limits BLAS (through threadpoolctl) for the duration of a call.
"""

from __future__ import annotations

import sys
from functools import wraps

_controller: list = [None, -1]  # (threadpoolctl's controller, len(sys.modules) when it looked up the libraries)


def _blas_controller():
    """A controller of the BLAS libraries loaded in the process. Looking them up takes 2-6 ms (every loaded
    library's path is resolved), so it is done again only when modules were imported since (SciPy or another
    package may have loaded a BLAS library)."""
    from threadpoolctl import ThreadpoolController

    if _controller[0] is None or _controller[1] != len(sys.modules):
        _controller[:] = [ThreadpoolController(), len(sys.modules)]
    return _controller[0]


def one_blas_thread(function):
    """``function`` with every BLAS library loaded in the process limited to one thread while it runs."""

    @wraps(function)
    def limited(*args, **kwargs):
        with _blas_controller().limit(limits=1, user_api="blas"):
            return function(*args, **kwargs)

    return limited
