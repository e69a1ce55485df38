"""The latent space: smooth trajectories (:mod:`.walks`), rendering one as continuous audio (:mod:`.render`),
the descriptors along it (:mod:`.analysis`) and the smoothness study (:mod:`.smoothness`)."""
