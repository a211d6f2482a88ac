"""Dask back end: the same features, training and scoring on a cluster (GUIDE §6).

The ledger is a Parquet dataset partitioned by customer (:mod:`.dataset`, written by
:mod:`.importing`); each partition goes through the one feature function (:mod:`.features`)
and the one scoring path (:mod:`.scoring`); the gbm model is trained with LightGBM's Dask
estimators into the ordinary model format (:mod:`.training`). :mod:`.commands` is what the
command line's ``--dask`` runs.
"""
