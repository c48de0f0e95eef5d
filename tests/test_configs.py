"""configs/: every config loads into its script's Args (every key a real flag, every value with its
source); --config semantics (file over defaults, command line over file) and its errors; every
sweep file's parameters are real flags and its command, rendered the way a wandb agent renders it,
parses."""
import glob
import importlib
import itertools
import os

import gymnasium as gym
import pytest
import yaml
from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

import memory_gym_envs
from test_training_scripts import ROOT, run_script

SCRIPTS = ("ppo_trxl", "ppo_gru")
# Searing Spotlights' configs are written before the family is registered; its ids are fixed.
SUITE = set(memory_gym_envs.ENVS) | {"SearingSpotlights-v0", "Endless-SearingSpotlights-v0"}
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "ppo_*", "*.yaml")))
SWEEPS = sorted(glob.glob(os.path.join(ROOT, "configs", "sweeps", "*.yaml")))


def field_names(module):
    return {f.name for f in module.Args.__dataclass_fields__.values()}


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_env_id_has_a_config(script):
    names = {os.path.basename(p)[:-5] for p in glob.glob(os.path.join(ROOT, "configs", script, "*.yaml"))}
    assert names == SUITE


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: os.path.relpath(p, ROOT))
def test_config_loads_into_args(path):
    module = importlib.import_module(os.path.basename(os.path.dirname(path)))
    raw = yaml.safe_load(open(path))
    assert set(raw) <= field_names(module)
    args = module.parse_args(["--config", path])
    assert args.config == path and args.env_id == os.path.basename(path)[:-5]
    for key, value in raw.items():
        assert getattr(args, key) == value and type(getattr(args, key)) is type(value), key
    if args.env_id in gym.registry:  # Searing Spotlights: once registered
        module.check_args(args)  # e.g. num_envs divisible by num_minibatches (TrXL)
    # Every value says where it comes from (or that it is our choice).
    lines = [line for line in open(path) if line.strip() and not line.startswith("#")]
    assert len(lines) == len(raw) and all("  # " in line for line in lines), path


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_file_overrides_defaults_and_the_command_line_overrides_the_file(script, tmp_path):
    module = importlib.import_module(script)
    default = module.Args()
    path = write(tmp_path, "env_id: ProofofMemory-v0\ninit-lr: 1e-3\nnorm_adv: true\nnum_envs: 8\n"
                           "target_kl: 0.02\nenv_kwargs: {max_steps: 20}\n")
    args = module.parse_args(["--config", path])
    assert (args.env_id, args.init_lr, args.norm_adv, args.num_envs, args.target_kl) == \
        ("ProofofMemory-v0", 1e-3, True, 8, 0.02)
    assert module.env_kwargs(args) == {"max_steps": 20} and args.config == path
    assert args.gamma == default.gamma and args.total_timesteps == default.total_timesteps  # not in the file
    for argv in (["--config", path, "--num-envs", "4", "--no-norm-adv"],
                 ["--num_envs=4", "--norm-adv=False", f"--config={path}"],  # any order, sweep style
                 ["--config", path, "--num-envs", "4", "--norm_adv", "False"]):
        args = module.parse_args(argv)
        assert (args.num_envs, args.norm_adv, args.init_lr) == (4, False, 1e-3), argv
    assert module.parse_args([]).config is None


BAD = [
    ("init_lrr: 0.1\n", "unknown key 'init_lrr' (did you mean 'init_lr'?); valid keys: exp_name, seed,"),
    ("config: other.yaml\n", "unknown key 'config'"),
    ("seed: 1.5\n", "seed must be int, got 1.5"),
    ("norm_adv: maybe\n", "norm_adv must be true or false, got 'maybe'"),
    ("clip_coef: abc\n", "clip_coef must be float, got 'abc'"),
    ("target_kl: [1]\n", "target_kl must be float or null, got [1]"),
    ("env_id: 3\n", "env_id must be str, got 3"),
    ("- 1\n", "expected a mapping of flag names to values, got list"),
    ("a: [\n", "not valid YAML"),
]


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("text, message", BAD)
def test_a_bad_config_is_one_clear_line(script, text, message, tmp_path, capsys):
    module = importlib.import_module(script)
    path = write(tmp_path, text)
    with pytest.raises(SystemExit) as e:
        module.parse_args(["--config", path])
    err = capsys.readouterr().err
    assert e.value.code != 0 and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize("script", SCRIPTS)
