"""The explanation: run records (metrics.json) in, findings out: the rules of one run, the comparisons between runs,
the report and its plots. Reads files, tags and the event format (scalediag.measure.writer); never imports
scalediag.run."""
