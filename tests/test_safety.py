"""Runs and checkpoints a user can trust: flags checked before any work, checkpoints that load
without unpickling (a malicious one is refused and its payload never runs), a non-finite loss that
stops the run before it reaches a checkpoint, signals that never lose the last completed
iteration, resume counted in steps with the batch shape kept, and enjoy.py's output checked first
and written atomically. Bad input is checked in-process where the code path allows it."""
import importlib
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from test_training_scripts import ROOT, only_run, run_script  # first: puts the repository root on sys.path

import enjoy  # noqa: E402

SCRIPTS = ("ppo_trxl", "ppo_gru")
TINY = ["--env-id", "ProofofMemory-v0", "--num-envs", "4", "--num-steps", "16", "--num-minibatches", "2"]
NET = {"ppo_trxl": ["--trxl-num-layers", "1", "--trxl-dim", "16", "--trxl-num-heads", "1", "--trxl-memory-length", "4"],
       "ppo_gru": ["--rnn-hidden-size", "16", "--hidden-layer-size", "16"]}


def one_line_error(capsys, call, *args):
    """Run ``call``, expect a clean exit with one ``error:`` line on stderr; return that line."""
    with pytest.raises(SystemExit) as e:
        call(*args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    return err


def check_flags(module, argv):
    args = module.parse_args(argv)
    module.check_args(args)
    return args


# --- flags ----------------------------------------------------------------------------------------

COMMON_BAD = [
    (["--update-epochs", "0"], "--update-epochs must be an int >= 1, got 0"),
    (["--anneal-steps", "0"], "--anneal-steps must be an int >= 1"),
    (["--total-timesteps", "0"], "--total-timesteps must be an int >= 1"),
    (["--total-timesteps", "10"], "--total-timesteps (10) must be at least one batch"),
    (["--num-envs", "0"], "--num-envs must be an int in [1, 65536], got 0"),
    (["--num-steps", "-5"], "--num-steps must be an int >= 1"),
    (["--checkpoint-interval", "-1"], "--checkpoint-interval must be an int >= 0"),
    (["--backward-chunk-size", "-1"], "--backward-chunk-size must be an int >= 0"),
    (["--init-lr", "nan"], "--init-lr must be a finite number > 0, got nan"),
    (["--init-lr", "-1"], "--init-lr must be a finite number > 0"),
    (["--final-lr", "inf"], "--final-lr must be a finite number >= 0, got inf"),
    (["--gamma", "2"], "--gamma must be a number in (0, 1], got 2.0"),
    (["--gamma", "0"], "--gamma must be a number in (0, 1]"),
    (["--gae-lambda", "1.5"], "--gae-lambda must be a number in [0, 1]"),
    (["--clip-coef", "nan"], "--clip-coef must be a finite number > 0, got nan"),
    (["--clip-coef", "0"], "--clip-coef must be a finite number > 0"),
    (["--max-grad-norm", "-1"], "--max-grad-norm must be a finite number > 0"),
    (["--vf-coef", "-1"], "--vf-coef must be a finite number >= 0"),
    (["--init-ent-coef", "nan"], "--init-ent-coef must be a finite number >= 0"),
    (["--target-kl", "-1"], "--target-kl must be None or a finite number > 0"),
    (["--reconstruction-coef", "-1"], "--reconstruction-coef must be a finite number >= 0"),
    (["--ground-truth-coef", "inf"], "--ground-truth-coef must be a finite number >= 0"),
    (["--seed", "-1"], "--seed must be an int in [0, 2**32 - 1], got -1"),
    (["--seed", str(2 ** 70)], "--seed must be an int in [0, 2**32 - 1]"),
    (["--env-id", "MortarMayhem-v9"], "unknown env id 'MortarMayhem-v9'; Memory Gym ids: MortarMayhem-v0"),
    (["--env-id", "no_such_module:Env-v0"], "cannot import module 'no_such_module'"),
    (["--track=maybe"], "--track takes True or False"),
    (["--env-kwargs", "{1: 2}"], "--env-kwargs must be a JSON object of reset parameters"),
    (["--env-kwargs", "[1]"], "--env-kwargs must be a JSON object of reset parameters"),
    (["--env-kwargs", '{"num_envs": 3}'], "--env-kwargs: num_envs is set by the script"),
    (["--env-kwargs", "[" * 50_000 + "]" * 50_000], "--env-kwargs is nested too deeply"),
    (["--env-kwargs", "{command_count: 3}"], "--env-kwargs is not valid JSON"),
]
SCRIPT_BAD = {
    "ppo_trxl": [(["--trxl-num-heads", "0"], "--trxl-num-heads must be an int >= 1"),
                 (["--trxl-dim", "0"], "--trxl-dim must be an int >= 1"),
                 (["--trxl-dim", "15", "--trxl-num-heads", "1"], "must be even for --trxl-positional-encoding absolute"),
                 (["--trxl-dim", "18", "--trxl-num-heads", "4"], "must be divisible by --trxl-num-heads"),
                 (["--trxl-memory-length", "0"], "--trxl-memory-length must be an int >= 1, got 0"),
                 (["--trxl-positional-encoding", "rotary"], "must be absolute, learned or none"),
                 (["--num-minibatches", "3"], "--num-envs (4) must be divisible by --num-minibatches (3)")],
    "ppo_gru": [(["--rnn-hidden-size", "0"], "--rnn-hidden-size must be an int >= 1"),
                (["--rnn-num-layers", "0"], "--rnn-num-layers must be an int >= 1"),
                (["--sequence-length", "-1"], "--sequence-length must be an int >= 0"),
                (["--rnn-type", "transformer"], "--rnn-type must be gru or lstm"),
                (["--num-envs", "1", "--num-steps", "4", "--num-minibatches", "8"], "exceeds the batch of 4 steps")],
}
CASES = [(s, argv, message) for s in SCRIPTS for argv, message in COMMON_BAD + SCRIPT_BAD[s]]


@pytest.mark.parametrize("script, argv, message", CASES, ids=[f"{s}:{' '.join(a)[:40]}" for s, a, _ in CASES])
def test_a_bad_flag_is_one_clear_line(script, argv, message, capsys):
    err = one_line_error(capsys, check_flags, importlib.import_module(script), TINY + argv)
    assert message in err, err


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("text, message", [
    (b"seed: 1 # \xe9\n", "not UTF-8 text"), (b"gamma: .nan\n", "--gamma must be a number in (0, 1], got nan"),
    (b"num_envs: -4\n", "--num-envs must be an int in [1, 65536], got -4"), (b"resume: x.pt\n", "unknown key 'resume'")])
def test_config_values_are_checked_like_flags(script, text, message, tmp_path, capsys):
    (tmp_path / "c.yaml").write_bytes(text)
    err = one_line_error(capsys, check_flags, importlib.import_module(script), ["--config", str(tmp_path / "c.yaml")])
    assert message in err, err


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("env, kwargs, message", [
    ("ProofofMemory-v0", '{"max_steps": 9223372036854775808}', "'max_steps' must be an int"),
    ("ProofofMemory-v0", '{"nope": 1}', "unknown reset parameter 'nope'"),
    ("MortarMayhem-Grid-v0", '{"arena_size": 9}', "'arena_size' must be an int in [2, 6], got 9")])
def test_reset_parameters_are_checked_when_the_envs_are_made(script, env, kwargs, message, capsys):
    module = importlib.import_module(script)
    args = check_flags(module, TINY + ["--env-id", env, "--env-kwargs", kwargs])
    assert message in one_line_error(capsys, module.make_env, args)


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_a_failed_check_writes_nothing(script, tmp_path):
    """Checks that need the envs or the agent run before the run directory is made."""
    bad = [(["--env-kwargs", '{"max_steps": 99999}'], "'max_steps' must be an int in [3, 1000]"),
           (["--reconstruction-coef", "0.1"], "needs 84x84x3 image observations"),
           (["--ground-truth-coef", "1"], "needs an env whose info has ground_truth; ProofofMemory-v0 has none")]
    for argv, message in bad:
        r = run_script(f"{script}.py", TINY + NET[script] + ["--total-timesteps", "64"] + argv, tmp_path)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
        assert message in r.stderr, r.stderr
    assert not os.path.exists(tmp_path / "runs")
    (tmp_path / "runs").write_text("a file where the run directory should go")
    r = run_script(f"{script}.py", TINY + NET[script] + ["--total-timesteps", "64"], tmp_path)
    assert r.returncode == 2 and "cannot create the run directory" in r.stderr and "Traceback" not in r.stderr


# --- checkpoints ------------------------------------------------------------------------------------

class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # unpickling this would run a shell command
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def genuine(tiny_runs):
    """A genuine checkpoint of each script (read here with weights_only=True: plain types only)."""
    return {s: torch.load(os.path.join(tiny_runs[s], "checkpoint.pt"), weights_only=True) for s in SCRIPTS}


def test_checkpoints_hold_only_tensors_and_plain_values(genuine):
    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, (str, int)) and plain(v) for k, v in x.items())
        if isinstance(x, (list, tuple)):
            return all(plain(v) for v in x)
        return x is None or isinstance(x, (bool, int, float, str, torch.Tensor))
    for script, checkpoint in genuine.items():
        assert checkpoint["format"] == 2 and plain(checkpoint), script


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_rng_state_round_trips(script):
    module = importlib.import_module(script)
    np.random.seed(3)
    np.random.normal()  # a cached Gaussian too
    state = module.training_state(torch.nn.Linear(2, 2), torch.optim.AdamW(torch.nn.Linear(2, 2).parameters()),
                                  module.Args(), 1, 64, None)
    expected = np.random.random(5), torch.rand(3)
    module.restore_rng(state["rng"])
    assert np.array_equal(np.random.random(5), expected[0]) and torch.equal(torch.rand(3), expected[1])


