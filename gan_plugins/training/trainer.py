"""The one generic adversarial trainer shared by every plugin: the training loop.

One *step* is one generator update preceded by ``n_critic`` discriminator updates. The trainer owns everything that
is not model-specific: seeding, losses + penalty + clipping, the EMA generator, AMP on CUDA, data-parallel training
under ``torchrun``, checkpoints and resume, a tqdm bar, periodic sample grids and evaluations, and the calls of
:mod:`~gan_plugins.training.callbacks`. Its parts live next to it, one concept a module: the batch stream
(:mod:`.stream`), the process group and collectives (:mod:`.distributed`), the CSV + TensorBoard logs (:mod:`.logs`),
the callback protocol (:mod:`.callbacks`); the settings and their precedence are :mod:`gan_plugins.config`. A plugin
supplies the models, the dataset, the data -> features transform, the latent prior, an optional
:class:`~gan_plugins.api.Schedule` (e.g. progressive growing) and its renderers.

Life cycle: ``Trainer(...)`` only checks and stores its settings. :meth:`Trainer.setup` does everything with an effect
outside the object, once: it reads the dataset (the plugin's ``prepare`` and ``dataset``), opens the process group
under ``torchrun``, selects the device, reseeds the global RNGs and builds models, optimisers, stream and noise.
:meth:`Trainer.run` calls it when it has not run; :func:`train` (what the CLI calls) calls it before loading a
checkpoint.

A schedule's state at a step may also set the trainer's own settings of that step: ``batch_size`` (per rank; the
batch stream, latents and penalty coefficients follow it) and ``lr_g`` / ``lr_d`` (written into the optimisers'
parameter groups before the step). Every such value is a function of the checkpointed step, so resume stays exact.

Penalty (``penalty``, the registry of :func:`~gan_plugins.training.losses.get_penalty`): ``"gp"`` (default) is
WGAN-GP's penalty on interpolates of the real and fake batches as they are (not augmented), weighted by
``gp_weight`` (Gulrajani et al. 2017); ``"r1"`` is ``γ/2 · E||∇_x D(x)||²`` at the real images the critic scored,
augmented when augmentation is on (Mescheder et al. 2018; as StyleGAN2-ADA), weighted by ``r1_gamma`` (None:
StyleGAN2-ADA's ``0.0002 · H · W / global batch`` for this step's critic input ``H × W``, so it follows a
schedule's batch size and resolution). Either is lazy with ``gp_every = k``: taken on every k-th critic update with
k times the weight (StyleGAN2: R1 every 16 critic updates with the non-saturating loss).

Small datasets (:mod:`gan_plugins.training.augment`; Zhao et al. 2020, DiffAugment; Karras et al. 2020, ADA): the
discriminator sees every image, real and generated, in its own and in the generator's updates, through the same
random transformation. ``augment = "translation"`` shifts each image by a random offset; ``augment = "audio"``
applies, each with probability ``p`` per image, a circular time shift by whole sixteenths of the bar
(``augment_time_step``), a gain on the log-magnitude (``augment_gain``) and a time and a frequency cutout, but never a
frequency shift, so a transformed bar is still a bar in tempo and key. ``p`` is ``augment_p``, or with ``ada_target``
adapted every 4 critic updates: ``p += sign(r_t - ada_target) · images / ada_images``, clamped to ``[0, 1]``, where
``r_t = E[sign D(real)]`` over the real images of those updates, all ranks together; ``p`` and the running sums are
checkpointed (an older checkpoint resumes with ``augment_p``) and ``p`` is logged as ``augment_p``. Every draw comes
from the shared noise generator, so resume stays exact.

Distributed: each rank reads its own slice of every global batch (:class:`~gan_plugins.training.stream.BatchStream`).
The training noise (latents, gradient-penalty interpolation coefficients and augmentation draws) comes from one
``torch.Generator`` in the same state on every rank: each draw is the whole global batch, of which a rank keeps its own
slice, so ``W`` ranks with batch ``B`` make exactly the updates of one process with batch ``W * B`` (as long as no
layer couples the examples of a batch, e.g. batch norm or minibatch standard deviation, which see each rank's batch
alone); gradients and float buffers are averaged across ranks before every optimiser step
(:mod:`gan_plugins.training.distributed`), which keeps every rank's parameters identical. Rank 0 alone writes
checkpoints, logs, samples and the progress bar; checkpoints hold every rank's global RNG state, gathered to rank 0,
so a resume restores each rank exactly. A script that trains under ``torchrun`` ends with
:func:`~gan_plugins.training.distributed.leave_process_group`.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gan_plugins.api import GanPlugin, get_plugin
from gan_plugins.config import (
    RESUME_SETTINGS,
    TRAINER_DEFAULTS,
    amp_enabled,
    complete_stored_config,
    resolve_config,
    upgrade_config,
)
from gan_plugins.errors import GanError
from gan_plugins.io.checkpoint import LAST, capture_rng, load_checkpoint, restore_rng, save_checkpoint
from gan_plugins.training.augment import ada_adjust, audio_augment, draw_audio_augment, random_offsets, translate
from gan_plugins.training.callbacks import CallbackList
from gan_plugins.training.distributed import (
    Ranks,
    all_reduce_buffers_,
    all_reduce_mean_,
    all_reduce_sum_,
    any_rank,
    barrier,
    gather_rng_states,
    open_process_group,
)
from gan_plugins.training.ema import update_ema_
from gan_plugins.training.logs import RunLogger
from gan_plugins.training.losses import clip_weights_, drift_penalty, get_loss, get_penalty, r1_gamma_heuristic
from gan_plugins.training.stream import BatchStream
from specrep.errors import ParameterError, check_positive_int

__all__ = [
    "TrainResult",
    "Trainer",
    "TrainingDiverged",
    "train",
]

#: settings the loop reads besides :data:`gan_plugins.config.TRAINER_DEFAULTS` (the loss's defaults give them)
_LOSS_SETTINGS = ("loss", "data", "lr_g", "lr_d", "n_critic", "gp_weight", "clip", "optimizer", "betas")

#: critic updates between two adjustments of the adaptive augmentation probability (ADA's interval, 4 minibatches)
ADA_INTERVAL = 4


class TrainingDiverged(GanError, RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


# ---------------------------------------------------------------------------------------------------- helpers
def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds the legacy global state third-party code may use
    torch.manual_seed(seed)


def _grad_norm(module: nn.Module) -> float:
    norms = [p.grad.detach().norm(2) for p in module.parameters() if p.grad is not None]
    return float(torch.stack(norms).norm(2)) if norms else 0.0


def _finite(module: nn.Module) -> bool:
    """True when every parameter of ``module`` is finite (one reduction, one host sync)."""
    flags = [torch.isfinite(p).all() for p in module.parameters()]
    return bool(torch.stack(flags).all()) if flags else True


def _make_optimizer(params, cfg: Mapping[str, Any], lr: float) -> torch.optim.Optimizer:
    if cfg["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, betas=tuple(cfg["betas"]))


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Attributes
    ----------
    run_dir : Path
    step : int
        Generator steps completed.
    history : list of dict
        One row per logged step (the CSV rows).
    evals : list of dict
        Evaluator outputs with their ``step``.
    diverged : str
        Empty, or the divergence message when the run stopped on a NaN/Inf loss.
    seconds : float
        Wall time of the training loop, evaluations included.
    eval_seconds : float
        Part of ``seconds`` spent in the evaluator.
    stopped : bool
        True when a callback's ``should_stop`` ended the run before its last step.
    """

    run_dir: Path
    step: int
    history: list[dict[str, float]] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    diverged: str = ""
    seconds: float = 0.0
    eval_seconds: float = 0.0
    stopped: bool = False


