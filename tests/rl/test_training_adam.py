"""rl.training's Adam and deterministic flag: torch's own results without TorchDynamo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rl.training import Adam

ROOT = Path(__file__).resolve().parents[2]


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))


def _train(net: torch.nn.Module, opt, steps: int, lr_schedule: bool = True) -> None:
    gen = torch.Generator().manual_seed(7)
    for k in range(steps):
        if lr_schedule:
            opt.param_groups[0]["lr"] = 1e-2 * (1 - k / steps)
        x = torch.randn(32, 3, generator=gen)
        loss = (net(x) - x[:, :2].sin()).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
        opt.step()


@pytest.mark.parametrize("eps", [1e-5, 1e-8])
def test_adam_matches_torch_bit_for_bit(eps):
    ours, theirs = _net(0), _net(0)
    a = Adam(ours.parameters(), lr=1e-2, eps=eps)
    b = torch.optim.Adam(theirs.parameters(), lr=1e-2, eps=eps)
    _train(ours, a, 300)
    _train(theirs, b, 300)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert torch.equal(p, q), name
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["param_groups"][0].keys() == sb["param_groups"][0].keys()
    for i in sb["state"]:
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(sa["state"][i][key], sb["state"][i][key]), (i, key)


def test_adam_state_round_trips_with_torch():
    """torch's state resumes in ours (and ours in torch's) with the same next steps."""
    base = _net(1)
    torch_opt = torch.optim.Adam(base.parameters(), lr=1e-2, eps=1e-5)
    _train(base, torch_opt, 50, lr_schedule=False)
    a, b = _net(2), _net(2)
    a.load_state_dict(base.state_dict())
    b.load_state_dict(base.state_dict())
    ours = Adam(a.parameters(), lr=0.5)
    ours.load_state_dict(torch_opt.state_dict())
    theirs = torch.optim.Adam(b.parameters(), lr=0.5)
    copy = Adam(b.parameters())
    copy.load_state_dict(torch_opt.state_dict())
    theirs.load_state_dict(copy.state_dict())  # ours into torch's
    _train(a, ours, 20, lr_schedule=False)
    _train(b, theirs, 20, lr_schedule=False)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="expected one group of 4"):
        Adam(_net(0).parameters()).load_state_dict(
            {
                "state": {},
                "param_groups": [{"params": [0, 1], "lr": 1, "betas": (0.9, 0.9), "eps": 1}],
            }
        )


def test_ppo_training_loads_no_torchdynamo():
    """A PPO run (seeding block with the deterministic flag, Adam, updates) in a fresh
    interpreter: deterministic algorithms on, TorchDynamo and Inductor never imported."""
    code = (
        "import sys, tempfile\n"
        "import gymnasium as gym\n"
        "from rl.ppo import PPOConfig, train\n"
        "cfg = PPOConfig(total_steps=128, n_envs=2, n_steps=64, n_minibatches=2, n_epochs=1)\n"
        "train(lambda: gym.make('CartPole-v1'), cfg, tempfile.mkdtemp(), progress=False)\n"
        "import torch\n"
        "print(torch.are_deterministic_algorithms_enabled(), "
        "any(m.startswith(('torch._dynamo', 'torch._inductor')) for m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.split()[-2:] == ["True", "False"]
