/** The {@code snakepit_worker} Python package as carried in this jar, and its unpacking at run time. Internal. */
package io.snakepit.python;
