"""Write the environment pages under docs/envs/ from the code.

    python docs/make_env_docs.py           # rewrite the pages
    python docs/make_env_docs.py --check   # exit 1, naming the pages, if a committed page is stale

One page per family of envs (Mortar Mayhem, Mystery Path, Searing Spotlights, ProofofMemory) and
an index. Everything that describes an id comes from the code: the rules, spaces, rewards and
episode ends from the env classes' docstrings (``memory_gym_envs/docstrings.py`` explains their
sections), the reset parameter tables from each task's ``params`` declaration
(``memory_gym_envs/params.py``: ``Param``). Only the family introductions and the differences
from the original suite are written here. So a changed parameter or docstring shows up in the
pages when this script runs, and ``--check`` (run by ``tests/test_env_docs.py``) fails until it
has run.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the package of this checkout, not an installed copy

import memory_gym_envs  # noqa: E402
from memory_gym_envs import docstrings  # noqa: E402
from memory_gym_envs.params import Param  # noqa: E402

OUT = ROOT / "docs" / "envs"
PAPER = ("Pleines, Pallasch, Zimmer, Preuss: *Memory Gym: Towards Endless Tasks to Benchmark Memory "
         "Capabilities of Agents*, JMLR 26(6), 2025 ([arXiv:2309.17207](https://arxiv.org/abs/2309.17207))")
ORIGINAL = "https://github.com/MarcoMeter/endless-memory-gym"


@dataclass(frozen=True)
class Family:
    title: str
    module: str  # memory_gym_envs.<module>: the ids registered from it; the page is <module>.md
    intro: str
    differences: str


FAMILIES = [
    Family(
        "Mortar Mayhem", "mortar_mayhem",
        intro=f"""\
The agent is shown a sequence of commands (move right, down, left, up, stay, or diagonally), one
at a time, and must then carry them out from memory, one tile per command, each in a fixed time,
on an arena whose other tiles turn deadly after every move. It tests remembering a sequence and
recalling its items in order at the right moments. The endless variant turns this into "I packed
my bag": every round adds one command, and the whole sequence must be carried out again. Memory
Gym ({PAPER}) introduced the task; this package rebuilds the five ids of the original package
(`memory-gym` 1.0.2, [{ORIGINAL.removeprefix("https://github.com/")}]({ORIGINAL})).""",
        differences="""\
* Failing the *last* command is a failure: `success` is 0 and `commands_completed` counts only
  the commands carried out. The original (`memory_gym/mortar_mayhem.py` and its grid and B
  variants) reports success and `commands_completed` = 1.0 in that case, with the last reward
  missing.
* Endless Mortar Mayhem draws the agent where it is in every display frame, so a seed and a
  sequence of actions give the same observations in every episode of an env. The original
  (`memory_gym/endless_mortar_mayhem.py`) shows the previous episode's agent in display frames 1 to
  3 of every episode after the first.
* `info["ground_truth"]` (the target tile) on every step of every id; the original has it in the
  endless env only.
* `reward_new_command_success` (endless) comes from the original repository's code after release
  1.0.2; its default (0) leaves the rewards of 1.0.2 unchanged.
* Kept on purpose: the look, pixel for pixel (arena, red tiles, the agent's eight rotations, the
  nine command symbols including the off-centre diagonal arrows, the debug view;
  `tests/test_mortar_mayhem.py` compares our frames with the original's), the timings, the
  display of a round's new command over the still red tiles in the endless env, and the spawn
  jitter of `MortarMayhemB-v0` and the endless env."""),
    Family(
        "Mystery Path", "mystery_path",
        intro=f"""\
The agent must cross the screen on a path it cannot see: every step off the path sends it back to
the start, so it has to remember which tiles were on the path and which ways failed. The endless
variant chains such paths without end behind a scrolling camera. Memory Gym ({PAPER}) introduced
the task; this package rebuilds the three ids of the original package (`memory-gym` 1.0.2,
[{ORIGINAL.removeprefix("https://github.com/")}]({ORIGINAL})).""",
        differences="""\
* `reward_path_progress` defaults to 0.1 in `MysteryPath-v0`, as in the original's code
  (`memory_gym/mystery_path.py`); the original's README says 0.0.
* `agent_speed` is at most 12 px, one tile, per step, so that the agent cannot jump over a tile.
* `info["ground_truth"]` (the direction to the next path tile) also in the finite envs; the
  original has it in the endless env only.
* Endless: no segment steps west. About 0.2% of the original's segments
  (`memory_gym/endless_mystery_path.py`) do; the agent, which has no "left" action, cannot follow
  them and the episode dead-ends there. Such segments are drawn again here.
* Endless: `show_origin=True` draws the origin tile; the original never draws it.
* Endless: memory stays bounded however long an episode runs. An env keeps the segments around the
  agent; a segment is built from the episode's key and its index, so one that was dropped is
  rebuilt identically when a fall-off sends the agent back. Its tiles then count as visited: a
  tile the agent skipped through a shortcut (where a path touches itself) pays no progress reward
  later, where the original would pay it.
* Paths come from a random stream of each episode's key (so that the endless env can build its
  segments inside the compiled step): the same distribution of paths as the original's (lengths
  mean 10.1, min 7), not the same paths for a seed.
