"""Adversarial losses as a registry of pure functions on raw discriminator logits.

Every loss is a pair of small functions, ``d_loss(d_real, d_fake)`` and ``g_loss(d_fake)``, on *raw* logits (no
sigmoid applied by the model). A registered :class:`AdversarialLoss` is also callable as the pure function
``(d_real, d_fake) -> (loss_d, loss_g)``. Penalties and constraints (:func:`clip_weights_`) are separate pieces that a
loss names in its literature defaults and that any loss may add through the config.

Gradient penalties are a second, smaller registry (:func:`available_penalties`, :func:`get_penalty`), chosen by the
trainer's ``penalty`` setting: ``"gp"`` is WGAN-GP's two-sided penalty on interpolates of real and fake
(:func:`gradient_penalty`, Gulrajani et al. 2017), weighted by ``gp_weight``; ``"r1"`` is the zero-centred penalty on
the real images alone (:func:`r1_penalty`, Mescheder et al. 2018), weighted by ``r1_gamma``, which regularises any
loss (StyleGAN2's recipe: non-saturating + R1, lazily every 16 critic updates).

Naming trap: what most libraries call "vanilla" or "gan" is :data:`non-saturating` (the generator maximises
``log D(G(z))``); :data:`minimax` here is the original saturating game of Goodfellow et al. (2014), where the
generator minimises ``log(1 - D(G(z)))``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specrep.errors import ParameterError, check_choice, check_positive_float, check_positive_int

__all__ = [
    "AdversarialLoss",
    "Penalty",
    "available_losses",
    "available_penalties",
    "clip_weights_",
    "drift_penalty",
    "get_loss",
    "get_penalty",
    "gradient_penalty",
    "r1_gamma_heuristic",
    "r1_penalty",
]


# --------------------------------------------------------------------------------------------------- pure pieces
def _minimax_d(d_real: Tensor, d_fake: Tensor) -> Tensor:
    # -log sigmoid(r) - log(1 - sigmoid(f)) == softplus(-r) + softplus(f), computed stably.
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def _minimax_g(d_fake: Tensor) -> Tensor:
    # The generator *minimises* log(1 - sigmoid(f)) == -softplus(f): saturates when D rejects fakes confidently.
    return -F.softplus(d_fake).mean()


def _non_saturating_g(d_fake: Tensor) -> Tensor:
    # -log sigmoid(f) == softplus(-f).
    return F.softplus(-d_fake).mean()


def _lsgan_d(d_real: Tensor, d_fake: Tensor) -> Tensor:
    # Mao et al. (2017), a-b-c = 0-1-1 coding, with the 1/2 factors of the paper.
    return 0.5 * ((d_real - 1.0) ** 2).mean() + 0.5 * (d_fake**2).mean()


def _lsgan_g(d_fake: Tensor) -> Tensor:
    return 0.5 * ((d_fake - 1.0) ** 2).mean()


def _hinge_d(d_real: Tensor, d_fake: Tensor) -> Tensor:
    return F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()


def _wasserstein_d(d_real: Tensor, d_fake: Tensor) -> Tensor:
    return d_fake.mean() - d_real.mean()


def _wasserstein_g(d_fake: Tensor) -> Tensor:
    return -d_fake.mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    weight: float = 10.0,
    center: float = 1.0,
    generator: torch.Generator | None = None,
    alpha: Tensor | None = None,
) -> Tensor:
    """Two-sided gradient penalty of Gulrajani et al. (2017) on random interpolates of real and fake.

    Parameters
    ----------
    critic : callable
        Maps a batch ``(B, ...)`` to logits ``(B,)`` or ``(B, 1)``.
    real, fake : Tensor
        Batches of the same shape ``(B, ...)``; ``fake`` should already be detached from the generator.
    weight : float >= 0
        λ, the penalty weight (10 in the paper).
    center : float
        Target gradient norm (1 for WGAN-GP).
    generator : torch.Generator, optional
        Source of the interpolation coefficients; the global RNG when omitted.
    alpha : Tensor, optional
        Interpolation coefficients ``(B,)`` in [0, 1] (``x̂ = alpha * real + (1 - alpha) * fake``); drawn uniformly
        from ``generator`` when omitted. The trainer passes them to draw one global batch's coefficients under DDP.

    Returns
    -------
    Tensor
        Scalar ``weight * mean((||∇_x critic(x̂)||_2 - center)^2)``, differentiable w.r.t. the critic parameters.
    """
    check_positive_float("weight", weight, strict=False)
    if real.shape != fake.shape:
        raise ParameterError(f"real shape {tuple(real.shape)} and fake shape {tuple(fake.shape)} must match")
    alpha_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    if alpha is None:
        alpha = torch.rand(alpha_shape, device=real.device, dtype=torch.float32, generator=generator)
    elif alpha.shape != (real.shape[0],):
        raise ParameterError(f"alpha shape {tuple(alpha.shape)} must be ({real.shape[0]},)")
    alpha = alpha.reshape(alpha_shape).to(device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    out = critic(mixed)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)
    return weight * ((norm - center) ** 2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, *, weight: float) -> Tensor:
    """R1 regulariser of Mescheder et al. (2018): the critic's squared input-gradient norm on real images.

    Parameters
    ----------
    critic : callable
        Maps a batch ``(B, ...)`` to logits ``(B,)`` or ``(B, 1)``.
    real : Tensor
        ``(B, ...)`` the real images as the critic sees them (augmented, when the trainer augments; StyleGAN2-ADA
        also penalises the augmented reals). Detached here: the gradient is taken w.r.t. these pixels.
    weight : float >= 0
        γ (StyleGAN2: 10 at 1024², smaller for smaller images; :func:`r1_gamma_heuristic`).

    Returns
    -------
    Tensor
        Scalar ``weight / 2 * mean_b ||∇_x critic(x_b)||_2^2``, differentiable w.r.t. the critic parameters (double
        backward).
    """
    check_positive_float("weight", weight, strict=False)
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return 0.5 * float(weight) * grad.flatten(1).pow(2).sum(1).mean()


def r1_gamma_heuristic(height: int, width: int, batch_size: int) -> float:
    """StyleGAN2-ADA's default R1 weight for critic inputs ``height x width`` and a *global* batch of
    ``batch_size`` images (all ranks together): ``γ = 0.0002 * height * width / batch_size`` (Karras et al. 2020,
    ``train.py``, config ``auto``; e.g. 0.0002 * 128 * 64 / 16 = 0.1024)."""
    for name, value in (("height", height), ("width", width), ("batch_size", batch_size)):
        check_positive_int(name, value)
    return 0.0002 * height * width / batch_size


def drift_penalty(d_real: Tensor, weight: float) -> Tensor:
    """Drift term of Karras et al. (2018) and GANSynth: ``weight * mean(D(x_real)^2)``, which keeps a Wasserstein
    critic's outputs from drifting far from 0. ``d_real``: raw logits ``(B,)``; returns a scalar (0 when
    ``weight`` is 0; PGGAN's epsilon is 0.001)."""
    check_positive_float("drift", weight, strict=False)
    return float(weight) * d_real.float().pow(2).mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, clip: float) -> None:
    """Clamp every parameter of ``module`` into ``[-clip, clip]`` in place (the WGAN Lipschitz constraint).

    Parameters
    ----------
    module : nn.Module
        The critic.
    clip : float > 0
        Half-width of the box (0.01 in Arjovsky et al., 2017).
    """
    check_positive_float("clip", clip)
    for p in module.parameters():
        p.clamp_(-clip, clip)


