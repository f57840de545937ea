"""The run: Hydra's configuration checked once, the data, the question's model, losses and optimizers, the training
loop, checkpoints, the Hydra callbacks. Uses scalediag.measure during training and scalediag.explain at the end."""
