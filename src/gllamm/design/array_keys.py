"""Names of the design's arrays by their layout: row arrays with the chunk axis first (``ROW_KEYS``) or second
(``ROW_KEYS_AXIS1``), and the pointers from chunks to units and from units to the units above (``POINTERS``)."""

ROW_KEYS = frozenset({"y", "trials", "constant", "offset", "weight", "dispersion_index", "member",
                      "threshold_start", "n_categories", "available"})
ROW_KEYS_AXIS1 = frozenset({"X", "Z", "T", "V", "Z_outer"})
POINTERS = frozenset({"chunk_cluster", "parent"})
