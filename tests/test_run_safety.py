"""A run that cannot be broken by another run, a full disk or a bad input that would fail late: a run
directory belongs to one process, saved names stay inside it, failed writes are one line with the last
good checkpoint kept, a checkpoint's values are checked before use, and sizes that do not fit the
machine are refused with the numbers before anything is allocated or written."""
import importlib
import os
import resource
import subprocess
import sys
import textwrap

import pytest
import torch

from test_training_scripts import ROOT, only_run, run_script  # first: puts the repository root on sys.path
from test_safety import NET, SCRIPTS, TINY, check_flags, genuine, one_line_error  # noqa: F401 (a fixture)


def one_line(r, rc=2):
    """A finished subprocess that ended with one ``error:`` line, no traceback."""
    assert r.returncode == rc and "Traceback" not in r.stderr and "Error in sys.excepthook" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    return r.stderr


def run_limited(script, args, cwd, file_size):
    """``run_script`` with every file write capped at ``file_size`` bytes (RLIMIT_FSIZE: a write past it fails with
    EFBIG, as a full disk fails with ENOSPC; unlike a read-only directory, this holds for root too)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tests"))
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env, preexec_fn=limit)


def train(script, cwd, steps=128, extra=()):
    r = run_script(f"{script}.py", TINY + NET[script] + ["--total-timesteps", str(steps), "--checkpoint-interval", "1",
                                                         *extra], cwd)
    assert r.returncode == 0, r.stderr[-2000:]
    return only_run(cwd)


# --- one process per run directory (case 2), names confined to it (case 4) --------------------------------------

@pytest.mark.parametrize("script", SCRIPTS)
def test_runs_of_the_same_name_and_second_get_their_own_directories(script, tmp_path, capsys):
    claim = importlib.import_module(script).claim_run_dir
    name = str(tmp_path / "runs" / "Env__exp__1__1796480000")
    first, lock = claim(name, new=True)
    second, lock2 = claim(name, new=True)
    assert first == name and second == name + "_2"
    assert open(os.path.join(first, ".lock")).read() == f"{os.getpid()}\n"
    # A second writer of the first directory (a concurrent --resume) is refused, naming the process that has it.
    err = one_line_error(capsys, claim, first, False)
    assert f"is in use by another run (process {os.getpid()})" in err
    lock.close()  # the first run ends: its directory can be resumed
    assert claim(first, new=False)[0] == first


@pytest.mark.slow
def test_a_concurrent_resume_is_refused_and_the_running_run_goes_on(tmp_path):
    run_dir = train("ppo_gru", tmp_path, steps=64)
    path = os.path.join(run_dir, "checkpoint.pt")
    first = subprocess.Popen([sys.executable, os.path.join(ROOT, "ppo_gru.py"), "--resume", path, "--total-timesteps",
                              "100000"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        for line in first.stdout:
            if line.startswith("iter "):
                break
        second = run_script("ppo_gru.py", ["--resume", path, "--total-timesteps", "100000"], tmp_path)
        assert f"is in use by another run (process {first.pid})" in one_line(second)
        assert first.poll() is None  # untouched
    finally:
        first.terminate()
        first.communicate(timeout=60)
    assert first.returncode == 128 + 15
    iteration = torch.load(path, weights_only=True)["iteration"]
    assert iteration >= 2  # the first run's checkpoint, written by it alone


@pytest.mark.parametrize("script", SCRIPTS)
def test_names_that_would_leave_the_run_directory_are_refused(script, capsys):
    module = importlib.import_module(script)
    for name in ("../../escaped", "a/b", ".hidden", "", "x" * 101, "nul\0"):
        err = one_line_error(capsys, check_flags, module, TINY + NET[script] + ["--exp-name", name])
        assert "--exp-name must be a plain name" in err
    check_flags(module, TINY + NET[script] + ["--exp-name", "GRU_no_memory-2+rec=0.1"])


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_downloaded_checkpoint_cannot_place_the_model_outside_the_run_directory(script, genuine, tmp_path):
    checkpoint = genuine[script]
    checkpoint["args"] |= {"exp_name": "../../outside", "save_model": True}
    (tmp_path / "a" / "b").mkdir(parents=True)
    torch.save(checkpoint, tmp_path / "a" / "b" / "checkpoint.pt")
    r = run_script(f"{script}.py", ["--resume", str(tmp_path / "a" / "b" / "checkpoint.pt"), "--total-timesteps",
                                    "100000"], tmp_path)
    assert "--exp-name must be a plain name" in one_line(r)
    assert sorted(os.listdir(tmp_path)) == ["a"] and os.listdir(tmp_path / "a" / "b") == ["checkpoint.pt"]


# --- failed writes (case 3) --------------------------------------------------------------------------------------

@pytest.mark.parametrize("script", SCRIPTS)
def test_a_disk_that_is_full_at_the_start_is_one_line_and_leaves_nothing(script, tmp_path):
    r = run_limited(f"{script}.py", TINY + NET[script] + ["--total-timesteps", "64"], tmp_path, file_size=10)
    assert "cannot write the TensorBoard log" in one_line(r) and "File too large" in r.stderr
    assert os.listdir(tmp_path / "runs") == []


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_a_failed_checkpoint_write_keeps_the_previous_checkpoint(script, tmp_path):
    run_dir = train(script, tmp_path)
    path = os.path.join(run_dir, "checkpoint.pt")
    before = open(path, "rb").read()
    step = torch.load(path, weights_only=True)["global_step"]
    # The resumed run can write its lock and log (small) but no checkpoint (larger than the cap).
    r = run_limited(f"{script}.py", ["--resume", path, "--total-timesteps", "640"], tmp_path,
                    file_size=len(before) // 2)
    err = one_line(r)
    assert "cannot write the checkpoint" in err and "File too large" in err and f"holds step {step}" in err
    assert open(path, "rb").read() == before and not os.path.exists(path + ".tmp")


READ_ONLY = """
import builtins, errno, io, os
_open, _os_open, ro = builtins.open, os.open, os.path.realpath(os.environ["READ_ONLY_DIR"])
def refuse(path):
    if isinstance(path, (str, bytes, os.PathLike)) and os.path.realpath(os.fsdecode(path)).startswith(ro):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))
