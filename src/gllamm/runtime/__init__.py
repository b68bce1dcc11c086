"""What gllamm sets up in the process around the statistics: JAX's configuration (float64, the persistent
compilation cache), the cache of compiled likelihood programs and the private directory it trusts, the BLAS
thread limit during fits, and the import-time measures of ``startup``."""
