package io.snakepit.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class if any process carrying this run's instance marker is still alive after the class is done
 * (after its {@code @AfterAll}, which stops its nodes). Registered for every test class by auto-detection, so no
 * test can leak a worker, a shim or anything they forked without the suite failing. Leaked processes are killed by
 * pid so that later classes start clean.
 */
public final class LeakCheck implements AfterAllCallback {

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    List<Procs.Proc> leaked = Procs.awaitGone(Procs.withInstance(TestNodes.INSTANCE), Duration.ofSeconds(10));
    if (!leaked.isEmpty()) {
      String described = leaked.toString();
      for (Procs.Proc p : leaked) {
        ProcessHandle.of(p.pid()).filter(h -> p.alive()).ifPresent(ProcessHandle::destroyForcibly);
      }
      fail(context.getDisplayName() + " left processes alive 10 s after it finished: " + described);
    }
  }
}