# ---------------------------------------------------------------------------------------------------- trainer
class Trainer:
    """Generic adversarial training of one plugin with one loss.

    The constructor checks and stores its arguments only; :meth:`setup` (called by :meth:`run` when needed) reads the
    data, opens the process group, seeds and builds (module docstring). :meth:`train_step`, :meth:`save`,
    :meth:`state_dict` and :meth:`load_state_dict` need :meth:`setup` to have run.

    Parameters
    ----------
    plugin : GanPlugin
    config : dict
        Resolved config (:func:`gan_plugins.config.resolve_config`).
    run_dir : path
        Where ``last.pt``, ``config.json``, ``log.csv``, ``evals.csv``, ``tb/`` and ``samples/`` go.
    evaluator : callable, optional
        ``evaluator(generator_ema, step) -> dict`` of scalars, called every ``eval_every`` steps and at the end (rank
        0). It must not draw from the global RNGs (use its own ``torch.Generator``) so resume stays exact.
    progress : bool
        Show a tqdm bar (rank 0).
    callbacks : iterable of callbacks, optional
        :mod:`gan_plugins.training.callbacks` objects, called in order.

    Raises
    ------
    ParameterError
        If ``config`` lacks a setting, names an unknown loss, or an argument has the wrong kind.
    """

    def __init__(self, plugin: GanPlugin, config: Mapping[str, Any], run_dir: str | Path, *,
                 evaluator: Callable[[nn.Module, int], Mapping[str, float]] | None = None,
                 progress: bool = True, callbacks: Iterable[object] = ()) -> None:
        if not isinstance(config, Mapping):
            raise ParameterError(f"config must be a mapping (resolve_config), not {type(config).__name__}")
        missing = [k for k in (*_LOSS_SETTINGS, *TRAINER_DEFAULTS) if k not in config]
        if missing:
            raise ParameterError(f"config lacks {', '.join(missing)}; build it with gan_plugins.config.resolve_config")
        if evaluator is not None and not callable(evaluator):
            raise ParameterError(f"evaluator must be callable, not {type(evaluator).__name__}")
        self.plugin, self.cfg, self.run_dir = plugin, dict(config), Path(run_dir)
        self.loss = get_loss(self.cfg["loss"])
        self.penalty = get_penalty(self.cfg["penalty"])
        self.evaluator, self.progress = evaluator, bool(progress)
        self.callbacks = CallbackList(callbacks)
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.evals: list[dict[str, float]] = []
        self.eval_seconds = 0.0
        self._ready = False
        self._evaluated_at: int | None = None

    def setup(self) -> Trainer:
        """Read the data, open the process group, seed the RNGs and build everything a step needs; once (a second
        call does nothing). Returns ``self``.

        In order: the plugin's ``prepare`` (settings the data decides, e.g. loop length or normalisation statistics,
        merged into the config and kept in checkpoints), the ranks from ``torchrun``'s environment and the process
        group (:func:`~gan_plugins.training.distributed.open_process_group`), the device (``cuda:LOCAL_RANK`` when
        CUDA is available), the global RNGs seeded with ``seed`` (identical initial weights on every rank), models,
        EMA copy, optimisers, schedule, the train split's :class:`~gan_plugins.training.stream.BatchStream`, the
        shared noise generator (``seed + 1``), the global RNGs reseeded per rank (``seed + 1_000_003 * rank``) and the
        fixed latent of the sample grids (``seed + 7``).

        Raises
        ------
        ParameterError, PluginError
            From the plugin's hooks or a dataset smaller than one global batch.
        """
        if self._ready:
            return self
        plugin = self.plugin
        # settings the data decides: resolved once, kept in the run's config and checkpoints
        self.cfg.update(plugin.prepare(self.cfg["data"], dict(self.cfg)))
        ranks = Ranks.from_env()
        self.rank, self.world = ranks.rank, ranks.world
        open_process_group(ranks)
        if torch.cuda.is_available():
            self.device = torch.device("cuda", ranks.local_rank)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
        self.amp = amp_enabled(self.cfg["amp"], self.device.type)

        seed = int(self.cfg["seed"])
        _seed_everything(seed)  # identical initial weights on every rank
        self.generator, self.discriminator = (m.to(self.device) for m in plugin.build(self.cfg))
        self.ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        self.opt_g = _make_optimizer(self.generator.parameters(), self.cfg, float(self.cfg["lr_g"]))
        self.opt_d = _make_optimizer(self.discriminator.parameters(), self.cfg, float(self.cfg["lr_d"]))
        self.schedule = plugin.schedule(self.cfg)
        self.stream = BatchStream(plugin.dataset(self.cfg["data"], self.cfg, split="train"),
                                  int(self.cfg["batch_size"]), seed=seed, rank=self.rank, world=self.world)
        # training noise: one generator in the same state on every rank (see the module docstring)
        self.noise = torch.Generator(self.device).manual_seed(seed + 1)
        # augmentation probability and ADA's running sums since its last adjustment: sum of sign D(real), images
        self.augment_p = float(self.cfg["augment_p"])
        self._ada_sums = torch.zeros(2, device=self.device)
        _seed_everything(seed + 1_000_003 * self.rank)  # anything else random (e.g. a plugin's) differs per rank
        self.grid_latent = plugin.latent(int(self.cfg["grid_size"]), self.cfg, device=self.device,
                                         generator=torch.Generator(self.device).manual_seed(seed + 7))
        self._ready = True
        return self

    def init_weights(self, source: str | Path) -> dict[str, Any]:
        """Start from another run's weights (a warm start, e.g. fine-tuning a model of procedural loops on real
        music): the generator, its EMA and, when ``source`` has one, the critic; optimisers, data stream, RNGs and
        the step stay fresh (step 0). Returns what was loaded: ``{"source", "step", "critic"}``.

        ``source``: a run folder (its ``last.pt``), a checkpoint file, or a bundled model's name (EMA generator
        only: the generator and its EMA both start from it, the critic from scratch).

        Raises
        ------
        ParameterError
            If ``source`` is missing, of another plugin, or its networks do not fit this run's settings (the
            message names the settings that differ).
        """
        self._require_setup("init_weights")
        from gan_plugins.pretrained import bundled_path

        path = bundled_path(str(source)) or Path(source)
        if path.is_dir():
            path = path / LAST
        if not path.is_file():
            raise ParameterError(f"init_from={str(source)!r}: no run folder, checkpoint or bundled model of that name")
        state = load_checkpoint(path, map_location=self.device)
        theirs = upgrade_config(state.get("config", {}))
        if theirs.get("plugin", self.plugin.name) != self.plugin.name:
            raise ParameterError(f"init_from={str(source)!r} is a {theirs.get('plugin')} model; this run trains "
                                 f"{self.plugin.name}")
        if "ema" not in state:
            raise ParameterError(f"init_from={str(source)!r}: {path} holds no generator weights")
        pairs = [(self.generator, state.get("generator", state["ema"])), (self.ema, state["ema"])]
        if "discriminator" in state:
            pairs.append((self.discriminator, state["discriminator"]))
        try:
            for module, weights in pairs:
                module.load_state_dict(weights)
        except RuntimeError:
            skip = {"data", "steps", "init_from", "norm_scale", "norm_shift", "loss", "plugin"}
            differ = sorted(k for k in theirs.keys() & self.cfg.keys() if k not in skip and theirs[k] != self.cfg[k])
            raise ParameterError(
                f"init_from={str(source)!r}: its networks do not fit this run's settings"
                + (f" (differing: {', '.join(f'{k}={theirs[k]!r} there, {self.cfg[k]!r} here' for k in differ)})"
                   if differ else "")) from None
        return {"source": str(path), "step": int(state.get("step", 0)), "critic": "discriminator" in state}

    def _require_setup(self, what: str) -> None:
        if not self._ready:
            raise GanError(f"Trainer.{what}() needs Trainer.setup() first (run() calls it)")

    # ------------------------------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Full training state: models, EMA, optimisers, RNG, data position, step, config and schedule state, and
        the callbacks' states under ``"callbacks"`` when the run has callbacks.

        The augmentation probability and ADA's sums since its last adjustment (over all ranks) are under ``"ada"``.

        Collective under DDP (every rank's RNG state is gathered): all ranks must call it.
        """
        self._require_setup("state_dict")
        signs, images = all_reduce_sum_(self._ada_sums.clone(), self.world).tolist()
        state = {
            "format": 1,
            "kind": "training",
            "step": self.step,
            "config": self.cfg,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "ema": self.ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": capture_rng(),
            "rng_ranks": gather_rng_states(self.world),
            "noise": self.noise.get_state(),
            "stream": self.stream.state_dict(),
            "schedule": self.schedule.at(self.step) if self.schedule is not None else {},
            "ada": {"p": self.augment_p, "signs": signs, "images": images},
        }
        if self.callbacks.has_state:
            state["callbacks"] = self.callbacks.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`, each rank its own RNG state, and hand the callbacks their states.

        A checkpoint written by another number of ranks (or before per-rank states were stored) restores rank 0's
        state where it can and reseeds the other ranks from the step: training continues, but not bit-exactly.
        """
        self._require_setup("load_state_dict")
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        for opt, key in ((self.opt_g, "lr_g"), (self.opt_d, "lr_d")):  # a resume may start a phase with a new rate
            for group in opt.param_groups:
                group["lr"] = float(self.cfg[key])
        self.stream.load_state_dict(state["stream"])
        self.step = int(state["step"])
        ranks = state.get("rng_ranks")
        if ranks is not None and len(ranks) == self.world:
            restore_rng(ranks[self.rank])
        elif self.rank == 0:
            restore_rng(state["rng"])
        else:
            _seed_everything(int(self.cfg["seed"]) + 1_000_003 * self.rank + self.step)
        if "noise" in state:
            self.noise.set_state(state["noise"].cpu() if self.device.type == "cpu" else state["noise"])
        else:  # checkpoints from before the shared noise generator: a fresh stream, seeded by the step
            self.noise.manual_seed(int(self.cfg["seed"]) + 1 + self.step)
        ada = state.get("ada")
        if ada is None:  # checkpoints from before adaptive augmentation: the initial probability, nothing summed
            self.augment_p = float(self.cfg["augment_p"])
            self._ada_sums.zero_()
        else:  # the sums are global: rank 0 holds them, the other ranks start from 0
            self.augment_p = float(ada["p"])
            sums = [ada["signs"], ada["images"]] if self.rank == 0 else [0.0, 0.0]
            self._ada_sums = torch.tensor(sums, device=self.device, dtype=torch.float32)
        self.callbacks.load_state_dict(state.get("callbacks", {}))

    def save(self) -> Path | None:
        """Write ``last.pt`` atomically. Under DDP every rank calls it (the RNG states are gathered), rank 0 writes,
        and no rank returns before the file is complete."""
        state = self.state_dict()
        path = save_checkpoint(state, self.run_dir / LAST) if self.rank == 0 else None
        barrier(self.world)
        return path

    def _latent(self, n: int) -> Tensor:
        """This rank's ``n`` latents out of one global draw of ``n * world`` from the shared noise generator."""
        z = self.plugin.latent(n * self.world, self.cfg, device=self.device, generator=self.noise)
        return z[self.rank * n: (self.rank + 1) * n]

    def _gp_alpha(self, n: int) -> Tensor:
        """This rank's gradient-penalty interpolation coefficients ``(n,)``, from one global draw."""
        a = torch.rand(n * self.world, device=self.device, generator=self.noise)
        return a[self.rank * n: (self.rank + 1) * n]

    def _augment(self, x: Tensor) -> Tensor:
        """The discriminator's view of images ``x`` ``(B, C, H, W)``: ``x`` itself, or with ``augment =
        "translation"`` each image shifted by its own offset, with ``augment = "audio"`` each image's time shift,
        gain and cutouts at probability :attr:`augment_p` (:mod:`gan_plugins.training.augment`), from one global
        draw of the shared noise generator, of which this rank takes its rows (as :meth:`_gp_alpha`)."""
        kind = self.cfg.get("augment")
        if not kind:
            return x
        n, _, h, w = x.shape
        lo, hi = self.rank * n, (self.rank + 1) * n
        if kind == "translation":
            off = random_offsets(n * self.world, h, w, float(self.cfg["augment_shift"]), self.noise, self.device)
            return translate(x, off[lo:hi])
        aug = draw_audio_augment(n * self.world, h, w, p=self.augment_p, time_steps=int(self.cfg["augment_time_step"]),
                                 gain=float(self.cfg["augment_gain"]), generator=self.noise, device=self.device)
        return audio_augment(x, aug.rows(lo, hi))

    def _penalty_weight(self, batch: int, real: Tensor) -> float:
        """This critic update's penalty weight before the lazy factor: ``gp_weight`` or ``r1_gamma`` (penalty's
        :attr:`~gan_plugins.training.losses.Penalty.weight_setting`); an unset ``r1_gamma`` is StyleGAN2-ADA's
        heuristic for the critic input ``real`` ``(B, C, H, W)`` and the global batch ``batch * world``."""
        weight = self.cfg[self.penalty.weight_setting]
        if weight is None:
            return r1_gamma_heuristic(real.shape[-2], real.shape[-1], batch * self.world)
        return float(weight)

    def _ada_update(self, d_real: Tensor, update: int) -> None:
        """Add the signs of this rank's raw critic outputs on reals ``d_real`` ``(B,)`` to ADA's sums; after every
        :data:`ADA_INTERVAL`-th critic update (``update`` counts from 0 over the run) move :attr:`augment_p` by
        :func:`~gan_plugins.training.augment.ada_adjust` on the global ``r_t`` and start new sums."""
        self._ada_sums[0] += torch.sign(d_real.detach().float()).sum()
        self._ada_sums[1] += d_real.numel()
        if (update + 1) % ADA_INTERVAL:
            return
        signs, images = all_reduce_sum_(self._ada_sums.clone(), self.world).tolist()
        self.augment_p = ada_adjust(self.augment_p, signs / images, target=float(self.cfg["ada_target"]),
                                    images=images, ada_images=int(self.cfg["ada_images"]))
        self._ada_sums.zero_()

    # ------------------------------------------------------------------------------------------- step
    def _autocast(self):
        """bf16 autocast on the run's device when the ``amp`` setting asks for it there, else a no-op context."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.amp else nullcontext()

    def train_step(self) -> dict[str, float]:
        """One generator update after ``n_critic`` discriminator updates; returns the logged scalars.

        Raises
        ------
        TrainingDiverged
            If a loss is NaN or infinite (on any rank).
        """
        self._require_setup("train_step")
        cfg, plugin, loss = self.cfg, self.plugin, self.loss
        sched = self.schedule.at(self.step) if self.schedule is not None else {}
        plugin.apply_schedule(self.generator, self.discriminator, sched)
        plugin.apply_schedule(self.ema, self.discriminator, sched)
        bs = int(sched.get("batch_size", cfg["batch_size"]))
        for opt, key in ((self.opt_g, "lr_g"), (self.opt_d, "lr_d")):
            if key in sched:
                for group in opt.param_groups:
                    group["lr"] = float(sched[key])
        clip, drift, pen = float(cfg["clip"]), float(cfg["drift"]), self.penalty
        gp_every, n_critic = int(cfg["gp_every"]), int(cfg["n_critic"])
        adaptive = cfg["ada_target"] is not None
        self.generator.train()
        self.discriminator.train()
        for i in range(n_critic):
            update = self.step * n_critic + i
            real = plugin.features(self.stream.next(bs).to(self.device), cfg, sched)
            z = self._latent(bs)
            with self._autocast():
                with torch.no_grad():
                    fake = self.generator(z)
                real_in, fake_in = self._augment(real), self._augment(fake)
                d_real, d_fake = self.discriminator(real_in), self.discriminator(fake_in)
                loss_d = loss.d_loss(d_real.float(), d_fake.float())
                if drift:  # PGGAN/GANSynth drift term: keeps critic outputs near 0
                    loss_d = loss_d + drift_penalty(d_real, drift)
            # lazy regularisation (Karras et al. 2020, StyleGAN2): the penalty on every gp_every-th critic update,
            # scaled by gp_every so its average weight is unchanged
            pen_w = self._penalty_weight(bs, real)
            lazy = pen_w > 0 and update % gp_every == 0
            penalty = torch.zeros((), device=self.device)
            with self._autocast():  # the critic's pass and double backward as precise as its other passes
                if pen.interpolates:  # "gp": between the batches as they are, not augmented
                    alpha = self._gp_alpha(bs) if pen_w > 0 else None  # drawn on every update: lazy keeps the stream
                    if lazy:
                        penalty = pen(self.discriminator, real, fake.float(), weight=pen_w * gp_every, alpha=alpha)
                elif lazy:  # "r1": at the real images the critic scored, augmented or not
                    penalty = pen(self.discriminator, real_in.float(), weight=pen_w * gp_every)
            self.opt_d.zero_grad(set_to_none=True)
            (loss_d + penalty).backward()
            all_reduce_mean_(self.discriminator, self.world)
            gn_d = _grad_norm(self.discriminator)
            self.opt_d.step()
            if clip > 0:
                clip_weights_(self.discriminator, clip)
            if adaptive:
                self._ada_update(d_real, update)
        z = self._latent(bs)
        with self._autocast():
            loss_g = loss.g_loss(self.discriminator(self._augment(self.generator(z))).float())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        all_reduce_mean_(self.generator, self.world)
        gn_g = _grad_norm(self.generator)
        self.opt_g.step()
        all_reduce_buffers_(self.generator, self.world)
        all_reduce_buffers_(self.discriminator, self.world)

        row = {"step": self.step + 1, "loss_d": loss_d.item(), "loss_g": loss_g.item(), "penalty": penalty.item(),
               "d_real": d_real.detach().float().mean().item(), "d_fake": d_fake.detach().float().mean().item(),
               "grad_norm_d": gn_d, "grad_norm_g": gn_g}
        if adaptive:
            row["augment_p"] = self.augment_p
        bad = not all(math.isfinite(row[k]) for k in ("loss_d", "loss_g", "penalty"))
        # a NaN/Inf gradient can corrupt the weights while every logged loss is still finite (the generator update
        # comes last): such weights must never reach the EMA or a checkpoint
        bad = bad or not (_finite(self.generator) and _finite(self.discriminator))
        if any_rank(bad, self.world, self.device):
            raise TrainingDiverged(
                f"training diverged at step {self.step + 1} (loss {cfg['loss']}: loss_d={row['loss_d']:.4g}, "
                f"loss_g={row['loss_g']:.4g}, or non-finite weights); stopped, last good checkpoint kept at "
                f"{self.run_dir / LAST}")
        update_ema_(self.ema, self.generator, float(cfg["ema_decay"]), self.step)
        self.step += 1
        row.update({k: v for k, v in sched.items() if isinstance(v, (int, float))})
        return row

    # -------------------------------------------------------------------------------------------- run
    @torch.no_grad()
    def save_grid(self) -> Path:
        """Draw the EMA generator's grid of the fixed latent into ``samples/step_<step>.png``; returns its path."""
        self._require_setup("save_grid")
        self.ema.eval()
        with self._autocast():
            samples = self.ema(self.grid_latent).float()
        return self.plugin.save_grid(samples, self.run_dir / "samples" / f"step_{self.step:07d}.png", self.cfg)

    def _evaluate(self, logger: RunLogger) -> None:
        self.ema.eval()
        t0 = time.perf_counter()
        scores = {k: float(v) for k, v in self.evaluator(self.ema, self.step).items()}
        self.eval_seconds += time.perf_counter() - t0
        row = {"step": self.step, **scores}
        self.evals.append(row)
        logger.log_eval(row, self.step)
        self._evaluated_at = self.step
        self.callbacks.on_evaluation(self, self.step, dict(scores))

    def _log(self, row: dict[str, float], logger: RunLogger, bar: Any) -> None:
        self.history.append(row)
        logger.log_train(row, self.step)
        if bar is not None:
            bar.set_postfix(loss_d=f"{row['loss_d']:.3f}", loss_g=f"{row['loss_g']:.3f}")

    def _should_stop(self) -> bool:
        """The callbacks' vote before the next step, the same on every rank (no collective without callbacks)."""
        if not self.callbacks:
            return False
        return any_rank(self.callbacks.should_stop(self, self.step), self.world, self.device)

    def run(self, steps: int | None = None) -> TrainResult:
        """Train until ``steps`` generator steps in total (default: config ``steps``) or until a callback stops the
        run, checkpointing on the way; calls :meth:`setup` first when it has not run.

        Each step: train, log (every ``log_every`` steps and the last one), ``on_step_end``, evaluate (every
        ``eval_every`` steps, then ``on_evaluation``), sample grid, checkpoint, then ``should_stop`` before the next
        step. At the end: the last step logged, ``last.pt``, the final grid and the final evaluation (skipped when
        the last step was just evaluated).

        Returns a :class:`TrainResult`; a divergence is recorded in it (and re-raised when ``raise_on_diverge``
        was asked through :func:`train`).
        """
        total = int(steps if steps is not None else self.cfg["steps"])
        check_positive_int("steps", total)
        self.setup()
        rank0 = self.rank == 0
        logger = RunLogger(self.run_dir)
        if rank0:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.json").write_text(json.dumps(self.cfg, indent=2, sort_keys=True) + "\n")
            logger.open(self.step)  # drops rows a killed run logged after its last checkpoint
        bar = None
        if rank0 and self.progress:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=self.step, desc=f"{self.plugin.name}/{self.cfg['loss']}",
                       dynamic_ncols=True, leave=False)
        result = TrainResult(self.run_dir, self.step)
        self._evaluated_at = None
        log_every, every = int(self.cfg["log_every"]), int(self.cfg["eval_every"])
        t0 = time.perf_counter()
        try:
            last, logged = None, True
            while self.step < total:
                if self._should_stop():
                    result.stopped = True
                    break
                row = self.train_step()
                if bar is not None:
                    bar.update(1)
                row["seconds"] = time.perf_counter() - t0
                last, logged = row, self.step % log_every == 0 or self.step == total
                if rank0 and logged:
                    self._log(row, logger, bar)
                self.callbacks.on_step_end(self, self.step, dict(row))
                if rank0 and self.evaluator is not None and every and self.step % every == 0 and self.step < total:
                    self._evaluate(logger)
                if rank0 and int(self.cfg["sample_every"]) and self.step % int(self.cfg["sample_every"]) == 0:
                    self.save_grid()
                if int(self.cfg["ckpt_every"]) and self.step % int(self.cfg["ckpt_every"]) == 0:
                    self.save()
            if rank0 and last is not None and not logged:  # a callback stopped the run between two logged steps
                self._log(last, logger, bar)
            self.save()  # collective under DDP (gathers every rank's RNG state)
            if rank0:
                self.save_grid()
                if self.evaluator is not None and self._evaluated_at != self.step:
                    self._evaluate(logger)
        except TrainingDiverged as exc:
            result.diverged = str(exc)
        finally:
            if bar is not None:
                bar.close()
            logger.close()
        result.step, result.history, result.evals = self.step, self.history, self.evals
        result.seconds, result.eval_seconds = time.perf_counter() - t0, self.eval_seconds
        return result