@pytest.mark.parametrize("loader", ["ppo_trxl", "ppo_gru", "enjoy"])
def test_a_malicious_checkpoint_is_refused_and_its_payload_never_runs(loader, genuine, tmp_path, capsys):
    marker = tmp_path / "PAYLOAD_RAN"
    path = tmp_path / "checkpoint.pt"
    torch.save({**genuine["ppo_gru"], "extra": Payload(marker)}, path)
    if loader == "enjoy":
        err = one_line_error(capsys, enjoy.main, [str(path), "--eval"])
    else:
        err = one_line_error(capsys, importlib.import_module(loader).load_checkpoint, str(path))
    assert "refused" in err and "posix.system" in err, err
    assert not marker.exists()


def test_resume_from_a_malicious_checkpoint_runs_nothing(genuine, tmp_path):
    marker = tmp_path / "PAYLOAD_RAN"
    torch.save({**genuine["ppo_trxl"], "extra": Payload(marker)}, tmp_path / "checkpoint.pt")
    r = run_script("ppo_trxl.py", ["--resume", str(tmp_path / "checkpoint.pt")], tmp_path)
    assert r.returncode == 2 and "refused" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not marker.exists()


@pytest.mark.parametrize("script", SCRIPTS)
def test_damaged_and_old_checkpoints_are_one_clear_line(script, genuine, tiny_runs, tmp_path, capsys):
    load = importlib.import_module(script).load_checkpoint
    good = open(os.path.join(tiny_runs[script], "checkpoint.pt"), "rb").read()
    old = {**genuine[script], "rng": {"numpy": np.random.get_state()}}  # format 1 pickled NumPy objects
    del old["format"]
    torch.save(old, tmp_path / "old.pt")
    torch.save({"weights": genuine[script]["model"]}, tmp_path / "keyless.pt")
    torch.save({**genuine[script], "format": 3}, tmp_path / "newer.pt")
    for name, data in [("empty.pt", b""), ("truncated.pt", good[:len(good) // 2]), ("text.pt", b"hello\n")]:
        (tmp_path / name).write_bytes(data)
    for name, message in [("missing.pt", "no such checkpoint file"), ("empty.pt", "not a readable checkpoint"),
                          ("truncated.pt", "not a readable checkpoint"), ("text.pt", "not a readable checkpoint"),
                          ("keyless.pt", "missing format, args, iteration"), ("newer.pt", "checkpoint format 3"),
                          ("old.pt", "older version of the scripts (NumPy objects inside, format 1)")]:
        assert message in one_line_error(capsys, load, str(tmp_path / name)), name


def test_enjoy_refuses_non_finite_weights(tiny_runs, tmp_path, capsys):
    saved = torch.load(os.path.join(tiny_runs["ppo_gru"], "ppo_gru.cleanrl_model"), weights_only=True)
    saved["model_weights"]["critic.weight"][0, 0] = float("nan")
    torch.save(saved, tmp_path / "nan.cleanrl_model")
    err = one_line_error(capsys, enjoy.main, [str(tmp_path / "nan.cleanrl_model"), "--eval"])
    assert "non-finite weights (critic.weight)" in err


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_finite_checkpoint(script, tmp_path):
    flags = TINY + NET[script] + ["--checkpoint-interval", "1"]
    r = run_script(f"{script}.py", flags + ["--total-timesteps", "128"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    path = os.path.join(only_run(tmp_path), "checkpoint.pt")
    # The resumed run may change the learning rate: a huge one makes the losses explode.
    r = run_script(f"{script}.py", ["--resume", path, "--total-timesteps", "6400", "--init-lr", "300", "--final-lr",
                                    "300", "--max-grad-norm", "1e9"], tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr[-2000:]
    assert "error: non-finite" in r.stderr and "the last completed iteration" in r.stderr
    checkpoint = torch.load(path, weights_only=True)
    assert all(v.isfinite().all() for v in checkpoint["model"].values())
    finished = [int(line.split()[1].split("/")[0]) for line in r.stdout.splitlines() if line.startswith("iter ")]
    assert checkpoint["iteration"] == max(finished, default=2)  # the last iteration that completed


# --- signals and resume -----------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_a_second_signal_stops_at_once_and_keeps_the_last_completed_iteration(script, tmp_path):
    args = TINY + NET[script] + ["--num-steps", "256", "--update-epochs", "8", "--total-timesteps", "1000000",
                                 "--checkpoint-interval", "0"]
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, f"{script}.py"), *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    printed = []
    for line in proc.stdout:
        if line.startswith("iter "):
            printed.append(int(line.split()[1].split("/")[0]))
            if len(printed) == 2:
                proc.send_signal(signal.SIGTERM)
        if line.startswith("received SIGTERM:"):
            proc.send_signal(signal.SIGTERM)  # the second, while the first is being honoured
            break
    out, err = proc.communicate(timeout=120)
    printed += [int(line.split()[1].split("/")[0]) for line in out.splitlines() if line.startswith("iter ")]
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
    checkpoint = torch.load(os.path.join(only_run(tmp_path), "checkpoint.pt"), weights_only=True)
    assert checkpoint["iteration"] == printed[-1] and checkpoint["global_step"] == printed[-1] * 4 * 256


@pytest.mark.parametrize("script", SCRIPTS)
def test_resume_keeps_the_batch_shape_and_network(script, genuine, capsys):
    module = importlib.import_module(script)
    saved = genuine[script]["args"]  # the tiny run: 16 envs x 128 steps
    for flag, value in [("--num-envs", "8"), ("--num-steps", "64"), ("--env-id", "MortarMayhem-Grid-v0")]:
        err = one_line_error(capsys, module.resume_args, ["--resume", "x.pt", flag, value], saved)
        assert flag in err and value in err and "differs from the run's" in err, err
    args = module.resume_args(["--resume", "x.pt", "--total-timesteps", "4096", "--no-track"], saved)
    assert (args.num_envs, args.num_steps, args.total_timesteps, args.seed) == (16, 128, 4096, 7)
    assert "resume: total_timesteps 2048 -> 4096" in capsys.readouterr().out
    err = one_line_error(capsys, module.resume_args, ["--resume", "x.pt", "--config", "c.yaml"], saved)
    assert "--config with --resume" in err


@pytest.mark.parametrize("script", SCRIPTS)
def test_resuming_a_finished_run_says_so(script, tiny_runs, tmp_path):
    r = run_script(f"{script}.py", ["--resume", os.path.join(tiny_runs[script], "checkpoint.pt")], tmp_path)
    assert r.returncode == 2 and "the run is at step 2048, --total-timesteps is 2048" in r.stderr, r.stderr


# --- enjoy.py's output ------------------------------------------------------------------------------

def test_enjoy_checks_its_output_before_evaluating(tiny_runs, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    model = os.path.join(tiny_runs["ppo_gru"], "checkpoint.pt")
    err = one_line_error(capsys, enjoy.parse_args, [model, "--eval", "--output", str(tmp_path / "file" / "eval.json")])
    assert "cannot write in" in err
    assert "is a directory" in one_line_error(capsys, enjoy.parse_args, [model, "--eval", "--output", str(tmp_path)])
    assert "--output needs --eval" in one_line_error(capsys, enjoy.parse_args, [model, "--video", "v", "--output", "x"])


def test_enjoy_writes_atomically(tmp_path, monkeypatch):
    path = tmp_path / "eval.json"
    enjoy.write_json({"old": 1}, str(path))

    def broken_dump(obj, f, **kwargs):
        f.write('{"half": ')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(json, "dump", broken_dump)
    with pytest.raises(SystemExit):  # one line: the write failed, the file there is unchanged
        enjoy.write_json({"new": 2}, str(path))
    assert json.loads(path.read_text()) == {"old": 1} and os.listdir(tmp_path) == ["eval.json"]
