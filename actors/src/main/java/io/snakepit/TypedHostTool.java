package io.snakepit;

import java.util.concurrent.CompletionStage;

/**
 * A host tool whose arguments Jackson maps to {@code A} and whose result it writes as JSON. Register it with
 * {@link Snakepit#registerHostTool(String, Class, TypedHostTool)}; the threading contract is {@link HostTool}'s.
 *
 * @param <A> the arguments' type: a record, a bean or a {@code Map}, read from the keyword arguments
 * @param <R> the result's type
 */
@FunctionalInterface
public interface TypedHostTool<A, R> {
  /**
   * Serves one call with its mapped arguments ({@code args} is read from {@code {}} when Python passed none).
   *
   * @return the result, written as JSON (null is JSON null); failures reach Python as {@link HostTool#call}'s do
   */
  CompletionStage<R> call(A args, HostCall call) throws Exception;
}
