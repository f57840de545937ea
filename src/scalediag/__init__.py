"""scalediag: measure why a network does or does not learn, and name the cause.

`scalediag.watch(model, optimizer, dir, ...)` measures your own model in your own loop (scalediag.measure.watch);
`python -m scalediag` runs the question's experiments (scalediag.run); `scalediag report DIR` explains them
(scalediag.explain).
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # loaded on first use: `import scalediag` (and so the command line) stays free of torch until it needs it
    if name in ("watch", "Watch"):
        from .measure import watch as module

        return getattr(module, name)
    raise AttributeError(f"module 'scalediag' has no attribute {name!r}")
