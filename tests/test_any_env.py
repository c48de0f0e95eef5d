"""The training scripts on envs other than Memory Gym's: gymnasium's own (CartPole-v1, whose
batched env has no same-step autoreset, so gymnasium's sync vector env is used) and a user's
``module:EnvId`` with Dict observations and MultiDiscrete actions; enjoy.py evaluates their runs;
an observation space the agent cannot read is one clear line."""
import json
import os

import pytest

from test_training_scripts import only_run, run_script  # first: puts the repository root on sys.path

import enjoy  # noqa: E402

SCRIPTS = {"ppo_trxl": ["--trxl-num-layers", "1", "--trxl-dim", "16", "--trxl-num-heads", "1",
                        "--trxl-memory-length", "8"],
           "ppo_gru": ["--rnn-hidden-size", "16", "--hidden-layer-size", "16"]}
SMALL = ["--num-envs", "4", "--num-steps", "32", "--num-minibatches", "2", "--total-timesteps", "256"]


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("env_id, metric", [("CartPole-v1", "return"), ("user_env:UserDict-v0", "success")])
def test_train_and_evaluate_any_gymnasium_env(script, env_id, metric, tmp_path, capsys):
    r = run_script(f"{script}.py", ["--env-id", env_id, *SMALL, *SCRIPTS[script], "--save-model"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "iter 2/2 step 256" in r.stdout
    run_dir = only_run(tmp_path)
    assert os.path.basename(run_dir).startswith(env_id.rpartition(":")[2] + "__")  # no ':' in the directory
    for model in ("checkpoint.pt", f"{script}.cleanrl_model"):
        out = tmp_path / f"{model}.json"
        enjoy.main([os.path.join(run_dir, model), "--eval", "--num-seeds", "4", "--repeats", "1", "--output", str(out)])
        result = json.loads(out.read_text())
        assert result["env_id"] == env_id and len(result["episodes"]) == 4 and metric in result["summary"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_unsupported_observation_space_is_one_clear_line(script, tmp_path):
    r = run_script(f"{script}.py", ["--env-id", "FrozenLake-v1", *SMALL, *SCRIPTS[script]], tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert "observation space Discrete(16) is not supported" in r.stderr
    assert not os.path.exists(tmp_path / "runs")
