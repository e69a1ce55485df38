"""The progressive schedule's images seen with several critic updates per generator step, worked out by hand."""

import math

import pytest

from gan_plugins.api import get_plugin
from gan_plugins.models.schedule import ProgressiveSchedule

# levels=1, 10 images per stage, batch 3 at level 0 and 2 at level 1. A step shows batch x n_critic real images and a
# stage is rounded up to whole steps:
#   n_critic 1: stable 0 = ceil(10/3) = 4 steps (12 images), fade 1 = ceil(10/2) = 5 steps (10), final from step 9
#   n_critic 2: stable 0 = ceil(10/6) = 2 steps (12 images), fade 1 = ceil(10/4) = 3 steps (12), final from step 5
#   n_critic 3: stable 0 = ceil(10/9) = 2 steps (18 images), fade 1 = ceil(10/6) = 2 steps (12), final from step 4
BY_HAND = {
    1: {"images": [0, 3, 6, 9, 12, 14, 16, 18, 20, 22, 24], "alpha": [1, 1, 1, 1, 0, .2, .4, .6, .8, 1, 1],
        "starts": [0, 4, 9], "start_images": [0, 12, 22]},
    2: {"images": [0, 6, 12, 16, 20, 24, 28], "alpha": [1, 1, 0, 1 / 3, 2 / 3, 1, 1],
        "starts": [0, 2, 5], "start_images": [0, 12, 24]},
    3: {"images": [0, 9, 18, 24, 30, 36], "alpha": [1, 1, 0, .5, 1, 1],
        "starts": [0, 2, 4], "start_images": [0, 18, 30]},
}


@pytest.mark.parametrize("n_critic", [1, 2, 3])
def test_images_seen_count_every_critic_batch(n_critic):
    s = ProgressiveSchedule(levels=1, stage_images=10, fade_images=10, batch_sizes=[3, 2], lr_g=1e-3, lr_d=1e-3,
                            n_critic=n_critic)
    want = BY_HAND[n_critic]
    steps = range(len(want["images"]))
    assert [s.at(k)["images"] for k in steps] == want["images"]
    assert [s.at(k)["fade_alpha"] for k in steps] == pytest.approx(want["alpha"], abs=1e-12)
    assert [b["start_step"] for b in s.boundaries()] == want["starts"] and s.final_step == want["starts"][-1]
    assert [b["start_images"] for b in s.boundaries()] == want["start_images"]
    assert [b["steps"] for b in s.boundaries()] == [want["starts"][1], want["starts"][2] - want["starts"][1], None]


@pytest.mark.parametrize("n_critic", [1, 2, 3])
@pytest.mark.parametrize("batch_sizes", [[4, 2, 2], [5, 3, 7], 6])
def test_images_are_the_running_sum_of_batch_times_n_critic(batch_sizes, n_critic):
    s = ProgressiveSchedule(levels=2, stage_images=[20, 14, 9], fade_images=[0, 11, 25], batch_sizes=batch_sizes,
                            lr_g=1, lr_d=1, n_critic=n_critic)
    seen = 0
    for k in range(s.final_step + 5):
        at = s.at(k)
        assert at["images"] == seen, k
        seen += at["batch_size"] * n_critic
    # each stage holds its images rounded up to whole steps of batch x n_critic, no more
    for b in s.boundaries()[:-1]:
        wanted = ([20, 14, 9] if not b["fading"] else [0, 11, 25])[b["level"]]
        assert b["steps"] == math.ceil(wanted / (b["batch_size"] * n_critic))


@pytest.mark.parametrize("n_critic", [1, 2, 3])
def test_the_progressive_plugin_passes_n_critic_to_its_schedule(n_critic):
    plugin = get_plugin("progressive")
    cfg = {**plugin.default_config(), "stage_images": 12, "fade_images": 12, "batch_size": 2, "n_critic": n_critic}
    s = plugin.schedule(cfg)
    levels = s.levels
    assert levels >= 1 and s.n_critic == n_critic
    # every stage is 12 images = 6 / n_critic steps of 2 x n_critic: images at step k are 2 x n_critic x k
    assert [s.at(k)["images"] for k in range(4)] == [2 * n_critic * k for k in range(4)]
    assert s.final_step == 2 * levels * 6 // n_critic
    assert s.at(s.final_step)["images"] == 2 * levels * 12
