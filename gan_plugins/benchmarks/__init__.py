"""Benchmarks that compare trained models through the public plugin protocol only: adversarial losses on MNIST
(:mod:`.losses`) and GANSynth representations (:mod:`.representations`). They write where the caller says."""
