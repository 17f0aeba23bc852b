package io.snakepit.bench;

import java.util.List;

/** One part of the suite: runs its measurements, each against its baseline, in the same run. */
@FunctionalInterface
public interface Bench {

  /** Runs and returns the measurements. */
  List<Measurement> run(Context context) throws Exception;
}