* Kept on purpose: the original's path search with its quirks (a randomised A*-like search whose
  open-list pick is not the minimum and which re-parents nodes without updating their cost,
  `memory_gym_envs/paths.py`), which makes the paths wind; the hidden origin and goal by default;
  in the endless env, the stamina refill on the origin's first visit as in 1.0.2; and the look,
  pixel for pixel (`tests/test_mystery_path.py` replays the original's episodes on their paths and
  compares the frames). Not offered: `reward_path_progress_dense` of the original's code after
  release 1.0.2."""),
    Family(
        "Searing Spotlights", "searing_spotlights",
        intro=f"""\
The scene is lit for a moment, then goes dark: the agent must remember where it is and where the
coin and the exit are, and steer by memory, while spotlights wander across the screen, hurt the
agent where they touch it and light up parts of the scene. The endless variant has no exit: one
coin after another, and ever more spotlights. Memory Gym ({PAPER}) introduced the task; this
package rebuilds the two ids of the original package (`memory-gym` 1.0.2,
[{ORIGINAL.removeprefix("https://github.com/")}]({ORIGINAL})).""",
        differences="""\
* Defaults are those of the original's code (`memory_gym/searing_spotlights.py`); the original's
  README lists the endless env's for `SearingSpotlights-v0`.
* `show_last_action=False` and `use_exit=False` work; they crash the original.
* `hide_chessboard` and `black_background` apply to the episode they are given for; in the
  original they stay in effect for every later episode of the env. With either one a hit has
  nothing to colour red; `black_background` wins if both are set.
* A finished spotlight leaves without side effects; the original skips the next spotlight's
  update for that step (a one-frame flicker).
* The agent is kept below the top bar from the reset on, and the reset observation shows its
  sampled facing; the original does both from the first step on.
* `reward_max_steps`, declared but unused in the original, is paid on the step the time limit
  ends the episode. `coin_enabled` (endless) comes from the original repository's code after
  release 1.0.2. `info["ground_truth"]` also in the finite env.
* Edge cases decided here: with `num_coins=0` the exit is open from the first step and
  `coins_collected` reads 1.0; dying on the step the exit is reached is not a success; when the
  coins and the exit leave no free pixel for the next spawn, any pixel is used.
* Kept on purpose: one new spotlight every 40 steps (the original's decaying schedule never runs;
  `decaying_spawn_interval=True` turns it on), the top bar's one-step lag, one damage per step
  however many spotlights touch the agent, and the look, pixel for pixel, including SDL's blend
  of the darkness (`tests/test_searing_spotlights.py` compares our frames with the original's)."""),
    Family(
        "ProofofMemory", "proof_of_memory",
        intro="""\
A task that a memory agent solves in seconds: the goal's side is shown at the start, then hidden.
A memory-less agent gets part of the way (the cue is still in sight at its first move): its best
policy returns 0.28 with success 0.70, against 1.2 and 1.0 with memory. It is not part of Memory
Gym; CleanRL's `ppo_trxl` example ([vwxyzjn/cleanrl](https://github.com/vwxyzjn/cleanrl)) uses a
task of this name to check that an agent's memory works, and this package offers it under the same
id so that such commands run unchanged. The training scripts' quick start and learning tests use it.""",
        differences="""\
* There is no original in Memory Gym. As every id of this package, `ProofofMemory-v0` has a native
  vector env, a reset parameter (`max_steps`), the render modes and the `ValueError`s for bad
  input described in the [index](README.md)."""),
]

