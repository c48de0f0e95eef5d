"""The task contract: a new task written from ``Task``'s docstrings alone works with both adapters.

``RememberBit`` below uses nothing but what ``memory_gym_envs.core.Task`` documents (class
attributes, ``__init__``, ``reset``, ``step``, ``observe``, ``debug_image``, ``step_info``,
``final_info``, ``reset_state``) and ``params.Param``/``params.pick``. The tests run gymnasium's
env checker on its single env and step its vector env across episode ends in every autoreset mode,
checking what the adapters report against what the task returned and against gymnasium's own
``SyncVectorEnv`` of single envs.
"""
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

from memory_gym_envs.core import MemoryGymEnv, MemoryGymVectorEnv, Task
from memory_gym_envs.params import Param, pick

ID = "TaskContract-RememberBit-v0"
GREY, WHITE, COLOURS = 64, 255, ((200, 0, 0), (0, 200, 0))  # bit 0 red, bit 1 green
WAIT, ANSWER_0, ANSWER_1 = 0, 1, 2


class RememberBit(Task):
    """TaskContract-RememberBit-v0: answer the bit that was shown at the start.

    ## Description
    A test task: each episode draws a bit; its colour is shown in the first ``cue_steps``
    observations, then hidden. The agent waits or answers.

    ## Action Space
    ``Discrete(3)``: 0 wait, 1 answer "0", 2 answer "1".

    ## Observation Space
    ``Box(0, 255, (8, 8, 3), uint8)``: grey; row 0 is the bit's colour (red 0, green 1) while the
    cue is shown; row 1 has a white pixel per step taken (up to 8).

    ## Rewards
    +1 for a right answer, -1 for a wrong one, 0 for waiting.

    ## Starting State
    The bit uniform; the time limit drawn from ``max_steps``.

    ## Episode End
    Terminated by an answer; truncated when the step count reaches the time limit. Every reset and
    step ``info``: ``ground_truth`` = [bit], ``t`` (steps taken). Final-step ``info``: ``reward``
    (the return), ``length``, ``success``.
    """

    env_id = ID
    params = {
        "max_steps": Param([3, 5], int, 1, 8, sampled=True, doc="time limit, drawn per episode"),
        "cue_steps": Param(1, int, 1, 8, doc="observations that show the bit"),
    }
    observation_space = gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)
    action_space = gym.spaces.Discrete(3)
    ground_truth_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    controls = "left_right"  # (keyboard play: no key waits, right answers "0")
    reset_state = ("bit", "t", "max_steps", "cue_steps", "ep_return", "success")

    def __init__(self, num_envs: int):
        super().__init__(num_envs)
        self.bit = np.zeros(num_envs, np.int64)
        self.t = np.zeros(num_envs, np.int64)
        self.max_steps = np.ones(num_envs, np.int64)
        self.cue_steps = np.zeros(num_envs, np.int64)
        self.ep_return = np.zeros(num_envs)
        self.success = np.zeros(num_envs, bool)

    def reset(self, env_ids, params, rngs):
        for i, rng in zip(env_ids, rngs):  # per env: one uniform, then the time limit
            self.bit[i] = int(rng.random() < 0.5)
            self.max_steps[i] = pick(rng, params["max_steps"])
        self.cue_steps[env_ids] = params["cue_steps"]
        self.t[env_ids] = 0
        self.ep_return[env_ids] = 0.0
        self.success[env_ids] = False

    def step(self, actions, active):
        answered = active & (actions != WAIT)
        right = answered & (actions - 1 == self.bit)
        reward = np.where(answered, np.where(right, 1.0, -1.0), 0.0)
        self.t += active
        terminated = answered
        truncated = active & ~answered & (self.t >= self.max_steps)
        self.ep_return += reward
        self.success |= right
        return reward, terminated, truncated

    def _pictures(self, ids, cue):
        frames = np.full((len(ids), 8, 8, 3), GREY, np.uint8)
        for j, i in enumerate(ids):
            if cue or self.t[i] < self.cue_steps[i]:
                frames[j, 0] = COLOURS[self.bit[i]]
            frames[j, 1, :min(self.t[i], 8)] = WHITE
        return frames

    def observe(self):
        return self._pictures(self.all_ids, cue=False)

    def debug_image(self, i):
        return self._pictures([i], cue=True)[0]

    def step_info(self):
        return {"ground_truth": self.bit[:, None].astype(np.float32), "t": self.t}

    def final_info(self):
        return {"reward": self.ep_return.copy(), "length": self.t.copy(), "success": self.success.copy()}


class RememberBitEnv(MemoryGymEnv):
    task_class = RememberBit


class RememberBitVectorEnv(MemoryGymVectorEnv):
    task_class = RememberBit


@pytest.fixture(scope="module", autouse=True)
def registered():
    gym.register(id=ID, entry_point=RememberBitEnv, vector_entry_point=RememberBitVectorEnv)
    yield
    del gym.registry[ID]


