"""The host side: the chunked runner, checkpoints, the run directory, sharding, sweeps."""
