"""The explanation: run records (metrics.json) in, causes out: the symptoms of one run, their causes (causes/, one
object each) and the chain between them, the comparisons between runs, the report and its plots. Reads files, tags
and the event format (scalediag.events); imports neither scalediag.run, scalediag.measure nor torch."""
