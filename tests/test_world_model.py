"""The WorldModel primitives: shapes, consistency, ensembles, folding, checkpoints."""

import pytest
import torch

from train_robots.common.checkpoint import CheckpointError
from train_robots.common.world_model import (
    REWARD_RANGE,
    WorldModel,
    WorldModelConfig,
    load_world_model,
    save_world_model,
)

D, A, B, H = 6, 2, 5, 7
ENCODER = {"name": "state", "id": "state:reacher-easy", "dim": D, "image_size": None}


def make_model(kind: str = "mlp", ensemble: int = 1, seed: int = 0) -> WorldModel:
    """A small model with random (non-zero) output heads, so predictions differ from copying."""
    torch.manual_seed(seed)
    model = WorldModel(WorldModelConfig(D, A, kind=kind, ensemble=ensemble, width=16, depth=2, window=3, heads=2))
    with torch.no_grad():
        model.z_mean.normal_()
        model.z_std.uniform_(0.5, 2.0)
        for member in model.members:
            member.out.weight.normal_(0, 0.3)
    return model.eval()


def inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(B, D, generator=g),
        torch.rand(B, A, generator=g) * 2 - 1,
        torch.rand(B, H, A, generator=g) * 2 - 1,
    )


@pytest.mark.parametrize("kind,ensemble", [("mlp", 1), ("mlp", 3), ("transformer", 1), ("transformer", 2)])
def test_primitive_shapes(kind, ensemble):
    model = make_model(kind, ensemble)
    z, a, actions = inputs()
    with torch.no_grad():
        assert model.next(z, a).shape == (B, D)
        assert model.reward(z, a).shape == (B,)
        discount = model.discount(z, a)
        assert discount.shape == (B,) and bool(((discount >= 0) & (discount <= 1)).all())
        assert model.uncertainty(z, a).shape == (B,)
        assert model.normalize(z).shape == (B, D)
        out = model.rollout(z, actions)
    assert out["z"].shape == (B, H, D)
    assert out["reward"].shape == out["uncertainty"].shape == out["discount"].shape == (B, H)
    # The first imagined step is exactly `next` (a window of one for the Transformer).
    torch.testing.assert_close(out["z"][:, 0], model.next(z, a := actions[:, 0]).detach())
    torch.testing.assert_close(out["reward"][:, 0], model.reward(z, a).detach())


def test_mlp_rollout_is_repeated_next():
    model = make_model("mlp")
    z, _, actions = inputs()
    with torch.no_grad():
        out = model.rollout(z, actions)
        for t in range(H):
            reward = model.reward(z, actions[:, t])
            z = model.next(z, actions[:, t])
            torch.testing.assert_close(out["z"][:, t], z)
            torch.testing.assert_close(out["reward"][:, t], reward)
    assert not torch.allclose(out["z"][:, -1], out["z"][:, 0])  # it really moves


def test_transformer_rollout_reads_its_own_history():
    model = make_model("transformer")
    z, _, actions = inputs()
    with torch.no_grad():
        out = model.rollout(z, actions)
        memoryless = model.next(model.next(z, actions[:, 0]), actions[:, 1])
    assert not torch.allclose(out["z"][:, 1], memoryless)  # step 2 attends to step 1


def test_ensemble_uncertainty_is_disagreement():
    model = make_model("mlp", ensemble=3)
    z, a, _ = inputs()
    with torch.no_grad():
        assert bool((model.uncertainty(z, a) > 0).all())
        delta = model.members[0](model.normalize(z), model.normalize_action(a))[0]
        for member in model.members[1:]:
            member.load_state_dict(model.members[0].state_dict())
        torch.testing.assert_close(model.uncertainty(z, a), torch.zeros(B))
        # Identical members: the mean is any one member's prediction.
        expected = model.denormalize(model.normalize(z) + model.delta_std * delta)
        torch.testing.assert_close(model.next(z, a), expected)
    single = make_model("mlp")
    assert torch.equal(single.uncertainty(z, a).detach(), torch.zeros(B))


