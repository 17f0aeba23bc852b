"""Example adapters: a showcase of tool kinds, and the fixtures the JVM's integration tests drive.

basic:BasicAdapter         every kind of tool: plain, streaming, payload, failing, crashing
forking:ForkingAdapter     leaves children behind (multiprocessing, subprocess, double fork, setsid)
slow_start:NeverReadyAdapter / SlowStartAdapter   setup() that never ends / takes a while
setup_fails:SetupFailsAdapter                     setup() that raises
broken:BrokenAdapter       a module whose import fails
"""
