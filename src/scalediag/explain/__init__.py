"""The explanation: run records (metrics.json) in, causes out: the symptoms of one run, their causes and the chain
between them, the comparisons between runs, the report and its plots. Reads files, tags and the event format
(scalediag.measure.writer); never imports scalediag.run."""
