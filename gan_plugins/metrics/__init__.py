"""Offline metrics: an MNIST classifier shipped with the package, Fréchet distance on its features, class coverage,
training-stability statistics and the adversarial-loss benchmark built on them."""
