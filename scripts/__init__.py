"""Benchmarks, their load generators and baselines, and CI helpers.

Not part of the installed packages. Run each script as a module from the project root,
e.g. ``.venv/bin/python -m scripts.bench_hub``; scripts import each other as
``scripts.<name>`` and start one another with ``[sys.executable, "-m", "scripts.<name>"]``
and ``cwd`` at the project root, so none edits ``sys.path``.
"""
