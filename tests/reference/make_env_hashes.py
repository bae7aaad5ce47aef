"""SHA-1 hashes of env streams: the reference that env and engine speed-ups must not change.

Every observation, reward, flag and info entry (floats by their bits, arrays by dtype,
shape and bytes) of random-action episodes, for:

* ``ids``: every registered Gymnasium id (two episodes each, the second without a seed);
* ``scenarios``: every registered periodic scenario through :func:`rl.make_env`, in every
  action mode, continuous and discrete actions, plus convention variants (sequential
  decisions, order-after-demand, ship-before-receipt) and the preset wrappers;
* ``agents``: the PettingZoo parallel and AEC envs on the scenarios without a market;
* ``vector``: :func:`rl.wrappers.make_vector_env` with 4 sub-envs;
* ``random``: random networks drawn by the hypothesis strategies of ``tests/strategies.py``
  (pickled at ``record``, so that ``check`` runs the very same networks).

Usage::

    python tests/reference/make_env_hashes.py record /tmp/env_ref   # before a change
    python tests/reference/make_env_hashes.py check /tmp/env_ref    # after it

``check`` exits 1 and names the cases whose streams changed.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository (the packages)
sys.path.append(str(HERE.parent))  # tests/strategies.py

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import rl  # noqa: E402
import scenarios  # noqa: E402
from rl.multi_agent import aec_env, parallel_env  # noqa: E402
from rl.wrappers import make_vector_env  # noqa: E402
from scenarios.gym_ids import ENV_IDS, register_envs  # noqa: E402

register_envs()

PERIODS = 40
STEPS = 100  # steps per case (episodes of PERIODS periods: resets in between)
RANDOM_CASES = 80
MODES = ("quantity", "base-stock", "capped-base-stock")
VARIANTS = (
    ("serial", {"decisions": "sequential"}),
    ("single-stage", {"lead_time": 0}),
    ("single-stage", {"shortage": "backlog"}),
    ("beer-game", {}),
)


def feed(h: Any, x: Any) -> None:
    """Feed *x* to the hash *h*: floats by their bits, arrays by dtype, shape and bytes."""
    if isinstance(x, np.ndarray):
        h.update(f"a{x.dtype.str}{x.shape}".encode())
        h.update(np.ascontiguousarray(x).tobytes())
    elif isinstance(x, (float, np.floating)):
        h.update(f"f{type(x).__name__}{float(x).hex()}".encode())
    elif isinstance(x, dict):
        h.update(b"{")
        for k in sorted(x, key=repr):
            feed(h, k)
            feed(h, x[k])
        h.update(b"}")
    elif isinstance(x, (list, tuple)):
        h.update(b"[")
        for v in x:
            feed(h, v)
        h.update(b"]")
    else:
        h.update(f"{type(x).__name__}:{x!r}".encode())


def env_stream(env: gym.Env, seed: int, steps: int = STEPS) -> str:
    """Hash of *steps* random-action steps of *env* (reset at each truncation)."""
    h = hashlib.sha1()
    env.action_space.seed(seed)
    feed(h, env.reset(seed=seed))
    for _ in range(steps):
        out = env.step(env.action_space.sample())
        feed(h, out)
        if out[2] or out[3]:
            feed(h, env.reset())
    return h.hexdigest()


def parallel_stream(env: Any, seed: int, steps: int = STEPS) -> str:
    h = hashlib.sha1()
    for i, a in enumerate(env.possible_agents):
        env.action_space(a).seed(seed + i)
    feed(h, env.reset(seed=seed))
    for _ in range(steps):
        if not env.agents:
            feed(h, env.reset())
        out = env.step({a: env.action_space(a).sample() for a in env.agents})
        feed(h, out)
    return h.hexdigest()


def aec_stream(env: Any, seed: int, steps: int = STEPS) -> str:
    h = hashlib.sha1()
    for i, a in enumerate(env.possible_agents):
        env.action_space(a).seed(seed + i)
    env.reset(seed=seed)
    for _ in range(steps):
        if not env.agents:
            env.reset()
        agent = env.agent_selection
        obs, reward, terminated, truncated, info = env.last()
        feed(h, (agent, obs, reward, terminated, truncated, info))
        action = None if terminated or truncated else env.action_space(agent).sample()
        env.step(action)
    return h.hexdigest()


def vector_stream(env: Any, seed: int, steps: int = STEPS) -> str:
    h = hashlib.sha1()
    env.action_space.seed(seed)
    feed(h, env.reset(seed=seed))
    for _ in range(steps):
        feed(h, env.step(env.action_space.sample()))
    env.close()
    return h.hexdigest()


def _safe(make: Callable[[], Any], run: Callable[[Any], str]) -> str:
    """The stream hash, or the error a build or a step raises (part of the behaviour too)."""
    try:
        env = make()
    except (TypeError, ValueError) as err:
        return f"error: {type(err).__name__}: {err}"
    try:
        return run(env)
    except (TypeError, ValueError) as err:  # e.g. one number for a "choice" node
        return f"error in a step: {type(err).__name__}: {err}"


def cases() -> dict[str, Callable[[], str]]:
    """Label -> a thunk that returns the case's hash."""
    from scenarios.presets import make_thunk, preset

    out: dict[str, Callable[[], str]] = {}
    for env_id in sorted(ENV_IDS):
        for seed in (0, 1):
            out[f"id|{env_id}|{seed}"] = lambda env_id=env_id, seed=seed: _safe(
                lambda: gym.make(env_id).unwrapped, lambda e: env_stream(e, seed)
            )
    labels = [(n, {}) for n in scenarios.names()]
    labels += [v for v in VARIANTS if v not in labels]
    for name, params in labels:
        problem = scenarios.make(name, **params)
        if problem.network.time != "periodic":
            continue
        label = f"{name}{json.dumps(params, sort_keys=True) if params else ''}"
        for mode in MODES:
            for discrete in (False, True):
                if discrete and problem.network.continuous:
                    continue
                kw = {"periods": PERIODS, "action_mode": mode, "discrete": discrete}
                out[f"scenario|{label}|{mode}|{discrete}"] = lambda p=problem, kw=kw: _safe(
                    lambda: rl.make_env(p, **kw), lambda e: env_stream(e, 3)
                )
        if problem.market is None:
            out[f"parallel|{label}"] = lambda p=problem: _safe(
                lambda: parallel_env(p, periods=PERIODS), lambda e: parallel_stream(e, 4)
            )
            out[f"aec|{label}"] = lambda p=problem: _safe(
                lambda: aec_env(p, periods=PERIODS, action_mode="base-stock"),
                lambda e: aec_stream(e, 5),
            )
    for name in ("single-stage", "serial"):
        problem = scenarios.make(name)
        spec = preset(problem)[1]
        if spec is not None:
            out[f"preset|{name}"] = lambda p=problem, s=spec: env_stream(make_thunk(p, s)(), 6)
        out[f"vector|{name}"] = lambda p=problem: vector_stream(
            make_vector_env(p, 4, periods=PERIODS), 7
        )
    return out


