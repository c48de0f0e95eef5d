"""Gymnasium-style docstrings for every env class, completed from shared pieces.

A task documents itself as gymnasium's own envs do (``gymnasium/envs/classic_control/
cartpole.py``): a summary, then the sections ``## Description``, ``## Action Space``,
``## Observation Space``, ``## Rewards``, ``## Starting State`` and ``## Episode End``. A variant
(a subclass of another task) writes its summary and only the sections in which it differs.
``Task.__init_subclass__`` (core.py) fills in the other sections from the parent and appends
``## Arguments``, generated from the task's parameter table, so the parameters that ``help()``
lists are always the ones the code accepts; the env adapters copy the result. The pages under
``docs/envs/`` are built from the same pieces by ``docs/make_env_docs.py``.
"""
from __future__ import annotations

import inspect
import math
import re
import textwrap
from typing import Mapping

from .params import Param

SECTIONS = ("Description", "Action Space", "Observation Space", "Rewards", "Starting State", "Episode End")
ARGUMENTS = "Arguments"
WIDTH = 96  # wrap generated lines like the hand-written ones


def parse(doc: str | None) -> tuple[str, dict[str, str]]:
    """(summary, {heading: text}) of a docstring: the summary is the text before the first
    ``## `` heading, each section the text up to the next one."""
    parts = re.split(r"^## +(.+?)[ \t]*$", inspect.cleandoc(doc or ""), flags=re.M)
    return parts[0].strip(), {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}


def merge(inherited: Mapping[str, str], own: Mapping[str, str]) -> dict[str, str]:
    """The sections of a variant: its own over its parent's, the standard ones first, in order."""
    merged = {**inherited, **own}
    merged.pop(ARGUMENTS, None)  # always generated
    ordered = {k: merged[k] for k in SECTIONS if k in merged}
    return ordered | {k: v for k, v in merged.items() if k not in SECTIONS}


def render(summary: str, sections: Mapping[str, str]) -> str:
    return "\n\n".join([summary] + [f"## {name}\n{body}" for name, body in sections.items()]) + "\n"


# --- reset parameters as text ----------------------------------------------------------------------

def number(x) -> str:
    """A bound or default as a reader writes it: 3.0 -> 3.0, 1e6 -> 1e6, 10**9 -> 1e9."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return repr(x)
    if abs(x) >= 10**6 and float(abs(x)) == 10.0 ** round(math.log10(abs(x))):
        return ("-" if x < 0 else "") + f"1e{round(math.log10(abs(x)))}"
    return repr(x)


def default_text(p: Param) -> str:
    if isinstance(p.default, list):
        return "[" + ", ".join(number(v) for v in p.default) + "]"
    return number(p.default)


def type_text(p: Param) -> str:
    return p.kind.__name__


def range_text(p: Param) -> str:
    """The allowed values of one value: ``[low, high]``, ``>= low``, ``<= high`` or ``any``."""
    if p.kind is bool:
        return "True / False"
    return p.bounds(number) or "any"


def param_line(name: str, p: Param) -> str:
    """``name`` = default (type in range[, or a list of such values]): meaning."""
    kind = {bool: "a bool", int: "an int", float: "a number"}[p.kind]
    allowed = kind if p.kind is bool else f"{kind} in {range_text(p)}"
    if p.sampled:
        allowed += ", or a list of them, one drawn per episode"
    return f"* ``{name}`` = {default_text(p)} ({allowed}): {p.doc}"


def arguments(env_id: str, params: Mapping[str, Param], vector: bool = False) -> str:
    """The generated ``## Arguments`` section: the constructor and every reset parameter."""
    if vector:
        head = (f'``gym.make_vec("{env_id}", num_envs=1, render_mode=None, '
                f'autoreset_mode=AutoresetMode.NEXT_STEP, **params)``. ``render_mode``: None, '
                '"rgb_array" (a tuple of the observation images) or "debug_rgb_array" (a tuple of '
                "336x336 views with the hidden things drawn). ``params`` are reset parameters: given "
                "here they are the defaults of every episode of every env; ``reset(seed=None, "
                'options={...})`` overrides them for the next episode of the envs it resets.')
    else:
        head = (f'``gym.make("{env_id}", render_mode=None, **params)``. ``render_mode``: None, '
                '"rgb_array" (the observation image), "debug_rgb_array" (a 336x336 view with the '
                'hidden things drawn) or "human" (a window showing that view). ``params`` are reset '
                "parameters: given here they become this env's defaults; ``reset(seed=None, "
                "options={...})`` overrides them for one episode.")
    head += (" A bad key or value raises ``ValueError`` naming it and what is allowed. Reset "
             "parameters, ``name`` = default (allowed values): meaning:")
    lines = textwrap.wrap(head, WIDTH) + [""]
    for name, p in params.items():
        lines += textwrap.wrap(param_line(name, p), WIDTH, subsequent_indent="  ")
    return "\n".join(lines)


