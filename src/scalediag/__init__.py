"""scalediag: measure why a network does or does not learn, and name the cause.

`scalediag.watch(model, optimizer, dir, ...)` measures your own model in your own loop (scalediag.measure.watch);
`python -m scalediag` runs the question's experiments (scalediag.run); `scalediag report DIR` explains them
(scalediag.explain).
"""

__version__ = "0.1.0"


def watch(model, optimizer, log_dir, every: int = 50, probe: tuple | None = None, quiet: bool = False, **kwargs):
    """Measure model while the caller's own loop trains it with optimizer (or a list of optimizers; None
    where the loop updates the weights by hand: a step is then a backward pass and the update after it); write
    TensorBoard events and metrics.json into log_dir (a directory of its own per run), and print the diagnosis when
    the block ends (quiet=True: not). probe: a fixed batch (inputs as the model takes them: a tensor, a tuple, or a
    dict of keyword inputs; integer labels) measured at init and at each epoch_end. Further keywords: early (steps
    also measured), name, loss_fn(logits, target, reduction) for the probe (cross-entropy), clip_eps, loss (the name
    of the loss the loop trains with). scalediag.measure.watch.Watch does the measuring."""
    from .measure.watch import Watch

    return Watch(model, optimizer, log_dir, every, probe, on_close=None if quiet else _print_diagnosis, **kwargs)


def diagnose(log_dir):
    """The diagnosis of the run whose record (metrics.json) is in log_dir: .cause (its id, or healthy / unexplained),
    .causes (each with .id, .title, .evidence, .found: the measured value, threshold and closeness), .text (what
    scalediag prints). RecordError where the record cannot be read."""
    from .explain.chain import diagnose_dir

    return diagnose_dir(log_dir)


def _print_diagnosis(log_dir) -> None:
    import sys

    from .explain.issue import diagnose_and_write

    found, block = diagnose_and_write(log_dir)
    print(f"scalediag: diagnosis of {log_dir} (`scalediag report {log_dir}` for the plots; to paste into an issue: "
          f"{block}):\n{found.text}", file=sys.stderr)


def __getattr__(name: str):
    # loaded on first use: `import scalediag` (and so the command line) stays free of torch until it needs it
    if name == "Watch":
        from .measure import watch as module

        return getattr(module, name)
    raise AttributeError(f"module 'scalediag' has no attribute {name!r}")
