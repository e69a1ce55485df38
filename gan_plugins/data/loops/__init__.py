"""Loop storage and preparation: the memory-mapped ``.npy`` + sidecar format (:mod:`.storage`), its torch
``Dataset`` (:mod:`.dataset`), building one from a folder of audio (:mod:`.prepare`), summaries and spectrogram
pictures."""
