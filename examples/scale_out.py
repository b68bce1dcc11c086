"""Scale-out: one fit over several devices (here 4 CPU devices of one machine) gives the fit on one device.

    log L(theta) = sum_j log L_j(theta),   the clusters j dealt to the devices, partial sums combined (psum)

The log-likelihood is a sum over top-level clusters, so gllamm shards whole clusters over the visible devices
(GPUs, or CPU devices made with XLA_FLAGS=--xla_force_host_platform_device_count=N, set before JAX is imported),
scans each device's share in parts of bounded size (chunk_size= rows), and adds the partial sums, gradients and
Hessians. The same script runs unchanged on GPUs. Several processes or hosts: gllamm.initialize_distributed() and
gllamm.read_clusters() (see the user guide's page on large data). Run:  python examples/scale_out.py
"""

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()

import time  # noqa: E402

import jax  # noqa: E402

import gllamm  # noqa: E402


def main():
    pisa = gllamm.datasets.load("pisa_usa_2000")
    formula = "pass_read ~ mn_ses + female + ses + high_school + college + test_lang + (1 | id_school)"
    print(f"visible devices: {jax.devices()}")
    fits = {}
    for label, options in {"one device": dict(devices=1), "4 devices": dict(devices=4),
                           "4 devices, parts of 500 rows": dict(devices=4, chunk_size=500)}.items():
        start = time.perf_counter()
        fits[label] = gllamm.fit(formula, pisa, family="binomial", nip=12, **options)
        print(f"{label:30s} log L = {fits[label].loglik:.6f}  ({time.perf_counter() - start:.1f} s, first fit compiles)")
    print("\nEstimates (SE) on one device and on four:")
    print(gllamm.compare(*fits.values(), names=list(fits)).to_string())
    return fits


if __name__ == "__main__":
    main()
