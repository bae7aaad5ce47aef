"""Multi-agent PPO over a PettingZoo ``ParallelEnv``: independent PPO and MAPPO, after CleanRL.

``train_mappo(make_parallel_env, MAPPOConfig(...), out_dir)`` trains one policy per
agent (one per stocking node in :func:`rl.parallel_env`) on the team reward and
writes to *out_dir* what :func:`rl.ppo.train` writes (``checkpoint.pt``,
``progress.csv``, ``config.json``, ``learning_curve.png``).  ``load_mappo(out_dir)``
gives back a :class:`MAPPOPolicy` (per-agent observations in, per-agent actions out)
and :func:`evaluate_mappo` scores it episode by episode against
:func:`des_supply.evaluate.simulate` (episode k of seed s = replication k of seed s).

Continuous time: on a semi-Markov parallel env (``metadata["semi_markov"]``:
:class:`rl.multi_agent.SemiMarkovParallelEnv`) ``discount="auto"`` (or ``"time"``)
discounts step t by ``gamma ** dt_t`` (``infos[agent]["dt"]``; gamma per unit time) in
GAE, in the decision GAE of agents that skip steps and in the truncation bootstrap, as
:mod:`rl.ppo` does; periodic envs keep one gamma per step, bit for bit as before.

Variants (``MAPPOConfig.variant``)
    ``"ippo"``   independent PPO: agent k has an actor π_k(a | o_k) and a critic V_k(o_k)
                 on its own observation; advantages A_k from V_k and the team reward.
    ``"mappo"``  centralised critic, decentralised execution (Yu et al. 2022): actors
                 π_k(a | o_k) as above, one critic V(s) on the global state ``env.state()``
                 predicting the team value; every agent's advantage is the team
                 advantage A(s_t) from that critic.
    With ``share_actor=True`` agents whose observation and action spaces are equal
    share one actor (and, under ``"ippo"``, one critic), whose input is the agent's
    observation followed by a one-hot of its index in that group.

Timescales (two-timescale rule)
    Iterations are numbered i = 1, 2, ...; each collects ``n_envs * n_steps`` joint
    steps.  The critic(s) update at *every* iteration with ``critic_learning_rate``
    (default ``learning_rate``) for ``n_epochs`` epochs.  Actor k updates only at
    iterations with ``i % m_k == 0``, ``m_k = agent_update_periods[k]`` (default 1),
    for ``e_k = agent_epochs[k]`` epochs (default ``n_epochs``) on that iteration's
    rollout, with learning rate ``lr_k(i) = agent_learning_rates[k] * f(i)`` (default
    ``learning_rate``; ``f(i) = 1 - (i - 1) / iterations`` if ``anneal_lr``, else 1).
    So a slow agent (large m_k, small lr_k) looks quasi-static to fast ones, and the
    critic tracks the current joint policy fastest of all; the usual choice is
    ``lr_slow / m_slow << lr_fast / m_fast``.  A rollout is used only by the actors that
    update at its iteration, so it is on-policy for each of them (the other agents'
    policies are part of its environment).  Agents that share an actor must share
    these settings.

    This is two-timescale stochastic approximation (Borkar 1997; Konda & Tsitsiklis
    2003): if a fast iterate moves with step sizes a_n and a slow one with b_n, where
    Σ a_n = Σ b_n = ∞, Σ (a_n² + b_n²) < ∞ and b_n / a_n → 0, the fast one tracks its
    equilibrium given the slow one as if that were frozen, and the slow one follows the
    ODE driven by that equilibrium, so the pair converges (to a local equilibrium of
    that ODE) where two coupled learners at one speed may chase each other.  Here the
    ratio (lr_slow / m_slow) / (lr_fast / m_fast) is a constant (annealing scales every
    rate by the same f(i)), so the separation is approximate: the smaller the ratio, the
    closer to the theory and the slower the slow agent learns.

Decision periods (multi-timescale decisions)
    An env may let agent k's action take effect only at some steps (in Han et al. 2025,
    "Closing the Loop: Coordinating Inventory and Recommendation via Deep RL on Multiple
    Timescales", replenishment acts every few periods, recommendation every period).
    After reset and after every step ``infos[k]["acting"]`` says whether k's *next*
    action takes effect; a missing key means it does (:mod:`rl.mappo_buffers`).  With
    ``acting_masks`` (the default) the runner stores these flags c^k_t with every
    transition, and:

    * Actor k (both variants): the clipped surrogate, entropy bonus, per-minibatch
      advantage normalisation and approx_kl / clipfrac use only its steps with
      c^k_t = 1 (split into the usual ``n_minibatches``).  Where k does not act its
      action changes nothing, so Q(s_t, a^k_t) = V(s_t) and the term
      ∇ log π_k(a^k_t | o^k_t) Â_t has expectation zero: dropping it keeps the policy
      gradient unbiased and removes its noise.
    * ``"ippo"``: critic V_k learns at every step, but its GAE runs over k's decisions
      as a semi-MDP (:func:`rl.mappo_buffers.decision_gae`): λ is applied only on
      entering one of k's decision steps (λ_t = 1 in between), so at a decision step t
      whose next decision is τ steps later

          A^k_t = Σ_{l<τ} γ^l r_{t+l} + γ^τ V_k(o_{t+τ}) − V_k(o_t) + γ^τ λ A^k_{t+τ}:

      rewards between decisions accumulated, discount γ^τ over the τ periods.  This is
      right because k's actions between its decisions have no effect: for k the
      process moves from decision to decision (an SMDP whose environment includes the
      other agents), and with the true V_k, E[Σ_{l<τ} γ^l r_{t+l} + γ^τ V_k(o_{t+τ}) |
      o_t, a^k_t] = Q_k(o_t, a^k_t), so the SMDP TD error (and its λ-mix) estimates k's
      advantage as the one-step TD error does in an MDP.  At the steps in between,
      A_t + V_k(o_t) is the discounted return to the next decision plus that
      decision's λ-return, a valid target for V_k there; so the critic still learns
      at every step, and truncations and rollout ends bootstrap per step as before.
      o_k should show the phase in the cycle (e.g. t mod p_k), or V_k averages over it.
    * ``"mappo"``: the centralised critic learns the team value V(s_t) at every step
      with ordinary per-step GAE, and agent k's advantage at its decision step t is the
      team GAE A(s_t): with the true V an unbiased estimate of the joint action's
      advantage, hence (averaged over the others' actions) of k's, as in MAPPO.

    ``acting_masks=False`` treats every step as a decision of every agent (an ablation).

How decision periods and learning timescales combine
    They are independent knobs.  The decision period p_k (the env's) says *which*
    transitions carry agent k's gradient: about B / p_k of the B = n_envs * n_steps
    joint steps of a rollout, split into the same number of minibatches, so every
    actor takes the same number of gradient steps per update whatever its period (a
    slow decider gets smaller, noisier minibatches; raise n_steps if they get too
    small).  The update period m_k and rate lr_k say how fast its actor moves (about
    lr_k / m_k per iteration).  Han et al. give the agents learning speeds by task:
    the fast recommendation agent a higher learning rate and an update every
    iteration, the slow replenishment agent a lower learning rate; here, for example
    (illustrative values), ``agent_learning_rates={"recommendation": 3e-4,
    "replenishment": 3e-5}`` and optionally ``agent_update_periods={"replenishment": 2}``
    put the slow decider on the slow learning timescale too.

Everything else follows :mod:`rl.ppo`: truncations bootstrap from V(final observation /
final state) (:func:`rl.buffers.compute_gae`), observations (and the state) are
normalised by running means (``norm_obs``), rewards scaled by ``reward_scale`` and
optionally ``norm_reward``, seeding and exact resume as described there (episode
``k`` of copy ``i`` is reset with a seed from ``SeedSequence(seed, spawn_key=(i, k))``;
a checkpoint holds each copy's joint actions since its last reset and resuming
replays them).  See :mod:`rl.mappo_buffers` for the episode conventions.  Two
additions: ``norm_value`` (on by default, as in the MAPPO paper) lets the critics
regress normalised targets, since team costs make returns large and all negative, and
``log_std_init`` sets the initial exploration of Box actions.

progress.csv has the columns of :mod:`rl.ppo` (episode returns are sums of the raw
team reward; ``learning_rate`` is the critic's; actor statistics are averaged over the
actors that updated) and, per agent, ``<agent>/policy_loss``, ``/entropy``,
``/approx_kl``, ``/clipfrac``, ``/learning_rate``, ``/updated`` (1 if its actor
updated at that iteration), under ``"ippo"`` ``/value_loss`` and
``/explained_variance``, and ``/acting_fraction`` (the share of the rollout's steps at
which its action took effect).

Example (the settings of the learning check in ``tests/rl/test_mappo.py``)::

    make = lambda: rl.parallel_env("owmr", action_mode="base-stock", periods=200)
    config = MAPPOConfig(total_steps=100_000, n_envs=4, n_steps=256, gamma=0.9,
                         learning_rate=1e-3, log_std_init=-1.0, reward_scale=1 / 157.5,
                         agent_update_periods={"warehouse": 2})
    train_mappo(make, config, "runs/owmr-mappo")
    costs = evaluate_mappo(load_mappo("runs/owmr-mappo"), make, seed=777, episodes=20)
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from tqdm import tqdm

from .buffers import CLIP_OBS, RunningMeanStd
from .evaluation import Evaluation
from .mappo_buffers import (
    TEAM,
    Actor,
    Critic,
    MultiAgentModel,
    MultiRollout,
    ParallelRunner,
    flatten_obs,
    group_agents,
)
from .networks import space_from_dict, space_to_dict
from .ppo import PPOConfig
from .training import (
    ProgressLog,
    anneal_fraction,
    episode_stats,
    load_checkpoint,
    plot_learning_curve,
    read_csv,
    restore_rngs,
    rng_states,
    save_checkpoint,
    seed_run,
    versions,
)

__all__ = [
    "MAPPOConfig",
    "MAPPOPolicy",
    "MAPPOResult",
    "MultiAgentModel",
    "evaluate_mappo",
    "load_mappo",
    "train_mappo",
]

CHECKPOINT_FORMAT = 1
VARIANTS = ("mappo", "ippo")
_ACTOR_STATS = ("policy_loss", "entropy", "approx_kl", "clipfrac")
_CRITIC_STATS = ("value_loss", "explained_variance")


@dataclass(frozen=True)
class MAPPOConfig(PPOConfig):
    """Hyperparameters of a multi-agent PPO run: those of :class:`rl.ppo.PPOConfig` plus the below.

    ``total_steps``, ``n_envs`` and ``n_steps`` count *joint* steps (one step of every
    agent); ``learning_rate`` is the default of every actor and of the critic.
    """

    variant: str = "mappo"
    """"mappo" (centralised critic on env.state()) or "ippo" (a critic per agent on its own obs)"""
    share_actor: bool = False
    """share an actor between agents with equal observation and action spaces (id one-hot)"""
    critic_learning_rate: float | None = None
    """Adam step size of the critic(s), updated every iteration; None: learning_rate"""
    agent_learning_rates: dict[str, float] | None = None
    """agent -> initial actor step size lr_k (missing agents: learning_rate)"""
    agent_update_periods: dict[str, int] | None = None
    """agent -> m_k: its actor updates at iterations i with i % m_k == 0 (missing agents: 1)"""
    agent_epochs: dict[str, int] | None = None
    """agent -> passes over the rollout when its actor updates (missing agents: n_epochs)"""
    norm_value: bool = True
    """critics predict values normalised by running statistics of their targets (MAPPO's
    value normalisation); value_loss is then on that scale"""
    acting_masks: bool = True
    """read infos[agent]["acting"]: train each actor on the steps where its action took
    effect and, under "ippo", run its critic's GAE over its decisions; False treats every
    step as a decision of every agent"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.variant not in VARIANTS:
            raise ValueError(f"variant(={self.variant!r}) must be one of {', '.join(VARIANTS)}")
        if self.average_cost:
            raise ValueError(
                "average_cost=True is rl.ppo's option; MAPPO trains on discounted returns "
                "(gamma per step, or per unit time on semi-Markov envs)"
            )
        if self.critic_learning_rate is not None and not self.critic_learning_rate > 0:
            raise ValueError(f"critic_learning_rate(={self.critic_learning_rate}) must be > 0")
        for name, cast in (
            ("agent_learning_rates", float),
            ("agent_update_periods", int),
            ("agent_epochs", int),
        ):
            value = getattr(self, name)
            if value is None:
                continue
            table = {str(k): cast(v) for k, v in dict(value).items()}
            bad = {k: v for k, v in table.items() if not v > 0}
            if bad:
                raise ValueError(f"{name}: values must be > 0, got {bad}")
            object.__setattr__(self, name, table)

    def learning_rate_of(self, agent: str) -> float:
        return (self.agent_learning_rates or {}).get(agent, self.learning_rate)

    def update_period_of(self, agent: str) -> int:
        return (self.agent_update_periods or {}).get(agent, 1)

    def epochs_of(self, agent: str) -> int:
        return (self.agent_epochs or {}).get(agent, self.n_epochs)

    def check_agents(self, agents: Sequence[str]) -> None:
        """Raise ValueError if a per-agent table names an agent the env does not have."""
        for name in ("agent_learning_rates", "agent_update_periods", "agent_epochs"):
            unknown = sorted(set(getattr(self, name) or {}) - set(agents))
            if unknown:
                raise ValueError(
                    f"{name}: unknown agent(s) {', '.join(map(repr, unknown))} "
                    f"(agents: {', '.join(agents)})"
                )


