"""Can the world model imagine holding the goal pose? (one-off diagnostic)

From each of E expert goals (the planner's goal images: the expert's solved moment, at rest), the
simulator runs 16 action sequences of 20 agent steps: zero torque (the arm stays exactly where it
is: reacher has no gravity) and 15 uniform random ones. Each step is rendered and encoded as the
data encodes it (the clip of the last two frames), and the world model imagines the same sequences
from the goal's latent. Distances are the planner's goal distance (l1, latent units). A planner
can hold a pose only if its model ranks holding above moving away; the figure to read is how many
of the 15 random sequences beat holding, in the simulator (0) and in imagination.

    python bench_results/2026-11-28-hold-imagination.py CKPT_DIR [MODEL] [EPISODES]
"""

import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_robots.common.encoders import build_encoder  # noqa: E402
from train_robots.common.envs import ControlEnv  # noqa: E402
from train_robots.common.goals import goal_from_expert  # noqa: E402
from train_robots.common.planners import Planner, PlannerConfig  # noqa: E402
from train_robots.common.presets import get_preset  # noqa: E402
from train_robots.common.world_model import load_world_model  # noqa: E402

HORIZON, SEQUENCES = 20, 16
folder = Path(sys.argv[1]) / "reacher-easy" / "vjepa2-task"
model_name = sys.argv[2] if len(sys.argv) > 2 else "dynamics"
episodes = int(sys.argv[3]) if len(sys.argv) > 3 else 12
torch.set_num_threads(1)
env = ControlEnv("reacher-easy")
encoder = build_encoder(
    "vjepa2-task", env, get_preset("cpu", "reacher-easy"), torch.device("cpu"), str(folder / "encoder")
)
model = load_world_model(folder / f"{model_name}.pt", encoder=encoder.info.to_dict(), task="reacher-easy").eval()
config = PlannerConfig(samples=SEQUENCES, elites=4, horizon=HORIZON)
planner = Planner(model, config, env.action_low, env.action_high)  # for its goal distance only


def real_distances(goal, actions: np.ndarray) -> np.ndarray:
    """[S, H] goal distances of the encoded frames, each sequence run from the goal at rest."""
    out = np.zeros(actions.shape[:2])
    for s, sequence in enumerate(actions):
        env.set_state(goal.state)
        observations = [encoder.observe(env)]
        for action in sequence:
            env.step(action)
            observations.append(encoder.observe(env))
        latents = encoder.encode(encoder.episode_inputs(np.stack(observations)))[1:]  # as the data encodes them
        out[s] = planner.distance(latents, goal.z)
    return out


rng = np.random.default_rng(0)
rows = []
for episode in range(episodes):
    env.reset(1000 + episode)
    goal = goal_from_expert(env, encoder)
    actions = rng.uniform(-1, 1, (SEQUENCES, HORIZON, 2)).astype(np.float32)
    actions[0] = 0.0  # hold
    real = real_distances(goal, actions)
    with torch.no_grad():
        z = model.rollout(torch.as_tensor(goal.z)[None].repeat(SEQUENCES, 1), torch.as_tensor(actions))["z"]
    imagined = planner.distance(z.numpy(), goal.z)
    real_cost, imagined_cost = real.mean(1), imagined.mean(1)
    rows.append(
        dict(
            real=real,
            imagined=imagined,
            beaten_real=int((real_cost[1:] < real_cost[0]).sum()),
            beaten_imagined=int((imagined_cost[1:] < imagined_cost[0]).sum()),
            spearman=spearmanr(real_cost, imagined_cost)[0],
        )
    )
    print(
        f"goal {episode}: random sequences beating hold, real {rows[-1]['beaten_real']}, imagined "
        f"{rows[-1]['beaten_imagined']}; Spearman {rows[-1]['spearman']:.2f}",
        flush=True,
    )

print(f"{model_name}, {episodes} goals; goal distance at steps 1 / 5 / 10 / 20:")
for label, key, which in [("hold, real", "real", 0), ("hold, imagined", "imagined", 0)]:
    m = np.mean([r[key][which] for r in rows], 0)
    print(f"  {label:18s} {m[0]:.3f} {m[4]:.3f} {m[9]:.3f} {m[19]:.3f}")
for label, key in [("random, real", "real"), ("random, imagined", "imagined")]:
    m = np.mean([r[key][1:].mean(0) for r in rows], 0)
    print(f"  {label:18s} {m[0]:.3f} {m[4]:.3f} {m[9]:.3f} {m[19]:.3f}")
print(
    f"  random sequences (of 15) beating hold: real {np.mean([r['beaten_real'] for r in rows]):.1f}, imagined "
    f"{np.mean([r['beaten_imagined'] for r in rows]):.1f}; Spearman of costs {np.mean([r['spearman'] for r in rows]):.2f}"
)
