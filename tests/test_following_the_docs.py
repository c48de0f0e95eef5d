"""What a new user runs into when following the docs: one clear line for an image too small for the
CNN and for resuming with the other script; enjoy.py beside a copied script; the documented run
globs; --report leaving the tree clean; a script copied as docs/using_the_scripts.md says, with the
blocks it says can go deleted, still trains and is evaluated."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from test_training_scripts import run_script  # noqa: E402

SCRIPTS = ("ppo_trxl.py", "ppo_gru.py")
SMALL = {"ppo_trxl.py": ["--trxl-num-layers", "1", "--trxl-dim", "16", "--trxl-num-heads", "1",
                         "--trxl-memory-length", "4"],
         "ppo_gru.py": ["--rnn-hidden-size", "16", "--hidden-layer-size", "16"]}


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_image_below_the_cnns_minimum_is_one_line(script, tmp_path):
    r = run_script(script, ["--env-id", "user_env:UserDict-v0", "--env-kwargs", '{"size": 32}', "--num-envs", "2",
                            "--num-steps", "8", "--num-minibatches", "1", "--total-timesteps", "16"], tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert "32x32 pixels are too small for the Nature CNN" in r.stderr and "at least 36x36" in r.stderr
    assert not os.path.exists(tmp_path / "runs")  # refused before anything is written


@pytest.mark.parametrize("script, other", [("ppo_gru.py", "ppo_trxl.py"), ("ppo_trxl.py", "ppo_gru.py")])
def test_resuming_with_the_other_script_names_the_script_that_made_it(script, other, tiny_runs, tmp_path):
    checkpoint = os.path.join(tiny_runs[other[:-3]], "checkpoint.pt")
    r = run_script(script, ["--resume", checkpoint], tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert f"the checkpoint was made by {other}" in r.stderr and f"python {other} --resume" in r.stderr
