"""The built-in model families, registered through entry points exactly like a third party's: DCGAN
(:mod:`.dcgan`), GANSynth (:mod:`.gansynth`) and its progressive growing (:mod:`.progressive`, with the schedule in
:mod:`.schedule`); :mod:`.features` maps loops to the audio models' feature maps and back."""
