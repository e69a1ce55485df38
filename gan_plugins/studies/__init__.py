"""Studies over trained models, through the public plugin protocol only: adversarial losses on MNIST
(:mod:`.losses`), GANSynth representations (:mod:`.representations`) and progressive growing
(:mod:`.progressive`). They write where the caller says."""