def _resume_phase(plugin: GanPlugin, cfg: dict[str, Any], out: Path, step: int, config_file: str | Path | None,
                  overrides: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The stored ``cfg`` of a resumed run with the changes ``overrides`` asks for (only :data:`RESUME_SETTINGS`),
    and the record of them for ``out/phases.jsonl`` (``{"step": s, "key": [old, new], ...}``; None if none)."""
    if config_file:
        raise ParameterError(f"{out}: a resumed run keeps its stored config; change {', '.join(RESUME_SETTINGS)} "
                             "with --set instead of a config file")
    given = upgrade_config(dict(overrides or {}), source="--set")
    changed = {k: v for k, v in given.items() if k not in cfg or cfg[k] != v}
    fixed = sorted(k for k in changed if k not in RESUME_SETTINGS)
    if fixed:
        raise ParameterError(f"{out} was trained with other {', '.join(fixed)} "
                             f"({', '.join(f'{k}={cfg.get(k)!r}' for k in fixed)}); a resume can change only "
                             f"{', '.join(RESUME_SETTINGS)}")
    if not changed:
        return cfg, None
    # the trainer's checks of the changed values (types, ranges), on a config built the usual way
    resolve_config(plugin, loss=cfg["loss"], data=cfg["data"], overrides=changed)
    return {**cfg, **changed}, {"step": step, **{k: [cfg[k], v] for k, v in changed.items()}}




def train(plugin: str, *, data: str, loss: str, out: str | Path, steps: int | None = None,
          config_file: str | Path | None = None, overrides: Mapping[str, Any] | None = None, resume: bool = False,
          evaluator: Callable[[nn.Module, int], Mapping[str, float]] | None = None, progress: bool = True,
          raise_on_diverge: bool = True, callbacks: Iterable[object] = ()) -> TrainResult:
    """Train ``plugin`` with ``loss`` on ``data`` into the run folder ``out``.

    Parameters
    ----------
    plugin : str
        Registered plugin name (see :func:`gan_plugins.api.list_plugins`).
    data : str
        Passed to the plugin's ``dataset`` hook (``"mnist"``, an IDX folder, an ``.npy`` file, ...).
    loss : str
        One of :func:`gan_plugins.training.losses.available_losses`.
    out : path
        Run folder. Must not hold a checkpoint unless ``resume``.
    steps : int, optional
        Total generator steps (overrides the config).
    config_file, overrides :
        Config overlays (JSON/TOML file; ``{"key": value}``).
    resume : bool
        Continue from ``out/last.pt`` exactly (its stored config is used; ``steps`` may extend it). ``overrides`` may
        then change only :data:`RESUME_SETTINGS` (a new phase from the checkpoint's step on, recorded in
        ``out/phases.jsonl``); giving any other setting its stored value is allowed, another value raises.
    evaluator : callable, optional
        See :class:`Trainer`.
    raise_on_diverge : bool
        Re-raise :class:`TrainingDiverged` (True) or return it in :attr:`TrainResult.diverged`.
    callbacks : iterable of callbacks, optional
        :mod:`gan_plugins.training.callbacks` objects; on ``resume`` each gets its state back from ``last.pt``.

    Raises
    ------
    PluginError, ParameterError, CheckpointError, TrainingDiverged
    """
    out = Path(out)
    ckpt = out / LAST
    if resume:
        state = load_checkpoint(ckpt)
        cfg = upgrade_config(state["config"])
        if cfg.get("plugin") != plugin or cfg.get("loss") != loss:
            raise ParameterError(f"{ckpt} was trained as {cfg.get('plugin')}/{cfg.get('loss')}, not {plugin}/{loss}")
        plug = get_plugin(plugin)
        # settings added to the project after this checkpoint was written take the plugin's absent_settings, else
        # their defaults (= the behaviour it was trained with)
        current = resolve_config(plug, loss=loss, data=cfg.get("data", data))
        cfg = complete_stored_config(plug, cfg, current)
        cfg, phase = _resume_phase(plug, cfg, out, int(state["step"]), config_file, overrides)
    else:
        if ckpt.exists():
            raise ParameterError(f"{out} already holds a checkpoint; pass --resume to continue or pick another --out")
        plug = get_plugin(plugin)
        cfg = resolve_config(plug, loss=loss, data=data, config_file=config_file, overrides=overrides)
        state, phase = None, None
    if steps is not None:
        check_positive_int("steps", steps)
        cfg["steps"] = int(steps)
    trainer = Trainer(plug, cfg, out, evaluator=evaluator, progress=progress, callbacks=callbacks).setup()
    if state is not None:
        trainer.load_state_dict(state)
    elif cfg.get("init_from"):  # a warm start; a resumed run continues its own weights instead
        trainer.init_weights(cfg["init_from"])
    if phase is not None:  # recorded once the run is built with it
        with open(out / "phases.jsonl", "a") as fh:
            fh.write(json.dumps(phase) + "\n")
    result = trainer.run()
    if result.diverged and raise_on_diverge:
        raise TrainingDiverged(result.diverged)
    return result
