"""Datasets: MNIST digits, memory-mapped loop datasets and the procedural electronic-loop generator."""
