import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
# One OpenMP thread for torch, here and in the scripts the tests start: the tests' networks are tiny,
# and on a busy 2-core machine two spinning OpenMP threads per op made a ProofofMemory training run
# over 10x slower (the TrXL learning test: > 600 s instead of ~30 s). Set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import memory_gym_envs  # noqa: E402,F401  (registers the ids)

import pytest  # noqa: E402

# Tiny networks for the ProofofMemory configs: a 2,048-step run takes seconds.
TINY = {"ppo_trxl": ["--trxl-num-layers", "2", "--trxl-dim", "16", "--trxl-memory-length", "4"],
        "ppo_gru": ["--rnn-hidden-size", "16", "--hidden-layer-size", "16"]}


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """One short ProofofMemory-v0 run of each training script, from its config (seed 7, one
    iteration, --save-model): {script: run directory with checkpoint.pt and the saved model}."""
    from test_training_scripts import ROOT, only_run, run_script

    runs = {}
    for script, flags in TINY.items():
        cwd = tmp_path_factory.mktemp(script)
        r = run_script(f"{script}.py", ["--config", f"{ROOT}/configs/{script}/ProofofMemory-v0.yaml",
                                        "--total-timesteps", "2048", "--seed", "7", "--save-model", *flags], cwd)
        assert r.returncode == 0, r.stderr[-2000:]
        runs[script] = only_run(cwd)
    return runs
