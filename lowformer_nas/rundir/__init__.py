"""The run-directory format, shared by the search (which writes it) and the reports (which read it).

A leaf package: ``config.yaml`` (:mod:`.config`), trial rows and ``trials.csv`` (:mod:`.rows`),
the Pareto maths (:mod:`.pareto`) and the B0-B3 rule (:mod:`.family`). It imports only the
layers below it (arch, space, ``_io``, ``errors``), so ``search`` and ``report`` both use it
without importing each other.
"""
