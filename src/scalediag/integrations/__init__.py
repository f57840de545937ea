"""Adapters at the edge: where people train (`scalediag run script.py`, Lightning's and Hugging Face's callbacks),
handing the model, its optimizer, the epochs and a probe to scalediag.watch. They measure nothing of their own,
and nothing else in scalediag imports them."""
