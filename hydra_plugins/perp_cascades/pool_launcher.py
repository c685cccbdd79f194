"""Registers the `pool` launcher (hydra/launcher=pool; the code is in _pool.py, which Hydra's plugin scan, which
executes every public module of hydra_plugins again, leaves alone: its classes stay the ones pickle finds)."""
from hydra.core.config_store import ConfigStore

from hydra_plugins.perp_cascades._pool import PoolLauncher, PoolLauncherConf

__all__ = ["PoolLauncher", "PoolLauncherConf"]

ConfigStore.instance().store(group="hydra/launcher", name="pool", node=PoolLauncherConf, provider="perp_cascades")