# -- updates ------------------------------------------------------------------------------------


def _minibatches(rng: np.random.Generator, size: int, n_minibatches: int) -> list[torch.Tensor]:
    """A random split of range(size) into n_minibatches near-equal non-empty parts."""
    inds = torch.as_tensor(rng.permutation(size))
    return [mb for mb in torch.tensor_split(inds, n_minibatches) if mb.numel()]


def _update_actor(
    actor: Actor,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    actions: torch.Tensor,
    logprobs: torch.Tensor,
    advantages: torch.Tensor,
    epochs: int,
    config: MAPPOConfig,
    rng: np.random.Generator,
) -> dict[str, float]:
    """Clipped-surrogate epochs for one actor on its agents' samples (CleanRL's inner loop)."""
    sums, count = dict.fromkeys(_ACTOR_STATS, 0.0), 0
    for _epoch in range(epochs):
        for mb in _minibatches(rng, x.shape[0], config.n_minibatches):
            dist = actor.distribution(x[mb])
            logratio = dist.log_prob(actions[mb]) - logprobs[mb]
            ratio = logratio.exp()
            with torch.no_grad():
                approx_kl = ((ratio - 1) - logratio).mean()
                clipfrac = ((ratio - 1.0).abs() > config.clip_coef).float().mean()
            mb_adv = advantages[mb]
            if config.norm_adv and mb_adv.numel() > 1:
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
            clipped = torch.clamp(ratio, 1 - config.clip_coef, 1 + config.clip_coef)
            pg_loss = torch.max(-mb_adv * ratio, -mb_adv * clipped).mean()
            entropy = dist.entropy().mean()
            loss = pg_loss - config.ent_coef * entropy
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(actor.parameters(), config.max_grad_norm)
            optimizer.step()
            for key, value in zip(_ACTOR_STATS, (pg_loss, entropy, approx_kl, clipfrac)):
                sums[key] += value.item()
            count += 1
        if config.target_kl is not None and float(approx_kl) > config.target_kl:
            break
    return {key: total / count for key, total in sums.items()}


