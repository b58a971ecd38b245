"""`faultlang verify`: run a scenario on the machine's own kernel and compare.

    simulate (compare.py) → generate C (cgen.py, runtime.c) → compile (build.py)
    → run N times (measure.py) → compare (compare.py → result.py) → show (view.py)

command.run_verify(args) is what the CLI calls. docs/verify.md explains what is
measured, how, and what cannot be.
"""