COMMON_DIFFERENCES = """\
* The gymnasium 1.x API and its vector API (the original is pinned to gymnasium 0.29).
* Observations are images indexed `[y][x][channel]`. The original returns the transposed image,
  `[x][y][channel]`, from `reset` and `step` (its `render()` returns the usual layout).
* A time limit (`max_steps`) ends an episode with `truncated=True`; success, failure and death with
  `terminated=True`. The original reports every end as `terminated`.
* Reset parameters are accepted by `gym.make` as well as by `reset(options=...)`, and a bad key or
  value raises a `ValueError` naming it and what is allowed (the original raises
  `AssertionError`).
* A native batched vector env behind `gym.make_vec`. The original draws every env of a process on
  one global pygame display, and closing one env breaks the others, so it is batched in
  subprocesses.
* The same seeding contract as the original (a seed and the actions determine the episode), the
  same task distributions, but not the same random draws: a seed gives another episode than in the
  original."""


# --- text pieces -------------------------------------------------------------------------------------

def task_of(env_id: str):
    module, env_class, vector_class = memory_gym_envs.ENVS[env_id]
    m = importlib.import_module(f"memory_gym_envs.{module}")
    return getattr(m, env_class).task_class, env_class, vector_class


def family_ids(family: Family) -> list[str]:
    return [i for i, (module, *_) in memory_gym_envs.ENVS.items() if module == family.module]


def anchor(env_id: str) -> str:
    """GitHub's anchor of a ``## env_id`` heading."""
    return "#" + "".join(c for c in env_id.lower() if c.isalnum() or c in "-_ ").replace(" ", "-")


def space_text(space) -> str:
    """A space as one would write it: ``Box(0, 255, (84, 84, 3), uint8)``, ``MultiDiscrete([3, 3])``."""
    name = type(space).__name__
    if name == "Discrete":
        return f"Discrete({space.n})"
    if name == "MultiDiscrete":
        return f"MultiDiscrete({space.nvec.tolist()})"
    if name == "Box":
        low, high = space.low.flat[0].item(), space.high.flat[0].item()
        return f"Box({low}, {high}, {space.shape}, {space.dtype})"
    if name == "Dict":
        return "Dict(" + ", ".join(f"{k}={space_text(v)}" for k, v in space.spaces.items()) + ")"
    return str(space)


def cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|").replace("*", "\\*")


def param_table(params: dict[str, Param]) -> str:
    rows = ["| name | default | type | range | list | meaning |", "|---|---|---|---|---|---|"]
    for name, p in params.items():
        rows.append(f"| `{name}` | `{docstrings.default_text(p)}` | {docstrings.type_text(p)} | "
                    f"{cell(docstrings.range_text(p))} | {'yes' if p.sampled else 'no'} | {cell(p.doc)} |")
    return "\n".join(rows)


def markdown(text: str) -> str:
    """Docstring text as Markdown: ``code`` spans become `code`."""
    return text.replace("``", "`")


def generated_note(sources: str) -> str:
    return (f"*Generated by [`docs/make_env_docs.py`](../make_env_docs.py) from {sources}; edit those "
            f"and run `python docs/make_env_docs.py`, not this page.*")


# --- pages -------------------------------------------------------------------------------------------

def family_page(family: Family) -> str:
    ids = family_ids(family)
    source = f"memory_gym_envs/{family.module}.py"
    out = [f"# {family.title}", "",
           generated_note(f"the env classes' docstrings and reset parameter declarations in "
                          f"[`{source}`](../../{source})"), "",
           family.intro, "",
           "| id | actions | observations | classes (`gym.make` / `gym.make_vec`) |", "|---|---|---|---|"]
    for env_id in ids:
        task, env_class, vector_class = task_of(env_id)
        out.append(f"| [`{env_id}`]({anchor(env_id)}) | `{space_text(task.action_space)}` | "
                   f"`{space_text(task.observation_space)}` | `{env_class}` / `{vector_class}` |")
    out += ["", "Every id is a gymnasium env (`gym.make(id)`) and a native batched vector env "
            "(`gym.make_vec(id, num_envs=N)`); what they share (render modes, seeding, autoreset, "
            "infos, reset parameters) is on the [index](README.md). The same documentation, "
            "per id, is the env class's docstring: `help(gym.make(id).unwrapped)`."]
    base = None
    for env_id in ids:
        task, _, _ = task_of(env_id)
        out += ["", f"## {env_id}", "", markdown(task.doc_summary)]
        sections = task.doc_sections
        if base is None:
            base, shown = (env_id, sections), sections
        else:
            shown = {k: v for k, v in sections.items() if base[1].get(k) != v}
            same = [k for k in sections if k not in shown]
            if same:
                out += ["", f"{', '.join(same)}: as [`{base[0]}`]({anchor(base[0])})."]
        for name, body in shown.items():
            out += ["", f"### {name}", "", markdown(body)]
        out += ["", "### Reset parameters", "",
                f'`gym.make("{env_id}", name=value)` sets a parameter for every episode of the env, '
                '`reset(options={"name": value})` for one episode. "list": the parameter also takes '
                "a non-empty list of values, one of which is drawn per episode.", "",
                param_table(task.params)]
    out += ["", "## Differences from the original suite", "",
            "Besides those common to every family (see the "
            "[index](README.md#differences-from-the-original-suite)):",
            "", family.differences]
    return "\n".join(out) + "\n"


