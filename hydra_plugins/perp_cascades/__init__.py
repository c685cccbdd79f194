"""perp-cascades' Hydra plugins (Hydra finds plugins in the `hydra_plugins` namespace package).

`pool_launcher`: the `pool` launcher, the project's default for `python run.py -m`: jobs on a pool of worker
processes that survives its faults (a job that fails in any way is recorded and the sweep goes on; workers end
with their parent)."""