def expected_obs(bit, t, cue_steps=1):
    frame = np.full((8, 8, 3), GREY, np.uint8)
    if t < cue_steps:
        frame[0] = COLOURS[bit]
    frame[1, :min(t, 8)] = WHITE
    return frame


def bit_of(obs):
    """The bit shown in a first observation."""
    assert tuple(obs[0, 0]) in COLOURS, "the cue is not shown"
    return COLOURS.index(tuple(obs[0, 0]))


def same(a, b, where=""):
    """Equal nested tuples/dicts/arrays, dtypes and masks included."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for j, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{j}]")
    elif isinstance(a, np.ndarray) and a.dtype == object:
        assert isinstance(b, np.ndarray) and a.shape == b.shape, where
        for j, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{j}]")
    elif a is None:
        assert b is None, where
    else:
        assert np.asarray(a).dtype == np.asarray(b).dtype, f"{where}: {np.asarray(a).dtype} != {np.asarray(b).dtype}"
        assert np.array_equal(a, b), f"{where}: {a!r} != {b!r}"


# --- the single env ------------------------------------------------------------------------------

def test_gymnasium_env_checker_passes():
    env = gym.make(ID, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning of the checker is a failure too
        check_env(env.unwrapped)  # (registered: it also renders every mode and closes twice)
    env.close()


def test_single_env_reports_what_the_task_returned():
    env = gym.make(ID, render_mode="rgb_array", cue_steps=2)
    assert env.unwrapped.has_ground_truth_info and env.metadata["render_fps"] == 25
    obs, info = env.reset(seed=4, options={"max_steps": 4})
    bit = bit_of(obs)
    same(obs, expected_obs(bit, 0, 2))
    same(info, {"ground_truth": np.array([bit], np.float32), "t": 0})
    assert isinstance(info["t"], int)  # (N,) info arrays become Python scalars
    same(env.render(), obs)  # rgb_array: Task.image's default, the observation
    debug = gym.make(ID, render_mode="debug_rgb_array", cue_steps=2)
    debug.reset(seed=4, options={"max_steps": 4})
    same(debug.render(), np.repeat(np.repeat(obs, 4, axis=0), 4, axis=1))  # debug_image upscaled 4x
    for t in (1, 2, 3):
        obs, reward, terminated, truncated, info = env.step(WAIT)
        same(obs, expected_obs(bit, t, 2))
        assert (reward, terminated, truncated) == (0.0, False, False) and set(info) == {"ground_truth", "t"}
    obs, reward, terminated, truncated, info = env.step(WAIT)  # the time limit of this episode: 4
    assert (reward, terminated, truncated) == (0.0, False, True)
    same(info, {"ground_truth": np.array([bit], np.float32), "t": 4, "reward": 0.0, "length": 4, "success": False})
    with pytest.raises(gym.error.ResetNeeded):
        env.step(WAIT)
    obs, _ = env.reset()  # no options: the sampled default max_steps, 3 or 5
    bit = bit_of(obs)
    obs, reward, terminated, truncated, info = env.step(ANSWER_0 + bit)
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert (info["reward"], info["length"], info["success"]) == (1.0, 1, True)


def test_a_failing_reset_is_undone_through_reset_state():
    env = gym.make(ID)
    obs, _ = env.reset(seed=1)
    env.step(WAIT)
    task = env.unwrapped.task
    before = {name: getattr(task, name).copy() for name in RememberBit.reset_state}

    def failing_reset(env_ids, params, rngs):
        RememberBit.reset(task, env_ids, params, rngs)
        raise MemoryError("half-way")

    task.reset = failing_reset
    with pytest.raises(MemoryError):
        env.reset(options={"cue_steps": 3})
    same({name: getattr(task, name) for name in RememberBit.reset_state}, before, "state")
    obs, *_ = env.step(WAIT)  # the episode goes on
    assert obs[1, :2].tolist() == [[WHITE] * 3] * 2


# --- the vector env ------------------------------------------------------------------------------

def policy(step, obs, bits):
    """Env 0 answers right at once, env 1 answers wrong at once, env 2 waits (time limits),
    env 3 answers right every third step."""
    actions = np.full(4, WAIT)
    actions[0] = ANSWER_0 + bits[0]
    actions[1] = ANSWER_0 + 1 - bits[1]
    if step % 3 == 2:
        actions[3] = ANSWER_0 + bits[3]
    return actions


def spy(task):
    """Record a copy of everything ``observe``, ``step_info`` and ``final_info`` return."""
    calls = {"observe": [], "step_info": [], "final_info": []}
    for name in calls:
        method = getattr(task, name)

        def recorded(method=method, name=name):
            out = method()
            calls[name].append({k: v.copy() for k, v in out.items()} if isinstance(out, dict) else out.copy())
            return out

        setattr(task, name, recorded)
    return calls


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
def test_vector_autoreset_reports_what_the_task_returned(mode):
    envs = gym.make_vec(ID, num_envs=4, autoreset_mode=mode)
    assert isinstance(envs.unwrapped, RememberBitVectorEnv)
    assert envs.observation_space.shape == (4, 8, 8, 3) and envs.single_action_space == gym.spaces.Discrete(3)
    calls = spy(envs.unwrapped.task)
    obs, info = envs.reset(seed=11)
    same(obs, calls["observe"][-1])
    assert set(info) == {"ground_truth", "_ground_truth", "t", "_t"} and info["_t"].all()
    bits = np.array([bit_of(o) for o in obs])
    same(info["ground_truth"], bits[:, None].astype(np.float32))
    # the test's own model of each env: steps taken, return, and whether it ended in the last step
    t, ret, ended = np.zeros(4, int), np.zeros(4), np.zeros(4, bool)
    ends = {"terminated": 0, "truncated": 0}
    for step in range(20):
        actions = policy(step, obs, bits)
        n_observe, n_final = len(calls["observe"]), len(calls["final_info"])
        obs, reward, terminated, truncated, info = envs.step(actions)
        assert reward.dtype == np.float64 and terminated.dtype == truncated.dtype == np.bool_
        done = terminated | truncated
        ends["terminated"] += terminated.sum()
        ends["truncated"] += truncated.sum()
        same(obs, calls["observe"][-1], f"step {step}: obs")
        if mode == AutoresetMode.NEXT_STEP:
            # an env that ended in the last step is reset now: its action is ignored
            for i in np.flatnonzero(ended):
                assert (reward[i], terminated[i], truncated[i]) == (0.0, False, False)
                bits[i], t[i], ret[i] = bit_of(obs[i]), 0, 0.0
            live = ~ended
            t[live] += 1
            ret[live] += reward[live]
            expect = {"ground_truth": bits[:, None].astype(np.float32), "t": t.copy()}
            if done.any():
                final = calls["final_info"][-1]  # one call, in this step
                assert len(calls["final_info"]) == n_final + 1
                for key in ("reward", "length", "success"):
                    expect[key] = np.where(done, final[key], np.zeros_like(final[key]))
                    expect[f"_{key}"] = done
                same(expect["reward"][done], ret[done], "returns")
                same(expect["length"][done], t[done], "lengths")
            else:
                assert len(calls["final_info"]) == n_final
            expect |= {"_ground_truth": np.ones(4, bool), "_t": np.ones(4, bool)}
            same(info, expect, f"step {step}: info")
            for i in np.flatnonzero(done):
                same(obs[i], expected_obs(bits[i], t[i]), f"step {step}: last obs of env {i}")
            ended = done
        else:
            t += 1
            ret += reward
            expect = {}
            if done.any():
                # observe before and after the autoreset; final_obs holds the rows of the first
                assert len(calls["observe"]) == n_observe + 2 and len(calls["final_info"]) == n_final + 1
                before, final, step_info = calls["observe"][-2], calls["final_info"][-1], calls["step_info"][-2]
                final_obs = np.full(4, None, dtype=object)
                for i in np.flatnonzero(done):
                    final_obs[i] = before[i]
                    same(before[i], expected_obs(bits[i], t[i]), f"step {step}: last obs of env {i}")
                expect = {"final_obs": final_obs, "_final_obs": done, "final_info": {}, "_final_info": done}
                for key, values in (step_info | final).items():
                    expect["final_info"][key] = np.where(done.reshape((4,) + (1,) * (values.ndim - 1)),
                                                         values, np.zeros_like(values))
                    expect["final_info"][f"_{key}"] = done
                same(expect["final_info"]["reward"][done], ret[done], "returns")
                same(expect["final_info"]["length"][done], t[done], "lengths")
                for i in np.flatnonzero(done):  # the new episode's first observation
                    bits[i], t[i], ret[i] = bit_of(obs[i]), 0, 0.0
            else:
                assert len(calls["observe"]) == n_observe + 1 and len(calls["final_info"]) == n_final
            expect |= {"ground_truth": bits[:, None].astype(np.float32), "t": t.copy(),
                       "_ground_truth": np.ones(4, bool), "_t": np.ones(4, bool)}
            same(info, expect, f"step {step}: info")
    assert ends["terminated"] >= 10 and ends["truncated"] >= 2
    envs.close()


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED])
def test_vector_env_equals_gymnasium_sync_vector_env(mode):
    """The seeding contract kept: env i of a batch seeded s is a single env seeded s + i."""
    native = gym.make_vec(ID, num_envs=4, autoreset_mode=mode, cue_steps=2)
    sync = gym.make_vec(ID, num_envs=4, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode},
                        cue_steps=2)
    same(native.reset(seed=5), sync.reset(seed=5), "reset")
    rng = np.random.default_rng(0)
    for step in range(30):
        actions = rng.choice([WAIT, WAIT, ANSWER_0, ANSWER_1], size=4)
        a, b = native.step(actions), sync.step(actions)
        same(a, b, f"step {step}")
        done = a[2] | a[3]
        if mode == AutoresetMode.DISABLED and done.any():
            options = {"reset_mask": done, "max_steps": 2}
            same(native.reset(options=options), sync.reset(options=options), f"reset at {step}")
    native.close()
    sync.close()
