"""The benchmark and docs scripts: each one's --help runs, the flags the learning benchmarks pass
to the training scripts parse with the scripts' own checks, the picture script draws every id."""
import importlib
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
sys.path.insert(0, os.path.join(ROOT, "docs"))


@pytest.mark.parametrize("script", ["benchmarks/env_speed.py", "benchmarks/train_speed.py", "benchmarks/first_step.py",
                                    "benchmarks/learning.py", "benchmarks/cpu_suite.py", "benchmarks/bad_input.py",
                                    "docs/make_env_docs.py"])
def test_help(script):
    r = subprocess.run([sys.executable, os.path.join(ROOT, script), "--help"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "usage" in r.stdout, r.stderr[-1000:]


def check(argv):
    script = os.path.basename(argv[0])[:-3]
    module = importlib.import_module(script)
    module.check_args(module.parse_args(argv[1:]))


@pytest.mark.parametrize("task", ["mortar", "mystery", "endless"])
def test_the_cpu_suite_commands_parse(task):
    import cpu_suite

    for agent in cpu_suite.AGENTS:
        check(cpu_suite.command(cpu_suite.TASKS[task], agent, 1))


def test_the_learning_benchmark_commands_parse():
    import learning

    for agent, (script, *flags) in learning.AGENTS.items():
        check([script, *learning.TASK, *learning.PPO, *flags])


def test_the_picture_shows_every_env():
    import make_picture

    for env_id in ("MortarMayhem-Grid-v0", "ProofofMemory-v0"):
        seen, truth = make_picture.frames(env_id)
        assert seen.shape == truth.shape == (336, 336, 3)