def open_(file, mode="r", *a, **k):
    if any(c in mode for c in "wax+"):
        refuse(file)
    return _open(file, mode, *a, **k)
def os_open(path, flags, *a, **k):
    if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
        refuse(path)
    return _os_open(path, flags, *a, **k)
builtins.open = io.open = open_
os.open = os_open
"""


@pytest.mark.parametrize("script", SCRIPTS)
def test_resuming_in_a_read_only_directory_is_one_line(script, genuine, tmp_path):
    """A read-only file system simulated in the process (sitecustomize: every write-open below the directory fails
    with EROFS), since root ignores a directory's permissions."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(textwrap.dedent(READ_ONLY))
    (tmp_path / "run").mkdir()
    torch.save(genuine[script], tmp_path / "run" / "checkpoint.pt")
    r = run_script(f"{script}.py", ["--resume", str(tmp_path / "run" / "checkpoint.pt"), "--total-timesteps",
                                    "100000"], tmp_path, env={"READ_ONLY_DIR": str(tmp_path / "run"),
                                                              "PYTHONPATH": f"{tmp_path / 'site'}:{ROOT}/tests"})
    assert "cannot write in the run directory" in one_line(r) and "Read-only file system" in r.stderr
    assert os.listdir(tmp_path / "run") == ["checkpoint.pt"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_standard_output_on_a_full_device_does_not_stop_the_run(tmp_path):
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, os.path.join(ROOT, "ppo_gru.py"), *TINY, *NET["ppo_gru"],
                            "--total-timesteps", "128"], cwd=tmp_path, stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=300)
    assert r.returncode == 0 and r.stderr == ("warning: standard output failed (No space left on device); the run "
                                              "goes on without it\n"), r.stderr
    assert torch.load(os.path.join(only_run(tmp_path), "checkpoint.pt"), weights_only=True)["global_step"] == 128


