"""The fleet scan (issue 10): many repositories, incrementally, locally or on a Dask cluster.

repos (which repositories, where their objects are) -> task (one repository's history scan, in
a worker) -> runner (local pool or Dask; splits and merges large repositories) -> store (SQLite,
written only by the coordinator) -> report (from the store, never rescanning).
"""
