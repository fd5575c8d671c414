"""Slurm's side of Skyway: hostlists, commands, conf and associations.

Every call to `scontrol`, `sinfo`, `squeue` or `sacctmgr` goes through
`skyway.runner`; the conf include and the hook wrappers are rendered by
pure functions so that tests compare text.
"""
