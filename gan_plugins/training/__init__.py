"""Training: the one generic loop (:mod:`.trainer`) and what it is made of — adversarial losses and penalties
(:mod:`.losses`), the EMA generator (:mod:`.ema`) and discriminator augmentation (:mod:`.augment`)."""
