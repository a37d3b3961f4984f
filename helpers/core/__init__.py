"""Core: what every layer above may use and nothing here may exceed.

:mod:`.paths` (project folders), :mod:`.config` (scales and parameter checks), :mod:`.repro`
(seeding and devices), :mod:`.io` (the one atomic write), :mod:`.cache` (train-or-load of
expensive results), :mod:`.inference` (batched forward passes), :mod:`.stats` (intervals and
rank correlations).
"""
