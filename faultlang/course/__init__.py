"""Course tooling: golden tests (`faultlang test`, the pytest plugin), Gradescope
results, and seeded OSTEP-style quizzes (`faultlang quiz`).

Layering: reads faultlang.lang, faultlang.runtime and faultlang.render; nothing below
imports this package.
"""
