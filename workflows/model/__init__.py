"""The engine's model: everything that is decided before and while a workflow runs, as pure code (no I/O, no clock).

Manifest -> :mod:`.spec` (typed, refusals with field paths) -> :mod:`.compiler` (whole-graph checks, one immutable
:mod:`.plan`) -> the scheduler decides which nodes run next; :mod:`.status` encodes the node table. The shared
primitives the other packages build on live here too: the one expression evaluator (:mod:`.expr`), duration strings
(:mod:`.durations`), node phases (:mod:`.phases`).
"""
