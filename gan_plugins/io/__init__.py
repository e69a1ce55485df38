"""Reading and writing trained models: atomic checkpoint files (:mod:`.checkpoint`)."""
