"""The measurements, on any nn.Module: which layers it has, the hooks of one measured step, its norms, statistics
and Adam's state, when steps are measured, the TensorBoard writer. Imports neither scalediag.run nor
scalediag.explain, nor Hydra, OmegaConf or matplotlib."""