# --- the whole documentation of an env class -------------------------------------------------------

VECTOR = "Vector Env"
VECTOR_ENV = """\
``gym.make_vec(id, num_envs=N)`` returns the id's native vector env: N envs of the task stepped as
one batch in this process (the task holds their state as arrays: no N env objects, no
subprocesses). It steps exactly like ``gym.make_vec(id, num_envs=N, vectorization_mode="sync")``,
N single envs.

* Spaces: ``single_observation_space`` and ``single_action_space`` are the single env's;
  ``observation_space`` and ``action_space`` have a leading axis of N (a Dict: each key).
  ``step(actions)`` takes N actions and returns N observations, rewards (float64),
  ``terminated`` and ``truncated`` flags (bool) and the infos.
* Seeding: ``reset(seed=s)`` seeds env i with s + i (as ``SyncVectorEnv`` does); a list of N seeds
  (ints or None) seeds each env; ``reset()`` and the autoresets continue each env's own stream.
* ``reset(options={...})``: reset parameters for the next episode of the envs it resets (later
  autoresets use the defaults again), and ``"reset_mask"``: a bool array of shape (N,) choosing
  the envs to reset (the others go on).
* ``autoreset_mode``: ``NEXT_STEP`` (default): the step after an env's episode ended resets it
  (its action is ignored, reward 0, ``terminated`` and ``truncated`` False) and returns the new
  episode's first observation. ``SAME_STEP``: an env whose episode ends is reset within that
  step, which returns the new episode's first observation; the last one is in
  ``info["final_obs"]``, the ending step's infos in ``info["final_info"]``. ``DISABLED``: ended envs
  must be reset with ``reset(options={"reset_mask": mask})`` before the next step (else
  ``gymnasium.error.ResetNeeded``).
* Infos in gymnasium's vector format: each key holds an array of N values and ``info["_key"]`` a
  bool mask of the envs that report it. Every reset and step carries the keys the single env
  reports on every step (e.g. ``ground_truth``); the final-step statistics (listed under Episode
  End) appear for the envs whose episode ended in that step (``SAME_STEP``: inside
  ``final_info``).
* ``render()`` returns a tuple of N images."""


def env_sections(task, vector: bool = False) -> dict[str, str]:
    """Every section of the documentation of ``task``'s env (or vector env) class."""
    sections = dict(task.doc_sections)
    if vector:
        sections[VECTOR] = VECTOR_ENV
    sections[ARGUMENTS] = arguments(task.env_id, task.params, vector)
    return sections


def env_doc(task, vector: bool = False) -> str:
    summary = task.doc_summary
    if vector:
        summary += (f'\n\nBatched: ``gym.make_vec("{task.env_id}", num_envs=N)`` steps N such envs as one '
                    f"(see Vector Env).")
    return render(summary, env_sections(task, vector))
