"""An install that cannot be written to still imports and runs: numba caches the compiled kernels beside the
sources, else in the user's cache directory, else (both read-only) in the temp directory."""
import os
import shutil
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from test_run_safety import READ_ONLY  # noqa: E402

CHILD = """
import os, gymnasium as gym, memory_gym_envs
from memory_gym_envs import mortar_mayhem, mystery_path, searing_spotlights  # every family's kernels are defined
assert memory_gym_envs.__file__.startswith(os.environ["READ_ONLY_DIR"]), memory_gym_envs.__file__
print(os.environ.get("NUMBA_CACHE_DIR"))
"""


def test_a_read_only_install_with_a_read_only_home_imports_every_env(tmp_path):
    """Root ignores permissions, so the read-only file system is simulated in the child (sitecustomize: every
    write-open below the folder fails with EROFS)."""
    ro = tmp_path / "ro"
    shutil.copytree(os.path.join(ROOT, "memory_gym_envs"), ro / "memory_gym_envs",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (ro / "home").mkdir()
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(textwrap.dedent(READ_ONLY))
    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(READ_ONLY_DIR=str(ro), HOME=str(ro / "home"), XDG_CACHE_HOME=str(ro / "home" / ".cache"),
               TMPDIR=str(tmp_path / "tmp"), PYTHONPATH=f"{tmp_path / 'site'}:{ro}", PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, "-c", CHILD], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == str(tmp_path / "tmp" / f"numba-cache-{os.getuid()}")


def test_a_writable_install_keeps_numbas_own_choice(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=ROOT, READ_ONLY_DIR=str(tmp_path / "none"))
    r = subprocess.run([sys.executable, "-c", CHILD.replace('assert memory_gym_envs', '# ')], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "None"
