"""WaveGAN (Donahue, McAuley & Puckette 2019) as a ``specrep.gan_plugins`` plugin: a 1-D transposed-convolution
generator on the raw waveform and a 1-D convolutional critic with phase shuffle, trained with WGAN-GP.

The networks are in :mod:`wavegan_plugin.networks`, the plugin (registered as ``wavegan``) in
:mod:`wavegan_plugin.plugin`.
"""

from wavegan_plugin.networks import PhaseShuffle, WaveGANDiscriminator, WaveGANGenerator
from wavegan_plugin.plugin import WaveformFeatures, WaveGANPlugin, plugin

__all__ = ["PhaseShuffle", "WaveGANDiscriminator", "WaveGANGenerator", "WaveGANPlugin", "WaveformFeatures", "plugin"]