def test_folded_mlp_matches_rollout():
    model = make_model("mlp")
    z, _, actions = inputs()
    folded = model.fold()
    with torch.no_grad():
        zn0, an = model.normalize(z), model.normalize_action(actions)
        out = model.rollout_normalized(zn0, an)
        u, g_sum = folded.encode(zn0), 0
        for t in range(H):
            u, g, reward = folded.step(u, an[:, t])
            g_sum = g_sum + g
            torch.testing.assert_close(reward, out["reward"][:, t])
            torch.testing.assert_close(folded.latent(zn0, g_sum, t + 1), out["zn"][:, t], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="single MLP"):
        make_model("mlp", ensemble=2).fold()


@pytest.mark.parametrize("kind,ensemble", [("mlp", 2), ("transformer", 1)])
def test_save_load_round_trip(tmp_path, kind, ensemble):
    model = make_model(kind, ensemble)
    path = tmp_path / "dynamics.pt"
    save_world_model(path, model, "reacher-easy", ENCODER, step=3)
    loaded = load_world_model(path, encoder=ENCODER, task="reacher-easy")
    assert not loaded.training and loaded.cfg == model.cfg
    z, _, actions = inputs()
    with torch.no_grad():
        a, b = model.rollout(z, actions), loaded.rollout(z, actions)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def fitted(low: float = 0.0, high: float = 2.0) -> WorldModel:
    """make_model() with statistics fitted to data whose rewards span [low, high]."""
    model = make_model("mlp")
    model.set_statistics(torch.randn(3, 5, D), torch.rand(3, 4, A) * 2 - 1, torch.tensor([[low, high]]))
    return model


def test_the_reward_range_is_saved_with_the_weights(tmp_path):
    path = tmp_path / "dynamics.pt"
    save_world_model(path, fitted(-1.0, 3.0), "reacher-easy", ENCODER)
    loaded = load_world_model(path, encoder=ENCODER)
    assert (loaded.reward_low.item(), loaded.reward_high.item()) == (-1.0, 3.0)


def test_weights_saved_before_the_reward_range_load_and_keep_the_models_own(tmp_path, capsys):
    model = make_model("mlp")
    with torch.no_grad():
        model.members[0].reward_head[-1].bias.fill_(5.0)  # well above the range fitted below
    path = tmp_path / "old.pt"
    save_world_model(path, model, "reacher-easy", ENCODER)
    payload = torch.load(path, weights_only=False)
    for key in REWARD_RANGE:
        del payload["model"][key]
    torch.save(payload, path)
    old = load_world_model(path, encoder=ENCODER)  # imagines as it did when it was written: unclamped
    assert "predates the recorded reward range" in capsys.readouterr().out
    z, _, actions = inputs()
    with torch.no_grad():
        torch.testing.assert_close(old.rollout(z, actions)["reward"], model.rollout(z, actions)["reward"])
        assert old.rollout(z, actions)["reward"].min() > 2.0
        resumed = fitted(0.0, 2.0)  # train_dynamics resuming old weights: the data's range is already set
        resumed.load_state_dict(payload["model"])
        assert resumed.rollout(z, actions)["reward"].max() <= 2.0


def test_mismatched_encoder_or_task_is_refused(tmp_path):
    path = tmp_path / "dynamics.pt"
    save_world_model(path, make_model(), "reacher-easy", ENCODER)
    with pytest.raises(CheckpointError, match="dim: recorded 6, expected 1024"):
        load_world_model(path, encoder={"name": "state", "dim": 1024})
    with pytest.raises(CheckpointError, match="name: recorded .state."):
        load_world_model(path, encoder={"name": "vjepa2-random", "dim": 6})
    with pytest.raises(CheckpointError, match="task"):
        load_world_model(path, task="walker-walk")
    with pytest.raises(CheckpointError, match="not found"):
        load_world_model(tmp_path / "missing.pt")