# ------------------------------------------------------------------------------------------------------ registry
@dataclass(frozen=True)
class AdversarialLoss:
    """A named adversarial objective with its literature defaults.

    Calling the object is the pure function ``(d_real, d_fake) -> (loss_d, loss_g)`` on raw logits of any matching
    shape ``(B,)`` / ``(B, 1)``; both outputs are scalars.

    Attributes
    ----------
    name : str
        Registry key.
    d_loss, g_loss : callable
        ``d_loss(d_real, d_fake) -> scalar`` and ``g_loss(d_fake) -> scalar``.
    defaults : Mapping
        Trainer settings that go with the loss in the literature: ``optimizer`` (``adam`` or ``rmsprop``), ``lr_g``,
        ``lr_d``, ``betas``, ``n_critic``, ``clip`` (weight clipping, 0 = off), ``gp_weight`` (0 = off) and
        ``d_norm`` (normalisation allowed in the discriminator).
    reference : str
        Where the defaults come from.
    """

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    defaults: Mapping = field(default_factory=dict)
    reference: str = ""

    def __post_init__(self) -> None:
        d = self.defaults
        check_choice("optimizer", d.get("optimizer"), ("adam", "rmsprop"))
        check_positive_float("lr_g", d.get("lr_g"))
        check_positive_float("lr_d", d.get("lr_d"))
        check_positive_int("n_critic", d.get("n_critic"))
        check_positive_float("clip", d.get("clip"), strict=False)
        check_positive_float("gp_weight", d.get("gp_weight"), strict=False)
        check_choice("d_norm", d.get("d_norm"), ("batch", "layer", "none"))
        object.__setattr__(self, "defaults", MappingProxyType(dict(d)))

    def __call__(self, d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(loss_d, loss_g)`` for raw logits ``d_real`` ``(B,)`` and ``d_fake`` ``(B,)``."""
        return self.d_loss(d_real, d_fake), self.g_loss(d_fake)


_ADAM = {"optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "n_critic": 1, "clip": 0.0,
         "gp_weight": 0.0, "d_norm": "batch"}
_DCGAN_REF = "Radford et al. 2016 (DCGAN): Adam lr 2e-4, beta1 0.5"

_LOSSES: dict[str, AdversarialLoss] = {
    loss.name: loss
    for loss in (
        AdversarialLoss("minimax", _minimax_d, _minimax_g, _ADAM,
                        "Goodfellow et al. 2014 (saturating game); optimiser from " + _DCGAN_REF),
        AdversarialLoss("non-saturating", _minimax_d, _non_saturating_g, _ADAM,
                        "Goodfellow et al. 2014 (-log D trick); " + _DCGAN_REF),
        AdversarialLoss("lsgan", _lsgan_d, _lsgan_g, _ADAM, "Mao et al. 2017 (0-1-1 coding); " + _DCGAN_REF),
        AdversarialLoss("hinge", _hinge_d, _wasserstein_g, _ADAM,
                        "Lim & Ye 2017, Miyato et al. 2018; " + _DCGAN_REF),
        AdversarialLoss("wgan", _wasserstein_d, _wasserstein_g,
                        {"optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5, "betas": (0.5, 0.999), "n_critic": 5,
                         "clip": 0.01, "gp_weight": 0.0, "d_norm": "batch"},
                        "Arjovsky et al. 2017, Algorithm 1: RMSprop 5e-5, n_critic 5, clip 0.01"),
        AdversarialLoss("wgan-gp", _wasserstein_d, _wasserstein_g,
                        {"optimizer": "adam", "lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9), "n_critic": 5,
                         "clip": 0.0, "gp_weight": 10.0, "d_norm": "none"},
                        "Gulrajani et al. 2017, Algorithm 1 and their MNIST code: Adam 1e-4 (0.5, 0.9), "
                        "lambda 10, n_critic 5, no batch norm in the critic"),
    )
}


@dataclass(frozen=True)
class Penalty:
    """A named critic penalty, the trainer's ``penalty`` setting.

    Attributes
    ----------
    name : str
        Registry key.
    fn : callable
        With ``interpolates``: ``fn(critic, real, fake, *, weight, alpha) -> scalar`` (:func:`gradient_penalty`);
        else ``fn(critic, real, *, weight) -> scalar`` (:func:`r1_penalty`).
    interpolates : bool
        True when the penalty is taken between the real and fake batches at coefficients ``alpha`` ``(B,)`` that the
        trainer draws on every critic update; False when it is taken at the real images the critic saw.
    weight_setting : str
        The trainer setting that weighs it (``gp_weight``, ``r1_gamma``).
    reference : str
    """

    name: str
    fn: Callable[..., Tensor]
    interpolates: bool
    weight_setting: str
    reference: str = ""

    def __call__(self, critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor | None = None, *,
                 weight: float, alpha: Tensor | None = None) -> Tensor:
        """The scalar penalty on batches ``real`` / ``fake`` ``(B, ...)`` (``fake`` and ``alpha`` ``(B,)`` only
        for an interpolating penalty)."""
        if self.interpolates:
            if fake is None:
                raise ParameterError(f"penalty {self.name!r} is taken between real and fake: pass the fake batch")
            return self.fn(critic, real, fake, weight=weight, alpha=alpha)
        if fake is not None or alpha is not None:
            raise ParameterError(f"penalty {self.name!r} is taken on the real batch alone: no fake batch or alpha")
        return self.fn(critic, real, weight=weight)


_PENALTIES: dict[str, Penalty] = {
    pen.name: pen
    for pen in (
        Penalty("gp", gradient_penalty, True, "gp_weight", "Gulrajani et al. 2017 (WGAN-GP), centre 1"),
        Penalty("r1", r1_penalty, False, "r1_gamma",
                "Mescheder et al. 2018 (R1); lazy as Karras et al. 2020 (StyleGAN2)"),
    )
}


def available_penalties() -> list[str]:
    """Names of the registered gradient penalties, in registration order."""
    return list(_PENALTIES)


def get_penalty(name: str) -> Penalty:
    """Look up a penalty by name.

    Raises
    ------
    ParameterError
        If ``name`` is not registered; the message lists the choices.
    """
    try:
        return _PENALTIES[name]
    except KeyError:
        raise ParameterError(f"penalty={name!r} is not one of {', '.join(_PENALTIES)}") from None


def available_losses() -> list[str]:
    """Names of the registered adversarial losses, in registration order."""
    return list(_LOSSES)


def get_loss(name: str) -> AdversarialLoss:
    """Look up a loss by name.

    Raises
    ------
    ParameterError
        If ``name`` is not registered; the message lists the choices.
    """
    try:
        return _LOSSES[name]
    except KeyError:
        raise ParameterError(f"loss={name!r} is not one of {', '.join(_LOSSES)}") from None
