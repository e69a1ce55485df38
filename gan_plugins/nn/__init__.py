"""Network building blocks: PGGAN layers (:mod:`.equalized`: equalised learning rate, pixel norm, minibatch
standard deviation), DCGAN blocks (:mod:`.dcgan_blocks`) and filtered x2 resampling (:mod:`.resample`)."""
