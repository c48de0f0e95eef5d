"""The documentation works: every relative link in README.md and docs/ points to a file of the
repository, and every command of ours in their shell blocks parses (the scripts' own argument
parsers: flags, choices, config files)."""
import glob
import importlib
import os
import re
import shlex

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
SCRIPTS = {"ppo_trxl.py": "ppo_trxl", "ppo_gru.py": "ppo_gru", "enjoy.py": "enjoy", "plot.py": "plot"}


def rel(path):
    return os.path.relpath(path, ROOT)


def links(page):
    text = open(page).read()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"[a-z]+:", target) and not target.startswith("#"):
            yield target.split("#")[0]


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_relative_links_resolve(page):
    broken = [t for t in links(page) if not os.path.exists(os.path.normpath(os.path.join(os.path.dirname(page), t)))]
    assert not broken, f"{rel(page)}: broken links {broken}"


def commands(page):
    """Our scripts' invocations in the page's ```bash blocks: (script, argv)."""
    for block in re.findall(r"```bash\n(.*?)```", open(page).read(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r'"\$\(ls[^)]*\)/checkpoint.pt"', "runs/RUN/checkpoint.pt", line.split("#")[0])
            for part in line.split("&&"):
                try:
                    words = shlex.split(part)
                except ValueError:
                    continue
                while words and re.match(r"\w+=", words[0]):  # VAR=value prefixes
                    words = words[1:]
                if len(words) >= 2 and words[0] in ("python", "python3") and words[1] in SCRIPTS:
                    yield words[1], words[2:]


CASES = [(rel(p), script, argv) for p in PAGES for script, argv in commands(p)]


def test_the_docs_have_commands():
    assert len(CASES) >= 20 and {s for _, s, _ in CASES} == set(SCRIPTS)


@pytest.mark.parametrize("page, script, argv", CASES, ids=[f"{p}:{s}:{' '.join(a)[:40]}" for p, s, a in CASES])
def test_documented_commands_parse(page, script, argv, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # commands run from the repository root
    module = importlib.import_module(SCRIPTS[script])
    argv = [a.replace("__*", "__ppo_trxl__1__1700000000") for a in argv]  # a shell glob over run names
    if "--help" in argv:
        with pytest.raises(SystemExit) as e:
            module.parse_args(argv)
        assert e.value.code == 0
        return
    if script in ("ppo_trxl.py", "ppo_gru.py"):
        if "--resume" in argv:  # needs a real checkpoint: the flags around it must parse
            i = argv.index("--resume")
            argv = argv[:i] + argv[i + 2:]
        args = module.parse_args(argv)
        module.check_args(args)
    elif script == "enjoy.py":
        argv = [a if not a.endswith((".json", ".png")) else str(tmp_path / os.path.basename(a)) for a in argv]
        module.parse_args(argv)
    else:
        argv = [str(tmp_path / os.path.basename(a)) if a.endswith(".png") else a for a in argv]
        module.parse_args(argv)


def test_enjoy_commands_name_one_model():
    """A glob over run names matches every run of that name: the second run of a documented command made
    enjoy.py fail. The docs name the newest run instead: "$(ls -td runs/NAME__* | head -1)/checkpoint.pt"."""
    globbed = [(page, argv) for page, script, argv in CASES if script == "enjoy.py" and any("*" in a for a in argv)]
    assert not globbed


def test_the_random_agent_module_is_documented_and_runs(capsys):
    from memory_gym_envs.__main__ import main

    for page in ("README.md", "docs/environments.md"):
        assert "python -m memory_gym_envs" in open(os.path.join(ROOT, page)).read().replace(".play", "X")
    main(["ProofofMemory-v0", "--steps", "20"])
    out = capsys.readouterr().out
    assert "env id" in out and "ProofofMemory-v0" in out


def test_the_readme_says_how_to_get_the_cpu_or_the_cuda_build_of_torch():
    text = " ".join(open(os.path.join(ROOT, "README.md")).read().split())
    assert "CPU-only build" in text and "CUDA" in text and "torch==2.13.0" in text


def test_the_papers_figures_are_mapped_to_configs_that_exist():
    text = open(os.path.join(ROOT, "docs", "configs.md")).read()
    section = text.split("## The paper's figures and what reproduces them", 1)[1].split("\n## ", 1)[0]
    assert [f"| {n} " for n in range(6, 13) if f"| {n} " in section] == [f"| {n} " for n in range(6, 13)]
    for names in re.findall(r"configs/ppo_\{gru,trxl\}/\{([^}]*)\}-v0\.yaml", section):
        for name in names.split(","):
            for script in ("ppo_gru", "ppo_trxl"):
                assert os.path.isfile(os.path.join(ROOT, "configs", script, f"{name}-v0.yaml")), name
    for path in re.findall(r"`(configs/[\w/.-]+\.yaml)", section):
        assert os.path.isfile(os.path.join(ROOT, path)), path