def _update_critic(
    critic: Critic,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    values: torch.Tensor,
    returns: torch.Tensor,
    config: MAPPOConfig,
    rng: np.random.Generator,
) -> dict[str, float]:
    """n_epochs of (optionally clipped) value regression on the GAE returns.

    With value normalisation the targets' running statistics are updated first and the
    loss is taken on the normalised scale (as in the MAPPO paper's code).
    """
    critic.update_scale(returns)
    mean, std = critic.scale()
    n_values, n_returns = (values - mean) / std, (returns - mean) / std
    total, count = 0.0, 0
    for _epoch in range(config.n_epochs):
        for mb in _minibatches(rng, x.shape[0], config.n_minibatches):
            new = critic.normalized(x[mb])
            if config.clip_vloss:
                delta = torch.clamp(new - n_values[mb], -config.clip_coef, config.clip_coef)
                v_loss = (
                    0.5
                    * torch.max(
                        (new - n_returns[mb]) ** 2, (n_values[mb] + delta - n_returns[mb]) ** 2
                    ).mean()
                )
            else:
                v_loss = 0.5 * ((new - n_returns[mb]) ** 2).mean()
            optimizer.zero_grad()
            (config.vf_coef * v_loss).backward()
            nn.utils.clip_grad_norm_(critic.parameters(), config.max_grad_norm)
            optimizer.step()
            total += v_loss.item()
            count += 1
    var = float(returns.var())
    ev = math.nan if var == 0 else 1.0 - float((returns - values).var()) / var
    return {"value_loss": total / count, "explained_variance": ev}


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