# --- non-finite inputs (case 5) ---------------------------------------------------------------------------------

@pytest.mark.parametrize("script", SCRIPTS)
def test_a_user_env_that_returns_nan_stops_the_run_in_one_line(script, tmp_path):
    r = run_script(f"{script}.py", ["--env-id", "user_env:NonFiniteObservation-v0", "--num-envs", "2", "--num-steps",
                                    "16", "--num-minibatches", "2", "--total-timesteps", "64", *NET[script]], tmp_path)
    assert "user_env:NonFiniteObservation-v0: a non-finite observation (NaN or infinity) after 6 steps" in one_line(r)


@pytest.mark.parametrize("script", SCRIPTS)
def test_resuming_non_finite_weights_is_one_line(script, genuine, tmp_path):
    checkpoint = genuine[script]
    next(iter(checkpoint["model"].values())).view(-1)[0] = float("nan")
    torch.save(checkpoint, tmp_path / "checkpoint.pt")
    r = run_script(f"{script}.py", ["--resume", str(tmp_path / "checkpoint.pt"), "--total-timesteps", "100000"],
                   tmp_path)
    assert "non-finite values in the checkpoint (model." in one_line(r)
    assert os.listdir(tmp_path) == ["checkpoint.pt"]


# --- checkpoints that load but hold the wrong values (case 6) ---------------------------------------------------

def damaged(c: dict) -> dict:
    """Name -> (the checkpoint with one value replaced, what the error names)."""
    rng = c["rng"]
    return {
        "format": ({**c, "format": "2"}, "checkpoint format '2'"),
        "args": ({**c, "args": [1, 2]}, "args must be a dict of flag values"),
        "iteration": ({**c, "iteration": "7"}, "iteration must be an int >= 0, got a str"),
        "negative step": ({**c, "global_step": -5}, "global_step must be an int >= 0"),
        "float step": ({**c, "global_step": 64.0}, "global_step must be an int >= 0, got a float"),
        "model": ({**c, "model": [torch.zeros(1)]}, "model must be a dict of tensors"),
        "model values": ({**c, "model": {"w": 1.0}}, "model must be a dict of tensors"),
        "optimizer": ({**c, "optimizer": {"state": []}}, "optimizer must be an optimizer state dict"),
        "rng torch": ({**c, "rng": {**rng, "torch": [1, 2]}}, "rng must be the random generators' states"),
        "rng numpy": ({**c, "rng": {**rng, "numpy": rng["numpy"][:2]}}, "rng must be the random generators' states"),
        "rng python": ({**c, "rng": {**rng, "python": (3, "abc", None)}}, "rng must be the random generators' states"),
        "wandb_id": ({**c, "wandb_id": 12}, "wandb_id must be None or a string"),
    }


@pytest.mark.parametrize("script", SCRIPTS)
def test_checkpoints_with_wrong_value_types_are_one_clear_line(script, genuine, tmp_path, capsys):
    load = importlib.import_module(script).load_checkpoint
    for name, (checkpoint, message) in damaged(genuine[script]).items():
        torch.save(checkpoint, tmp_path / "c.pt")
        assert message in one_line_error(capsys, load, str(tmp_path / "c.pt")), name
    load(str(torch.save(genuine[script], tmp_path / "c.pt") or tmp_path / "c.pt"))  # the genuine one loads


