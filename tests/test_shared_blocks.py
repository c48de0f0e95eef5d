"""The two training scripts are self-contained, so the code they share is written twice. Every block
between ``# [shared: NAME]`` and ``# [end shared: NAME]`` must be the same, letter for letter, in
``ppo_trxl.py`` and ``ppo_gru.py``: a fix made in one script and not the other fails here."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = ("ppo_trxl.py", "ppo_gru.py")
MARKER = re.compile(r"^\s*# \[(end )?shared: ([^\]]+)\]")


def shared_blocks(text: str) -> dict[str, str]:
    """{name: the block's lines}, in file order; ValueError for unbalanced, nested or repeated markers."""
    blocks, name, lines = {}, None, []
    for number, line in enumerate(text.splitlines(), 1):
        m = MARKER.match(line)
        if not m:
            if name is not None:
                lines.append(line)
            continue
        end, found = bool(m.group(1)), m.group(2)
        if not end:
            if name is not None:
                raise ValueError(f"line {number}: block {found!r} opens inside block {name!r}")
            if found in blocks:
                raise ValueError(f"line {number}: block {found!r} appears twice")
            name, lines = found, []
        else:
            if found != name:
                raise ValueError(f"line {number}: end of {found!r} while {name!r} is open")
            blocks[name], name = "\n".join(lines), None
    if name is not None:
        raise ValueError(f"block {name!r} is never closed")
    return blocks


def differences(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """What differs between two scripts' shared blocks: missing blocks, another order, other lines."""
    problems = [f"{name!r} only in one script" for name in sorted(set(a) ^ set(b))]
    common = [n for n in a if n in b]
    if common != [n for n in b if n in a]:
        problems.append(f"the blocks come in another order: {common} vs {[n for n in b if n in a]}")
    for name in common:
        if a[name] != b[name]:
            x, y = a[name].splitlines(), b[name].splitlines()
            first = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
            problems.append(f"{name!r} differs at its line {first + 1}: {x[first:first + 1]} vs {y[first:first + 1]}")
    return problems


def read(script):
    with open(os.path.join(ROOT, script), encoding="utf-8") as f:
        return f.read()


def test_the_scripts_shared_blocks_are_the_same():
    trxl, gru = (shared_blocks(read(s)) for s in SCRIPTS)
    assert len(trxl) >= 10 and all(block.strip() for block in trxl.values())
    assert "learner" in trxl and "def compute_advantages(" in trxl["learner"]
    assert differences(trxl, gru) == []


@pytest.mark.parametrize("change", ["edit", "drop", "unclosed"])
def test_a_change_to_one_scripts_shared_block_is_caught(change):
    text = read("ppo_gru.py")
    if change == "edit":  # a fix made in one script only
        changed = text.replace("nextnonterminal = 1.0 - dones[t]", "nextnonterminal = 1 - dones[t]", 1)
        assert differences(shared_blocks(read("ppo_trxl.py")), shared_blocks(changed)) \
            == ["'learner' differs at its line " + str(shared_blocks(text)["learner"].splitlines().index(
                "        nextnonterminal = 1.0 - dones[t]") + 1) + ": ['        nextnonterminal = 1.0 - dones[t]'] "
                "vs ['        nextnonterminal = 1 - dones[t]']"]
    elif change == "drop":  # a block's markers removed from one script
        changed = text.replace("# [shared: actions]\n", "", 1).replace("# [end shared: actions]\n", "", 1)
        assert differences(shared_blocks(read("ppo_trxl.py")), shared_blocks(changed)) == ["'actions' only in one script"]
    else:
        with pytest.raises(ValueError, match="never closed"):
            shared_blocks(text.replace("# [end shared: finish]", "", 1))


def test_enjoy_and_plot_share_their_output_rules():
    """enjoy.py and plot.py stand alone too: their outputs follow one set of rules, written twice."""
    enjoy, plot = (shared_blocks(read(s)) for s in ("enjoy.py", "plot.py"))
    assert "outputs" in enjoy and not differences(enjoy, plot), differences(enjoy, plot)
