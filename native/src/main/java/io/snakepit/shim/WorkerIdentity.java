package io.snakepit.shim;

/**
 * Who a worker is, as the shim reported it at READY. A pid alone is never an identity: the pair (boot id, pid, start
 * time) is, because pids are reused and reboots reset them.
 *
 * @param pid the Python process
 * @param pgid its process group (the shim's, since the shim called setsid)
 * @param startTime field 22 of /proc/PID/stat, in clock ticks since boot
 * @param bootId the kernel's boot id at the time
 * @param shimPid the shim's pid, also the session id of the whole tree
 * @param shimStartTime the shim's start time, in clock ticks since boot
 */
public record WorkerIdentity(int pid, int pgid, long startTime, String bootId, int shimPid, long shimStartTime) {}
