"""Fits spread over parts of clusters: bounded memory, several devices, several processes."""

from .layout import Layout, auto_chunk_size, make_layout
from .objective import PartitionedObjective, all_finite
from .processes import (check_same_model, initialize_distributed, least_squares_over_processes, mean_over_processes,
                        read_clusters, std_over_processes, sum_over_processes)

__all__ = ["Layout", "PartitionedObjective", "all_finite", "auto_chunk_size", "check_same_model",
           "initialize_distributed", "least_squares_over_processes", "make_layout", "mean_over_processes",
           "read_clusters", "std_over_processes", "sum_over_processes"]
