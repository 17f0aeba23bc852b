package io.snakepit;

import java.util.concurrent.CompletionStage;

/**
 * A host tool: JVM code that Python tools call with {@code snakepit_worker.host.call(name, **kwargs)}. Register it
 * with {@link Snakepit#registerHostTool(String, HostTool)}.
 *
 * <p>Threading: {@link #call} runs on the node's host-tool threads ({@code snakepit.host-tools.threads}), never on an
 * actor's thread. Return a stage and compose on it rather than wait for it: a handler that blocks holds one of those
 * few threads until its stage completes or its deadline passes.
 */
@FunctionalInterface
public interface HostTool {
  /**
   * Serves one call.
   *
   * @return the result as JSON text (null stands for JSON null); a stage that fails, or an exception thrown here,
   *     reaches Python as {@code snakepit_worker.host.HostToolFailed} with the exception's class and message
   */
  CompletionStage<String> call(HostCall call) throws Exception;
}