@pytest.mark.parametrize("script", SCRIPTS)
def test_saved_args_of_the_wrong_type_are_one_clear_line(script, genuine, capsys):
    module = importlib.import_module(script)
    saved = genuine[script]["args"]
    for field, value, message in [("num_envs", "4", "num_envs must be int, got '4'"),
                                  ("init_lr", None, "init_lr must be float, got None"),
                                  ("norm_adv", "yes", "norm_adv must be true or false, got 'yes'"),
                                  ("env_kwargs", 5, "env_kwargs must be str, got 5")]:
        err = one_line_error(capsys, module.resume_args, [], {**saved, field: value})
        assert err.startswith("error: --resume: the checkpoint's args: ") and message in err, err


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_damaged_checkpoints_are_refused_by_resume_without_a_traceback(script, genuine, tmp_path):
    """Through --resume itself, for three of the cases (every case is checked in-process above: the same function)."""
    cases = damaged(genuine[script])
    for name in ("iteration", "model values", "rng numpy"):
        checkpoint, message = cases[name]
        torch.save(checkpoint, tmp_path / "checkpoint.pt")
        r = run_script(f"{script}.py", ["--resume", str(tmp_path / "checkpoint.pt")], tmp_path)
        assert message in one_line(r), name
    assert os.listdir(tmp_path) == ["checkpoint.pt"]


# --- sizes that do not fit, flags that fail late (case 8) -------------------------------------------------------

@pytest.mark.parametrize("script, flags, message", [
    ("ppo_gru", ["--num-steps", "1000000000", "--total-timesteps", "100000000000"],
     "the rollout storage needs 372.5 GiB (--num-envs 4, --num-steps 1000000000, --rnn-hidden-size 16), more than"),
    ("ppo_trxl", ["--num-steps", "1000000000", "--total-timesteps", "100000000000"],
     "(--num-envs 4, --num-steps 1000000000, --trxl-memory-length 4, --trxl-num-layers 1, --trxl-dim 16), more than"),
    ("ppo_trxl", ["--trxl-memory-length", "1000000000"], "the rollout storage needs 774.9 GiB"),
    ("ppo_gru", ["--num-envs", str(10 ** 9)], "--num-envs must be an int in [1, 65536], got 1000000000"),
    ("ppo_trxl", ["--torch-threads", str(2 ** 40)], "--torch-threads must be an int in [0, 1024], got 1099511627776"),
])
def test_sizes_that_do_not_fit_are_refused_before_anything_is_written(script, flags, message, tmp_path):
    r = run_script(f"{script}.py", TINY + NET[script] + ["--total-timesteps", "64"] + flags, tmp_path)
    assert message in one_line(r) and os.listdir(tmp_path) == []


@pytest.mark.parametrize("script", SCRIPTS)
def test_one_step_minibatches_with_normalized_advantages_train(script, tmp_path):
    """A minibatch of one step has no advantage spread: its normalized advantage is 0, not NaN."""
    r = run_script(f"{script}.py", ["--env-id", "ProofofMemory-v0", "--num-envs", "2", "--num-steps", "1",
                                    "--num-minibatches", "2", "--total-timesteps", "4", "--norm-adv", *NET[script],
                                    *(["--sequence-length", str(10 ** 12)] if script == "ppo_gru" else [])], tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert torch.load(os.path.join(only_run(tmp_path), "checkpoint.pt"), weights_only=True)["global_step"] == 4


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_rollout_storage_is_counted_exactly(script):
    """The meta-device count is the real allocation's size."""
    module = importlib.import_module(script)
    args = module.parse_args(TINY + NET[script])
    envs = module.make_env(args)
    agent = module.Agent(args, envs.single_observation_space, envs.single_action_space, 0)
    real = module.tensor_bytes(module.rollout_buffers(args, agent, envs, 0, "cpu"))
    assert module.tensor_bytes(module.rollout_buffers(args, agent, envs, 0, "meta")) == real > 0
    assert 0 < module.free_memory(torch.device("cpu")) < 2 ** 50
    envs.close()
