"""Network building blocks: PGGAN layers (:mod:`.equalized`: equalised learning rate, pixel norm, minibatch
standard deviation) and DCGAN blocks (:mod:`.dcgan_blocks`)."""
