"""Memory Gym environments, rebuilt: fast, batched, gymnasium 1.x.

Importing this package registers every id with gymnasium (``gym.make`` and ``gym.make_vec``);
``gym.make("memory_gym_envs:MortarMayhem-v0")`` imports it on demand.
"""
from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"

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
