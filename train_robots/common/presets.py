"""Named size presets: `smoke` (seconds, the tests), `cpu` (minutes on a 2-core laptop),
`full` (paper scale: 100k transitions, ViT-L at 256 px; for a GPU or Modal).

A script's config leaves a sized field at None to take it from the preset. A few fields
differ by task (`TASK_SIZES`): `get_preset(name, task)` applies them. The data's, the world
model's and the planner's also differ by encoder (`ENCODER_SIZES`): `sizes_for(name, task, encoder)`
applies those too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from train_robots.common.runtime import ConfigError


@dataclass(frozen=True)
class Preset:
    name: str
    image_size: int
    """Encoder input size in pixels (frames are rendered at this size)."""
    episodes: int
    """Data-collection episodes."""
    episode_steps: int
    """Agent steps per data-collection episode (a full suite episode is 500 at repeat 2)."""
    shard_episodes: int
    """Episodes per shard file (few large shards, not a file per episode)."""
    encode_batch: int
    """Frames per encoder forward pass."""
    eval_episodes: int
    """Closed-loop evaluation episodes."""
    eval_episode_steps: int
    """Agent steps per evaluation episode."""
    random_encoder: dict = field(default_factory=dict)
    """VJEPA2Config overrides for `vjepa2-random` (the pretrained model fixes its own)."""
    bc_hidden: int = 256
    """Behaviour cloning: width of the policy MLP's hidden layers."""
    bc_layers: int = 2
    """Behaviour cloning: hidden layers of the policy MLP."""
    bc_epochs: int = 100
    """Behaviour cloning: most passes over the training episodes (early stopping may end sooner)."""
    bc_batch: int = 256
    """Behaviour cloning: transitions per gradient step."""
    bc_lr: float = 1e-3
    """Behaviour cloning: Adam learning rate."""
    dynamics_width: int = 256
    """World model: hidden width (MLP) or model width (Transformer); moderate, so CEM stays cheap."""
    dynamics_depth: int = 2
    """World model: hidden layers (MLP) or Transformer blocks."""
    dynamics_steps: int = 3000
    """World model: gradient steps."""
    dynamics_rollout_steps: int = 5
    """World model: training horizon (1: one-step, teacher-forced; k > 1: unrolled k steps on its
    own predictions)."""
    dynamics_batch: int = 256
    """World model: sub-trajectories per gradient step."""
    dynamics_lr: float = 1e-3
    """World model: AdamW learning rate (cosine-decayed)."""
    dynamics_window: int = 8
    """World model: past (latent, action) pairs the Transformer attends to."""
    dynamics_horizon: int = 50
    """World model: longest open-loop horizon evaluated (clipped to the episode length)."""
    plan_samples: int = 1000
    """Planning: action sequences imagined per iteration."""
    plan_iterations: int = 5
    """Planning: sampling rounds per plan."""
    plan_elites: int = 64
    """Planning (CEM): the cheapest sequences that refit the sampling distribution."""
    plan_replan_every: int = 1
    """Planning: agent steps between plans (2 halves the cost per action)."""
    plan_hold_samples: int = 0
    """Planning toward a goal image: samples imagined per iteration once an episode is past the
    handover, holding a pose it reached (0: all of plan_samples)."""
    sac_updates: int = 30000
    """Dream-SAC: gradient steps on imagined transitions."""
    sac_eval_every: int = 5000
    """Dream-SAC: updates between closed-loop evaluations in the real env."""
    sac_eval_episodes: int = 5
    """Dream-SAC: episodes of each periodic evaluation (the final one uses eval_episodes)."""
    pretrain_image_size: int = 64
    """V-JEPA pretraining (vjepa2-task): frame size in pixels."""
    pretrain_patch: int = 8
    """V-JEPA pretraining: patch size in pixels (tokens per tubelet = (image / patch)^2)."""
    pretrain_width: int = 192
    """V-JEPA pretraining: encoder width (features per token)."""
    pretrain_depth: int = 6
    """V-JEPA pretraining: encoder transformer blocks."""
    pretrain_heads: int = 3
    """V-JEPA pretraining: encoder attention heads."""
    pretrain_pred_width: int = 96
    """V-JEPA pretraining: predictor width (narrower than the encoder, as in V-JEPA)."""
    pretrain_pred_depth: int = 4
    """V-JEPA pretraining: predictor transformer blocks."""
    pretrain_pred_heads: int = 4
    """V-JEPA pretraining: predictor attention heads."""
    pretrain_batch: int = 64
    """V-JEPA pretraining: clips per gradient step."""
    pretrain_steps: int = 3000
    """V-JEPA pretraining: gradient steps."""
    pretrain_lr: float = 5e-4
    """V-JEPA pretraining: peak AdamW learning rate (after warm-up, then cosine decay)."""
    pretrain_warmup: int = 300
    """V-JEPA pretraining: linear warm-up steps."""
    pretrain_ema_start: float = 0.9995
    """V-JEPA pretraining: EMA momentum of the target encoder at the first step."""
    pretrain_ema_end: float = 1.0
    """V-JEPA pretraining: EMA momentum at the last step (rises linearly)."""
    pretrain_probe_every: int = 500
    """V-JEPA pretraining: steps between state probes during training (0: only at the end)."""
    pretrain_var_weight: float = 0.0
    """V-JEPA pretraining: weight of the VICReg variance term on the clip-level context features
    (0: V-JEPA's objective as published)."""
    pretrain_cov_weight: float = 0.0
    """V-JEPA pretraining: weight of the matching VICReg covariance term."""
    expert_env_steps: int = 500_000
    """Locomotion expert: environment (control) steps of online SAC; the agent acts and updates
    once per action_repeat of them (500k = 250k agent steps, the anchors' budget)."""
    expert_episode_steps: int = 500
    """Locomotion expert: agent steps per training and evaluation episode (500: the suite's 20 s)."""
    expert_seed_steps: int = 5000
    """Locomotion expert: agent steps of uniform random actions before the first update."""
    expert_hidden: int = 256
    """Locomotion expert: width of the actor's and critics' hidden layers."""
    expert_batch: int = 256
    """Locomotion expert: transitions per SAC update."""
    expert_n_step: int = 1
    """Locomotion expert: rewards summed into each critic target before it bootstraps (n-step returns)."""
    expert_updates_per_step: float = 1.0
    """Locomotion expert: SAC updates per agent step once the seed steps are done."""
    expert_eval_every: int = 10_000
    """Locomotion expert: environment steps between periodic evaluations (the learning curve)."""
    expert_eval_episodes: int = 5
    """Locomotion expert: episodes of each periodic evaluation (the final one uses eval_episodes)."""


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke",
        image_size=32,
        episodes=4,
        episode_steps=25,
        shard_episodes=2,
        encode_batch=16,
        eval_episodes=2,
        eval_episode_steps=25,
        random_encoder=dict(
            hidden_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            pred_hidden_size=32,
            pred_num_hidden_layers=1,
            pred_num_attention_heads=2,
        ),
        bc_hidden=32,
        bc_layers=2,
        bc_epochs=30,
        bc_batch=32,
        bc_lr=3e-3,
        dynamics_width=32,
        dynamics_depth=2,
        dynamics_steps=200,
        dynamics_batch=32,
        dynamics_lr=3e-3,
        dynamics_window=4,
        dynamics_horizon=50,
        plan_samples=64,
        plan_replan_every=1,
        plan_hold_samples=16,
        sac_updates=20,
        sac_eval_every=10,
        sac_eval_episodes=1,
        pretrain_image_size=32,
        pretrain_patch=8,
        pretrain_width=32,
        pretrain_depth=1,
        pretrain_heads=2,
        pretrain_pred_width=16,
        pretrain_pred_depth=1,
        pretrain_pred_heads=2,
        pretrain_batch=8,
        pretrain_steps=6,
        pretrain_lr=1e-3,
        pretrain_warmup=2,
        pretrain_ema_start=0.99,
        pretrain_ema_end=1.0,
        pretrain_probe_every=0,
        expert_env_steps=600,
        expert_episode_steps=50,
        expert_seed_steps=100,
        expert_hidden=64,
        expert_batch=64,
        expert_eval_every=200,
        expert_eval_episodes=1,
    ),
    "cpu": Preset(
        name="cpu",
        image_size=128,
        # Many short episodes: reacher reaches its target within a few dozen steps, so long
        # episodes are mostly "hold still" and BC sees too few reaches (40 x 250 gave 92%
        # success, 100 x 100 gives 98% at the same 10k transitions). 300 rather than 100:
        # with 100 the world model is wrong on fast swings and CEM failed 3 of the first 25
        # episodes; with 300 those 3 are solved (h10 error 0.103 vs 0.133).
        episodes=300,
        episode_steps=100,
        shard_episodes=50,
        encode_batch=32,
        eval_episodes=50,
        eval_episode_steps=500,
        # ViT-L width (D = 1024, as the pretrained latent) but 2 of its 24 blocks: a random
        # encoder is a floor for the pixel pipeline, and depth only costs time here.
        random_encoder=dict(num_hidden_layers=2, pred_num_hidden_layers=1),
        bc_hidden=256,
        bc_layers=2,
        bc_epochs=200,
        bc_batch=256,
        bc_lr=1e-3,
        dynamics_width=256,
        dynamics_depth=2,
        dynamics_steps=3000,
        dynamics_batch=256,
        dynamics_lr=1e-3,
        dynamics_window=4,
        dynamics_horizon=50,
        # Half the samples and a plan every 2 steps: 50 evaluation episodes of 500 steps take
        # minutes, not an hour, on 2 cores, with the same success (10/10 either way).
        plan_samples=500,
        plan_replan_every=2,
        # Past the handover (nearly every plan of an episode) 100 of them: CEM on seed 0 solved
        # 98% / 928.7 and held 74% of goal poses, against 98% / 942.4 and 80% with all 500, each
        # holding plan 5x cheaper (ROADMAP, "Holding for less").
        plan_hold_samples=100,
        sac_updates=30000,
        sac_eval_every=5000,
        sac_eval_episodes=5,
        # 64 px frames show the target ball (~6 px) and the arm (~2 px wide); patch 8 gives 64
        # tokens per tubelet. A slow target (EMA 0.9995 -> 1): with I-JEPA's 0.996 the target had
        # erased the arm and ball from its features by step 1000 (README). V-JEPA alone for 3000
        # steps took 94 min on one contended thread (39.7 clips/s) and halved the clip-level
        # feature std (effective rank 84 -> 36); with a VICReg term (weights 1, 1) 1000 steps take
        # 22 min, keep rank 76, probe a little better everywhere, and dream-SAC from its latents
        # solved 88% against 80% (600 x 50 data; ROADMAP, "Pixels").
        pretrain_image_size=64,
        pretrain_patch=8,
        pretrain_width=192,
        pretrain_depth=6,
        pretrain_heads=3,
        pretrain_pred_width=96,
        pretrain_pred_depth=4,
        pretrain_pred_heads=4,
        pretrain_batch=64,
        pretrain_steps=1000,
        pretrain_lr=5e-4,
        pretrain_warmup=300,
        pretrain_ema_start=0.9995,
        pretrain_ema_end=1.0,
        pretrain_probe_every=500,
        pretrain_var_weight=1.0,
        pretrain_cov_weight=1.0,
    ),
    "full": Preset(
        name="full",
        image_size=256,
        episodes=200,
        episode_steps=500,
        shard_episodes=10,
        encode_batch=64,
        eval_episodes=50,
        eval_episode_steps=500,
        random_encoder=dict(),  # the full ViT-L
        bc_hidden=512,
        bc_layers=2,
        bc_epochs=100,
        bc_batch=256,
        bc_lr=1e-3,
        dynamics_width=512,
        dynamics_depth=3,
        dynamics_steps=20000,
        dynamics_batch=256,
        dynamics_lr=1e-3,
        dynamics_window=8,
        dynamics_horizon=50,
        sac_updates=100000,
        sac_eval_every=10000,
        sac_eval_episodes=10,
        # A ViT-S-sized encoder at 128 px (256 tokens per tubelet) for a GPU.
        pretrain_image_size=128,
        pretrain_patch=8,
        pretrain_width=384,
        pretrain_depth=12,
        pretrain_heads=6,
        pretrain_pred_width=192,
        pretrain_pred_depth=6,
        pretrain_pred_heads=6,
        pretrain_batch=256,
        pretrain_steps=30000,
        pretrain_lr=5e-4,
        pretrain_warmup=2000,
        pretrain_ema_start=0.996,
        pretrain_ema_end=1.0,
        pretrain_probe_every=5000,
        expert_eval_episodes=10,
    ),
}


