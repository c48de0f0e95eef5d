"""Memory Gym environments, rebuilt: fast, batched, gymnasium 1.x.

Importing this package registers every id with gymnasium (``gym.make`` and ``gym.make_vec``);
``gym.make("memory_gym_envs:MortarMayhem-v0")`` imports it on demand.
"""
import os
import sys
import tempfile

from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"


def _writable(folder: str) -> bool:
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _numba_cache() -> None:
    """Numba caches the compiled kernels (seconds of compiling per env family, once) beside this package's sources, else
    in the user's cache directory. Where neither can be written (a read-only install and a read-only home), numba
    refuses to define a cached kernel, so they go to the temp directory instead."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    user = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "numba")
    if _writable(os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")) or _writable(user):
        return
    folder = os.path.join(tempfile.gettempdir(), f"numba-cache-{os.getuid() if hasattr(os, 'getuid') else 'user'}")
    os.environ["NUMBA_CACHE_DIR"] = folder
    if "numba" in sys.modules:  # numba read its settings at import
        sys.modules["numba"].config.CACHE_DIR = folder


_numba_cache()

# id -> (module, env class, vector env class)
ENVS = {
    "MortarMayhem-v0": ("mortar_mayhem", "MortarMayhemEnv", "MortarMayhemVectorEnv"),
    "MortarMayhem-Grid-v0": ("mortar_mayhem", "MortarMayhemGridEnv", "MortarMayhemGridVectorEnv"),
    "MortarMayhemB-v0": ("mortar_mayhem", "MortarMayhemBEnv", "MortarMayhemBVectorEnv"),
    "MortarMayhemB-Grid-v0": ("mortar_mayhem", "MortarMayhemBGridEnv", "MortarMayhemBGridVectorEnv"),
    "Endless-MortarMayhem-v0": ("mortar_mayhem", "EndlessMortarMayhemEnv", "EndlessMortarMayhemVectorEnv"),
    "MysteryPath-v0": ("mystery_path", "MysteryPathEnv", "MysteryPathVectorEnv"),
    "MysteryPath-Grid-v0": ("mystery_path", "MysteryPathGridEnv", "MysteryPathGridVectorEnv"),
    "Endless-MysteryPath-v0": ("mystery_path", "EndlessMysteryPathEnv", "EndlessMysteryPathVectorEnv"),
    "SearingSpotlights-v0": ("searing_spotlights", "SearingSpotlightsEnv", "SearingSpotlightsVectorEnv"),
    "Endless-SearingSpotlights-v0": ("searing_spotlights", "EndlessSearingSpotlightsEnv",
                                     "EndlessSearingSpotlightsVectorEnv"),
    "ProofofMemory-v0": ("proof_of_memory", "ProofOfMemoryEnv", "ProofOfMemoryVectorEnv"),
}

for _id, (_module, _env, _vec) in ENVS.items():
    if _id not in registry:
        register(id=_id, entry_point=f"memory_gym_envs.{_module}:{_env}",
                 vector_entry_point=f"memory_gym_envs.{_module}:{_vec}")