def test_config_errors_on_the_command_line(script, tmp_path):
    r = run_script(script + ".py", ["--config", write(tmp_path, "num_envs: 8\nbogus_key: 1\n")], tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr and r.stderr.strip().count("\n") == 0
    assert "unknown key 'bogus_key'" in r.stderr


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("argv, message", [(["--config", "missing.yaml"], "--config: cannot read 'missing.yaml'"),
                                           (["--config"], "--config needs the path of a YAML file")])
def test_a_missing_config_is_one_clear_line(script, argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        importlib.import_module(script).parse_args(argv)
    err = capsys.readouterr().err
    assert e.value.code != 0 and err.count("\n") == 1 and message in err, err


# --- sweeps ---------------------------------------------------------------------------------------

def sample_values(param):
    """Every value a parameter can take in a wandb sweep (the ends of a range)."""
    if "value" in param:
        return [param["value"]]
    if "values" in param:
        return param["values"]
    cast = int if param.get("distribution", "").startswith(("int_", "q_")) else float
    return [cast(param["min"]), cast(param["max"])]


def render(command, program, params):
    """The argv a wandb agent runs: its macros filled in as wandb/wandb_agent.py does, the
    parameters rendered by wandb's own create_sweep_command_args (`--key=value`)."""
    macros = create_sweep_command_args({"args": {k: {"value": v} for k, v in params.items()}})
    macros.update(env=["/usr/bin/env"], interpreter=["python"], program=[program])
    argv = []
    for chunk in map(str, command):
        argv += macros.get(chunk[2:-1], []) if chunk.startswith("${") and chunk.endswith("}") else [chunk]
    return argv


def test_there_are_sweeps_for_both_scripts_on_mortar_mayhem_grid_and_an_endless_env():
    found = {(yaml.safe_load(open(p))["program"], "Endless-" in p, "MortarMayhem-Grid-v0" in p) for p in SWEEPS}
    for program in ("ppo_trxl.py", "ppo_gru.py"):
        assert (program, False, True) in found and (program, True, False) in found


@pytest.mark.parametrize("path", SWEEPS, ids=os.path.basename)
def test_sweep_commands_parse(path):
    sweep = yaml.safe_load(open(path))
    module = importlib.import_module(sweep["program"][:-3])
    params = sweep["parameters"]
    assert set(params) <= field_names(module) - {"config"}
    choices = {k: sample_values(v) for k, v in params.items()}
    # One command per value of each parameter (the others at their first value), and all combinations
    # of the first two values of every parameter.
    combos = [{k: choices[k][0] for k in choices} | {key: value} for key in choices for value in choices[key]]
    combos += [dict(zip(choices, c)) for c in itertools.product(*(v[:2] for v in choices.values()))]
    for params_ in combos:
        argv = render(sweep["command"], sweep["program"], params_)
        assert argv[:3] == ["/usr/bin/env", "python", sweep["program"]]
        for key, value in params_.items():
            if isinstance(value, bool):
                assert f"--{key}={value}" in argv  # booleans as --flag=True / --flag=False
        args = module.parse_args(argv[3:])
        assert args.track is True and args.config and os.path.isfile(os.path.join(ROOT, args.config))
        for key, value in params_.items():
            assert getattr(args, key) == value, (key, value, argv)
        file_values = yaml.safe_load(open(os.path.join(ROOT, args.config)))
        assert args.env_id == file_values["env_id"]
        for key, value in file_values.items():  # the paper's settings, except what the sweep sets
            if key not in params_:
                assert getattr(args, key) == value, key


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_swept_mapping_with_lists_parses(script):
    """A mapping value (here env_kwargs with a list, sampled per episode by the env) is rendered by
    the agent as a Python literal; --env-kwargs accepts it as well as JSON."""
    module = importlib.import_module(script)
    argv = render(["${program}", "${args}"], script + ".py",
                  {"env_id": "MortarMayhem-Grid-v0", "env_kwargs": {"command_count": [3, 5], "visual_feedback": True},
                   "norm_adv": False})
    assert "--env_kwargs={'command_count': [3, 5], 'visual_feedback': True}" in argv
    args = module.parse_args(argv[1:])
    assert module.env_kwargs(args) == {"command_count": [3, 5], "visual_feedback": True} and not args.norm_adv
    gym.make_vec(args.env_id, num_envs=2, **module.env_kwargs(args)).close()  # the env takes them