def draw_random_cases(n: int = RANDOM_CASES) -> list[tuple[Any, str, bool, int]]:
    """*n* (network, action mode, discrete, seed) drawn deterministically by hypothesis."""
    from hypothesis import strategies as st
    from strategies import draw_examples, networks

    def one(data: Any) -> tuple[Any, str, bool, int]:
        net = data.draw(networks(conventions=data.draw(st.booleans())))
        mode = data.draw(st.sampled_from(MODES))
        discrete = data.draw(st.booleans()) and not net.continuous
        return net, mode, discrete, data.draw(st.integers(0, 2**32 - 1))

    return draw_examples(n, one)


def random_hashes(drawn: list[tuple[Any, str, bool, int]]) -> list[str]:
    out = []
    for net, mode, discrete, seed in drawn:
        kw = {"periods": 15, "action_mode": mode, "discrete": discrete}
        out.append(
            _safe(
                lambda net=net, kw=kw: rl.make_env(net, **kw),
                lambda e, seed=seed: env_stream(e, seed % 2**31, steps=35),
            )
        )
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("record", "check"):
        print(__doc__)
        return 2
    folder = Path(argv[1])
    if argv[0] == "record":
        folder.mkdir(parents=True, exist_ok=True)
        drawn = draw_random_cases()
        (folder / "random_envs.pkl").write_bytes(pickle.dumps(drawn))
        ref = {"cases": {k: f() for k, f in cases().items()}, "random": random_hashes(drawn)}
        (folder / "env_hashes.json").write_text(json.dumps(ref, indent=1, sort_keys=True))
        errors = sum(v.startswith("error") for v in ref["cases"].values())
        print(
            f"recorded {len(ref['cases'])} cases ({errors} refused at construction) and "
            f"{len(drawn)} random networks"
        )
        return 0
    ref = json.loads((folder / "env_hashes.json").read_text())
    drawn = pickle.loads((folder / "random_envs.pkl").read_bytes())
    thunks = cases()
    now = {k: thunks[k]() for k in ref["cases"] if k in thunks}
    bad = [k for k, v in ref["cases"].items() if now.get(k) != v]
    bad += [
        f"random #{i}: {drawn[i][0].name}"
        for i, (a, b) in enumerate(zip(ref["random"], random_hashes(drawn)))
        if a != b
    ]
    for b in bad:
        print("CHANGED", b)
    total = len(ref["cases"]) + len(drawn)
    print(f"{total} env streams: " + (f"{len(bad)} changed" if bad else "all identical"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
