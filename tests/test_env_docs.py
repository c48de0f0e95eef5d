"""The env documentation: full docstrings in help(), pages generated from the code and up to date."""
import importlib
import importlib.util
import pydoc
import re
import sys
from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import pytest

import memory_gym_envs
from memory_gym_envs.docstrings import ARGUMENTS, SECTIONS, VECTOR, default_text, range_text
from memory_gym_envs.mortar_mayhem import MortarMayhemGrid

ROOT = Path(__file__).resolve().parents[1]
IDS = list(memory_gym_envs.ENVS)
DOCS = sorted((ROOT / "docs" / "envs").glob("*.md")) + [ROOT / "docs" / "design.md"]


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("make_env_docs", ROOT / "docs" / "make_env_docs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclass looks itself up there)
    spec.loader.exec_module(module)
    return module


def task_of(env_id):
    module, env_class, _ = memory_gym_envs.ENVS[env_id]
    return getattr(importlib.import_module(f"memory_gym_envs.{module}"), env_class).task_class


def section(text: str, heading: str) -> str:
    """The text under a Markdown heading (``## x``), up to the next heading of its level."""
    level = heading.split(" ")[0]
    start = text.index(f"\n{heading}\n")
    end = text.find(f"\n{level} ", start + 1)
    return text[start:] if end < 0 else text[start:end]


# --- docstrings ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id", IDS)
def test_help_shows_the_whole_documentation(env_id, generator):
    env = gym.make(env_id)
    task = env.unwrapped.task_class
    text = pydoc.render_doc(env.unwrapped, renderer=pydoc.plaintext)
    for name in SECTIONS + (ARGUMENTS,):
        assert f"## {name}\n" in text, f"{env_id}: no {name} section in help()"
        assert task.doc_sections.get(name, "x").strip(), f"{env_id}: empty {name} section"
    assert env_id in task.doc_summary
    arguments = text.split(f"## {ARGUMENTS}")[1]
    for key in task.params:
        assert f"``{key}`` = " in arguments, f"{env_id}: reset parameter {key} missing from help()"
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_the_vector_env_is_documented_too(env_id):
    envs = gym.make_vec(env_id, num_envs=2)
    text = pydoc.render_doc(envs, renderer=pydoc.plaintext)
    for name in SECTIONS + (VECTOR, ARGUMENTS):
        assert f"## {name}\n" in text, f"{env_id} vector env: no {name} section"
    for word in ("autoreset_mode", "NEXT_STEP", "SAME_STEP", "DISABLED", "reset_mask", "final_info", "s + i"):
        assert word in text
    assert f'gym.make_vec("{env_id}"' in text
    envs.close()


def test_variants_state_their_own_specifics():
    """A variant inherits the sections it does not write, but the ones that differ are its own."""
    doc = {i: type(gym.make(i).unwrapped).__doc__ for i in IDS}
    assert "``Discrete(4)``" in section("\n" + doc["MortarMayhem-Grid-v0"], "## Action Space")
    assert "``MultiDiscrete([3, 3])``" in section("\n" + doc["MortarMayhem-v0"], "## Action Space")
    assert "vector_observation" in section("\n" + doc["MortarMayhemB-v0"], "## Observation Space")
    assert "vector_observation" in section("\n" + doc["MortarMayhemB-Grid-v0"], "## Observation Space")
    assert "118 steps" in doc["MortarMayhem-Grid-v0"] and "79 steps" in doc["MortarMayhemB-Grid-v0"]
    assert "torus" in doc["Endless-MortarMayhem-v0"] and "128" in doc["MysteryPath-Grid-v0"]


def test_no_reference_to_files_outside_the_repository():
    """Docstrings, comments and pages cite public sources only."""
    shared, spec_file = "../" + "shared", "ENVS" + ".md"
    files = sorted((ROOT / "memory_gym_envs").glob("*.py")) + DOCS + [ROOT / "docs" / "make_env_docs.py"]
    for path in files:
        text = path.read_text()
        for bad in (shared, spec_file, "AGENTS" + ".md", "ref_" + "obs", "spec" + ":"):
            assert bad not in text, f"{path.relative_to(ROOT)} mentions {bad}"
        assert not re.search(r"\bspec \d", text), f"{path.relative_to(ROOT)} cites a spec section"


# --- generated pages -------------------------------------------------------------------------------------

def test_committed_pages_are_up_to_date(generator):
    problems = generator.stale(generator.render_pages(), generator.OUT)
    assert not problems, "\n".join(problems)


def test_pages_follow_the_parameter_declarations(generator, monkeypatch):
    """Change a Param: the generated page changes, and the committed one is then reported stale."""
    task = MortarMayhemGrid
    old = task.params["arena_size"]
    monkeypatch.setitem(task.params, "arena_size", replace(old, doc="a changed meaning", high=5))
    pages = generator.render_pages()
    page = pages["mortar_mayhem.md"]
    assert page != (generator.OUT / "mortar_mayhem.md").read_text()
    grid = section(page, "## MortarMayhem-Grid-v0")
    row = [line for line in grid.splitlines() if line.startswith("| `arena_size`")]
    assert row == ["| `arena_size` | `5` | int | [2, 5] | no | a changed meaning |"]
    assert "a changed meaning" not in section(page, "## MortarMayhem-v0")  # another id, another table
    assert any("mortar_mayhem.md is out of date" in p for p in generator.stale(pages, generator.OUT))


def test_check_mode(generator, tmp_path, capsys):
    assert generator.main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(generator.render_pages())
    assert generator.main(["--check", "--out", str(tmp_path)]) == 0
    page = tmp_path / "searing_spotlights.md"
    page.write_text(page.read_text().replace("| `spot_damage` |", "| `spot_harm` |"))
    (tmp_path / "proof_of_memory.md").unlink()
    capsys.readouterr()
    assert generator.main(["--check", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "searing_spotlights.md is out of date" in err and "spot_harm" in err
    assert "proof_of_memory.md is missing" in err and "run python docs/make_env_docs.py" in err


@pytest.mark.parametrize("env_id", IDS)
def test_every_parameter_appears_in_its_page(env_id, generator):
    task, module = task_of(env_id), memory_gym_envs.ENVS[env_id][0]
    page = (generator.OUT / f"{module}.md").read_text()
    table = section(section(page, f"## {env_id}"), "### Reset parameters")
    for key, p in task.params.items():
        row = f"| `{key}` | `{default_text(p)}` | {p.kind.__name__} | {range_text(p)} | "
        assert row in table, (env_id, key)
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == len(task.params)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    text = path.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        file, _, fragment = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{path.relative_to(ROOT)}: broken link {target}"
        if fragment:
            headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.M)
            assert fragment in {slug(h) for h in headings}, f"{path.relative_to(ROOT)}: no anchor {target}"


def test_design_page_quotes_the_code_as_it_is():
    """Each code block of the walk-through that names its file quotes lines of that file verbatim."""
    text = (ROOT / "docs" / "design.md").read_text()
    blocks = re.findall(r"```python\n# (memory_gym_envs/\S+\.py)\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 8
    for file, code in blocks:
        source = (ROOT / file).read_text().splitlines()
        for line in code.splitlines():
            assert not line.strip() or line in source, f"docs/design.md quotes a line not in {file}: {line!r}"