# -- training -----------------------------------------------------------------------------------


@dataclass
class MAPPOResult:
    """What :func:`train_mappo` returns."""

    model: MultiAgentModel
    policy: MAPPOPolicy
    config: MAPPOConfig
    out_dir: Path
    global_step: int
    history: list[dict[str, float]] = field(default_factory=list)  # the rows of progress.csv
    stopped_early: bool = False  # the callback asked to stop


def train_mappo(
    make_parallel_env: Callable[[], Any] | Sequence[Callable[[], Any]],
    config: MAPPOConfig | None,
    out_dir: str | os.PathLike[str],
    resume: bool | str | os.PathLike[str] | None = None,
    progress: bool = True,
    callback: Callable[[dict[str, float]], bool | None] | None = None,
) -> MAPPOResult:
    """Train multi-agent PPO and write checkpoint, CSV log, config and learning curve to *out_dir*.

    Parameters
    ----------
    make_parallel_env : callable or sequence of callables
        A thunk returning a fresh PettingZoo ``ParallelEnv`` (called ``n_envs`` times), or
        one thunk per copy.  ``"mappo"`` needs ``env.state()`` and ``env.state_space``.
    config : MAPPOConfig or None
        None means the checkpoint's configuration when resuming, the defaults otherwise.
        When resuming only total_steps, log_interval and checkpoint_interval may change.
    out_dir : path
        Output directory, created if missing; a fresh run overwrites what is there.
    resume : bool or path, optional
        True resumes from ``out_dir/checkpoint.pt``; a path resumes from that file.
    progress : bool
        Show a tqdm bar over joint environment steps.
    callback : callable, optional
        Called after every iteration with its metrics (the columns of progress.csv);
        returning False stops training after writing a checkpoint.

    Notes
    -----
    An entry point, so it holds the seeding block (as :func:`rl.ppo.train`): it seeds
    torch's global generator, switches on ``torch.use_deterministic_algorithms(True)``
    and sets the torch thread count unless ``config.torch_threads`` is 0.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config, checkpoint = load_checkpoint(resume, out, MAPPOConfig, config)
    config = config or MAPPOConfig()

    # TRY NOT TO MODIFY: seeding (rl.training.seed_run)
    rng = seed_run(config)  # minibatch permutations; envs are seeded per episode

    runner = ParallelRunner(make_parallel_env, config, use_state=config.variant == "mappo")
    agents = runner.agents
    config.check_agents(agents)
    groups = group_agents(
        agents, runner.observation_spaces, runner.action_spaces, config.share_actor
    )
    for members in groups:
        settings = {
            (config.learning_rate_of(a), config.update_period_of(a), config.epochs_of(a))
            for a in members
        }
        if len(settings) > 1:
            raise ValueError(
                f"agents {', '.join(members)} share an actor but not their learning "
                "rate, update period and epochs: make them equal or set "
                "share_actor=False"
            )
    model = MultiAgentModel(
        agents,
        runner.obs_dims,
        runner.action_spaces,
        groups,
        config.variant,
        runner.state_dim,
        config.hidden_sizes,
        config.activation,
        config.norm_value,
        config.log_std_init,
    )
    actor_opts = [
        torch.optim.Adam(a.parameters(), lr=config.learning_rate_of(m[0]), eps=1e-5)
        for a, m in zip(model.actors, groups)
    ]
    critic_lr = config.critic_learning_rate or config.learning_rate
    critic_opts = [torch.optim.Adam(c.parameters(), lr=critic_lr, eps=1e-5) for c in model.critics]
    iteration, global_step = 0, 0
    if checkpoint is None:
        runner.start()
    else:
        model.load_state_dict(checkpoint["model"])
        for opt, state in zip(actor_opts + critic_opts, checkpoint["optimizers"]):
            opt.load_state_dict(state)
        runner.load_state_dict(checkpoint["runner"])
        iteration, global_step = checkpoint["iteration"], checkpoint["global_step"]
        restore_rngs(checkpoint, rng)
    (out / "config.json").write_text(
        json.dumps(
            {
                "config": asdict(config),
                "agents": agents,
                "groups": [list(g) for g in groups],
                "versions": versions(),
            },
            indent=2,
        )
    )

    def save() -> None:
        state = {
            "format": CHECKPOINT_FORMAT,
            "config": asdict(config),
            "versions": versions(),
            "agents": list(agents),
            "groups": [list(g) for g in groups],
            "observation_spaces": {
                a: space_to_dict(s) for a, s in runner.observation_spaces.items()
            },
            "action_spaces": {a: space_to_dict(s) for a, s in runner.action_spaces.items()},
            "state_dim": runner.state_dim,
            "model": model.state_dict(),
            "optimizers": [opt.state_dict() for opt in actor_opts + critic_opts],
            "iteration": iteration,
            "global_step": global_step,
            **rng_states(rng),
            "runner": runner.state_dict(),
        }
        save_checkpoint(state, out)

    columns = [
        "global_step",
        "iteration",
        "episodes",
        "episodic_return_mean",
        "episodic_length_mean",
        *_CRITIC_STATS,
        *_ACTOR_STATS,
        "learning_rate",
        "sps",
    ]
    columns += [f"{a}/{s}" for a in agents for s in (*_ACTOR_STATS, "learning_rate", "updated")]
    if config.variant == "ippo":
        columns += [f"{a}/{s}" for a in agents for s in _CRITIC_STATS]
    columns += [f"{a}/acting_fraction" for a in agents]
    log = ProgressLog(out, columns, keep_up_to=global_step if checkpoint is not None else None)
    rollout = MultiRollout.empty(
        config.n_steps,
        config.n_envs,
        runner.obs_dims,
        {a: runner.layouts[a].width for a in agents},
        model.value_keys(),
        runner.state_dim,
        timed=runner.timed,
    )
    num_iterations, B = config.num_iterations, config.batch_size
    bar = tqdm(
        total=num_iterations * B,
        initial=global_step,
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
    )
    start_time, start_step, stopped = time.perf_counter(), global_step, False
    try:
        while iteration < num_iterations and not stopped:
            iteration += 1
            frac = anneal_fraction(iteration, num_iterations, config.anneal_lr)
            runner.collect(model, rollout)
            global_step += B
            with torch.no_grad():
                last = model.values(runner.next_obs, runner.next_state)
            last_acting = (
                {a: torch.as_tensor(f) for a, f in runner.acting.items()}
                if config.acting_masks
                else None
            )
            gae = rollout.advantages(last, config.gamma, config.gae_lambda, last_acting)
            row: dict[str, float] = {}
            for g, members in enumerate(groups):
                lr = config.learning_rate_of(members[0]) * frac
                updated = iteration % config.update_period_of(members[0]) == 0
                stats = dict.fromkeys(_ACTOR_STATS, math.nan)
                acting = torch.cat([rollout.acting[a].reshape(B) for a in members])
                if not config.acting_masks:
                    acting = torch.ones_like(acting)
                updated &= bool(acting.any())
                if updated:
                    actor_opts[g].param_groups[0]["lr"] = lr
                    x = torch.cat([model.inputs(a, rollout.obs[a].reshape(B, -1)) for a in members])
                    actions = torch.cat([rollout.actions[a].reshape(B, -1) for a in members])
                    logprobs = torch.cat([rollout.logprobs[a].reshape(B) for a in members])
                    adv = torch.cat(
                        [
                            gae[TEAM if config.variant == "mappo" else a][0].reshape(B)
                            for a in members
                        ]
                    )
                    if not bool(acting.all()):  # only the steps where the actions took effect
                        x, actions, logprobs, adv = (
                            x[acting],
                            actions[acting],
                            logprobs[acting],
                            adv[acting],
                        )
                    stats = _update_actor(
                        model.actor(g),
                        actor_opts[g],
                        x,
                        actions,
                        logprobs,
                        adv,
                        config.epochs_of(members[0]),
                        config,
                        rng,
                    )
                for a in members:
                    row.update({f"{a}/{k}": v for k, v in stats.items()})
                    row[f"{a}/learning_rate"], row[f"{a}/updated"] = lr, float(updated)
                    row[f"{a}/acting_fraction"] = (
                        float(rollout.acting[a].double().mean()) if config.acting_masks else 1.0
                    )
            critic_stats = []
            for c in range(len(model.critics)):
                critic = model.critic(c)
                critic_opts[c].param_groups[0]["lr"] = critic_lr * frac
                if config.variant == "mappo":
                    keys = [TEAM]
                    assert rollout.states is not None  # MAPPO's rollouts keep the state
                    x = rollout.states.reshape(B, -1)
                else:
                    keys = list(groups[c])
                    x = torch.cat([model.inputs(a, rollout.obs[a].reshape(B, -1)) for a in keys])
                values = torch.cat([rollout.values[k].reshape(B) for k in keys])
                returns = torch.cat([gae[k][1].reshape(B) for k in keys])
                stats = _update_critic(critic, critic_opts[c], x, values, returns, config, rng)
                critic_stats.append(stats)
                if config.variant == "ippo":
                    for a in keys:
                        row.update({f"{a}/{k}": v for k, v in stats.items()})

            row.update(
                {
                    "global_step": global_step,
                    "iteration": iteration,
                    **episode_stats(runner.finished),
                    **{k: _nanmean([s[k] for s in critic_stats]) for k in _CRITIC_STATS},
                    **{k: _nanmean([row[f"{a}/{k}"] for a in agents]) for k in _ACTOR_STATS},
                    "learning_rate": critic_lr * frac,
                    "sps": (global_step - start_step) / max(time.perf_counter() - start_time, 1e-9),
                }
            )
            if iteration % config.log_interval == 0 or iteration == num_iterations:
                log.write(row)
                runner.finished = []
            bar.update(B)
            if row["episodes"]:
                bar.set_postfix(ret=f"{row['episodic_return_mean']:.4g}")
            stopped = callback is not None and callback(row) is False
            if stopped or iteration == num_iterations or not iteration % config.checkpoint_interval:
                save()
    finally:
        bar.close()
        log.close()
        runner.close()
    history = read_csv(out / "progress.csv")
    plot_learning_curve(history, out / "learning_curve.png")
    model.eval()
    policy = MAPPOPolicy(model, runner.observation_spaces, runner.obs_rms)
    return MAPPOResult(model, policy, config, out, global_step, history, stopped)


# -- evaluation ---------------------------------------------------------------------------------


class MAPPOPolicy:
    """Trained actors as a joint policy: per-agent observations in, per-agent actions out.

    Applies each agent's training-time flattening and (frozen) observation normaliser.
    Execution is decentralised: agent k's action depends on its own observation only.

    Parameters
    ----------
    model : MultiAgentModel
    observation_spaces : mapping agent -> gymnasium.spaces.Space
    obs_rms : mapping agent -> RunningMeanStd, or None
    """

    def __init__(
        self,
        model: MultiAgentModel,
        observation_spaces: Mapping[str, spaces.Space[Any]],
        obs_rms: Mapping[str, RunningMeanStd] | None = None,
    ) -> None:
        self.model, self.observation_spaces = model, dict(observation_spaces)
        self.obs_rms = dict(obs_rms) if obs_rms is not None else None
        self.agents = list(model.agents)

    def __call__(
        self, observations: Mapping[str, Any], deterministic: bool = True
    ) -> dict[str, Any]:
        """Actions of the agents in *observations*: the mode if *deterministic*, else sampled."""
        actions = {}
        with torch.no_grad():
            for agent, obs in observations.items():
                flat = flatten_obs(self.observation_spaces[agent], obs)[None]
                if self.obs_rms is not None:
                    flat = self.obs_rms[agent].normalize(flat, CLIP_OBS)
                dist = self.model.distribution(agent, torch.as_tensor(flat, dtype=torch.float32))
                row = dist.mode() if deterministic else dist.sample()
                layout = self.model.actor(self.model.group_of[agent]).layout
                actions[agent] = layout.to_single(row.numpy()[0])
        return actions

    act = __call__


def load_mappo(path: str | os.PathLike[str]) -> MAPPOPolicy:
    """The joint policy saved by :func:`train_mappo` in *path* (an out_dir or a checkpoint file)."""
    path = Path(path)
    state = torch.load(path / "checkpoint.pt" if path.is_dir() else path, weights_only=True)
    config = MAPPOConfig(**state["config"])
    agents = state["agents"]
    obs_spaces = {a: space_from_dict(state["observation_spaces"][a]) for a in agents}
    action_spaces = {a: space_from_dict(state["action_spaces"][a]) for a in agents}
    obs_dims = {a: int(spaces.flatdim(s)) for a, s in obs_spaces.items()}
    model = MultiAgentModel(
        agents,
        obs_dims,
        action_spaces,
        state["groups"],
        config.variant,
        state["state_dim"],
        config.hidden_sizes,
        config.activation,
        config.norm_value,
        config.log_std_init,
    )
    model.load_state_dict(state["model"])
    model.eval()
    obs_rms = None
    if state["runner"]["obs_rms"] is not None:
        obs_rms = {}
        for a in agents:
            obs_rms[a] = RunningMeanStd((obs_dims[a],))
            obs_rms[a].load_state_dict(state["runner"]["obs_rms"][a])
    return MAPPOPolicy(model, obs_spaces, obs_rms)


def evaluate_mappo(
    policy: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    make_parallel_env: Callable[[], Any],
    seed: int,
    episodes: int,
    *,
    name: str = "mappo",
    progress: bool = False,
) -> Evaluation:
    """Mean cost (or profit) per period of *policy* on episodes k = 0 .. episodes - 1 of *seed*.

    Episode k runs on the demand and lead-time draws of replication k of
    ``des_supply.evaluate.simulate(network, ..., periods=env.periods, seed=seed,
    replications=episodes)``, and its value is computed as simulate computes it (from
    the engine's ledger, so reward wrappers do not change it): the two pair episode by
    episode (:func:`rl.evaluation.paired`).

    Parameters
    ----------
    policy : callable
        Per-agent observations -> per-agent actions (a :class:`MAPPOPolicy`, or any callable).
    make_parallel_env : callable
        Builds the (possibly wrapped) :class:`rl.multi_agent.InventoryParallelEnv`.
    """
    env = make_parallel_env()
    base = env.unwrapped
    if not hasattr(base, "runner"):
        raise TypeError(
            f"evaluate_mappo needs an InventoryParallelEnv (possibly wrapped), "
            f"got {type(base).__name__}"
        )
    values = []
    for k in tqdm(range(episodes), desc=f"evaluate {name}", disable=not progress, leave=False):
        obs, _ = env.reset(seed=seed, options={"episode": k})
        while env.agents:
            obs, *_ = env.step(policy(obs))
        values.append(float(base.runner.sim.ledger().objective_series().mean()))
    env.close()
    return Evaluation.of(name, np.array(values))
