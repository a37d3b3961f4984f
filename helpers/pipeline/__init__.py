"""Pipeline: running the notebooks and publishing what they make.

:mod:`.run` (``make figures``: papermill, staging, timings), :mod:`.figures` (saving a figure with
its data), :mod:`.manifest` (the figure registry), :mod:`.publish` (the claims table in the README),
:mod:`.timings` (the README's timings, from benchmarks/RESULTS.md), :mod:`.sweep` (seeds and
datasets on Ray), :mod:`.book` (the static book), :mod:`.numbers` (every number of a summary bound
to one named value), :mod:`.prose` (bracketed numbers of the text checked against the data).
"""