TASK_SIZES: dict[tuple[str, str], dict] = {
    # Locomotion data: the same 30k transitions as reacher (so the same encoding time), in longer
    # episodes. Measured on walker-walk with its SAC expert (30% random actions): the gait is
    # established within 25 agent steps, and BC on the state scores 821 / 832 / 837 (± 2 s.e.,
    # 50 full episodes) from 300 x 100 / 120 x 250 / 60 x 500: 250 is the shortest episode within
    # noise of the best, and keeps 120 distinct starts (README, "Experts").
    # Walker's expert updates twice per agent step: with one, seed 0 settled into a crouched run
    # (815.7 over 50 episodes) while seed 1 walked upright (950.7); with two, seed 0 walks upright,
    # 957.6 +- 21.7, for 1.4x the wall time (ROADMAP, phase 6).
    ("cpu", "walker"): dict(episodes=120, episode_steps=250, shard_episodes=20, expert_updates_per_step=2.0),
    ("cpu", "cheetah"): dict(episodes=120, episode_steps=250, shard_episodes=20),
    ("full", "walker"): dict(expert_updates_per_step=2.0),
}
"""(preset, domain) -> the preset's fields that differ for that domain's tasks."""


# Pixel BC and dream-SAC need to see the arm near the target more often than the state does:
# with the encoder pretrained here, 2400 x 50 steps of data (4x the transitions, 8x the reaches)
# lift BC from 76% to 90% and dream-SAC from 88% to 98% against 600 x 50 (ROADMAP, "Pixels").
# Planning in its 768-float latent costs 1.5 s per action on a CPU thread at the state's budget
# (500 samples x 5 iterations); 100 x 3 (16 elites, 50 held) costs a sixth and did as well
# (20 episodes: 95% / 336; the first 5: 259 against 280; ROADMAP, "A planner budget for pixels").
# Its world model, trained 3000 steps on 5-step rollouts at width 256, barely responds to the
# actions (imagined costs rank sequences at Spearman 0.35 against the real ones); one-step
# training for 15,000 steps at width 512 ranks at 0.51 and lifts CEM on the same 20 episodes
# from 95% / 336 to 100% / 610 (94% / 477 over 50); dream-SAC in five of them: 96% / 864, within
# noise of 98% / 882. 5-step training at that width stops the open-loop drift but CEM does worse
# (ROADMAP, "Why the pixel planners fail"). The random encoder gets the same sizes, so the two
# compare on the same data and budgets; the hub ViT-L keeps the preset's (4x the frames through
# 24 blocks is hours on a laptop's CPU).
PIXEL_SIZES = dict(
    episodes=2400,
    episode_steps=50,
    dynamics_width=512,
    dynamics_rollout_steps=1,
    dynamics_steps=15000,
    plan_samples=100,
    plan_iterations=3,
    plan_elites=16,
    plan_hold_samples=50,
)
"""The cpu preset's reacher sizes for the encoders of pixels measured here (see above)."""

ENCODER_SIZES: dict[tuple[str, str, str], dict] = {
    ("cpu", "reacher", "vjepa2-task"): PIXEL_SIZES,
    ("cpu", "reacher", "vjepa2-random"): PIXEL_SIZES,
}
"""(preset, domain, encoder) -> the preset's fields that differ for that encoder (see `sizes_for`)."""


def get_preset(name: str, task: str | None = None) -> Preset:
    """The named preset, with the sizes of `task`'s domain where they differ (`TASK_SIZES`)."""
    if name not in PRESETS:
        raise ConfigError(f"--preset {name!r} is unknown; choose one of {sorted(PRESETS)}")
    return replace(PRESETS[name], **TASK_SIZES.get((name, _domain(task)), {}))


def sizes_for(name: str, task: str, encoder: str) -> Preset:
    """`get_preset(name, task)` with the sizes of `encoder` where they differ (`ENCODER_SIZES`)."""
    return replace(get_preset(name, task), **ENCODER_SIZES.get((name, _domain(task), encoder), {}))


def _domain(task: str | None) -> str | None:
    """ "walker-walk" -> "walker": the key the size tables use."""
    return task.split("-")[0] if task is not None else None
