package io.snakepit.shim;

import java.util.ArrayList;
import java.util.List;

/**
 * Kills what is left of a worker's tree when its shim is gone (the shim normally does this itself; a shim that was
 * SIGKILLed cannot). The tree is the shim's session: a process belongs to it only if its session id is the shim's pid
 * and it started no earlier than the shim did, so a reused pid is never mistaken for a member.
 */
public final class SessionSweep {

  private SessionSweep() {}

  /**
   * Sends SIGKILL to every live member of the session {@code sid} that started at or after {@code notBefore} (clock
   * ticks since boot), except the calling JVM.
   *
   * @return the pids signalled
   */
  public static List<Integer> killSession(int sid, long notBefore) {
    List<Integer> signalled = new ArrayList<>();
    long self = ProcessHandle.current().pid();
    for (ProcStat p : ProcStat.all()) {
      if (p.session() == sid && p.startTime() >= notBefore && p.pid() != self && p.state() != 'Z') {
        // ProcessHandle checks the start time it saw at of() again before it signals.
        ProcessHandle.of(p.pid()).filter(h -> ProcStat.isAlive(p.pid(), p.startTime())).ifPresent(h -> {
          if (h.destroyForcibly()) {
            signalled.add(p.pid());
          }
        });
      }
    }
    return signalled;
  }
}
