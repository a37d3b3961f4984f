"""Pipeline: running the notebooks and publishing what they make.

:mod:`.run` (``make figures``: papermill, staging, timings), :mod:`.figures` (saving a figure with
its data), :mod:`.manifest` (the figure registry), :mod:`.publish` (the claims table in the README),
:mod:`.sweep` (seeds and datasets on Ray), :mod:`.book` (the static book), :mod:`.prose` (numbers in
the notebooks' text checked against their data).
"""