def index_page() -> str:
    out = ["# Environments", "",
           generated_note("the env classes' docstrings and reset parameter declarations in "
                          "[`memory_gym_envs/`](../../memory_gym_envs)"), "",
           "Every id is registered with gymnasium when `memory_gym_envs` is imported (or on demand, "
           'as `gym.make("memory_gym_envs:MortarMayhem-v0")`). How the envs are built, and how to '
           "add one: [design](../design.md).", "",
           "| id | family | actions | observations |", "|---|---|---|---|"]
    for family in FAMILIES:
        for env_id in family_ids(family):
            task, _, _ = task_of(env_id)
            page = f"{family.module}.md"
            out.append(f"| [`{env_id}`]({page}{anchor(env_id)}) | [{family.title}]({page}) | "
                       f"`{space_text(task.action_space)}` | `{space_text(task.observation_space)}` |")
    out += ["", "## Using an env", "", "```python",
            "import gymnasium as gym",
            "import memory_gym_envs  # registers the ids",
            "",
            'env = gym.make("MortarMayhem-Grid-v0", arena_size=4)             # a default for every episode',
            'obs, info = env.reset(seed=0, options={"command_count": [3, 5]})  # this episode only',
            "obs, reward, terminated, truncated, info = env.step(env.action_space.sample())",
            "",
            'envs = gym.make_vec("MortarMayhem-Grid-v0", num_envs=64)         # one batched env',
            "```", "",
            "* Render modes: `rgb_array` (the observation image), `debug_rgb_array` (a 336x336 view "
            "with the hidden things drawn, e.g. Mystery Path's path) and `human` (a window showing "
            "that view; `python -m memory_gym_envs.play <id>` plays an env with the keyboard).",
            "* Seeding: `reset(seed=s)` makes the episode a function of `s` and the actions, in every "
            "episode of an env; `reset()` continues the env's random stream.",
            "* Episode ends: a time limit (`max_steps`) sets `truncated`; success, failure and death "
            "set `terminated`. The final step's `info` holds the episode's statistics (`reward`, "
            "`length` and each family's own); `env.unwrapped.has_ground_truth_info` says whether "
            "every step's `info` has a `ground_truth` (its space: `env.unwrapped.ground_truth_space`).",
            "* Bad input (an unknown reset parameter, a value out of range, an invalid action, seed or "
            "options) raises a `ValueError` naming the problem and what is allowed; a reset that "
            "raises changes nothing.",
            "", "## Batched envs: `gym.make_vec`", "", markdown(docstrings.VECTOR_ENV), "",
            "## Differences from the original suite", "",
            "Common to every family; each family's page lists its own.", "", COMMON_DIFFERENCES]
    return "\n".join(out) + "\n"


def render_pages() -> dict[str, str]:
    """Every page: {file name under docs/envs/: text}."""
    pages = {"README.md": index_page()}
    for family in FAMILIES:
        pages[f"{family.module}.md"] = family_page(family)
    return pages


def shown(path: Path) -> Path:
    """``path`` relative to the repository if it lies inside (for messages)."""
    path = path.resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def stale(pages: dict[str, str], out: Path) -> list[str]:
    """What differs between ``pages`` and the files in ``out``, as messages (empty: up to date)."""
    problems = []
    for name, text in pages.items():
        path = out / name
        if not path.exists():
            problems.append(f"{shown(path)} is missing")
        elif path.read_text() != text:
            diff = difflib.unified_diff(path.read_text().splitlines(), text.splitlines(), "committed",
                                        "generated", n=0, lineterm="")
            problems.append(f"{shown(path)} is out of date:\n" + "\n".join(list(diff)[:12]))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a page differs from what would be written")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder of the pages (default: {shown(OUT)})")
    args = parser.parse_args(argv)
    pages = render_pages()
    if args.check:
        problems = stale(pages, args.out)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("the environment pages are stale: run python docs/make_env_docs.py and commit them",
                  file=sys.stderr)
            return 1
        print(f"{len(pages)} pages in {shown(args.out)} are up to date")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in pages.items():
        (args.out / name).write_text(text)
    print(f"wrote {len(pages)} pages to {shown(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
