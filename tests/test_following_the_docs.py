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


# --- a copied script, with the blocks docs/using_the_scripts.md says can go deleted -----------------

def delete_lines(text: str, spans) -> str:
    lines = text.split("\n")
    for start, end in sorted(spans, reverse=True):  # 1-based, inclusive
        del lines[start - 1:end]
    return "\n".join(lines)


def node_span(node):
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]), node.end_lineno


def delete_top_level(text: str, names) -> str:
    """Delete the top-level functions, classes and assignments of these names."""
    import ast

    spans = []
    for node in ast.parse(text).body:
        name = getattr(node, "name", None)
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        if name in names:
            spans.append(node_span(node))
    assert len(spans) == len(names), (names, spans)
    return delete_lines(text, spans)


def delete_config(text: str) -> str:
    """Config files: config_value, load_config, Args.config, parse_args's `name == "config"` branch, the imports."""
    import ast

    tree = ast.parse(text)
    args = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Args")
    i = next(i for i, n in enumerate(args.body) if isinstance(n, ast.AnnAssign) and n.target.id == "config")
    spans = [(args.body[i].lineno, args.body[i + 1].end_lineno)]  # the field and its docstring
    parse = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "parse_args")
    branch = next(n for n in ast.walk(parse) if isinstance(n, ast.If) and ast.unparse(n.test) == "name == 'config'")
    spans.append(node_span(branch))
    text = delete_lines(text, spans)
    text = delete_top_level(text, ["config_value", "load_config"])
    return text.replace("\nimport difflib\n", "\n").replace("\nimport yaml\n", "\n")


def delete_checks(text: str) -> str:
    """Bad-input checks: RULES and the rule constants, check_args and its call."""
    text = delete_top_level(text, ["POSITIVE", "NON_NEGATIVE", "RATE", "COEF", "RULES", "check_args"])
    assert text.count("\n    check_args(args)\n") == 1
    return text.replace("\n    check_args(args)\n", "\n")


def delete_memory_gym_envs(text: str) -> str:
    import re

    text, n = re.subn(r"Memory Gym ids: \{[^}]*memory_gym_envs\.ENVS\)\}; ", "", text)
    assert n == 1
    old = 'render_mode = "debug_rgb_array" if args.env_id in memory_gym_envs.ENVS else "rgb_array"'
    assert text.count(old) == 1 and text.count("\nimport memory_gym_envs\n") == 1
    text = text.replace(old, 'render_mode = "rgb_array"').replace("\nimport memory_gym_envs\n", "\n")
    assert "memory_gym_envs" not in text.replace("memory_gym_envs:", "")
    return text


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_a_copy_with_every_deletable_block_deleted_trains_and_is_evaluated(script, tmp_path):
    import shutil

    with open(os.path.join(ROOT, script)) as f:
        text = delete_memory_gym_envs(delete_checks(delete_config(f.read())))
    mine = "my_" + script  # a copy under another name, in an empty folder, with enjoy.py beside it
    (tmp_path / mine).write_text(text)
    shutil.copy(os.path.join(ROOT, "enjoy.py"), tmp_path)
    env = dict(os.environ, PYTHONPATH="")
    flags = ["--env-id", "memory_gym_envs:ProofofMemory-v0", "--num-envs", "4", "--num-steps", "64",
             "--num-minibatches", "2", "--total-timesteps", "512", *SMALL[script]]
    run = lambda *argv: subprocess.run([sys.executable, *argv], cwd=tmp_path, capture_output=True, text=True,  # noqa
                                       timeout=600, env=env)
    r = run(mine, *flags)
    assert r.returncode == 0 and "iter 2/2" in r.stdout, r.stderr[-3000:]
    refused = run(mine, *flags, "--config", "whatever.yaml")
    assert refused.returncode != 0 and "config" in refused.stderr  # no longer a flag, not silently ignored
    (run_dir,) = os.listdir(tmp_path / "runs")
    checkpoint = os.path.join("runs", run_dir, "checkpoint.pt")
    e = run("enjoy.py", checkpoint, "--eval", "--num-seeds", "2", "--repeats", "1")  # finds my_<script> itself
    assert e.returncode == 0 and "return" in e.stdout, e.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(tmp_path / "enjoy.py", elsewhere / "enjoy.py")
    e = run(str(elsewhere / "enjoy.py"), checkpoint, "--eval", "--num-seeds", "2", "--repeats", "1")
    assert e.returncode == 0, e.stderr[-3000:]  # the script the checkpoint names, in the working directory
    os.rename(tmp_path / mine, elsewhere / "renamed.py")
    e = run(str(elsewhere / "enjoy.py"), checkpoint, "--eval", "--num-seeds", "2")
    assert e.returncode == 2 and e.stderr.count("\n") == 1 and "--script PATH" in e.stderr, e.stderr
    e = run(str(elsewhere / "enjoy.py"), checkpoint, "--eval", "--num-seeds", "2", "--repeats", "1",
            "--script", str(elsewhere / "renamed.py"))
    assert e.returncode == 0, e.stderr[-3000:]


@pytest.mark.slow
def test_the_own_env_commands_work_twice_in_a_row(tmp_path):
    """docs/using_the_scripts.md's own-env block, run as written (from a folder of its own) two times: the
    second run's evaluation must find one model, not two."""
    import re

    with open(os.path.join(ROOT, "docs", "using_the_scripts.md")) as f:
        block = next(b for b in re.findall(r"```bash\n(.*?)```", f.read(), re.S) if "UserDict-v0" in b)
    block = block.replace("PYTHONPATH=tests", f"PYTHONPATH={ROOT}/tests")
    block = re.sub(r"python (ppo_trxl|ppo_gru|enjoy)\.py", rf"{sys.executable} {ROOT}/\1.py", block)
    for attempt in (1, 2):
        r = subprocess.run(["bash", "-ec", block], cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0 and "success" in r.stdout, (attempt, r.stderr[-2000:])
        assert len(os.listdir(tmp_path / "runs")) == attempt
